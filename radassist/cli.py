"""The ``radassist`` command line.

Exit codes (distinct, stable; also in the README):

====  =====================================================================
0     success
1     internal error (a bug: one line on stderr, no traceback)
2     bad usage (unknown option, missing or unreadable --report file)
3     unreadable input (not DICOM, truncated, undecodable pixel data)
4     unsupported input (multi-frame, colour, no image, too large)
5     invalid rules file
6     several inputs: at least one failed (each failure is its own JSON line)
====  =====================================================================
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Iterator, Optional, Sequence

from . import __version__
from .errors import RadassistError

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_SOME_FAILED = 0, 1, 2, 6
DICOM_SUFFIXES = {".dcm", ".dicom", ".dic", ""}


class UsageError(Exception):
    """Bad command-line usage (exit 2)."""


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["synth"]:  # the generator owns its own options (and --help)
        from .synth.__main__ import main as synth_main

        return synth_main(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"radassist: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RadassistError as exc:
        print(f"radassist: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("radassist: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - a face must never show a traceback
        if os.environ.get("RADASSIST_DEBUG"):
            raise
        print(f"radassist: internal error ({type(exc).__name__}: {exc}); "
              "set RADASSIST_DEBUG=1 for details and please report it", file=sys.stderr)
        return EXIT_INTERNAL


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="radassist",
        description="Decision support for soft-tissue calcifications on calf radiographs (not a diagnosis).",
    )
    p.add_argument("--version", action="version", version=f"radassist {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    a = sub.add_parser("analyze", help="analyse one or more DICOM images (files or folders)",
                       description="Analyse calf radiographs. One file: a text or JSON result. Several files or a "
                                   "folder: one JSON line per study (report text from a sidecar IMAGE.txt if present).")
    a.add_argument("inputs", nargs="+", metavar="IMAGE", help="DICOM file(s) or folder(s)")
    a.add_argument("--report", metavar="FILE|-", help="report or clinical-indication text file, or - for stdin "
                                                       "(single image only)")
    a.add_argument("--format", choices=("text", "json"), default=None,
                   help="output for a single image (default text); several images always give JSON lines")
    a.add_argument("--overlay", metavar="OUT.png", help="write a PNG with every cluster outlined (single image) "
                                                        "or into this folder (several images)")
    a.add_argument("--output", "-o", metavar="FILE", help="write the output here instead of stdout")
    a.add_argument("--rules", metavar="FILE", help="a rules file other than algorithms/calf_calcification.yaml")
    a.add_argument("--no-progress", action="store_true", help="no progress bar for several images")
    a.set_defaults(func=cmd_analyze)

    s = sub.add_parser("schema", help="print the JSON Schema of the result")
    s.set_defaults(func=cmd_schema)

    e = sub.add_parser("evaluate", help="measure accuracy on a labelled folder (labels.jsonl)")
    e.add_argument("folder", metavar="DIR")
    e.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1, help="parallel workers")
    e.add_argument("--json", metavar="FILE", help="also write the metrics as JSON")
    e.add_argument("--predictions", metavar="FILE",
                   help="also write one JSON line per study (file, truth, what radassist said)")
    e.add_argument("--compare", metavar="FILE",
                   help="list the studies whose result changed since a run saved with --predictions")
    e.add_argument("--no-progress", action="store_true")
    e.set_defaults(func=cmd_evaluate)

    sub.add_parser("synth", help="generate labelled synthetic calf radiographs (see 'radassist synth --help')")

    r = sub.add_parser("rules", help="validate a rules file and run its golden cases")
    r.add_argument("path", nargs="?", metavar="FILE", help="default: algorithms/calf_calcification.yaml")
    r.set_defaults(func=cmd_rules)

    # The other faces register their own commands (they import their heavy
    # dependencies only when run, so `radassist analyze` stays quick to start).
    from .pacs.command import register as register_pacs_commands
    from .web.command import register as register_web_commands

    register_web_commands(sub)
    register_pacs_commands(sub)
    return p


# --------------------------------------------------------------------------
# analyze
# --------------------------------------------------------------------------


def cmd_analyze(args) -> int:
    from .rules import load_algorithm

    algorithm = load_algorithm(args.rules) if args.rules else load_algorithm()
    files = list(_expand(args.inputs))
    if not files:
        raise UsageError("no DICOM files found in " + ", ".join(args.inputs))
    single = len(files) == 1 and not any(Path(i).is_dir() for i in args.inputs)
    if args.report and not single:
        raise UsageError("--report goes with a single image; for several, put IMAGE.txt beside each image")
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    try:
        if single:
            return _analyze_one(files[0], args, algorithm, out)
        return _analyze_many(files, args, algorithm, out)
    finally:
        if out is not sys.stdout:
            out.close()


def _analyze_one(path: Path, args, algorithm, out) -> int:
    from .pipeline import analyze_study
    from .render import format_text, render_overlay

    text, source = _report_text(args.report)
    study = analyze_study(path, text, report_source=source, algorithm=algorithm)
    if args.overlay:
        render_overlay(study.image.pixels, study.result.image).save(args.overlay)
    if (args.format or "text") == "json":
        out.write(study.result.model_dump_json(indent=2) + "\n")
    else:
        out.write(format_text(study.result) + "\n")
    return 0


def _analyze_many(files: list[Path], args, algorithm, out) -> int:
    from tqdm import tqdm

    from .pipeline import analyze_study
    from .render import render_overlay

    if args.format == "text":
        raise UsageError("several images give JSON lines; --format text is for a single image")
    overlay_dir = Path(args.overlay) if args.overlay else None
    if overlay_dir:
        overlay_dir.mkdir(parents=True, exist_ok=True)
    failed = 0
    bar = tqdm(files, unit="study", disable=args.no_progress or None, file=sys.stderr, dynamic_ncols=True)
    for path in bar:
        sidecar = path.with_suffix(".txt")
        text = sidecar.read_text(encoding="utf-8", errors="replace") if sidecar.is_file() else None
        try:
            study = analyze_study(path, text, report_source=f"file:{sidecar.name}" if text is not None else None,
                                  algorithm=algorithm)
        except RadassistError as exc:
            failed += 1
            out.write(json.dumps({"file": str(path), **exc.as_dict()}) + "\n")
            continue
        if overlay_dir:
            render_overlay(study.image.pixels, study.result.image).save(overlay_dir / f"{path.stem}.png")
        line = study.result.model_dump(mode="json")
        out.write(json.dumps({"file": str(path), **line}) + "\n")
        out.flush()
    return EXIT_SOME_FAILED if failed else EXIT_OK


def _expand(inputs: Sequence[str]) -> Iterator[Path]:
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in DICOM_SUFFIXES and not child.name.startswith("."):
                    yield child
        elif path.exists():
            yield path
        else:
            raise UsageError(f"{item}: no such file or folder")


def _report_text(report: Optional[str]) -> tuple[Optional[str], Optional[str]]:
    if report is None:
        return None, None
    if report == "-":
        return sys.stdin.read(), "stdin"
    try:
        return Path(report).read_text(encoding="utf-8", errors="replace"), f"file:{Path(report).name}"
    except OSError as exc:
        raise UsageError(f"cannot read the report file {report}: {exc.strerror}") from None


# --------------------------------------------------------------------------
# schema, rules, evaluate
# --------------------------------------------------------------------------


def cmd_schema(args) -> int:
    from .model import AnalysisResult

    print(json.dumps(AnalysisResult.model_json_schema(), indent=2))
    return 0


def cmd_rules(args) -> int:
    from .rules import Facts, decide, load_algorithm

    alg = load_algorithm(args.path)
    failures = 0
    for case in alg.golden_cases:
        facts = Facts.simple(case["patterns"], case.get("mass", False), case.get("concepts"),
                             case.get("image_analysed", True))
        got = [r.action for r in decide(facts, alg).recommendations]
        if got != case["expect_actions"]:
            failures += 1
            print(f"FAIL {case['name']}: expected {case['expect_actions']}, got {got}")
    print(f"{alg.id} {alg.version} (sha256 {alg.sha256[:12]}): {len(alg.rules)} rules, "
          f"{len(alg.golden_cases) - failures}/{len(alg.golden_cases)} golden cases pass")
    return 0 if failures == 0 else 5


def cmd_evaluate(args) -> int:
    from .evaluate import (analyse_folder, compare_records, compute_metrics, format_comparison, format_report,
                           read_records, study_records)

    # An unreadable baseline is an error before the (long) analysis, not after it.
    baseline = read_records(Path(args.compare)) if args.compare else None
    labels, predictions = analyse_folder(Path(args.folder), jobs=args.jobs, progress=not args.no_progress)
    report = compute_metrics(labels, predictions)
    print(format_report(report))
    records = study_records(labels, predictions)
    if baseline is not None:
        print()
        print(format_comparison(compare_records(baseline, records)))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    if args.predictions:
        Path(args.predictions).write_text("".join(json.dumps(r) + "\n" for r in records))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
