"""Naming a cluster's pattern from its features, with honest confidence.

The scores are data: ``patterns.yaml`` beside this module lists, for every
pattern, fuzzy memberships of cluster features (see the file's header). This
module only evaluates them and applies the decision rule:

- the best-scoring pattern wins when it reaches ``min_score``; otherwise the
  cluster is ``nonspecific``;
- a concerning pattern (stippled, eccentric) that scores reasonably is never
  overruled by a benign one: the cluster is then labelled with the concerning
  pattern, or ``nonspecific`` when the concerning score is clearly lower.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from radassist.errors import RulesFileError

PATTERNS_FILE = "patterns.yaml"


@dataclass(frozen=True)
class Decision:
    """A cluster's pattern, its confidence and the runner-up scores (best first)."""

    pattern: str
    confidence: float
    alternatives: dict[str, float]
    scores: dict[str, float]


@lru_cache(maxsize=1)
def load_pattern_table() -> dict[str, Any]:
    """The pattern-score table (parsed ``patterns.yaml``), validated."""
    text = resources.files(__package__).joinpath(PATTERNS_FILE).read_text(encoding="utf-8")
    table = yaml.safe_load(text)
    for name, rule in table.get("patterns", {}).items():
        for kind in ("require", "support"):
            for item in rule.get(kind, []):
                shapes = [k for k in ("ramp_up", "ramp_down", "band") if k in item]
                if "feature" not in item or len(shapes) != 1:
                    raise RulesFileError(f"{PATTERNS_FILE}: {name}.{kind} entry needs a feature and one shape: {item}")
    return table


def membership(value: float, item: dict[str, Any]) -> float:
    """Fuzzy membership of ``value`` in one table entry (see ``patterns.yaml``)."""
    if "ramp_up" in item:
        a, b = item["ramp_up"]
        return _clip01((value - a) / (b - a)) if b > a else float(value >= a)
    if "ramp_down" in item:
        a, b = item["ramp_down"]
        return _clip01((b - value) / (b - a)) if b > a else float(value <= a)
    a, b, c, d = item["band"]
    if value < b:
        return _clip01((value - a) / (b - a)) if b > a else float(value >= a)
    if value > c:
        return _clip01((d - value) / (d - c)) if d > c else float(value <= c)
    return 1.0


def _clip01(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


def pattern_scores(features: dict[str, float], table: dict[str, Any] | None = None) -> dict[str, float]:
    """Score of every pattern in [0, 1] (``nonspecific`` gets the table's fixed score)."""
    table = table or load_pattern_table()
    weight = float(table["support_weight"])
    scores = {}
    for name, rule in table["patterns"].items():
        score = 1.0
        for item in rule.get("require", []):
            score *= membership(float(features.get(item["feature"], 0.0)), item)
        support = [membership(float(features.get(i["feature"], 0.0)), i) for i in rule.get("support", [])]
        if support:
            score *= 1.0 - weight + weight * sum(support) / len(support)
        scores[name] = round(score, 4)
    scores["nonspecific"] = float(table["nonspecific_score"])
    return scores


def decide(features: dict[str, float], table: dict[str, Any] | None = None) -> Decision:
    """Pattern, confidence and alternatives for one cluster's features."""
    table = table or load_pattern_table()
    scores = pattern_scores(features, table)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    best, best_score = ranked[0]
    concerning = list(table["concerning"])
    if best_score < float(table["min_score"]) and not (best in concerning and best_score >= float(table["concern_floor"])):
        # A weak fit is non-specific, unless what fits best is concerning:
        # missing a concerning pattern is the worst error.
        best = "nonspecific"
    if best not in concerning and best != "nonspecific":
        worry, worry_score = max(((p, scores.get(p, 0.0)) for p in concerning), key=lambda kv: kv[1])
        if worry_score >= float(table["concern_floor"]):
            best = worry if worry_score >= float(table["concern_ratio"]) * best_score else "nonspecific"
    confidence = _confidence(best, scores)
    alternatives = {p: round(s, 3) for p, s in ranked if p != best}
    return Decision(pattern=best, confidence=confidence, alternatives=alternatives, scores=scores)


def _confidence(label: str, scores: dict[str, float]) -> float:
    """Score of the label, discounted by how close the nearest rival comes.

    ``nonspecific`` is honest about being a fallback: its confidence is one
    minus the best competing score (high when nothing else fits at all).
    """
    others = [s for p, s in scores.items() if p != label and p != "nonspecific"]
    rival = max(others) if others else 0.0
    if label == "nonspecific":
        return round(_clip01(1.0 - rival), 3)
    own = scores[label]
    margin = _clip01((own - rival) / max(own, 1e-9))
    return round(_clip01(own * (0.6 + 0.4 * margin)), 3)
