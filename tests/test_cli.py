"""The command line, run as a user runs it: a real subprocess, real files, real exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from radassist.cli import EXIT_SOME_FAILED
from radassist.errors import UnreadableInputError, UnsupportedInputError


def run(*args, stdin: str | None = None, cwd=None):
    return subprocess.run([sys.executable, "-m", "radassist", *map(str, args)], input=stdin,
                          capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    """A few small generated studies with their reports and labels."""
    from radassist.synth import make_case

    folder = tmp_path_factory.mktemp("studies")
    cases = {}
    for seed, pattern in [(9101, "stippled"), (9102, "phlebolith"), (9103, "none")]:
        case = make_case(seed, pattern, rows=1400, columns=800, spacing_mm=0.2)
        path = folder / f"{pattern}.dcm"
        case.dataset.save_as(path, enforce_file_format=True)
        path.with_suffix(".txt").write_text(case.report)
        cases[pattern] = (path, case)
    return folder, cases


def _assert_one_clean_line(proc):
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("radassist: "), proc.stderr


def test_analyze_json_is_the_contract_and_consistent_with_recommend(studies, tmp_path):
    import radassist
    from radassist.model import AnalysisResult

    _, cases = studies
    path, _ = cases["stippled"]
    report = tmp_path / "r.txt"
    report.write_text("Hx: 61M, L calf swelling x3d, r/o DVT. Palpable mass.")
    proc = run("analyze", path, "--report", report, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    result = AnalysisResult.model_validate_json(proc.stdout)
    text = report.read_text()
    for concept in result.text.concepts:
        for ev in concept.evidence:
            assert text[ev.start:ev.end] == ev.text
    status = {c.concept: c.status for c in result.text.concepts}
    assert status.get("dvt_suspected") == "possible"
    # The same rules, applied alone to what the analysis found, give the same recommendations.
    again = radassist.recommend(result.image.patterns, result.image.mass_detected, status)
    assert [r.action for r in again] == [r.action for r in result.recommendations]
    assert result.primary_action == result.recommendations[0].action == "duplex_ultrasound"
    assert result.recommendations[0].urgency == "urgent"
    assert result.report_source == "file:r.txt"
    assert result.algorithm.id == "calf-calcification" and len(result.algorithm.sha256) == 64
    for rec in result.recommendations:
        assert rec.rules and rec.rationale and rec.source


def test_analyze_text_reads_primary_action_first(studies):
    _, cases = studies
    path, _ = cases["phlebolith"]
    proc = run("analyze", path, "--report", "-", stdin="Left calf pain. No swelling.")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    first_action_line = next(line for line in out.splitlines() if line.startswith(("PRIMARY ACTION", "No recommendation")))
    assert out.index(first_action_line) < out.index("Image:") < out.index("Suggested impression:")
    assert "Why:" in out and "Source:" in out and "xray_not_definitive" in out


def test_overlay_outlines_the_clusters(studies, tmp_path):
    _, cases = studies
    path, case = cases["stippled"]
    png = tmp_path / "overlay.png"
    proc = run("analyze", path, "--format", "json", "--overlay", png)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    picture = np.asarray(Image.open(png).convert("RGB")).astype(int)
    coloured = (np.abs(picture[..., 0] - picture[..., 1]) > 60) | (np.abs(picture[..., 1] - picture[..., 2]) > 60)
    if result["image"]["clusters"]:
        assert coloured.any()  # outlines are drawn in colour on a grey radiograph
    else:
        assert not coloured.any()


def test_not_dicom_is_refused_with_exit_3(tmp_path):
    junk = tmp_path / "notes.dcm"
    junk.write_text("this is not a radiograph")
    proc = run("analyze", junk)
    assert proc.returncode == UnreadableInputError.exit_code == 3
    _assert_one_clean_line(proc)
    assert proc.stdout == ""


def test_multiframe_is_refused_with_exit_4(tmp_path, studies):
    import pydicom

    _, cases = studies
    ds = pydicom.dcmread(cases["none"][0])
    ds.NumberOfFrames = 2
    path = tmp_path / "mf.dcm"
    ds.save_as(path)
    proc = run("analyze", path)
    assert proc.returncode == UnsupportedInputError.exit_code == 4
    _assert_one_clean_line(proc)


def test_usage_errors_exit_2(studies, tmp_path):
    _, cases = studies
    path, _ = cases["none"]
    proc = run("analyze", path, "--report", tmp_path / "missing.txt")
    assert proc.returncode == 2
    _assert_one_clean_line(proc)
    assert run("analyze", path, "--format", "xml").returncode == 2
    assert run("analyze", tmp_path / "nothing-here.dcm").returncode == 2
    assert run().returncode == 2


def test_folder_gives_one_json_line_per_study_and_reports_failures(studies, tmp_path):
    folder, cases = studies
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for name in ("stippled", "none"):
        src = cases[name][0]
        (mixed / src.name).write_bytes(src.read_bytes())
        (mixed / src.with_suffix(".txt").name).write_text(src.with_suffix(".txt").read_text())
    (mixed / "broken.dcm").write_bytes(b"\x00" * 10)
    proc = run("analyze", mixed)
    assert proc.returncode == EXIT_SOME_FAILED
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == 3
    by_file = {Path(line["file"]).name: line for line in lines}
    assert by_file["broken.dcm"]["error"]["code"] == "unreadable_input"
    assert by_file["stippled.dcm"]["report_source"] == "file:stippled.txt"
    assert "Traceback" not in proc.stderr


def test_schema_is_the_result_json_schema():
    proc = run("schema")
    assert proc.returncode == 0
    schema = json.loads(proc.stdout)
    for field in ("schema_version", "algorithm", "study", "image", "text", "recommendations",
                  "primary_action", "warnings", "timing_ms"):
        assert field in schema["properties"]
    action_enum = json.dumps(schema)
    assert "no_further_imaging" in action_enum and "peripheral_plaque" in action_enum


def test_rules_command_checks_golden_cases_and_refuses_a_broken_file(tmp_path):
    proc = run("rules")
    assert proc.returncode == 0 and "golden cases pass" in proc.stdout
    broken = tmp_path / "broken.yaml"
    from radassist.rules import DEFAULT_ALGORITHM

    broken.write_text(DEFAULT_ALGORITHM.read_text().replace("urgency: urgent", "urgency: soon", 1))
    proc = run("rules", broken)
    assert proc.returncode == 5
    _assert_one_clean_line(proc)
    assert "line" in proc.stderr and "soon" in proc.stderr
