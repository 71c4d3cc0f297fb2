"""The management algorithm as data: golden cases, schema errors, sources."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from radassist.errors import RulesFileError
from radassist.model import ACTION_ORDER, Evidence
from radassist.rules import DEFAULT_ALGORITHM, Facts, decide, load_algorithm

RAW = yaml.safe_load(DEFAULT_ALGORITHM.read_text())
GOLDEN = RAW["golden_cases"]


def _decide(case, algorithm):
    facts = Facts.simple(case["patterns"], case.get("mass", False), case.get("concepts"),
                         case.get("image_analysed", True))
    return decide(facts, algorithm)


@pytest.mark.parametrize("case", GOLDEN, ids=[c["name"] for c in GOLDEN])
def test_golden_case(case, algorithm):
    decision = _decide(case, algorithm)
    actions = [r.action for r in decision.recommendations]
    assert actions == case["expect_actions"]
    assert decision.primary_action == (actions[0] if actions else None)
    by_action = {r.action: r for r in decision.recommendations}
    for action, rules in (case.get("expect_rules") or {}).items():
        assert by_action[action].rules == sorted(rules)
    codes = {w.code for w in decision.warnings}
    assert set(case.get("expect_warnings", [])) <= codes
    assert not set(case.get("expect_no_warnings", [])) & codes
    assert "xray_not_definitive" in codes  # the standing warning of pitfall 4


def test_worked_examples_of_the_spec_are_all_golden_cases(shared):
    """Every row of management.md's worked-examples table is encoded as a golden case."""
    spec = (shared / "spec" / "management.md").read_text()
    table = spec.split("## Worked examples", 1)[1]
    rows = [r for r in table.splitlines() if r.startswith("| ") and not r.startswith("| image") and "---" not in r]
    assert len(rows) == 10
    texts = {c.get("text") for c in GOLDEN}
    for row in rows:
        text_cell = row.split("|")[2].strip()
        assert text_cell.strip('"') in texts, text_cell


def test_every_recommendation_explains_itself(algorithm):
    facts = Facts(
        patterns={"stippled": [(2, "cluster 2 (stippled, 14 × 9 mm)")]},
        concepts={"soft_tissue_mass": ("present", [Evidence(text="palpable mass", start=10, end=23, status="present")])},
    )
    decision = decide(facts, algorithm)
    for rec in decision.recommendations:
        assert rec.rules and rec.source and rec.source_passage and rec.rationale.startswith(rec.rules[0])
    mri = next(r for r in decision.recommendations if r.action == "mri")
    assert '"palpable mass"' in mri.rationale and mri.text_evidence[0].start == 10
    us = next(r for r in decision.recommendations if r.action == "ultrasound")
    assert "cluster 2" in us.rationale and us.cluster_ids == [2]


def test_action_added_by_two_rules_keeps_both_and_the_higher_urgency(algorithm):
    decision = decide(Facts.simple(["peripheral_plaque"], concepts={"soft_tissue_mass": "present"}), algorithm)
    (mri,) = [r for r in decision.recommendations if r.action == "mri"]
    assert mri.rules == ["M1", "N1"]
    assert "M1:" in mri.rationale and "N1:" in mri.rationale


def test_recommendations_follow_the_action_order(algorithm):
    decision = decide(Facts.simple(["eccentric", "arterial"], True,
                                   {"dvt_suspected": "possible", "chest_pain": "present", "diabetes": "present"}), algorithm)
    actions = [r.action for r in decision.recommendations]
    assert actions == sorted(actions, key=ACTION_ORDER.index)
    assert actions[0] == "emergency_evaluation"
    assert decision.recommendations[0].urgency == "emergency"


def test_unknown_inputs_are_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="unknown pattern 'sparkly'"):
        Facts.simple(["sparkly"])
    with pytest.raises(ValueError, match="unknown status 'maybe'"):
        Facts.simple([], concepts={"pain": "maybe"})
    with pytest.raises(ValueError, match="unknown concept 'itch'"):
        Facts.simple([], concepts={"itch": "present"})


def test_sources_are_quoted_verbatim_from_the_seed_texts(shared, algorithm):
    def norm(s):
        return " ".join(s.replace("\u2022", " ").split())  # the seeds use bullets between items

    for sid, src in algorithm.sources.items():
        seed = norm((shared / "seeds" / src.file).read_text())
        assert src.passage in seed, f"source {sid}: passage not found in {src.file}"


def test_algorithm_carries_identity_and_review_metadata(algorithm):
    info = algorithm.info
    assert info.id == RAW["id"] and re.fullmatch(r"\d+\.\d+\.\d+", info.version)
    import hashlib

    assert info.sha256 == hashlib.sha256(DEFAULT_ALGORITHM.read_bytes()).hexdigest()
    assert algorithm.review["status"]
    assert [r.id for r in algorithm.rules] == ["E1", "D1", "M1", "M2", "N1", "C1", "C2", "V1", "V2", "B1", "B2"]


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT_ALGORITHM.read_text()
    assert old in text
    path = tmp_path / "broken.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    "old, new, needle, reason",
    [
        ("action: duplex_ultrasound", "action: duplex_scan", "duplex_scan", "unknown action 'duplex_scan'"),
        ("urgency: emergency", "urgency: asap", "urgency: asap", "unknown urgency 'asap'"),
        ("{concept: chest_pain, status: present}", "{concept: chest_pains, status: present}",
         "chest_pains", "unknown concept 'chest_pains'"),
        ("{concept: dyspnea, status: present}", "{concept: dyspnea, status: likely}", "likely",
         "unknown status 'likely'"),
        ("when: {pattern: peripheral_plaque}", "when: {pattern: peripheral}", "pattern: peripheral}",
         "unknown pattern 'peripheral'"),
        ("- {rule_matched: M1}", "- {rule_matched: M9}", "M9", "'M9' is not a rule defined earlier"),
        ("- {pattern_group: concerning}\n            - {pattern_group: nonspecific}\n        - not:",
         "- {pattern_group: worrying}\n            - {pattern_group: nonspecific}\n        - not:",
         "worrying", "unknown pattern group 'worrying'"),
        (f"version: {RAW['version']}\ntitle", "version: one\ntitle", "version: one", "not a semantic version"),
        ('sources: ["004-step-3"]', 'sources: ["004-step-9"]', "004-step-9", "unknown source '004-step-9'"),
        ("rationale: \"Symptomatic ({text_evidence}): clinical follow-up.\"",
         "rationale: \"Symptomatic ({clusters}): clinical follow-up.\"", "({clusters})", "unknown placeholder"),
        ("    when: {pattern: peripheral_plaque}", "    when: {pattern: peripheral_plaque, eval: 'os.system()'}",
         "eval:", "exactly one form"),
    ],
)
def test_malformed_rules_file_is_refused_with_line_and_reason(tmp_path, old, new, needle, reason):
    path = _broken(tmp_path, old, new)
    with pytest.raises(RulesFileError) as err:
        load_algorithm(path)
    message = str(err.value)
    assert reason in message
    assert f"line {_line_of(path, needle)}" in message
    assert "\n" not in message


def test_not_yaml_and_missing_file_are_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [unclosed\n  - x: {")
    with pytest.raises(RulesFileError, match=r"bad.yaml, line \d+: not valid YAML"):
        load_algorithm(bad)
    with pytest.raises(RulesFileError, match="cannot read the rules file"):
        load_algorithm(tmp_path / "nope.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(RulesFileError, match="empty"):
        load_algorithm(empty)
