"""A radiologist's corrections, and the recommendations they lead to.

A correction changes a cluster's pattern (the image analysis named it wrongly)
or a concept's status (a wrong negation, a missed history, or a concept the
text reader did not find at all). The recommendations are then decided again
by the same rules (:func:`radassist.rules.decide`), so the page shows what
the algorithm says about the corrected findings, with the same rationales.
"""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict, Field

from ..model import (
    PATTERN_SIGNIFICANCE,
    Action,
    AnalysisResult,
    Concept,
    ConceptFinding,
    ImageFindings,
    Pattern,
    Recommendation,
    Status,
    TextFindings,
    Warning,
)
from ..pipeline import facts_from
from ..render import impression_sentence
from ..rules import Algorithm, decide, load_algorithm


class Corrections(BaseModel):
    """``clusters``: ``{cluster id: pattern}``; ``concepts``: ``{concept: status}``."""

    model_config = ConfigDict(extra="forbid")

    clusters: dict[int, Pattern] = Field(default_factory=dict)
    concepts: dict[Concept, Status] = Field(default_factory=dict)

    def is_empty(self) -> bool:
        return not (self.clusters or self.concepts)


class Redecision(BaseModel):
    """The algorithm's answer for corrected (or plain) findings."""

    recommendations: list[Recommendation]
    primary_action: Optional[Action]
    impression: Optional[str] = Field(None, description="suggested impression; needs the stored image findings")
    patterns: list[Pattern] = Field(default_factory=list)
    warnings: list[Warning] = Field(default_factory=list)


class CorrectionError(ValueError):
    """A correction names a cluster the result does not have."""


def corrected_findings(result: AnalysisResult, corrections: Corrections) -> tuple[ImageFindings, TextFindings]:
    """The result's image and text findings with the corrections applied (the result is not changed)."""
    image = result.image.model_copy(deep=True)
    by_id = {c.id: c for c in image.clusters}
    unknown = sorted(set(corrections.clusters) - set(by_id))
    if unknown:
        raise CorrectionError(f"the result has no cluster {', '.join(map(str, unknown))}")
    for cluster_id, pattern in corrections.clusters.items():
        by_id[cluster_id].pattern = pattern
    # "none" says the radiologist sees no calcification there: the cluster is dropped.
    image.clusters = [c for c in image.clusters if c.pattern != "none"]
    found = {c.pattern for c in image.clusters} - {"none"}
    image.patterns = [p for p in PATTERN_SIGNIFICANCE if p in found]
    image.primary_pattern = image.patterns[0] if image.patterns else "none"
    image.calcification_detected = bool(image.patterns)

    text = result.text.model_copy(deep=True)
    existing = {c.concept: c for c in text.concepts}
    for concept, status in corrections.concepts.items():
        if concept in existing:
            existing[concept].status = status
        else:  # a concept the reader missed: no evidence span to show
            text.concepts.append(ConceptFinding(concept=concept, status=status, evidence=[]))
    return image, text


def redecide(result: AnalysisResult, corrections: Corrections, algorithm: Optional[Algorithm] = None) -> Redecision:
    """Recommendations, primary action and impression for the corrected findings."""
    image, text = corrected_findings(result, corrections)
    decision = decide(facts_from(image, text), algorithm or load_algorithm())
    return Redecision(
        recommendations=decision.recommendations,
        primary_action=decision.primary_action,
        impression=impression_sentence(image, decision.recommendations, result.study.pixel_spacing_mm is not None),
        patterns=image.patterns,
        warnings=decision.warnings,
    )
