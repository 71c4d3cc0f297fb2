"""The one pipeline behind the CLI, the web app and the PACS hook.

``analyze`` reads a DICOM image (and optional report text), finds and names
calcifications, reads the text, applies the management algorithm and returns
one :class:`~radassist.model.AnalysisResult`. ``read_report`` and
``recommend`` expose the text reader and the algorithm on their own.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Mapping, Optional

import pydicom

from . import __version__
from .dicom import LoadedImage, read_dicom
from .image import analyze_image
from .model import (
    PATTERN_SIGNIFICANCE,
    AnalysisResult,
    ImageFindings,
    Recommendation,
    TextFindings,
    Warning,
)
from .render import impression_sentence
from .rules import Algorithm, Facts, decide, load_algorithm
from .text import read_report as _read_report

#: BodyPartExamined values that are certainly not a lower leg. Anything else
#: (LEG, LOWER LEG, EXTREMITY, TIBIA, ANKLE, KNEE, empty, vendor codes) is
#: left to the image analysis to judge.
NOT_A_LOWER_LEG = frozenset(
    {"CHEST", "THORAX", "ABDOMEN", "PELVIS", "HIP", "SKULL", "HEAD", "BRAIN", "NECK", "CSPINE",
     "TSPINE", "LSPINE", "SPINE", "BREAST", "HAND", "WRIST", "ELBOW", "SHOULDER", "ARM", "FOREARM",
     "HUMERUS", "JAW", "TMJ", "SINUS", "ORBIT", "HEART", "KIDNEY", "BLADDER", "WHOLEBODY", "TEETH"}
)
#: Modalities whose images are projection radiographs radassist may analyse.
RADIOGRAPH_MODALITIES = frozenset({"CR", "DX", "RG", "DR", "OT", "SC", "XC"})


@dataclass(frozen=True)
class Study:
    """A finished analysis with the image it was made from (for overlays)."""

    result: AnalysisResult
    image: LoadedImage


def read_report(text: Optional[str]) -> TextFindings:
    """Read report or clinical-indication text.

    Parameters
    ----------
    text : str or None
        Free text; empty or ``None`` gives no concepts.

    Returns
    -------
    TextFindings
        One entry per concept found, with its status and evidence spans
        (character offsets into ``text``), and the calcification patterns the
        text itself names.
    """
    return _read_report(text)


def recommend(
    patterns: Iterable[str],
    mass_detected: bool = False,
    concepts: Optional[Mapping[str, str]] = None,
    *,
    algorithm: Optional[Algorithm] = None,
) -> list[Recommendation]:
    """Apply the management algorithm alone.

    Parameters
    ----------
    patterns : iterable of str
        Calcification patterns found (closed vocabulary; ``none`` is ignored).
    mass_detected : bool
        Whether a soft-tissue mass was seen on the image.
    concepts : mapping of str to str
        ``{concept: status}``, e.g. ``{"dvt_suspected": "possible"}``.

    Returns
    -------
    list of Recommendation
        In the algorithm's action order; the first is the primary action.
    """
    facts = Facts.simple(patterns, mass_detected, concepts)
    return decide(facts, algorithm).recommendations


def analyze(
    source: str | os.PathLike | bytes | BinaryIO | pydicom.Dataset,
    report_text: Optional[str] = None,
    *,
    report_source: Optional[str] = None,
    algorithm: Optional[Algorithm] = None,
) -> AnalysisResult:
    """Analyse one calf radiograph and its report text.

    Parameters
    ----------
    source : path, bytes, file object or pydicom.Dataset
        The DICOM image.
    report_text : str, optional
        Report or clinical-indication text.
    report_source : str, optional
        Where the text came from, echoed in the result.

    Raises
    ------
    UnreadableInputError, UnsupportedInputError
        The input cannot be analysed at all (never a guessed result).
    """
    return analyze_study(source, report_text, report_source=report_source, algorithm=algorithm).result


def analyze_study(
    source: str | os.PathLike | bytes | BinaryIO | pydicom.Dataset,
    report_text: Optional[str] = None,
    *,
    report_source: Optional[str] = None,
    algorithm: Optional[Algorithm] = None,
) -> Study:
    """Like :func:`analyze`, but also return the decoded image (for overlays)."""
    alg = algorithm or load_algorithm()
    timing: dict[str, float] = {}
    start = time.perf_counter()

    loaded = read_dicom(source)
    timing["decode"] = _ms_since(start)

    mark = time.perf_counter()
    stages: dict[str, float] = {}
    refusal = _not_a_lower_leg(loaded)
    if refusal:
        findings = ImageFindings(status="insufficient_information", missing=[refusal])
    else:
        findings = analyze_image(loaded.pixels, loaded.spacing_mm, timings=stages)
    timing["image"] = _ms_since(mark)
    timing.update({f"image.{k}": round(v, 3) for k, v in stages.items()})

    mark = time.perf_counter()
    text = read_report(report_text)
    timing["text"] = _ms_since(mark)

    mark = time.perf_counter()
    decision = decide(facts_from(findings, text), alg)
    timing["rules"] = _ms_since(mark)

    warnings = [*loaded.warnings, *_input_warnings(findings, text, report_text), *decision.warnings]
    analysed = findings.status == "analysed"
    result = AnalysisResult(
        radassist_version=__version__,
        result_id=str(uuid.uuid4()),
        status="complete" if analysed else "insufficient_information",
        algorithm=alg.info,
        study=loaded.study,
        image=findings,
        text=text,
        report_source="none" if not (report_text or "").strip() else (report_source or "argument"),
        recommendations=decision.recommendations,
        primary_action=decision.primary_action,
        impression=impression_sentence(findings, decision.recommendations, loaded.spacing_mm is not None),
        warnings=warnings,
        timing_ms={},
    )
    timing["total"] = _ms_since(start)
    result.timing_ms = {k: round(v, 3) for k, v in timing.items()}
    return Study(result=result, image=loaded)


def facts_from(findings: ImageFindings, text: TextFindings) -> Facts:
    """The rules' view of the image findings and the text."""
    patterns: dict[str, list[tuple[int, str]]] = {}
    for cluster in findings.clusters:
        if cluster.pattern != "none":
            patterns.setdefault(cluster.pattern, []).append((cluster.id, describe_cluster(cluster)))
    masses = [(m.id, describe_mass(m)) for m in findings.masses]
    concepts = {c.concept: (c.status, list(c.evidence)) for c in text.concepts}
    return Facts(patterns=patterns, masses=masses, concepts=concepts,
                 image_analysed=findings.status == "analysed")


def describe_cluster(cluster) -> str:
    size = (f"{cluster.size_mm[0]:.0f} × {cluster.size_mm[1]:.0f} mm" if cluster.size_mm
            else f"{cluster.size_px[0]} × {cluster.size_px[1]} px")
    foci = f", {cluster.lesion_count} foci" if cluster.lesion_count > 1 else ""
    return f"cluster {cluster.id}: {cluster.pattern.replace('_', ' ')}, {size}{foci}"


def describe_mass(mass) -> str:
    size = (f"{mass.size_mm[0]:.0f} × {mass.size_mm[1]:.0f} mm" if mass.size_mm
            else f"{mass.size_px[0]} × {mass.size_px[1]} px")
    return f"soft-tissue mass {mass.id} on the image, {size}"


def _not_a_lower_leg(loaded: LoadedImage) -> Optional[str]:
    study = loaded.study
    body = (study.body_part or "").upper().replace(" ", "")
    if body in NOT_A_LOWER_LEG:
        return f"the header names body part {study.body_part!s}, not a lower leg"
    modality = (study.modality or "").upper()
    if modality and modality not in RADIOGRAPH_MODALITIES:
        return f"modality {modality} is not a projection radiograph of the leg (CR or DX expected)"
    return None


def _input_warnings(findings: ImageFindings, text: TextFindings, report_text: Optional[str]) -> list[Warning]:
    out: list[Warning] = []
    if findings.status != "analysed":
        out.append(Warning(
            code="insufficient_information",
            message="Insufficient information: " + "; ".join(findings.missing or ["the image could not be analysed"])
            + ". No image-based recommendation is made.",
        ))
    if not (report_text or "").strip():
        out.append(Warning(code="no_report_text",
                           message="No report or clinical indication was given: text-based rules (DVT, mass, "
                                   "history) could not be applied."))
    if findings.status == "analysed" and text.reported_patterns:
        found = set(findings.patterns)
        reported = set(text.reported_patterns)
        if reported != found:
            named = ", ".join(p for p in PATTERN_SIGNIFICANCE if p in reported)
            seen = ", ".join(p for p in PATTERN_SIGNIFICANCE if p in found) or "no calcification"
            out.append(Warning(code="report_image_disagreement",
                               message=f"The report names {named}; the image analysis found {seen}. "
                                       "Please check the image."))
    return out


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0
