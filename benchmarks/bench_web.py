"""Latency of ``POST /api/v1/analyses`` against the pipeline's own time for the same study.

Run:  python benchmarks/bench_web.py [--repeats 20] [--concurrent 8] [--rows 3000 --columns 2000]

It writes one realistic 3000 × 2000 16-bit uncompressed DX study (with a
report), times ``radassist.pipeline.analyze_study`` on it in this process,
then starts a real ``radassist serve`` (uvicorn, process pool, SQLite) on a
free loopback port and times the upload from one client, then from
``--concurrent`` clients at once. It prints p50 and p95 of each, the ratio of
the single-client p95 to the pipeline's p50 (target ≤ 1.5) and the number of
errors under load (target 0). A measurement, not a test: nothing here fails
on a slow or busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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


def time_pipeline(path: Path, repeats: int) -> list[float]:
    from radassist.pipeline import analyze_study

    analyze_study(path, REPORT)  # warm-up: imports, caches, the rules
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        analyze_study(path, REPORT)
        out.append((time.perf_counter() - t) * 1000)
    return out


def start_server(data_dir: Path, processes: int, queue_size: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "radassist", "serve", "--port", str(port), "--data-dir", str(data_dir),
         "--analysis-processes", str(processes), "--queue-size", str(queue_size), "--log-level", "warning"],
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


def post(client, url: str, data: bytes) -> tuple[float, int]:
    t = time.perf_counter()
    r = client.post(url + "/api/v1/analyses", files={"file": ("study.dcm", data, "application/dicom")},
                    data={"report": REPORT}, timeout=300)
    return (time.perf_counter() - t) * 1000, r.status_code


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
    args = parser.parse_args(argv)

    import httpx

    tmp = Path(tempfile.mkdtemp(prefix="radassist-bench-web-"))
    study = tmp / "study.dcm"
    make_study(study, args.rows, args.columns)
    data = study.read_bytes()
    print(f"study: {args.rows} × {args.columns}, {len(data) / 1e6:.1f} MB; machine: {os.cpu_count()} CPUs; "
          f"server: {args.processes} analysis process(es), queue {args.queue_size}", file=sys.stderr)

    pipeline = time_pipeline(study, args.repeats)
    proc, url = start_server(tmp, args.processes, args.queue_size)
    try:
        with httpx.Client() as client:
            post(client, url, data)  # warm-up: the pool's first job
            single = [post(client, url, data) for _ in range(args.repeats)]

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

    report = {
        "study": {"rows": args.rows, "columns": args.columns, "bytes": len(data)},
        "pipeline": summary(pipeline),
        "single_client": {**summary([ms for ms, _ in single]),
                          "errors": sum(status != 200 for _, status in single)},
        "concurrent": {**summary([ms for ms, _ in loaded]), "clients": args.concurrent,
                       "errors": sum(status != 200 for _, status in loaded),
                       "statuses": sorted({status for _, status in loaded}),
                       "throughput_per_s": round(len(loaded) / wall, 2)},
    }
    ratio = report["single_client"]["p95_ms"] / report["pipeline"]["p50_ms"]
    report["single_client_p95_over_pipeline_p50"] = round(ratio, 2)

    print(f"{'':24}{'n':>5}{'p50 ms':>10}{'p95 ms':>10}{'errors':>8}")
    for name, key in (("pipeline (in process)", "pipeline"), ("API, 1 client", "single_client"),
                      (f"API, {args.concurrent} clients", "concurrent")):
        row = report[key]
        print(f"{name:24}{row['n']:>5}{row['p50_ms']:>10.0f}{row['p95_ms']:>10.0f}{row.get('errors', ''):>8}")
    print(f"1-client p95 / pipeline p50 = {ratio:.2f} (target ≤ 1.5); "
          f"{args.concurrent}-client errors = {report['concurrent']['errors']} (target 0); "
          f"throughput {report['concurrent']['throughput_per_s']} studies/s")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
