"""Per-study time of the pipeline, split by stage, against the time to merely decode.

Run:  python benchmarks/bench_pipeline.py [--repeats 15] [--rows 3000 --columns 2000]

It generates realistic 3000 × 2000 16-bit uncompressed DX studies (one per
pattern family, so the timing covers busy and empty legs), then for each
repetition times ``read_dicom`` alone (decode) and ``analyze`` (decode + image
+ text + rules), and prints medians per stage, the analysis time excluding
decode, and the peak memory of one analysis. This is a measurement, not a
test: nothing here fails on a slow machine.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPORT = "Hx: 61M, L calf swelling x3d, r/o DVT. Palpable mass. No chest pain."


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--columns", type=int, default=2000)
    parser.add_argument("--patterns", default="none,phlebolith,stippled,arterial,popcorn")
    args = parser.parse_args(argv)

    from radassist.dicom import read_dicom
    from radassist.pipeline import analyze
    from radassist.rules import load_algorithm
    from radassist.synth import make_case

    load_algorithm()  # parse once, as a long-running service does
    tmp = Path(tempfile.mkdtemp(prefix="radassist-bench-"))
    files = []
    for i, pattern in enumerate(args.patterns.split(",")):
        case = make_case(4242 + i, pattern, rows=args.rows, columns=args.columns, spacing_mm=0.1,
                         transfer_syntax=None, photometric="MONOCHROME2")
        case.dataset.BitsStored = 16
        case.dataset.HighBit = 15
        path = tmp / f"{pattern}.dcm"
        case.dataset.save_as(path, enforce_file_format=True)
        files.append(path)
    analyze(files[0], REPORT)  # warm-up: imports, caches

    decode, total, stages = [], [], {}
    for _ in range(args.repeats):
        for path in files:
            t = time.perf_counter()
            read_dicom(path)
            decode.append((time.perf_counter() - t) * 1000)
            result = analyze(path, REPORT)
            total.append(result.timing_ms["total"])
            for key, value in result.timing_ms.items():
                stages.setdefault(key, []).append(value)

    tracemalloc.start()
    analyze(files[0], REPORT)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    med = statistics.median
    excl = [stages["image"][i] + stages["text"][i] + stages["rules"][i] for i in range(len(total))]
    size_mb = files[0].stat().st_size / 1e6
    print(f"studies: {len(files)} × {args.repeats} repeats, {args.rows} × {args.columns} 16-bit uncompressed "
          f"DX ({size_mb:.1f} MB each)")
    print(f"{'stage':<24}{'median ms':>12}{'p95 ms':>10}")
    print(f"{'decode only (read_dicom)':<24}{med(decode):>12.1f}{_p95(decode):>10.1f}")
    for key in sorted(stages):
        if key != "total":
            print(f"{key:<24}{med(stages[key]):>12.1f}{_p95(stages[key]):>10.1f}")
    print(f"{'analysis excl. decode':<24}{med(excl):>12.1f}{_p95(excl):>10.1f}")
    print(f"{'total':<24}{med(total):>12.1f}{_p95(total):>10.1f}")
    print(f"peak traced memory of one analysis: {peak / 1e6:.0f} MB; "
          f"process max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3:.0f} MB")
    return 0


def _p95(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


if __name__ == "__main__":
    sys.exit(main())
