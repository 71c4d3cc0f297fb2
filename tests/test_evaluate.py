"""`radassist evaluate`: the metrics a QA team reads, computed right."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from radassist.errors import RadassistError
from radassist.evaluate import compute_metrics, format_report, read_labels


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
