"""Orchestration: from dense-bright pixels to :class:`~radassist.model.ImageFindings`.

Stages (each timed in ``timings`` when given, milliseconds):

``segment``
    Block-mean the image to the detection grid (≈0.25 mm) and the
    segmentation grid (≈1 mm); find collimation, the leg, bone and markers;
    decide whether this is a lower leg at all.
``detect``
    Candidate dense foci in the soft tissue (:mod:`.detect`).
``measure``
    Per-focus features, clusters and their features (:mod:`.measure`, :mod:`.cluster`).
``masses``
    Soft-tissue masses and where each cluster sits in them: the closed
    outline of the step down at a lump's rim (:mod:`.outline`).
``classify``
    Pattern, confidence and alternatives per cluster (:mod:`.classify`).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial import ConvexHull, QhullError

from radassist.model import PATTERN_SIGNIFICANCE, Cluster, ImageFindings, Mass

from . import (
    artefacts,
    axial,
    classify,
    cluster,
    detect,
    legcheck,
    masses,
    measure,
    outline,
    profile,
    segment,
)
from .bone import busy_near_bone, structure_power
from .grids import block_mean, grid_factor
from .morph import grow, shrink

#: Target spacing of the detection grid.
DETECTION_GRID_MM = 0.25
#: Target spacing of the segmentation grid.
SEGMENTATION_GRID_MM = 1.0
#: Provisional field of view (mm along the longer image side) used to pick
#: grids before the anatomy has given a scale, when the file has no spacing.
PROVISIONAL_FIELD_MM = 400.0
#: Anatomical references for the working scale when the file has no spacing.
REFERENCE_TIBIA_WIDTH_MM = 24.0
REFERENCE_LEG_WIDTH_MM = 100.0
#: A long-bone piece wider than this multiple of the reference tibia (at the
#: provisional scale) is two bones merged and gives no scale.
MAX_SINGLE_SHAFT_RATIO = 1.4
#: Field of view (mm along the longer side) a calf film can have; an anatomical
#: scale implying anything else means the anatomy is not a calf.
PLAUSIBLE_FIELD_MM = (120.0, 900.0)
#: Re-run segmentation when the anatomical scale differs this much from the provisional one.
RESCALE_TOLERANCE = 0.25
#: Soft-tissue margins where no focus is looked for.
SKIN_MARGIN_MM = 3.0
BONE_MARGIN_MM = 1.5
FIELD_MARGIN_MM = 2.0
IMAGE_BORDER_MM = 3.0
#: A cluster's reported extent is that of its foci at this fraction of their peaks.
CORE_LEVEL = 0.3
#: Largest number of points in a reported outline polygon.
MAX_CONTOUR_POINTS = 64


@contextmanager
def _stage(timings: dict[str, float] | None, name: str):
    start = time.perf_counter()
    try:
        yield
    finally:
        if timings is not None:
            timings[name] = timings.get(name, 0.0) + (time.perf_counter() - start) * 1e3


@dataclass
class _Grids:
    """The image on the two working grids, normalised alike."""

    spacing_mm: float  # stored-pixel spacing (isotropic working value)
    det_factor: int  # stored px per detection px
    ratio: int  # detection px per segmentation px
    det: np.ndarray
    seg: np.ndarray

    @property
    def det_mm(self) -> float:
        return self.spacing_mm * self.det_factor

    @property
    def seg_mm(self) -> float:
        return self.det_mm * self.ratio


def _make_grids(pixels: np.ndarray, spacing_mm: float) -> _Grids:
    det_factor = grid_factor(spacing_mm, DETECTION_GRID_MM)
    ratio = max(1, int(round(SEGMENTATION_GRID_MM / (spacing_mm * det_factor))))
    det = block_mean(pixels, det_factor)
    seg_raw = block_mean(det, ratio)
    seg_img, lo, hi = segment.normalise(seg_raw)
    span = hi - lo if hi > lo else 1.0
    det -= np.float32(lo)
    det *= np.float32(1.0 / span)
    return _Grids(spacing_mm, det_factor, ratio, det, seg_img)


def _insufficient(*missing: str, notes: list[str] | None = None) -> ImageFindings:
    return ImageFindings(status="insufficient_information", missing=list(missing), notes=notes or [])


def analyze_image(
    pixels: np.ndarray,
    spacing_mm: tuple[float, float] | None,
    *,
    timings: dict[str, float] | None = None,
) -> ImageFindings:
    """Find, measure and name soft-tissue calcifications on a lower-leg radiograph.

    Parameters
    ----------
    pixels : ndarray, shape (rows, columns)
        Modality-LUT output, dense = bright, any range (float32 preferred).
    spacing_mm : tuple of float or None
        ``(row, column)`` pixel spacing at the object in mm; ``None`` when
        unknown (the scale is then estimated from the anatomy and sizes are
        reported in pixels only).
    timings : dict, optional
        Filled with milliseconds per stage.

    Returns
    -------
    ImageFindings
        ``status="insufficient_information"`` (with ``missing``) when the
        image is not an analysable lower-leg radiograph.
    """
    notes: list[str] = []
    with _stage(timings, "segment"):
        img = np.asarray(pixels)
        if img.ndim != 2 or min(img.shape) < 32:
            return _insufficient("a single 2-D greyscale image of at least 32×32 pixels")
        img = img.astype(np.float32, copy=False)
        probe = img[:: max(1, img.shape[0] // 512), :: max(1, img.shape[1] // 512)]
        if not np.isfinite(probe).all() or not float(np.ptp(probe)) > 0:
            # Rare: check the whole image only when the probe looks wrong.
            finite = np.isfinite(img)
            if not finite.any() or not float(np.ptp(img[finite])) > 0:
                return _insufficient("pixel values are constant/unusable")
            img = np.where(finite, img, np.float32(np.min(img[finite])))
        spacing_known = spacing_mm is not None and all(np.isfinite(spacing_mm)) and min(spacing_mm) > 0
        if spacing_known:
            working = float(np.sqrt(spacing_mm[0] * spacing_mm[1]))
        else:
            working = PROVISIONAL_FIELD_MM / max(img.shape)
        if legcheck.looks_like_graphic(img[:: max(1, img.shape[0] // 256), :: max(1, img.shape[1] // 256)]):
            return _insufficient("the image looks like a graphic or test pattern, not a radiograph")
        grids = _make_grids(img, working)
        if not np.isfinite(grids.det).all():  # NaNs outside the probe reach the block means
            img = np.nan_to_num(img, nan=float(np.nanmin(img)), posinf=float(np.nanmax(img)),
                                neginf=float(np.nanmin(img)))
            grids = _make_grids(img, working)
        if float(np.ptp(grids.seg)) <= 0:
            return _insufficient("pixel values are constant/unusable")
        seg = segment.segment(grids.seg, grids.det_factor * grids.ratio, grids.seg_mm)
        if not spacing_known:
            estimate = _anatomical_spacing(seg, grids)
            if estimate is not None:
                field_mm = estimate * max(img.shape)
                if not PLAUSIBLE_FIELD_MM[0] <= field_mm <= PLAUSIBLE_FIELD_MM[1]:
                    return _insufficient(f"no pixel spacing, and the anatomy implies a {field_mm:.0f} mm field of view, "
                                         "implausible for a calf film: not a lower-leg radiograph?")
            if estimate is not None and abs(estimate / working - 1) > RESCALE_TOLERANCE:
                working = estimate
                grids = _make_grids(img, working)
                seg = segment.segment(grids.seg, grids.det_factor * grids.ratio, grids.seg_mm)
            notes.append(f"no pixel spacing: working scale {working:.3f} mm/pixel estimated from the anatomy; "
                         "sizes are given in pixels only")
        not_leg = legcheck.reasons_not_a_leg(seg, spacing_known)
        notes.extend(_exclusion_notes(seg))
        leg_bbox = _leg_bbox(seg, img.shape)
        if not_leg:
            return _insufficient(*not_leg, notes=notes)
        # What stays the same along the leg (see .axial): used to tell lesions
        # from bone, and as the background under a lesion wedged against bone
        # or the skin (see .detect).
        axial_background = axial.axial_opening(seg.image, seg.leg, seg.axis_angle,
                                               axial.AXIAL_OPENING_MM / seg.mm_per_px,
                                               gap_px=axial.LUCENT_LINE_MM / seg.mm_per_px)
        seg.bone, seg.busy = _released_lesions(seg, axial_background)
        zone = _soft_tissue_zone(seg)
        if not zone.any():
            return _insufficient("no soft tissue left to analyse once bone, joints and borders are excluded",
                                 notes=notes)

    with _stage(timings, "detect"):
        contrast = max(seg.tissue_level - seg.air_level, 1e-6)
        found = detect.detect_foci(grids.det, grids.seg, grids.ratio, zone, grids.det_mm, contrast,
                                   leg_seg=seg.leg, bone_seg=seg.bone, axis_angle=seg.axis_angle,
                                   axial_background=axial_background)

        _note(notes, found.burned_in_count, "burned-in text or marker object", "over the leg excluded")

    with _stage(timings, "measure"):
        foci = measure.measure_foci(found.labels, found.residual, found.smoothed, found.noise,
                                    grids.det_mm, contrast, seg.axis_angle, found.background_slope)
        lines = artefacts.anatomical_lines(foci, found, grids.det_mm)
        foci = [f for f in foci if not any(f is line for line in lines)]
        _note(notes, len(lines), "long continuous straight edge", "(bone cortex, fascia or skin fold) excluded")
        groups = cluster.group_foci(foci, grids.det_mm, seg.axis_angle)
        groups = [g for g in groups if artefacts.enough_evidence(g)]
        bone_distance = ndi.distance_transform_edt(~seg.bone) * grids.seg_mm
        distances = {id(g): _sample_seg(bone_distance, g, found, grids) for g in groups}
        rims = [g for g in groups if artefacts.hugs_bone(g, distances[id(g)])]
        groups = [g for g in groups if not any(g is r for r in rims)]
        _note(notes, len(rims), "thin bright rim", "along a bone edge excluded")
        if groups:
            # Bone the bone mask missed shows in the surroundings: brighter than
            # soft tissue alone (see .profile), or trabecular texture.
            rise = profile.rise_above_soft_tissue_model(seg.image, seg.leg, seg.axis_angle, seg.air_level,
                                                        seg.mm_per_px) / contrast
            # The clusters (and their blur) are left out of the texture: their
            # own edges are not their surroundings'.
            calcified = grow(_groups_on_seg_grid(groups, found, grids, seg.image.shape),
                             max(1, int(round(2.0 / seg.mm_per_px))))
            texture = structure_power(seg.image, seg.leg, seg.mm_per_px, exclude=calcified | ~seg.leg)
            on_bone = [g for g in groups
                       if artefacts.on_bone(*_ring_medians((rise, texture), g, found, grids, seg))]
            groups = [g for g in groups if not any(g is b for b in on_bone)]
            _note(notes, len(on_bone), "cluster", "on bone outside the bone mask (a bone edge or trabecula) excluded")
        snr = found.smoothed / found.noise
        for g in groups:
            g.features = _measured(g, found, grids, seg, contrast, snr, bone_distance)
        overshoots = [g for g in groups if artefacts.edge_overshoot(g)]
        groups = [g for g in groups if not any(g is e for e in overshoots)]
        _note(notes, len(overshoots), "bright edge artefact", "(overshoot beside a skin, fat-plane or bone edge) excluded")

    with _stage(timings, "masses"):
        calcified = _groups_on_seg_grid(groups, found, grids, seg.image.shape)
        mass_regions: list[masses.MassRegion] = []
        found_by: dict[int, int] = {}  # mass index -> the group whose search found it
        usable = masses.usable_soft_tissue(seg) if groups else None
        for g in groups:
            lesion = _groups_on_seg_grid([g], found, grids, seg.image.shape)
            own = outline.mass_from_edges(seg.image, lesion, calcified, usable, seg.mm_per_px,
                                          contrast)
            if own is not None:
                if not any((m.mask & own.mask).sum() > 0.3 * own.mask.sum() for m in mass_regions):
                    found_by[len(mass_regions)] = id(g)
                    mass_regions.append(own)
            g.features.update(_mass_relation(g, found, grids, mass_regions))

    with _stage(timings, "classify"):
        decided = [(g, classify.decide(g.features)) for g in groups]
        kept, on_edges = _without(decided, artefacts.unnamed_on_edge)
        kept, smooth_lines = _without(kept, artefacts.smooth_lone_line)
        kept = _with_nodule_company(kept)
        kept = _with_artery_fragments(
            kept, lambda g: {**_measured(g, found, grids, seg, contrast, snr, bone_distance),
                             **_mass_relation(g, found, grids, mass_regions)},
            grids.det_mm, seg.axis_angle)
        kept, faint_unnamed = _without(kept, artefacts.faint_unnamed)
        # A mass is reported with the clusters that found it or lie in it.
        kept_ids = {id(g) for g, _ in kept}
        in_use = sorted({i for i, gid in found_by.items() if gid in kept_ids}
                        | {int(g.features["mass_index"]) for g, _ in kept
                           if g.features.get("mass_index", -1) >= 0 and g.features.get("mass_overlap", 0) >= 0.3})
        renumber = {old: new for new, old in enumerate(in_use)}
        clusters = []
        for g, decision in kept:
            index = int(g.features.get("mass_index", -1))
            g.features["mass_index"] = float(renumber.get(index, -1))
            clusters.append(_to_cluster(len(clusters) + 1, g, decision, found, grids, img.shape,
                                        spacing_mm if spacing_known else None))
        mass_models = [_to_mass(renumber[i] + 1, mass_regions[i], grids, img.shape,
                                spacing_mm if spacing_known else None) for i in in_use]
        _note(notes, on_edges, "amorphous cluster", "on a skin, fat-plane or bone edge excluded")
        _note(notes, smooth_lines, "smooth unbroken line", "without a second wall (fibula, cortex or fascia) excluded")
        _note(notes, faint_unnamed, "faint lone focus", "of no recognisable shape excluded", plural="faint lone foci")
        patterns = [p for p in PATTERN_SIGNIFICANCE if any(c.pattern == p for c in clusters)]
        if found.count and not clusters:
            _note(notes, found.count, "faint focus", "below the reporting threshold ignored", plural="faint foci")
    return ImageFindings(
        status="analysed",
        calcification_detected=bool(clusters),
        primary_pattern=patterns[0] if patterns else "none",
        patterns=patterns,
        mass_detected=bool(mass_models),
        masses=mass_models,
        clusters=clusters,
        leg_bbox_px=leg_bbox,
        notes=notes,
    )


# --- scale -------------------------------------------------------------------


def _anatomical_spacing(seg: segment.Segmentation, grids: _Grids) -> float | None:
    """Stored-pixel spacing (mm) implied by the tibia's and the calf's typical widths."""
    estimates = []
    px_per_seg = grids.det_factor * grids.ratio
    # The widest long bone is the tibia, unless it merged with the fibula into
    # a piece too wide to be one bone.
    shafts = [b["width_mm"] for b in seg.long_bones if b["width_mm"] <= MAX_SINGLE_SHAFT_RATIO * REFERENCE_TIBIA_WIDTH_MM]
    if shafts:
        tibia_px = max(shafts) / seg.mm_per_px * px_per_seg
        estimates.append(REFERENCE_TIBIA_WIDTH_MM / tibia_px)
    if seg.leg_width_px > 0:
        estimates.append(REFERENCE_LEG_WIDTH_MM / (seg.leg_width_px * px_per_seg))
    if not estimates:
        return None
    return float(np.exp(np.mean(np.log(estimates))))


# --- zones and notes ---------------------------------------------------------------


def _soft_tissue_zone(seg: segment.Segmentation) -> np.ndarray:
    """Segmentation-grid pixels where calcifications are looked for."""
    mm = seg.mm_per_px
    zone = shrink(seg.leg, max(1, int(round(SKIN_MARGIN_MM / mm))))
    zone &= ~grow(seg.bone, max(1, int(round(BONE_MARGIN_MM / mm))))
    zone &= ~seg.busy
    zone &= ~seg.joint
    zone &= ~seg.markers
    zone &= ~grow(~seg.field, max(1, int(round(FIELD_MARGIN_MM / mm))))
    border = max(1, int(np.ceil(IMAGE_BORDER_MM / mm)))
    zone[:border] = zone[-border:] = False
    zone[:, :border] = zone[:, -border:] = False
    return zone


#: Bright objects shorter than this along the leg (mm) inside the bone mask are
#: lesions projecting over or beside the bone, not bone (bone runs along the leg).
LESION_OVER_BONE_MAX_MM = 35.0
#: ... when they stand this fraction of the tissue contrast above the leg's axial background.
LESION_OVER_BONE_CONTRAST = 0.04
#: A lesion's blurred edge reaches this far (mm) beyond it into the texture map.
LESION_TEXTURE_MARGIN_MM = 2.0


def _released_lesions(seg: segment.Segmentation, background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bone and trabecular-texture ("busy") masks without the lesions they took in.

    A lesion's own edges read as fine structure, and its grainy texture marked
    it busy while the bone mask held it: out of the bone mask, it is soft
    tissue again, and so is the texture at its edge.
    """
    lesions = _compact_raised(seg, background)
    bone = seg.bone & ~lesions
    busy = seg.busy & ~grow(lesions, max(1, int(round(LESION_TEXTURE_MARGIN_MM / seg.mm_per_px))))
    return bone, busy_near_bone(busy, bone, seg.mm_per_px)


def _compact_raised(seg: segment.Segmentation, background: np.ndarray) -> np.ndarray:
    """Compact bright objects that the bone mask took in: lesions.

    The segmentation's bone is a brightness threshold, which also takes in a
    dense lesion next to the bone. What rises above the leg's axial background
    (:mod:`.axial`) in a compact piece is not bone; bone ends at the joints
    (joint sections, and raised pieces wider than a lesion) stay bone.
    """
    contrast = max(seg.tissue_level - seg.air_level, 1e-6)
    raised = (seg.image - background) > LESION_OVER_BONE_CONTRAST * contrast
    labels, n = ndi.label(raised & seg.leg)
    if n == 0:
        return np.zeros(seg.bone.shape, dtype=bool)
    limit = LESION_OVER_BONE_MAX_MM / seg.mm_per_px
    lesion = np.zeros(n + 1, dtype=bool)
    for k, box in enumerate(ndi.find_objects(labels), start=1):
        own = labels[box] == k
        extent = max(box[0].stop - box[0].start, box[1].stop - box[1].start)
        lesion[k] = extent <= limit and not (own & seg.joint[box]).any() and (own & seg.bone[box]).any()
    return ndi.binary_dilation(lesion[labels], iterations=1)


def _without(kept: list[tuple[cluster.Group, classify.Decision]], rule) -> tuple[list[tuple[cluster.Group, classify.Decision]], int]:
    """The named clusters that ``rule(features, pattern)`` does not exclude, and how many it did."""
    out = [(g, d) for g, d in kept if not rule(g.features, d.pattern)]
    return out, len(kept) - len(out)


def _with_nodule_company(kept: list[tuple[cluster.Group, classify.Decision]]) -> list[tuple[cluster.Group, classify.Decision]]:
    """The reported clusters, a lone solid nodule renamed when another cluster is a nodule too.

    Phleboliths are "often several" (patterns.md), and several scattered over
    the calf fall into separate clusters: a solid nodule then has the company
    that a lone one lacks (``lone_solid_nodule`` in ``patterns.yaml``). Only
    nodules keep it company (phleboliths, other lone nodules), not a cluster
    of another kind that happens to hold a round piece.
    """
    def lone_nodule(g: cluster.Group) -> bool:
        return bool(g.features.get("lone_solid_nodule", 0.0)) and g.features.get("nodule_count", 0.0) >= 1

    if sum(d.pattern == "phlebolith" or lone_nodule(g) for g, d in kept) < 2:
        return kept
    out = []
    for g, decision in kept:
        if lone_nodule(g):
            g.features["lone_solid_nodule"] = 0.0
            decision = classify.decide(g.features)
        out.append((g, decision))
    return out


def _with_artery_fragments(kept: list[tuple[cluster.Group, classify.Decision]], features_of,
                           det_mm: float, axis_angle: float) -> list[tuple[cluster.Group, classify.Decision]]:
    """The reported clusters, unnamed fragments on an artery's course joined to it.

    A calcified artery is "a beaded or interrupted line" (patterns.md): the
    grouping joins beads across gaps up to :data:`.cluster.BEAD_GAP_MM`, but a
    longer gap leaves a bead or two on their own, which fit no pattern and
    then outrank the artery as the study's primary pattern. A ``nonspecific``
    cluster of at most :data:`.cluster.FRAGMENT_MAX_FOCI` foci on an arterial
    cluster's course (:func:`.cluster.on_course`) is measured and named again
    together with it, and joins it when the whole is still arterial.
    ``features_of(group)`` measures a group as the measurement and mass stages do.
    """
    out = list(kept)
    for line, line_decision in kept:
        if line_decision.pattern != "arterial":
            continue
        pieces = [(g, d) for g, d in out if d.pattern == "nonspecific"
                  and g.features.get("lesion_count", 0) <= cluster.FRAGMENT_MAX_FOCI
                  and g.features.get("mass_overlap", 0.0) < 0.3
                  and cluster.on_course(line, g, det_mm, axis_angle)]
        if not pieces:
            continue
        whole = cluster.merged([line] + [g for g, _ in pieces])
        features = features_of(whole)
        decision = classify.decide(features)
        if decision.pattern != "arterial":
            continue
        # The artery keeps its identity (a mass it found stays its own).
        line.foci, line.coords, line.features = whole.foci, whole.coords, features
        dropped = {id(g) for g, _ in pieces}
        out = [(g, decision if g is line else d) for g, d in out if id(g) not in dropped]
    return out


def _measured(group: cluster.Group, found: detect.Detection, grids: _Grids, seg: segment.Segmentation,
              contrast: float, snr: np.ndarray, bone_distance: np.ndarray) -> dict[str, float]:
    """A group's features from the measurement stage (its relation to a mass comes later)."""
    features = cluster.describe_group(group, found.residual, grids.det_mm, seg.axis_angle, contrast,
                                      snr=snr, allowed=found.allowed)
    features["bone_distance_mm"] = float(np.median(_sample_seg(bone_distance, group, found, grids)))
    return features


def _exclusion_notes(seg: segment.Segmentation) -> list[str]:
    notes = []
    if seg.collimated_sides:
        sides = len(seg.collimated_sides)
        notes.append(f"collimation border on {sides} side{'s' if sides > 1 else ''} "
                     f"({', '.join(seg.collimated_sides)}) excluded")
    if seg.marker_count:
        notes.append(f"{seg.marker_count} marker{'s' if seg.marker_count > 1 else ''} or text object"
                     f"{'s' if seg.marker_count > 1 else ''} outside the leg excluded")
    if seg.bone_components:
        notes.append(f"bone excluded ({seg.bone_components} piece{'s' if seg.bone_components > 1 else ''}, "
                     f"{len(seg.long_bones)} long bone{'s' if len(seg.long_bones) != 1 else ''})")
    return notes


def _leg_bbox(seg: segment.Segmentation, shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
    rows, cols = np.nonzero(seg.leg)
    if rows.size == 0:
        return None
    f = seg.factor
    return (int(rows.min() * f), int(cols.min() * f),
            int(min((rows.max() + 1) * f, shape[0])), int(min((cols.max() + 1) * f, shape[1])))


def _note(notes: list[str], count: int, singular: str, why: str, plural: str | None = None) -> None:
    """Append "<count> <thing(s)> <why>" to ``notes`` when ``count`` is positive."""
    if count:
        notes.append(f"{count} {singular if count == 1 else plural or singular + 's'} {why}")


# --- coordinates -------------------------------------------------------------------


def _det_to_stored(rows: np.ndarray, cols: np.ndarray, found: detect.Detection, grids: _Grids):
    """Detection-crop pixel coordinates → stored-image coordinates (pixel centres)."""
    f = grids.det_factor
    return (rows + found.offset[0]) * f + (f - 1) / 2.0, (cols + found.offset[1]) * f + (f - 1) / 2.0


def _sample_seg(values: np.ndarray, group: cluster.Group, found: detect.Detection, grids: _Grids) -> np.ndarray:
    """Values of a segmentation-grid map at each of a group's pixels."""
    r = np.clip((group.coords[:, 0] + found.offset[0]) // grids.ratio, 0, values.shape[0] - 1)
    c = np.clip((group.coords[:, 1] + found.offset[1]) // grids.ratio, 0, values.shape[1] - 1)
    return values[r, c]


def _ring_medians(maps: tuple[np.ndarray, ...], group: cluster.Group, found: detect.Detection, grids: _Grids,
                  seg: segment.Segmentation, ring_mm: tuple[float, float] = artefacts.ON_BONE_RING_MM) -> list[float]:
    """Median of each segmentation-grid map over the leg in one ring ``ring_mm`` (inner, outer) around a group."""
    rows = (group.coords[:, 0] + found.offset[0]) // grids.ratio
    cols = (group.coords[:, 1] + found.offset[1]) // grids.ratio
    inner_mm, outer_mm = ring_mm
    outer_px = max(2, int(round(outer_mm / seg.mm_per_px)))
    shape = seg.image.shape
    r0, r1 = max(int(rows.min()) - outer_px - 1, 0), min(int(rows.max()) + outer_px + 2, shape[0])
    c0, c1 = max(int(cols.min()) - outer_px - 1, 0), min(int(cols.max()) + outer_px + 2, shape[1])
    own = np.zeros((r1 - r0, c1 - c0), dtype=bool)
    own[np.clip(rows - r0, 0, r1 - r0 - 1), np.clip(cols - c0, 0, c1 - c0 - 1)] = True
    ring = grow(own, outer_px) & ~grow(own, max(1, int(round(inner_mm / seg.mm_per_px)))) & seg.leg[r0:r1, c0:c1]
    if not ring.any():
        return [0.0] * len(maps)
    return [float(np.median(values[r0:r1, c0:c1][ring])) for values in maps]


def _groups_on_seg_grid(groups, found, grids, shape) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    for g in groups:
        r = (g.coords[:, 0] + found.offset[0]) // grids.ratio
        c = (g.coords[:, 1] + found.offset[1]) // grids.ratio
        ok = (r < shape[0]) & (c < shape[1])
        mask[r[ok], c[ok]] = True
    return mask


def _mass_relation(group: cluster.Group, found: detect.Detection, grids: _Grids,
                   mass_regions: list[masses.MassRegion]) -> dict[str, float]:
    """Where a cluster sits relative to the soft-tissue mass it overlaps most."""
    empty = {"mass_overlap": 0.0, "mass_offset_norm": 0.0, "mass_rim_spread": 0.0,
             "mass_to_calcification_size_ratio": 0.0, "mass_confidence": 0.0, "mass_index": -1.0}
    if not mass_regions:
        return empty
    seg_r = (group.coords[:, 0] + found.offset[0]) / grids.ratio
    seg_c = (group.coords[:, 1] + found.offset[1]) / grids.ratio
    best, best_overlap = None, 0.0
    for k, m in enumerate(mass_regions):
        ri = np.clip(seg_r.astype(int), 0, m.mask.shape[0] - 1)
        ci = np.clip(seg_c.astype(int), 0, m.mask.shape[1] - 1)
        overlap = float(m.mask[ri, ci].mean())
        if overlap > best_overlap:
            best, best_overlap = k, overlap
    if best is None:
        return empty
    m = mass_regions[best]
    u = np.array([np.cos(m.orientation), np.sin(m.orientation)])
    v = np.array([-u[1], u[0]])
    d = np.stack([seg_r - m.centroid[0], seg_c - m.centroid[1]], axis=1)
    a, b = max(m.semi_axes_px[0], 1e-6), max(m.semi_axes_px[1], 1e-6)
    centre = d.mean(axis=0)
    offset = float(np.hypot(centre @ u / a, centre @ v / b))
    angles = np.arctan2(d @ v / b, d @ u / a)
    resultant = float(np.hypot(np.cos(angles).mean(), np.sin(angles).mean()))
    mass_d = 2 * np.sqrt(a * b)
    calc_extent = np.ptp(d, axis=0)
    calc_d = float(max(np.sqrt(calc_extent[0] * calc_extent[1]), 1.0))
    return {
        "mass_overlap": best_overlap,
        "mass_offset_norm": offset,
        "mass_rim_spread": 1.0 - resultant,
        "mass_to_calcification_size_ratio": float(mass_d / calc_d),
        "mass_confidence": float(m.confidence),
        "mass_index": float(best),
    }


def _outline(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> list[tuple[int, int]]:
    """Convex outline (≤ MAX_CONTOUR_POINTS vertices) of a point set, inside the image."""
    pts = np.unique(np.stack([np.round(rows), np.round(cols)], axis=1).astype(int), axis=0)
    if pts.shape[0] >= 3:
        try:
            hull = ConvexHull(pts)
            pts = pts[hull.vertices]
        except QhullError:
            pass
    if pts.shape[0] > MAX_CONTOUR_POINTS:
        pts = pts[np.linspace(0, pts.shape[0] - 1, MAX_CONTOUR_POINTS).astype(int)]
    pts[:, 0] = np.clip(pts[:, 0], 0, shape[0] - 1)
    pts[:, 1] = np.clip(pts[:, 1], 0, shape[1] - 1)
    return [(int(r), int(c)) for r, c in pts]


def _box_and_size(rows, cols, shape, factor, spacing_mm):
    half = factor / 2.0
    r0 = int(max(np.floor(rows.min() - half + 0.5), 0))
    c0 = int(max(np.floor(cols.min() - half + 0.5), 0))
    r1 = int(min(np.ceil(rows.max() + half + 0.5), shape[0]))
    c1 = int(min(np.ceil(cols.max() + half + 0.5), shape[1]))
    size_px = (r1 - r0, c1 - c0)
    size_mm = None
    if spacing_mm is not None:
        size_mm = (round(size_px[0] * spacing_mm[0], 2), round(size_px[1] * spacing_mm[1], 2))
    return (r0, c0, r1, c1), size_px, size_mm


def _core_coords(group: cluster.Group, residual: np.ndarray) -> np.ndarray:
    """Pixels of each focus at or above :data:`CORE_LEVEL` of its own peak.

    The hysteresis that delineates a focus reaches into the blur around a
    dense object; its extent at a fraction of its peak is the object's own.
    """
    parts = []
    for focus in group.foci:
        values = residual[focus.coords[:, 0], focus.coords[:, 1]]
        core = focus.coords[values >= CORE_LEVEL * values.max()] if values.max() > 0 else focus.coords
        parts.append(core if core.size else focus.coords)
    return np.concatenate(parts)


def _to_cluster(cid, group, decision, found, grids, shape, spacing_mm) -> Cluster:
    core = _core_coords(group, found.residual)
    rows, cols = _det_to_stored(core[:, 0].astype(float), core[:, 1].astype(float), found, grids)
    bbox, size_px, size_mm = _box_and_size(rows, cols, shape, grids.det_factor, spacing_mm)
    feats = {k: round(float(v), 4) for k, v in group.features.items() if np.isfinite(v) and k != "mass_index"}
    mass_index = int(group.features.get("mass_index", -1))
    return Cluster(
        id=cid,
        pattern=decision.pattern,
        confidence=float(decision.confidence),
        bbox_px=bbox,
        centroid_px=(round(float(rows.mean()), 1), round(float(cols.mean()), 1)),
        size_mm=size_mm,
        size_px=size_px,
        lesion_count=max(1, len(group.foci)),
        features=feats,
        alternatives=decision.alternatives,
        mass_id=mass_index + 1 if mass_index >= 0 and group.features.get("mass_overlap", 0) >= 0.3 else None,
        contour_px=_outline(rows, cols, shape),
    )


def _to_mass(mid, region: masses.MassRegion, grids: _Grids, shape, spacing_mm) -> Mass:
    rr, cc = np.nonzero(region.mask)
    f = grids.det_factor * grids.ratio
    rows, cols = rr * f + (f - 1) / 2.0, cc * f + (f - 1) / 2.0
    bbox, size_px, size_mm = _box_and_size(rows, cols, shape, f, spacing_mm)
    return Mass(
        id=mid,
        bbox_px=bbox,
        centroid_px=(round(float(rows.mean()), 1), round(float(cols.mean()), 1)),
        size_mm=size_mm,
        size_px=size_px,
        confidence=float(region.confidence),
        features={"peak_contrast": round(region.peak_contrast, 4), "snr": round(region.snr, 2),
                  "major_axis_mm": round(2 * region.semi_axes_px[0] * grids.seg_mm, 2),
                  "minor_axis_mm": round(2 * region.semi_axes_px[1] * grids.seg_mm, 2)},
        contour_px=_outline(rows, cols, shape),
    )
