"""Studies per minute through ``radassist listen`` with 1 and 2 workers, next to the pipeline alone.

Run:  python benchmarks/bench_listen.py [--n 24] [--rows 1500 --columns 1000]

It generates ``n`` DX studies, times ``analyze_study`` on each in this process
(the pipeline's own per-study time), then for 1 and 2 workers starts
``radassist listen`` and a dcmtk ``storescp`` destination on free loopback
ports, sends the studies with ``dcmsend`` in one association, and measures
from the first byte sent until every job is ``done`` and every SR has been
stored at the destination. So the listener figure includes networking,
spooling, the queue, the report-text lookup, the SR and its C-STORE.

Prints studies/min for each, the speed-up from 1 to 2 workers (target
≥ 1.8×) and the overhead of 1 worker over the pipeline (target ≤ 20 %).
This is a measurement, not a test: nothing here fails on a slow machine.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DCMSEND, STORESCP = "/usr/bin/dcmsend", "/usr/bin/storescp"
REPORT = "Clinical indication: L calf swelling x3d, r/o DVT. No chest pain."


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=24, help="studies per run")
    parser.add_argument("--rows", type=int, default=1500)
    parser.add_argument("--columns", type=int, default=1000)
    parser.add_argument("--workers", default="1,2", help="worker counts to measure")
    args = parser.parse_args(argv)
    for binary in (DCMSEND, STORESCP):
        if not os.access(binary, os.X_OK):
            print(f"needs {binary} (Debian package dcmtk)", file=sys.stderr)
            return 2

    tmp = Path(tempfile.mkdtemp(prefix="radassist-bench-listen-"))
    files = _studies(tmp / "in", args.n, args.rows, args.columns)
    (tmp / "reports").mkdir()
    for path in files:
        (tmp / "reports" / f"{path.stem}.txt").write_text(REPORT)  # sidecars by accession number

    (per_study_s, with_sr_s), (pipeline_cpu, job_cpu) = _pipeline_seconds(files, tmp / "job", tmp / "reports")
    pipeline_rate, job_rate = 60.0 / per_study_s, 60.0 / with_sr_s
    print(f"{args.n} studies of {args.rows} x {args.columns} px, {os.cpu_count()} core(s), "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"pipeline alone, one process: {per_study_s * 1000:.0f} ms/study = {pipeline_rate:.1f} studies/min")
    print(f"one job in-process (report text + pipeline + JSON + SR): {with_sr_s * 1000:.0f} ms/study "
          f"= {job_rate:.1f} studies/min")
    print(f"CPU per study in-process: pipeline {pipeline_cpu * 1000:.0f} ms, whole job {job_cpu * 1000:.0f} ms")

    rates = {}
    for workers in (int(w) for w in args.workers.split(",")):
        elapsed, cpu = _through_listener(tmp / f"run{workers}", files, workers, tmp / "reports")
        rates[workers] = 60.0 * args.n / elapsed
        print(f"radassist listen, {workers} worker(s): {elapsed:.1f} s = {rates[workers]:.1f} studies/min "
              f"({elapsed / args.n * 1000:.0f} ms/study wall; CPU of all its processes "
              f"{cpu / (args.n - workers) * 1000:.0f} ms/study)")
    if 1 in rates:
        overhead = pipeline_rate / rates[1] - 1.0
        print(f"overhead of listen (1 worker) over the pipeline: {overhead * 100:+.1f} % (target <= 20 %)")
        print(f"  of which queueing, spooling and networking (over the in-process job): "
              f"{(job_rate / rates[1] - 1.0) * 100:+.1f} %")
    if 1 in rates and 2 in rates:
        print(f"speed-up from 1 to 2 workers: {rates[2] / rates[1]:.2f}x (target >= 1.8x)")
    return 0


def _studies(folder: Path, n: int, rows: int, columns: int) -> list[Path]:
    from radassist.synth import make_case

    folder.mkdir(parents=True)
    patterns = ("none", "phlebolith", "stippled", "arterial", "popcorn", "nonspecific")
    files = []
    for i in range(n):
        case = make_case(9000 + i, patterns[i % len(patterns)], rows=rows, columns=columns)
        case.dataset.AccessionNumber = f"BENCH{i:04d}"
        path = folder / f"BENCH{i:04d}.dcm"
        case.dataset.save_as(path, enforce_file_format=True)
        files.append(path)
    return files


def _pipeline_seconds(files: list[Path], results: Path, reports: Path):
    """Mean wall and CPU seconds per study of the pipeline alone and of a whole job (as a worker runs it)."""
    from radassist.pacs.workers import HookSettings, process_file
    from radassist.pipeline import analyze_study
    from radassist.rules import load_algorithm

    algorithm = load_algorithm()
    settings = HookSettings(db_path=results / "unused.sqlite3", results_dir=results, reports_dir=reports)
    process_file(files[0], settings, algorithm)  # warm-up: imports, caches
    pipeline, job, pipeline_cpu, job_cpu = [], [], [], []
    for path in files:
        start, cpu = time.perf_counter(), time.process_time()
        analyze_study(path, REPORT, report_source="file:bench", algorithm=algorithm)
        pipeline.append(time.perf_counter() - start)
        pipeline_cpu.append(time.process_time() - cpu)
        start, cpu = time.perf_counter(), time.process_time()
        process_file(path, settings, algorithm)
        job.append(time.perf_counter() - start)
        job_cpu.append(time.process_time() - cpu)
    mean = statistics.fmean
    return (mean(pipeline), mean(job)), (mean(pipeline_cpu), mean(job_cpu))


def _through_listener(tmp: Path, files: list[Path], workers: int, reports: Path) -> tuple[float, float]:
    """Wall seconds for the burst (scaled to all files) and CPU seconds of the listener's processes during it."""
    tmp.mkdir(parents=True)
    port, dest_port = _free_port(), _free_port()
    dest = subprocess.Popen([STORESCP, "-aet", "DEST", "-od", str(tmp / "dest"), str(dest_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    (tmp / "dest").mkdir()
    listener = subprocess.Popen(
        [sys.executable, "-m", "radassist", "listen", "--host", "127.0.0.1", "--port", str(port), "--spool",
         str(tmp / "spool"), "--workers", str(workers), "--destination", f"DEST@127.0.0.1:{dest_port}",
         "--reports", str(reports), "--log-level", "WARNING", "--send-backoff", "0.5"],
        stdout=subprocess.DEVNULL, stderr=open(tmp / "listen.log", "wb"), start_new_session=True)
    db = tmp / "spool" / "queue.sqlite3"
    try:
        _wait(lambda: _port_open(port), 60)
        # Warm-up: the workers import and load the algorithm before the clock starts.
        _send(files[:workers], port)
        _wait(lambda: _finished(db, workers), 120)
        start, cpu_start = time.perf_counter(), _tree_cpu_seconds(listener.pid)
        _send(files[workers:], port)
        _wait(lambda: _finished(db, len(files)), 600, interval=0.02)
        # The warm-up studies are not part of the measured burst; scale to all n.
        elapsed = (time.perf_counter() - start) * len(files) / max(1, len(files) - workers)
        cpu = _tree_cpu_seconds(listener.pid) - cpu_start
    finally:
        for process in (listener, dest):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)
    return elapsed, cpu


def _tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as handle:
            pids += [int(p) for p in handle.read().split()]
    for each in pids:
        try:
            with open(f"/proc/{each}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        except (FileNotFoundError, IndexError):
            continue
    return total


def _send(files: list[Path], port: int) -> None:
    subprocess.run([DCMSEND, "-aec", "RADASSIST", "-dn", "127.0.0.1", str(port), *map(str, files)],
                   check=True, capture_output=True, timeout=600)


def _finished(db: Path, n: int) -> bool:
    if not db.exists():
        return False
    con = sqlite3.connect(db, timeout=30)
    try:
        done = con.execute("SELECT COUNT(*) FROM jobs WHERE state IN ('done', 'skipped', 'failed')").fetchone()[0]
        owed = con.execute("SELECT COUNT(*) FROM sends WHERE state = 'pending'").fetchone()[0]
    except sqlite3.OperationalError:
        return False
    finally:
        con.close()
    return done >= n and owed == 0


def _wait(predicate, timeout: float, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the listener did not finish in time")
        time.sleep(interval)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


if __name__ == "__main__":
    sys.exit(main())
