"""The result contract: pydantic models shared by every part of radassist.

``../shared/spec/result-contract.md`` is the authority; the names, types and
meanings of its fields are kept here. Fields may be added (they are), never
renamed. Bump :data:`SCHEMA_VERSION` on any breaking change.

Conventions
-----------
- Pixel coordinates are ``(row, column)`` of the image as stored, before any
  display flip; boxes are ``[r0, c0, r1, c1]`` with ``r1``/``c1`` exclusive.
- Sizes in millimetres use the spacing named in ``study.spacing_source``; when
  the file has no usable spacing, ``size_mm`` is ``None`` and ``size_px`` holds
  the size in pixels (and a warning says so).
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1"

# --- closed vocabularies (exact strings, result-contract.md) -----------------

Pattern = Literal[
    "none",
    "arterial",
    "phlebolith",
    "diffuse",
    "central",
    "laminated",
    "popcorn",
    "stippled",
    "eccentric",
    "peripheral_plaque",
    "nonspecific",
]

#: Most significant first; ``primary_pattern`` is the first found in this order.
PATTERN_SIGNIFICANCE: tuple[str, ...] = (
    "eccentric",
    "stippled",
    "peripheral_plaque",
    "nonspecific",
    "popcorn",
    "laminated",
    "central",
    "diffuse",
    "phlebolith",
    "arterial",
)

#: Patterns that are calcifications (everything but ``none``).
CALCIFICATION_PATTERNS: tuple[str, ...] = PATTERN_SIGNIFICANCE

Status = Literal["present", "absent", "possible", "historical", "other_person", "hypothetical"]

#: Strongest current evidence first (report-text.md); the concept's status is
#: the strongest status among its mentions.
STATUS_PRECEDENCE: tuple[str, ...] = (
    "present",
    "possible",
    "historical",
    "absent",
    "other_person",
    "hypothetical",
)

Concept = Literal[
    "trauma_history",
    "compartment_syndrome_history",
    "dvt_suspected",
    "soft_tissue_mass",
    "malignancy_concern",
    "pain",
    "swelling",
    "warmth_redness",
    "functional_limitation",
    "vascular_disease",
    "diabetes",
    "venous_insufficiency",
    "chest_pain",
    "dyspnea",
    "prior_us_inconclusive",
    "prior_us_negative",
    "ossification_question",
]

CONCEPTS: tuple[str, ...] = Concept.__args__  # type: ignore[attr-defined]
PATTERNS: tuple[str, ...] = Pattern.__args__  # type: ignore[attr-defined]
STATUSES: tuple[str, ...] = Status.__args__  # type: ignore[attr-defined]

Action = Literal[
    "emergency_evaluation",
    "duplex_ultrasound",
    "mri",
    "ct",
    "ultrasound",
    "vascular_studies",
    "consider_biopsy",
    "clinical_follow_up",
    "no_further_imaging",
]

#: The order in which actions are listed; the primary action is the first.
ACTION_ORDER: tuple[str, ...] = Action.__args__  # type: ignore[attr-defined]

Urgency = Literal["emergency", "urgent", "routine"]

SpacingSource = Literal[
    "PixelSpacing",
    "ImagerPixelSpacing",
    "ImagerPixelSpacing/EstimatedRadiographicMagnificationFactor",
    "none",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- header and provenance ---------------------------------------------------


class AlgorithmInfo(_Model):
    id: str
    version: str
    sha256: str = Field(description="sha256 of the rules file as loaded")


class StudyInfo(_Model):
    study_instance_uid: Optional[str] = None
    series_instance_uid: Optional[str] = None
    sop_instance_uid: Optional[str] = None
    accession_number: Optional[str] = None
    modality: Optional[str] = None
    body_part: Optional[str] = None
    view_position: Optional[str] = None
    laterality: Optional[str] = None
    rows: int
    columns: int
    pixel_spacing_mm: Optional[tuple[float, float]] = Field(
        None, description="(row, column) spacing in mm at the object, or null when unknown"
    )
    spacing_source: SpacingSource = "none"
    photometric_interpretation: Optional[str] = None
    transfer_syntax_uid: Optional[str] = None
    bits_stored: Optional[int] = None


# --- image findings ----------------------------------------------------------


class Cluster(_Model):
    id: int
    pattern: Pattern
    confidence: float = Field(ge=0.0, le=1.0)
    bbox_px: tuple[int, int, int, int]
    centroid_px: tuple[float, float]
    size_mm: Optional[tuple[float, float]] = Field(None, description="(height, width) in mm")
    size_px: tuple[int, int] = Field(description="(height, width) in pixels")
    lesion_count: int = Field(ge=1, description="number of separate dense foci in the cluster")
    features: dict[str, float] = Field(default_factory=dict)
    alternatives: dict[str, float] = Field(
        default_factory=dict, description="runner-up patterns with their scores, best first"
    )
    mass_id: Optional[int] = Field(None, description="id of the soft-tissue mass it lies in, if any")
    contour_px: list[tuple[int, int]] = Field(
        default_factory=list, description="outline polygon (row, col) for overlays"
    )


class Mass(_Model):
    id: int
    bbox_px: tuple[int, int, int, int]
    centroid_px: tuple[float, float]
    size_mm: Optional[tuple[float, float]] = None
    size_px: tuple[int, int]
    confidence: float = Field(ge=0.0, le=1.0)
    features: dict[str, float] = Field(default_factory=dict)
    contour_px: list[tuple[int, int]] = Field(default_factory=list)


class ImageFindings(_Model):
    status: Literal["analysed", "insufficient_information"] = "analysed"
    missing: list[str] = Field(
        default_factory=list, description="what the image lacks when it is not analysable"
    )
    calcification_detected: bool = False
    primary_pattern: Pattern = "none"
    patterns: list[Pattern] = Field(default_factory=list)
    mass_detected: bool = False
    masses: list[Mass] = Field(default_factory=list)
    clusters: list[Cluster] = Field(default_factory=list)
    leg_bbox_px: Optional[tuple[int, int, int, int]] = None
    notes: list[str] = Field(default_factory=list, description="what was excluded and why")


# --- text findings -----------------------------------------------------------


class Evidence(_Model):
    text: str
    start: int = Field(ge=0, description="character offset into the input text")
    end: int = Field(ge=0)
    status: Optional[Status] = Field(None, description="status of this one mention")
    cue: Optional[str] = Field(None, description="the cue words that set the status, if any")
    section: Optional[str] = None


class ConceptFinding(_Model):
    concept: Concept
    status: Status
    evidence: list[Evidence]


class PatternMention(_Model):
    pattern: Pattern
    status: Status
    evidence: Evidence


class TextFindings(_Model):
    concepts: list[ConceptFinding] = Field(default_factory=list)
    reported_patterns: list[Pattern] = Field(default_factory=list)
    pattern_mentions: list[PatternMention] = Field(default_factory=list)
    sections: list[str] = Field(default_factory=list)

    def status_of(self, concept: str) -> Optional[str]:
        for finding in self.concepts:
            if finding.concept == concept:
                return finding.status
        return None


# --- recommendations ---------------------------------------------------------


class Recommendation(_Model):
    action: Action
    urgency: Urgency
    rules: list[str]
    rationale: str = Field(description="names the evidence: image clusters and text spans")
    source: str = Field(description="the clinical source file and section")
    source_passage: Optional[str] = Field(None, description="the passage of the source, quoted")
    cluster_ids: list[int] = Field(default_factory=list)
    text_evidence: list[Evidence] = Field(default_factory=list)


class Warning(_Model):  # noqa: A001 - the contract's name
    code: str
    message: str
    rule: Optional[str] = None


class Decision(_Model):
    """What the management algorithm concludes from image patterns and text concepts."""

    recommendations: list[Recommendation] = Field(default_factory=list)
    primary_action: Optional[Action] = None
    matched_rules: list[str] = Field(default_factory=list)
    warnings: list[Warning] = Field(default_factory=list)


# --- the result --------------------------------------------------------------


class AnalysisResult(_Model):
    schema_version: str = SCHEMA_VERSION
    radassist_version: str
    result_id: str = Field(description="unique id of this analysis (uuid4)")
    status: Literal["complete", "insufficient_information"] = "complete"
    algorithm: AlgorithmInfo
    study: StudyInfo
    image: ImageFindings
    text: TextFindings
    report_source: Optional[str] = Field(
        None, description="where the report text came from: file:NAME, stdin, argument (the Python API), or none"
    )
    recommendations: list[Recommendation]
    primary_action: Optional[Action] = Field(
        None, description="null only when the image was not analysable and no rule fired"
    )
    impression: str = Field(description="a suggested impression sentence for the report")
    warnings: list[Warning] = Field(default_factory=list)
    timing_ms: dict[str, float] = Field(default_factory=dict)
