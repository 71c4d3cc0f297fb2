"""`radassist evaluate`: the metrics a QA team reads, computed right."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from radassist.errors import RadassistError
from radassist.evaluate import (compare_records, compute_metrics, format_comparison, format_report, read_labels,
                                read_records, study_records)


def _pred(pattern, actions=("no_further_imaging",), clusters=()):
    return {"file": "x", "status": "complete", "primary_pattern": pattern,
            "calcification_detected": pattern != "none", "clusters": list(clusters),
            "actions": list(actions), "image_ms": 10.0}


def test_metrics_count_what_they_say():
    labels = [
        {"file": "a", "primary_pattern": "stippled", "clusters": [{"pattern": "stippled", "bbox_px": [0, 0, 10, 10]}]},
        {"file": "b", "primary_pattern": "stippled", "clusters": [{"pattern": "stippled", "bbox_px": [50, 50, 60, 60]}]},
        {"file": "c", "primary_pattern": "eccentric", "clusters": [{"pattern": "eccentric", "bbox_px": [0, 0, 5, 5]}]},
        {"file": "d", "primary_pattern": "none", "clusters": []},
        {"file": "e", "primary_pattern": "none", "clusters": []},
        {"file": "f", "primary_pattern": "phlebolith", "clusters": []},
    ]
    preds = [
        _pred("stippled", ["ultrasound"], [{"pattern": "stippled", "bbox_px": [2, 2, 8, 8]}]),
        _pred("popcorn", ["no_further_imaging"], [{"pattern": "popcorn", "bbox_px": [100, 100, 110, 110]}]),
        _pred("nonspecific", ["ultrasound"], [{"pattern": "nonspecific", "bbox_px": [1, 1, 4, 4]}]),
        _pred("none"),
        _pred("arterial", clusters=[{"pattern": "arterial", "bbox_px": [0, 0, 3, 3]}]),
        {"file": "f", "error": "not DICOM"},
    ]
    m = compute_metrics(labels, preds)
    assert m["studies"] == 6 and m["analysed"] == 5 and len(m["errors"]) == 1
    assert m["primary_accuracy"] == pytest.approx(2 / 5)
    assert m["confusion_matrix"]["stippled"]["popcorn"] == 1
    assert m["sensitivity"]["stippled"] == pytest.approx(0.5) and m["sensitivity"]["eccentric"] == 0
    assert m["concerning_studies"] == 3
    assert m["concerning_labelled_benign_rate"] == pytest.approx(1 / 3)  # popcorn; nonspecific is not benign
    assert m["concerning_without_imaging_action"] == 1
    assert m["false_calcification_rate_on_none"] == pytest.approx(0.5)
    assert m["cluster_detection_sensitivity"] == pytest.approx(2 / 3)
    assert m["false_clusters_per_study"] == pytest.approx(2 / 5)
    text = format_report(m)
    assert "confusion matrix" in text and "40.0 %" in text and "error: f: not DICOM" in text


def test_labels_are_checked(tmp_path):
    with pytest.raises(RadassistError, match="no labels.jsonl"):
        read_labels(tmp_path)
    (tmp_path / "labels.jsonl").write_text('{"file": "a.dcm", "primary_pattern": "sparkly"}\n')
    with pytest.raises(RadassistError, match="line 1: unknown pattern 'sparkly'"):
        read_labels(tmp_path)
    (tmp_path / "labels.jsonl").write_text('{"file": "a.dcm"}\n')
    with pytest.raises(RadassistError, match="needs 'file' and 'primary_pattern'"):
        read_labels(tmp_path)


def test_evaluate_command_on_a_generated_folder(tmp_path):
    from radassist.synth import write_set

    write_set(tmp_path, 3, seed=9301, patterns=["phlebolith", "stippled", "none"], rows=1300, columns=750)
    out = tmp_path / "metrics.json"
    proc = subprocess.run([sys.executable, "-m", "radassist", "evaluate", str(tmp_path), "-j", "2",
                           "--no-progress", "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(out.read_text())
    assert metrics["studies"] == metrics["analysed"] == 3
    assert sum(sum(row.values()) for row in metrics["confusion_matrix"].values()) == 3
    assert "confusion matrix" in proc.stdout and "primary-pattern accuracy" in proc.stdout


def test_evaluate_saves_predictions_and_compares_a_later_run(tmp_path):
    from radassist.synth import write_set

    write_set(tmp_path, 2, seed=9302, patterns=["phlebolith", "none"], rows=1300, columns=750)
    saved = tmp_path / "before.jsonl"
    run = [sys.executable, "-m", "radassist", "evaluate", str(tmp_path), "-j", "2", "--no-progress"]
    proc = subprocess.run(run + ["--predictions", str(saved)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in saved.read_text().splitlines()]
    assert [r["truth"] for r in records] == ["phlebolith", "none"]
    # Pretend the earlier run had got the first study the other way round.
    first = dict(records[0])
    if first["correct"]:
        records[0].update(predicted="nonspecific", correct=False)
        expected = f"  + {first['file']}  truth phlebolith: nonspecific -> {first['predicted']}"
    else:
        records[0].update(predicted="phlebolith", correct=True)
        expected = f"  - {first['file']}  truth phlebolith: phlebolith -> {first['predicted']}"
    saved.write_text("".join(json.dumps(r) + "\n" for r in records))
    proc = subprocess.run(run + ["--compare", str(saved)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    changed = [line for line in proc.stdout.splitlines() if line[:4] in ("  + ", "  - ", "  ~ ")]
    assert changed == [expected]  # the second study did not change, and is not listed
    assert "compared with the earlier run on 2 shared studies" in proc.stdout


def test_evaluate_refuses_a_bad_baseline_before_analysing(tmp_path):
    (tmp_path / "labels.jsonl").write_text('{"file": "a.dcm", "primary_pattern": "none"}\n')
    bad = tmp_path / "not-records.jsonl"
    bad.write_text("hello\n")
    proc = subprocess.run([sys.executable, "-m", "radassist", "evaluate", str(tmp_path), "--no-progress",
                           "--compare", str(bad)], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "not JSON" in proc.stderr and "Traceback" not in proc.stderr


def _record(file, truth, predicted):
    return {"file": file, "truth": truth, "predicted": predicted, "correct": truth == predicted}


def test_two_runs_are_compared_study_by_study():
    before = [_record("a", "stippled", "nonspecific"), _record("b", "phlebolith", "phlebolith"),
              _record("c", "diffuse", "none"), _record("d", "none", "none"), _record("old", "none", "none")]
    after = [_record("a", "stippled", "stippled"), _record("b", "phlebolith", "eccentric"),
             _record("c", "diffuse", "nonspecific"), _record("d", "none", "none"), _record("new", "none", "none")]
    c = compare_records(before, after)
    assert [i["file"] for i in c["now_right"]] == ["a"]
    assert [i["file"] for i in c["now_wrong"]] == ["b"]
    assert c["relabelled"] == [{"file": "c", "truth": "diffuse", "before": "none", "after": "nonspecific"}]
    assert c["only_before"] == ["old"] and c["only_after"] == ["new"]
    assert (c["shared"], c["correct_before"], c["correct_after"]) == (4, 2, 2)
    text = format_comparison(c)
    assert "2 -> 2 right (1 now right, 1 now wrong, 1 wrong both times" in text
    assert "  + a  truth stippled: nonspecific -> stippled" in text
    assert "  - b  truth phlebolith: phlebolith -> eccentric" in text


def test_study_records_say_what_radassist_said_and_errors_are_wrong():
    labels = [{"file": "a", "primary_pattern": "none"}, {"file": "b", "primary_pattern": "none"}]
    records = study_records(labels, [_pred("none"), {"file": "b", "error": "not DICOM"}])
    assert records[0]["correct"] is True and records[0]["predicted"] == "none"
    assert records[1]["correct"] is False and records[1]["predicted"] == "error"
    assert records[1]["error"] == "not DICOM"


def test_a_file_that_is_not_saved_predictions_is_refused(tmp_path):
    bad = tmp_path / "metrics.json"
    bad.write_text('{"studies": 3}\n')
    with pytest.raises(RadassistError, match="line 1: not a study record"):
        read_records(bad)
    with pytest.raises(RadassistError, match="cannot read the earlier predictions"):
        read_records(tmp_path / "missing.jsonl")
