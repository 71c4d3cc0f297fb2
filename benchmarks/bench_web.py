"""Latency of ``POST /api/v1/analyses`` against the pipeline's own time for the same study.

Run:  python benchmarks/bench_web.py [--repeats 20] [--concurrent 8] [--rows 3000 --columns 2000]

It writes one realistic 3000 × 2000 16-bit uncompressed DX study (with a
report) and starts a real ``radassist serve`` (uvicorn, process pool, SQLite)
on a free loopback port. Then, turn about, it times
``radassist.pipeline.analyze`` on the same file path in this process
(decoding included, as the service must decode too) and one upload of it from
a single client, so both see the same machine load (the machine may be busy
with other work: compare only numbers from one run). Then ``--concurrent``
clients upload at once. It prints p50 and p95 of each; the single-client p95
against the pipeline's p95 (like with like) and against its p50 (stricter),
target ≤ 1.5; the number of errors under load (target 0); the service's own
time per request (its latency minus the pipeline time the result reports,
which does not depend on how busy the machine was for the pipeline); and
where the service's time goes (from its log: receiving the upload, the
analysis round trip, the pipeline inside it). A measurement, not a test: nothing here fails
on a slow or busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

#: Pause after each single-client upload, so the service's work after answering (storing the display
#: image) does not land on the next in-process pipeline timing.
SETTLE_S = 0.1
REPORT = "Hx: 61M, L calf swelling x3d, r/o DVT. Palpable mass. No chest pain."


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100.0
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(values: list[float]) -> dict:
    return {"n": len(values), "p50_ms": round(percentile(values, 50), 1), "p95_ms": round(percentile(values, 95), 1),
            "mean_ms": round(statistics.fmean(values), 1)}


def make_study(path: Path, rows: int, columns: int) -> None:
    from radassist.synth import make_case

    case = make_case(4244, "stippled", rows=rows, columns=columns, spacing_mm=0.1, transfer_syntax=None,
                     photometric="MONOCHROME2")
    case.dataset.BitsStored = 16
    case.dataset.HighBit = 15
    case.dataset.save_as(path, enforce_file_format=True)


def time_pipeline(path: Path) -> float:
    """Milliseconds of one in-process analysis of the study at ``path`` (decode included)."""
    from radassist.pipeline import analyze

    t = time.perf_counter()
    analyze(path, REPORT)
    return (time.perf_counter() - t) * 1000


def server_breakdown(log_text: str) -> dict:
    """p50 of each timing the server logs per analysis (``upload_ms=… analysis_ms=…`` lines)."""
    columns: dict[str, list[float]] = {}
    for line in log_text.splitlines():
        if " analysed " in line:
            for name, value in re.findall(r"(\w+_ms)=([\d.]+)", line):
                columns.setdefault(name, []).append(float(value))
    return {name: round(percentile(values, 50), 1) for name, values in columns.items()}


def start_server(data_dir: Path, processes: int, queue_size: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "radassist", "serve", "--port", str(port), "--data-dir", str(data_dir),
         "--analysis-processes", str(processes), "--queue-size", str(queue_size), "--log-level", "info"],
        stdout=subprocess.DEVNULL, stderr=open(data_dir / "server.log", "wb"), start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start; see " + str(data_dir / "server.log"))


def post(client, url: str, data: bytes) -> tuple[float, int, float]:
    """One upload: (latency ms, HTTP status, the pipeline's own ms inside it, from the result's timing)."""
    t = time.perf_counter()
    r = client.post(url + "/api/v1/analyses", files={"file": ("study.dcm", data, "application/dicom")},
                    data={"report": REPORT}, timeout=300)
    ms = (time.perf_counter() - t) * 1000
    inside = r.json()["timing_ms"]["total"] if r.status_code == 200 else float("nan")
    return ms, r.status_code, inside


def latency(posts: list[tuple[float, int, float]]) -> dict:
    """Latency summary, errors, and the service's own share (latency minus the pipeline inside it)."""
    ok = [(ms, inside) for ms, status, inside in posts if status == 200]
    return {**summary([ms for ms, _, _ in posts]), "errors": sum(status != 200 for _, status, _ in posts),
            "overhead": summary([ms - inside for ms, inside in ok]) if ok else None}


def measure(args, tmp: Path) -> dict:
    """Run the measurements in the temp folder ``tmp``; print the table; return the numbers."""
    import httpx

    study = tmp / "study.dcm"
    make_study(study, args.rows, args.columns)
    data = study.read_bytes()
    print(f"study: {args.rows} × {args.columns}, {len(data) / 1e6:.1f} MB; machine: {os.cpu_count()} CPUs; "
          f"server: {args.processes} analysis process(es), queue {args.queue_size}", file=sys.stderr)

    time_pipeline(study)  # warm-up: imports, caches, the rules
    proc, url = start_server(tmp, args.processes, args.queue_size)
    try:
        with httpx.Client() as client:
            for _ in range(args.processes):  # warm-up: each pool process's first large study
                post(client, url, data)
            pipeline, single = [], []
            for _ in range(args.repeats):  # turn about, so both see the same load
                pipeline.append(time_pipeline(study))
                single.append(post(client, url, data))
                time.sleep(SETTLE_S)
        log_single = (tmp / "server.log").read_text(errors="replace")

        def one_client(_):
            with httpx.Client() as c:
                return [post(c, url, data) for _ in range(args.per_client)]

        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.concurrent) as pool:
            loaded = [x for batch in pool.map(one_client, range(args.concurrent)) for x in batch]
        wall = time.perf_counter() - t0
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)

    warm_up = args.processes  # the log's first lines are the warm-up uploads
    single_lines = [line for line in log_single.splitlines() if " analysed " in line][warm_up:]
    report = {
        "study": {"rows": args.rows, "columns": args.columns, "bytes": len(data)},
        "pipeline": summary(pipeline),
        "single_client": {**latency(single), "server_p50_ms": server_breakdown("\n".join(single_lines))},
        "concurrent": {**latency(loaded), "clients": args.concurrent,
                       "statuses": sorted({status for _, status, _ in loaded}),
                       "throughput_per_s": round(len(loaded) / wall, 2)},
    }
    one, pipe = report["single_client"], report["pipeline"]
    report["ratios"] = {
        "p95_over_pipeline_p95": round(one["p95_ms"] / pipe["p95_ms"], 2),
        "p95_over_pipeline_p50": round(one["p95_ms"] / pipe["p50_ms"], 2),
        "p50_over_pipeline_p50": round(one["p50_ms"] / pipe["p50_ms"], 2),
    }

    print(f"{'':24}{'n':>5}{'p50 ms':>10}{'p95 ms':>10}{'errors':>8}")
    for name, key in (("pipeline (in process)", "pipeline"), ("API, 1 client", "single_client"),
                      (f"API, {args.concurrent} clients", "concurrent")):
        row = report[key]
        print(f"{name:24}{row['n']:>5}{row['p50_ms']:>10.0f}{row['p95_ms']:>10.0f}{row.get('errors', ''):>8}")
    ratios = report["ratios"]
    verdict = "met" if ratios["p95_over_pipeline_p95"] <= 1.5 else "NOT met"
    print(f"1 client: p95 / pipeline p95 = {ratios['p95_over_pipeline_p95']:.2f} (target ≤ 1.5: {verdict}); "
          f"p95 / pipeline p50 = {ratios['p95_over_pipeline_p50']:.2f}; "
          f"p50 / pipeline p50 = {ratios['p50_over_pipeline_p50']:.2f}")
    print(f"{args.concurrent} clients: errors = {report['concurrent']['errors']} (target 0); "
          f"throughput {report['concurrent']['throughput_per_s']} studies/s")
    over = one["overhead"]
    if over:
        print(f"1 client: the service's own time (latency minus the pipeline inside it, per request): "
              f"p50 {over['p50_ms']:.0f} ms, p95 {over['p95_ms']:.0f} ms")
    print("server, 1 client, p50 ms: " + ", ".join(f"{k[:-3]} {v:.0f}" for k, v in one["server_p50_ms"].items()))
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="uploads from the single client (and pipeline runs)")
    parser.add_argument("--concurrent", type=int, default=8, help="clients at once in the load run")
    parser.add_argument("--per-client", type=int, default=4, help="uploads per client in the load run")
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--columns", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1, help="server analysis processes")
    parser.add_argument("--queue-size", type=int, default=16)
    parser.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (study, database, server log)")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="radassist-bench-web-"))
    try:
        report = measure(args, tmp)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
