"""Synthetic calf radiographs with ground truth: :func:`make_case` and :func:`write_set`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom

from radassist.model import PATTERN_SIGNIFICANCE

from .dicom_io import build_dataset, sample_header, spacing_source
from .render import render
from .reports import make_report
from .scene import ALL_PATTERNS, sample_scene, stream


@dataclass
class SynthCase:
    """One synthetic study: the DICOM data set, its ground-truth label and a report text."""

    dataset: pydicom.dataset.FileDataset
    label: dict
    report: str


def primary_pattern(patterns) -> str:
    """The most significant of ``patterns`` (result-contract order), or ``"none"``."""
    present = set(patterns)
    return next((p for p in PATTERN_SIGNIFICANCE if p in present), "none")


def make_case(
    seed: int,
    pattern: str | None = None,
    *,
    view: str | None = None,
    rows: int | None = None,
    columns: int | None = None,
    spacing_mm: float | None = None,
    transfer_syntax: str | None = None,
    photometric: str | None = None,
    with_mass: bool | None = None,
) -> SynthCase:
    """Generate one synthetic calf radiograph with its ground truth.

    Parameters
    ----------
    seed : int
        Everything not fixed by the other arguments is drawn from it; the same
        seed and arguments give byte-identical pixel data.
    pattern : str or None
        One of the ten calcification patterns or ``"none"``; None draws one.
    view : {"AP", "LAT"} or None
    rows, columns : int or None
        Image size in pixels.
    spacing_mm : float or None
        True pixel spacing at the object (mm). When None it is drawn (0.08–0.3,
        mostly 0.1–0.2) and raised if needed so the leg fits with air beside it.
    transfer_syntax : str or None
        None for Explicit VR Little Endian; ``"rle"``, ``"jpegls"``, ``"j2k"``,
        ``"deflate"``, ``"explicit"``, a UID, or ``"random"``.
    photometric : {"MONOCHROME1", "MONOCHROME2"} or None
    with_mass : bool or None
        Whether a soft-tissue mass is present. Patterns defined by a mass
        (central, eccentric, peripheral_plaque) always have one.

    Returns
    -------
    SynthCase
        ``label`` holds boxes in stored-pixel coordinates ``[r0, c0, r1, c1]``
        (end-exclusive) and sizes in mm at the true spacing.
    """
    scene = sample_scene(
        seed, pattern, view=view, rows=rows, columns=columns, spacing_mm=spacing_mm, photometric=photometric, with_mass=with_mass
    )
    result = render(scene)
    header, header_rng = draw_header(seed, transfer_syntax)
    frame = scene.frame
    dataset = build_dataset(
        result.pixels,
        seed=seed,
        header=header,
        spacing_mm=frame.spacing_mm,
        bits_stored=scene.acquisition.bits_stored,
        monochrome1=scene.monochrome1,
        view=scene.view,
        laterality=scene.laterality,
        burned_in=bool(scene.texts),
        rng=header_rng,
    )
    clusters = [
        {
            "pattern": t.pattern,
            "bbox_px": list(t.bbox_px),
            "centroid_px": [round(t.centroid_px[0], 1), round(t.centroid_px[1], 1)],
            "lesion_count": t.lesion_count,
            "size_mm": list(t.size_mm),
        }
        for t in result.clusters
    ]
    label = {
        "file": None,
        "report_file": None,
        "primary_pattern": primary_pattern(c["pattern"] for c in clusters),
        "clusters": clusters,
        "mass": bool(result.mass_boxes),
        "masses": [{"bbox_px": list(b)} for b in result.mass_boxes],
        "view": scene.view,
        "laterality": scene.laterality,
        "spacing_mm": round(frame.spacing_mm, 6),
        "spacing_source": spacing_source(header.spacing_mode),
        "photometric": "MONOCHROME1" if scene.monochrome1 else "MONOCHROME2",
        "transfer_syntax": str(dataset.file_meta.TransferSyntaxUID),
        "rows": frame.rows,
        "columns": frame.columns,
        "bits_stored": scene.acquisition.bits_stored,
        "seed": int(seed),
    }
    report = make_report(stream(seed, "report"), scene.clusters[0].pattern if scene.clusters else "none", scene.laterality)
    return SynthCase(dataset=dataset, label=label, report=report)


def draw_header(seed: int, transfer_syntax: str | None = None):
    """The header conventions of case ``seed`` and the generator positioned after them."""
    rng = stream(seed, "header")
    return sample_header(rng, transfer_syntax), rng


def case_seed(set_seed: int, index: int) -> int:
    """Seed of the ``index``-th case of a set (stable, independent of the set's size)."""
    return int(np.random.SeedSequence([int(set_seed), int(index)]).generate_state(1)[0])


def write_set(out_dir, n: int, seed: int = 0, patterns: list[str] | None = None, **make_case_kwargs) -> Path:
    """Write ``n`` cases (``case_0001.dcm`` + ``case_0001.txt`` …) and ``labels.jsonl``.

    Patterns are assigned round-robin through ``patterns`` (default: all ten
    and ``"none"``), so the set is balanced. Each label's ``seed`` regenerates
    its case with ``make_case(label["seed"], label["primary_pattern"]...)``
    given the same keyword arguments.

    Returns
    -------
    Path
        The ``labels.jsonl`` path.
    """
    patterns = list(patterns) if patterns else list(ALL_PATTERNS)
    unknown = [p for p in patterns if p not in ALL_PATTERNS]
    if unknown:
        raise ValueError(f"unknown pattern(s): {', '.join(unknown)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labels_path = out / "labels.jsonl"
    with open(labels_path, "w", encoding="utf-8") as labels:
        for i in range(n):
            name = f"case_{i + 1:04d}"
            case = make_case(case_seed(seed, i), patterns[i % len(patterns)], **make_case_kwargs)
            case.dataset.PatientName = f"PHANTOM^CASE{i + 1:04d}"
            case.dataset.save_as(out / f"{name}.dcm", enforce_file_format=True)
            (out / f"{name}.txt").write_text(case.report + "\n", encoding="utf-8")
            label = dict(case.label, file=f"{name}.dcm", report_file=f"{name}.txt", requested_pattern=patterns[i % len(patterns)])
            labels.write(json.dumps(label) + "\n")
    return labels_path
