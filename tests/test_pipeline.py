"""The pipeline as the faces call it: analyze, read_report, recommend."""

from __future__ import annotations

import pydicom
import pytest

import radassist
from radassist.errors import UnreadableInputError
from radassist.model import ACTION_ORDER, PATTERN_SIGNIFICANCE, AnalysisResult


@pytest.fixture(scope="module")
def phlebolith_case():
    from radassist.synth import make_case

    return make_case(9201, "phlebolith", rows=1400, columns=800, spacing_mm=0.2)


def test_analyze_takes_a_dataset_or_a_path_and_agrees(phlebolith_case, tmp_path):
    path = tmp_path / "s.dcm"
    phlebolith_case.dataset.save_as(path, enforce_file_format=True)
    from_path = radassist.analyze(path, "Left calf pain. No swelling.")
    from_ds = radassist.analyze(pydicom.dcmread(path), "Left calf pain. No swelling.")
    assert isinstance(from_path, AnalysisResult)
    assert from_path.image.model_dump() == from_ds.image.model_dump()
    assert from_path.result_id != from_ds.result_id
    assert from_path.study.sop_instance_uid == phlebolith_case.dataset.SOPInstanceUID


def test_result_obeys_the_contract_orderings(phlebolith_case):
    result = radassist.analyze(phlebolith_case.dataset, "Left calf pain. No swelling.")
    order = [ACTION_ORDER.index(r.action) for r in result.recommendations]
    assert order == sorted(order) and len(set(order)) == len(order)
    assert result.primary_action == result.recommendations[0].action
    pats = result.image.patterns
    assert pats == sorted(pats, key=PATTERN_SIGNIFICANCE.index)
    assert result.image.primary_pattern == (pats[0] if pats else "none")
    assert result.image.calcification_detected == bool(result.image.clusters)
    assert {"decode", "image", "text", "rules", "total"} <= set(result.timing_ms)
    assert "xray_not_definitive" in {w.code for w in result.warnings}
    assert result.impression.endswith(".") and len(result.impression) > 20


def test_every_suggestion_carries_evidence(phlebolith_case):
    result = radassist.analyze(phlebolith_case.dataset, "Palpable mass. R/o DVT.")
    for rec in result.recommendations:
        assert rec.rules and rec.source and rec.source_passage
        # text-driven rules quote the words, image-driven rules name clusters or say none was found
        assert rec.text_evidence or rec.cluster_ids or "No " in rec.rationale or "no " in rec.rationale


def test_no_report_text_is_a_warning_not_an_error(phlebolith_case):
    result = radassist.analyze(phlebolith_case.dataset, "   ")
    assert result.text.concepts == []
    assert "no_report_text" in {w.code for w in result.warnings}
    assert result.report_source == "none"


def test_header_naming_another_body_part_is_insufficient_information(phlebolith_case):
    ds = phlebolith_case.dataset.copy()
    ds.BodyPartExamined = "CHEST"
    result = radassist.analyze(ds, "R/o DVT.")
    assert result.status == "insufficient_information"
    assert result.image.status == "insufficient_information"
    assert any("CHEST" in m for m in result.image.missing)
    assert result.image.clusters == [] and result.image.primary_pattern == "none"
    # No image-based guess, but the text still says DVT is suspected.
    assert [r.action for r in result.recommendations] == ["duplex_ultrasound"]
    assert "insufficient_information" in {w.code for w in result.warnings}


def test_report_naming_a_different_pattern_is_flagged():
    from radassist.model import ImageFindings
    from radassist.pipeline import _input_warnings

    text = "Findings: stippled calcification in the calf."
    said = radassist.read_report(text)
    assert said.reported_patterns == ["stippled"]
    seen = ImageFindings(calcification_detected=True, primary_pattern="phlebolith", patterns=["phlebolith"])
    codes = {w.code: w.message for w in _input_warnings(seen, said, text)}
    assert "stippled" in codes["report_image_disagreement"] and "phlebolith" in codes["report_image_disagreement"]
    agree = ImageFindings(calcification_detected=True, primary_pattern="stippled", patterns=["stippled"])
    assert "report_image_disagreement" not in {w.code for w in _input_warnings(agree, said, text)}
    negated = radassist.read_report("No stippled calcification.")
    assert negated.reported_patterns == []


def test_missing_spacing_gives_pixel_sizes_and_a_warning(phlebolith_case):
    ds = phlebolith_case.dataset.copy()
    for keyword in ("PixelSpacing", "ImagerPixelSpacing", "EstimatedRadiographicMagnificationFactor"):
        if keyword in ds:
            delattr(ds, keyword)
    result = radassist.analyze(ds)
    assert result.study.spacing_source == "none" and result.study.pixel_spacing_mm is None
    assert "no_pixel_spacing" in {w.code for w in result.warnings}
    for cluster in result.image.clusters:
        assert cluster.size_mm is None and min(cluster.size_px) > 0


def test_unreadable_input_raises_not_guesses():
    with pytest.raises(UnreadableInputError):
        radassist.analyze(b"GIF89a not a radiograph")


def test_read_report_and_recommend_are_the_parts_on_their_own():
    text = radassist.read_report("R/o DVT. New shortness of breath.")
    statuses = {c.concept: c.status for c in text.concepts}
    assert statuses["dvt_suspected"] == "possible" and statuses["dyspnea"] == "present"
    recs = radassist.recommend([], False, statuses)
    assert [r.action for r in recs] == ["emergency_evaluation", "duplex_ultrasound"]
    # a radiologist's correction (the negation was wrong) changes the suggestion at once
    statuses["dyspnea"] = "absent"
    assert [r.action for r in radassist.recommend([], False, statuses)] == ["duplex_ultrasound"]


def test_real_lower_leg_radiograph_has_no_soft_tissue_calcification(shared):
    path = shared / "data" / "real_images" / "RG3_J2KR.dcm"
    result = radassist.analyze(path, "Non-ossifying fibroma of distal tibia.")
    assert result.status == "complete"
    assert result.image.clusters == [] and result.image.primary_pattern == "none"
    assert result.study.spacing_source == "none"
