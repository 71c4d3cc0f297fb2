"""The reader on real report texts (MTSamples, ../shared/data/reports_real/).

Every report must read without error with evidence spans that index it; a few
sentences whose reading any radiologist would agree on are checked exactly.
Skipped when ../shared is absent (see conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from radassist.model import STATUS_PRECEDENCE
from radassist.text import read_report


@pytest.fixture(scope="module")
def reports(shared) -> Path:
    folder = shared / "data" / "reports_real"
    if not any(folder.glob("*.txt")):
        pytest.skip("no real report texts in ../shared/data/reports_real")
    return folder


def _read(reports: Path, name: str):
    path = reports / name
    if not path.is_file():
        pytest.skip(f"{name} is not in the shared report set")
    text = path.read_text(encoding="utf-8")
    return text, read_report(text)


def _statuses(findings, concept: str) -> list[str]:
    return [e.status for f in findings.concepts if f.concept == concept for e in f.evidence]


def test_every_real_report_reads_with_valid_spans(reports):
    paths = sorted(reports.glob("*.txt"))
    assert paths
    for path in paths:
        text = path.read_text(encoding="utf-8")
        findings = read_report(text)
        for finding in findings.concepts:
            assert finding.evidence, path.name
            assert finding.status == min((e.status for e in finding.evidence),
                                         key=STATUS_PRECEDENCE.index), path.name
            for evidence in finding.evidence:
                assert text[evidence.start:evidence.end] == evidence.text, path.name
        for mention in findings.pattern_mentions:
            assert text[mention.evidence.start:mention.evidence.end] == mention.evidence.text


def test_negative_venous_doppler_is_not_a_dvt(reports):
    # "Status post delivery five weeks ago presenting with left calf pain. ...
    #  otherwise no evidence for left lower extremity venous thrombosis."
    _, findings = _read(reports, "mts-lower-extremity-venous-doppler.txt")
    assert findings.status_of("dvt_suspected") == "absent"
    assert findings.status_of("pain") == "present"
    assert findings.status_of("prior_us_negative") is None


def test_negative_bilateral_duplex_is_not_a_dvt(reports):
    # "All deep veins demonstrated compressibility without evidence of intraluminal thrombus"
    _, findings = _read(reports, "mts-duplex-ultrasound-legs.txt")
    assert findings.status_of("dvt_suspected") == "absent"
    assert set(_statuses(findings, "dvt_suspected")) == {"absent"}


def test_rule_out_dvt_stays_suspected_when_the_study_is_negative(reports):
    # "REASON FOR EXAM: Swelling and rule out DVT. ... IMPRESSION: No evidence of left lower
    #  extremity deep venous thrombosis."
    _, findings = _read(reports, "mts-ultrasound-lower-extremity-1.txt")
    assert findings.status_of("dvt_suspected") == "possible"
    assert _statuses(findings, "dvt_suspected") == ["possible", "absent"]
    assert findings.status_of("swelling") == "present"


def test_limited_venous_study_without_clot(reports):
    # "no gross evidence of DVT", "No obvious clot identified", "No definite clot is seen."
    _, findings = _read(reports, "mts-ultrasound-lower-extremity.txt")
    assert "present" not in _statuses(findings, "dvt_suspected")
    assert _statuses(findings, "dvt_suspected").count("absent") >= 3
    assert findings.status_of("swelling") == "present"  # "edema bilaterally"


def test_doppler_negative_for_dvt_is_not_prior_us_negative(reports):
    # "Doppler of lower extremities negative for DVT." and "Deep venous thrombosis prophylaxis."
    _, findings = _read(reports, "mts-gen-med-progress-note-12.txt")
    assert findings.status_of("dvt_suspected") == "absent"
    assert sorted(_statuses(findings, "dvt_suspected")) == ["absent", "hypothetical"]
    for finding in findings.concepts:
        if finding.concept == "prior_us_negative":
            assert all("oppler" not in e.text for e in finding.evidence)


def test_plain_film_negative_for_fracture(reports):
    # "INDICATIONS: Pain. ... There is no evidence of fractures or dislocations. ...
    #  There is no significant surrounding soft tissue swelling."
    _, findings = _read(reports, "mts-three-views-ankle.txt")
    assert findings.status_of("pain") == "present"
    assert findings.status_of("trauma_history") == "absent"
    assert findings.status_of("swelling") == "absent"


def test_arterial_studies_name_vascular_disease(reports):
    # "INDICATIONS: Peripheral vascular disease with claudication."
    _, findings = _read(reports, "mts-arterial-imaging.txt")
    assert findings.status_of("vascular_disease") == "present"
    _, findings = _read(reports, "mts-lower-extremity-arterial-doppler.txt")
    assert findings.status_of("vascular_disease") == "present"  # "arterial obstructive disease"


def test_denied_calf_symptoms_in_a_patient_with_a_known_dvt(reports):
    # "denied any calf pain or swelling", "EXTREMITIES: No calf swelling or calf tenderness
    #  appreciated." in a consult for an acute popliteal DVT
    _, findings = _read(reports, "mts-hematology-consult.txt")
    assert findings.status_of("dvt_suspected") == "present"
    assert findings.status_of("swelling") == "absent"
    assert findings.status_of("pain") == "absent"
    assert findings.status_of("dyspnea") == "present"


def test_consent_risk_lists_are_hypothetical(reports):
    # "risk, and benefits ... which includes ... myositis ossificans, ... DVT, pulmonary embolism"
    _, findings = _read(reports, "mts-hip-fracture-er-consult.txt")
    assert findings.status_of("ossification_question") == "hypothetical"
    assert findings.status_of("dvt_suspected") == "hypothetical"
    assert findings.status_of("malignancy_concern") == "present"  # "metastatic bone lesion"
    # "Risks and benefits were all discussed, risk of bleeding, ..., risk of blood clots"
    _, findings = _read(reports, "mts-tissue-expander-insertion.txt")
    assert findings.status_of("dvt_suspected") == "hypothetical"
    assert "historical" in _statuses(findings, "compartment_syndrome_history")


def test_family_history_is_about_the_family(reports):
    _, findings = _read(reports, "mts-dog-bite.txt")
    assert findings.status_of("diabetes") == "other_person"
    assert findings.status_of("malignancy_concern") == "other_person"
    assert findings.status_of("chest_pain") == "absent"


def test_shoulder_and_back_pain_are_not_limb_pain(reports):
    text, findings = _read(reports, "mts-gen-med-progress-note-9.txt")
    pain_starts = {e.start for f in findings.concepts if f.concept == "pain" for e in f.evidence}
    for phrase in ("Joint pain involving the left shoulder", "Low back pain, chronic",
                   "pain in her shoulder and back", "pain in the anterior left shoulder"):
        start = text.find(phrase)
        assert start >= 0, phrase
        assert not any(start <= s < start + len(phrase) for s in pain_starts), phrase
    assert findings.status_of("swelling") == "present"  # "left leg has been swollen"
    assert findings.status_of("chest_pain") == "absent"  # "She denies chest pain, but ..."
    assert findings.status_of("dyspnea") == "present"  # "... more short of breath"


def test_knee_film_history_reads_a_functional_limitation(reports):
    # "HISTORY: Pain. The patient is status-post surgery, he could not straighten his leg"
    _, findings = _read(reports, "mts-five-views-of-the-right-knee.txt")
    assert findings.status_of("functional_limitation") == "present"
    assert findings.status_of("pain") == "present"
    assert findings.status_of("trauma_history") == "absent"


def test_phleboliths_named_by_the_radiologist(reports):
    # "the findings therefore are favored to represent phleboliths", "presumed phleboliths",
    # "Stable appearing pelvic calcifications likely indicate phleboliths."
    _, findings = _read(reports, "mts-ct-kub.txt")
    assert findings.reported_patterns == ["phlebolith"]
    assert [m.status for m in findings.pattern_mentions] == ["possible"] * 3
    # "this finding is stable and is compatible with a phlebolith"
    _, findings = _read(reports, "mts-ct-stone-protocol.txt")
    assert findings.reported_patterns == ["phlebolith"]


def test_venous_disease_reports(reports):
    _, findings = _read(reports, "mts-vein-stripping.txt")
    assert findings.status_of("venous_insufficiency") == "present"
    _, findings = _read(reports, "mts-consult-stasis-ulcer.txt")
    assert findings.status_of("venous_insufficiency") == "present"


def test_soft_tissue_mass_reports(reports):
    _, findings = _read(reports, "mts-lipoma-excision-1.txt")  # "Mass, left knee."
    assert findings.status_of("soft_tissue_mass") == "present"
    _, findings = _read(reports, "mts-mri-ankle-2.txt")  # "No abnormal mass or fluid collection"
    assert findings.status_of("soft_tissue_mass") == "absent"
