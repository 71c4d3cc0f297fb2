"""Measure radassist on a labelled folder, as a hospital QA team would.

The folder holds DICOM files and a ``labels.jsonl``: one JSON object per line
with at least ``file`` and ``primary_pattern``, optionally ``clusters`` (each
with ``pattern`` and ``bbox_px``) and ``report_file``. The report gives a
confusion matrix over primary patterns, per-pattern sensitivity, the rate of
concerning studies (stippled, eccentric) labelled benign, concerning studies
left without an imaging action, and false calcification on ``none`` studies.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Optional

from .errors import RadassistError
from .model import PATTERNS

CONCERNING = ("stippled", "eccentric")
#: A concerning study "labelled benign" got one of these as its primary pattern.
BENIGN_OR_NONE = ("diffuse", "central", "laminated", "popcorn", "phlebolith", "arterial", "none")
NON_IMAGING_ACTIONS = {"no_further_imaging", "clinical_follow_up"}


def _json_lines(path: Path, where: str):
    """``(line number, object)`` for each non-blank line of a JSON-lines file; a clear error for a bad line."""
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except json.JSONDecodeError as exc:
            raise RadassistError(f"{where} line {n}: not JSON ({exc.msg})") from None


def read_labels(folder: Path) -> list[dict]:
    """The labels of a folder; a clear error for a missing or malformed file."""
    path = folder / "labels.jsonl"
    if not path.is_file():
        raise RadassistError(f"{folder}: no labels.jsonl (one JSON object per line with 'file' and 'primary_pattern')")
    labels = []
    for n, item in _json_lines(path, "labels.jsonl"):
        if not isinstance(item, dict) or "file" not in item or "primary_pattern" not in item:
            raise RadassistError(f"labels.jsonl line {n}: needs 'file' and 'primary_pattern'")
        if item["primary_pattern"] not in PATTERNS:
            raise RadassistError(f"labels.jsonl line {n}: unknown pattern '{item['primary_pattern']}'")
        labels.append(item)
    return labels


def _analyse_one(folder: str, label: dict) -> dict:
    """Worker: analyse one labelled study and keep only what the metrics need."""
    from .pipeline import analyze

    base = Path(folder)
    report = None
    if label.get("report_file") and (base / label["report_file"]).is_file():
        report = (base / label["report_file"]).read_text(encoding="utf-8", errors="replace")
    try:
        result = analyze(base / label["file"], report)
    except RadassistError as exc:
        return {"file": label["file"], "error": exc.message}
    return {
        "file": label["file"],
        "status": result.status,
        "primary_pattern": result.image.primary_pattern,
        "calcification_detected": result.image.calcification_detected,
        "clusters": [{"pattern": c.pattern, "bbox_px": list(c.bbox_px)} for c in result.image.clusters],
        "actions": [r.action for r in result.recommendations],
        "image_ms": result.timing_ms.get("image", 0.0),
    }


def analyse_folder(folder: Path, *, jobs: int = 1, progress: bool = True) -> tuple[list[dict], list[dict]]:
    """Analyse every labelled study of ``folder``; returns its labels and the compact predictions (same order)."""
    from tqdm import tqdm

    labels = read_labels(folder)
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(_analyse_one, str(folder), label) for label in labels]
        bar = tqdm(futures, unit="study", disable=not progress or None, file=sys.stderr)
        predictions = [f.result() for f in bar]
    return labels, predictions


def evaluate_folder(folder: Path, *, jobs: int = 1, progress: bool = True) -> dict[str, Any]:
    """Analyse every labelled study of ``folder`` and compute the metrics."""
    return compute_metrics(*analyse_folder(folder, jobs=jobs, progress=progress))


def study_records(labels: list[dict], predictions: list[dict]) -> list[dict]:
    """One record per study (no patient data): file, truth, what radassist said, whether it was right.

    Written with ``radassist evaluate --predictions FILE``; a later run on the
    same folder is compared with it by ``--compare FILE`` (see :func:`compare_records`).
    """
    records = []
    for label, pred in zip(labels, predictions):
        got = pred.get("primary_pattern", "error")
        records.append({"file": label["file"], "truth": label["primary_pattern"], "predicted": got,
                        "correct": got == label["primary_pattern"],  # "error" is no pattern
                        "actions": pred.get("actions", []), "error": pred.get("error")})
    return records


def read_records(path: Path) -> list[dict]:
    """Study records written by ``--predictions``; a clear error for anything else."""
    path = Path(path)
    if not path.is_file():
        raise RadassistError(f"{path}: cannot read the earlier predictions (no such file)")
    records = []
    for n, item in _json_lines(path, str(path)):
        if not isinstance(item, dict) or not {"file", "truth", "predicted", "correct"} <= item.keys():
            raise RadassistError(f"{path} line {n}: not a study record of 'radassist evaluate --predictions'")
        records.append(item)
    return records


def compare_records(before: list[dict], after: list[dict]) -> dict[str, Any]:
    """What changed between two runs on the same folder, study by study.

    Returns
    -------
    dict
        ``now_right`` and ``now_wrong`` (records whose correctness changed),
        ``relabelled`` (still wrong, named differently), each item
        ``{"file", "truth", "before", "after"}``; ``only_before`` and
        ``only_after`` (files in one run only); the accuracy of each run on
        the files both share.
    """
    old = {r["file"]: r for r in before}
    new = {r["file"]: r for r in after}
    shared = [f for f in new if f in old]
    out: dict[str, Any] = {"now_right": [], "now_wrong": [], "relabelled": [],
                           "only_before": sorted(set(old) - set(new)), "only_after": sorted(set(new) - set(old))}
    for f in shared:
        a, b = old[f], new[f]
        item = {"file": f, "truth": b["truth"], "before": a["predicted"], "after": b["predicted"]}
        if a["correct"] != b["correct"]:
            out["now_right" if b["correct"] else "now_wrong"].append(item)
        elif a["predicted"] != b["predicted"]:
            out["relabelled"].append(item)
    out["shared"] = len(shared)
    out["correct_before"] = sum(bool(old[f]["correct"]) for f in shared)
    out["correct_after"] = sum(bool(new[f]["correct"]) for f in shared)
    return out


def format_comparison(c: dict[str, Any]) -> str:
    """A comparison as plain text: the net change, then every study that changed."""
    lines = [f"compared with the earlier run on {c['shared']} shared studies: "
             f"{c['correct_before']} -> {c['correct_after']} right "
             f"({len(c['now_right'])} now right, {len(c['now_wrong'])} now wrong, "
             f"{len(c['relabelled'])} wrong both times but named differently)"]
    for sign, key in (("+", "now_right"), ("-", "now_wrong"), ("~", "relabelled")):
        for item in c[key]:
            lines.append(f"  {sign} {item['file']}  truth {item['truth']}: {item['before']} -> {item['after']}")
    for key, what in (("only_before", "only in the earlier run"), ("only_after", "only in this run")):
        if c[key]:
            lines.append(f"  {len(c[key])} studies {what}, e.g. {', '.join(c[key][:3])}")
    return "\n".join(lines)


def _overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def compute_metrics(labels: list[dict], predictions: list[dict]) -> dict[str, Any]:
    """Metrics from truth labels and compact predictions (same order)."""
    matrix = {t: {p: 0 for p in PATTERNS} for t in PATTERNS}
    errors, correct, analysed = [], 0, 0
    concerning = concerning_benign = concerning_no_imaging = 0
    none_cases = none_false_calc = 0
    truth_clusters = found_clusters = false_clusters = 0
    has_cluster_labels = any("clusters" in label for label in labels)
    times = []
    for label, pred in zip(labels, predictions):
        if "error" in pred:
            errors.append({"file": pred["file"], "error": pred["error"]})
            continue
        analysed += 1
        truth, got = label["primary_pattern"], pred["primary_pattern"]
        matrix[truth][got] += 1
        correct += truth == got
        times.append(pred["image_ms"])
        if truth in CONCERNING:
            concerning += 1
            concerning_benign += got in BENIGN_OR_NONE
            concerning_no_imaging += set(pred["actions"]) <= NON_IMAGING_ACTIONS
        if truth == "none":
            none_cases += 1
            none_false_calc += bool(pred["calcification_detected"])
        if has_cluster_labels:
            boxes = [c["bbox_px"] for c in label.get("clusters", [])]
            truth_clusters += len(boxes)
            found_clusters += sum(any(_overlaps(b, c["bbox_px"]) for c in pred["clusters"]) for b in boxes)
            false_clusters += sum(not any(_overlaps(c["bbox_px"], b) for b in boxes) for c in pred["clusters"])

    sensitivity = {}
    for t in PATTERNS:
        total = sum(matrix[t].values())
        if total:
            sensitivity[t] = matrix[t][t] / total
    used = [p for p in PATTERNS if sum(matrix[p].values()) or any(matrix[t][p] for t in PATTERNS)]
    return {
        "studies": len(labels),
        "analysed": analysed,
        "errors": errors,
        "primary_accuracy": correct / analysed if analysed else None,
        "confusion_matrix": {t: {p: matrix[t][p] for p in used} for t in used},
        "sensitivity": sensitivity,
        "concerning_studies": concerning,
        "concerning_labelled_benign_rate": concerning_benign / concerning if concerning else None,
        "concerning_without_imaging_action": concerning_no_imaging,
        "none_studies": none_cases,
        "false_calcification_rate_on_none": none_false_calc / none_cases if none_cases else None,
        "cluster_detection_sensitivity": found_clusters / truth_clusters if truth_clusters else None,
        "false_clusters_per_study": false_clusters / analysed if has_cluster_labels and analysed else None,
        "median_image_ms": statistics.median(times) if times else None,
    }


def format_report(m: dict[str, Any]) -> str:
    """The metrics as a plain-text report with the confusion matrix."""
    def pct(x: Optional[float]) -> str:
        return "n/a" if x is None else f"{100 * x:.1f} %"

    short = {p: p[:6] if p != "peripheral_plaque" else "periph" for p in PATTERNS}
    used = list(m["confusion_matrix"])
    lines = [f"studies: {m['studies']}  analysed: {m['analysed']}  errors: {len(m['errors'])}", ""]
    lines.append("confusion matrix (rows: truth, columns: radassist)")
    lines.append(f"{'':>18} " + " ".join(f"{short[p]:>6}" for p in used) + "   sens.")
    for t in used:
        row = m["confusion_matrix"][t]
        total = sum(row.values())
        if not total:
            continue
        cells = " ".join(f"{row[p] if row[p] else '.':>6}" for p in used)
        lines.append(f"{t:>18} {cells}   {pct(m['sensitivity'].get(t))}")
    lines += [
        "",
        f"primary-pattern accuracy:            {pct(m['primary_accuracy'])}",
        f"concerning studies labelled benign:  {pct(m['concerning_labelled_benign_rate'])} "
        f"(of {m['concerning_studies']})",
        f"concerning without an imaging action: {m['concerning_without_imaging_action']}",
        f"false calcification on normal legs:  {pct(m['false_calcification_rate_on_none'])} "
        f"(of {m['none_studies']})",
    ]
    if m["cluster_detection_sensitivity"] is not None:
        lines.append(f"cluster detection sensitivity:       {pct(m['cluster_detection_sensitivity'])}")
        lines.append(f"false clusters per study:            {m['false_clusters_per_study']:.2f}")
    if m["median_image_ms"] is not None:
        lines.append(f"median image-analysis time:          {m['median_image_ms']:.0f} ms")
    for err in m["errors"][:10]:
        lines.append(f"error: {err['file']}: {err['error']}")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(format_report(evaluate_folder(Path(sys.argv[1]), jobs=os.cpu_count() or 1)))
