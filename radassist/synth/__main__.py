"""``python -m radassist.synth OUT --n 200 --seed 1``: write a labelled phantom set."""

from __future__ import annotations

import argparse
import sys

from .case import write_set
from .dicom_io import TRANSFER_SYNTAXES
from .scene import ALL_PATTERNS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="radassist synth", description="Write synthetic calf radiographs with labels.")
    parser.add_argument("out", help="output directory")
    parser.add_argument("--n", type=int, default=22, help="number of cases (default 22)")
    parser.add_argument("--seed", type=int, default=0, help="set seed (default 0)")
    parser.add_argument("--patterns", nargs="+", choices=ALL_PATTERNS, help="patterns to cycle through (default all)")
    parser.add_argument("--view", choices=["AP", "LAT"])
    parser.add_argument("--rows", type=int)
    parser.add_argument("--columns", type=int)
    parser.add_argument("--spacing-mm", type=float)
    parser.add_argument("--transfer-syntax", choices=sorted(TRANSFER_SYNTAXES) + ["random"])
    parser.add_argument("--photometric", choices=["MONOCHROME1", "MONOCHROME2"])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.n < 1:
        print("error: --n must be at least 1", file=sys.stderr)
        return 2
    kwargs = {
        k: getattr(args, k)
        for k in ("view", "rows", "columns", "spacing_mm", "transfer_syntax", "photometric")
        if getattr(args, k) is not None
    }
    path = write_set(args.out, args.n, seed=args.seed, patterns=args.patterns, **kwargs)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
