"""Bone on the ≈1 mm segmentation grid: tibia, fibula and the joint bones.

Everything is done in the straightened leg (:mod:`.legframe`), where each row
is a line across the leg. On each line the soft tissue alone would give a
smooth, convex thickness profile; a 1-D flat opening whose length is a fixed
fraction of the leg's width on that line follows that profile but removes
any narrower bump, so ``image - opening`` (the *rise*) is the bone's own
contribution. Bone grows by hysteresis from wide, clearly raised seeds.

Pieces are kept as bone when they are elongated along the leg (tibia,
fibula: *long bones*), large, or at an end of the leg (knee, ankle); small
compact dense pieces are left to the calcification detector. Where the bones
flare at a joint, whole cross-sections (and everything beyond, towards the end
of the leg) are bone territory, as is the continuation of a long bone that
stops inside the leg (the epiphysis and joint bones beyond it).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.filters import sobel
from skimage.morphology import remove_small_holes
from skimage.segmentation import watershed

from .legframe import line_opening, straight_frame
from .morph import grow, open_line, shrink

#: The opening on each line is this fraction of the leg's width on that line ...
OPENING_WIDTH_FRACTION = 0.45
#: ... but at least and at most this long.
OPENING_RANGE_MM = (25.0, 60.0)
#: Opening lengths are rounded to multiples of this (to batch the lines).
OPENING_STEP_MM = 4.0
#: Dark lines across the leg up to this wide (fat planes) are filled before looking for bone.
FAT_PLANE_FILL_MM = 6.0
#: Texture: high-pass power averaged over this window ...
BUSY_WINDOW_MM = 8.0
#: ... above this multiple of its median over the leg ...
BUSY_POWER_RATIO = 2.0
#: Soft-tissue seeds have fine structure below this multiple of the leg's median.
SOFT_MAX_STRUCTURE = 1.5
#: ... and this large, is trabecular bone.
BUSY_MIN_AREA_MM2 = 1500.0
#: Bone seeds rise this fraction of the tissue contrast above the opened profile ...
SEED_CONTRAST = 0.2
#: ... and are at least this wide across the leg.
SEED_MIN_WIDTH_MM = 5.0
#: Thin-bone seeds rise this fraction above a short opening ...
THIN_SEED_CONTRAST = 0.1
#: ... of this length.
THIN_BONE_OPENING_MM = 15.0
#: ... and are pieces this long along the leg ...
THIN_BONE_MIN_LENGTH_MM = 50.0
#: ... whose centre line wanders at most this far (RMS) from a straight line.
THIN_BONE_MAX_WANDER_MM = 2.0
#: Far from bone seeds, soft-tissue seeds may rise up to this fraction (a bulging muscle).
SOFT_FAR_CONTRAST = 0.15
#: Soft-tissue seeds rise less than this fraction ...
SOFT_SEED_CONTRAST = 0.05
#: ... or less than SOFT_FAR_CONTRAST when this far from any bone seed ...
SOFT_SEED_FAR_MM = 10.0
#: ... and keep this distance from bone seeds.
SOFT_SEED_CLEARANCE_MM = 3.0
#: Seeds keep this distance from the skin line.
SEED_SKIN_CLEARANCE_MM = 4.0
#: A bone piece has at least this area ...
MIN_AREA_MM2 = 250.0
#: ... and a long bone is at least this elongated (length / width) ...
LONG_MIN_ELONGATION = 3.0
#: ... and runs within this angle of the leg axis.
LONG_MAX_ANGLE_DEG = 25.0
#: Compact pieces this large are bone (patella, condyles) wherever they are.
LARGE_AREA_MM2 = 900.0
#: ... when within this distance of a long bone and this close to an end of the
#: leg (a knee or ankle in the image); mid-calf compact dense pieces are lesions.
COMPACT_NEAR_LONG_MM = 8.0
JOINT_REACH_MM = 70.0
#: Gaps across the leg between bone pieces narrower than this are bone territory.
GAP_FILL_ACROSS_MM = 4.0
#: Gaps along the leg between bone pieces shorter than this are bone territory
#: (a lytic lesion or a faint metaphysis between a shaft and its epiphysis).
GAP_FILL_ALONG_MM = 50.0
#: Holes in the bone mask smaller than this are bone (lytic lesions, medulla).
MAX_HOLE_MM2 = 600.0
#: Every part of a shaft lies on a run of bone this long (mm) ...
SHAFT_SUPPORT_MM = 40.0
#: ... at one of these angles to the leg axis (degrees); (margin, mm, for the shaft's edge) ...
SHAFT_SUPPORT_TILTS_DEG = (-6.0, 0.0, 6.0)
SHAFT_SUPPORT_MARGIN_MM = 1.0
#: ... and unsupported pieces up to this area away from the joints are soft-tissue lesions.
BULGE_MAX_AREA_MM2 = 1500.0
#: ... with the shaft going on for this far (mm) beyond them both ways.
BULGE_SHAFT_END_MM = 25.0
#: ... where the bone is no wider than this many times its typical shaft width.
BULGE_MAX_WIDTH_RATIO = 1.25
#: A shaft's two edges follow a smooth curve along the leg (a quadratic, refitted
#: without the points straying more than this many mm, or 2.5 robust deviations) ...
SHAFT_EDGE_TOLERANCE_MM = 2.0
#: ... and bone standing out beyond that curve by more than this (mm), over at
#: least this area (mm²), with the shaft going on beyond it both ways
#: (BULGE_SHAFT_END_MM), is a soft-tissue lesion the watershed flooded into it ...
SIDE_LOBE_MIN_DEPTH_MM = 4.0
SIDE_LOBE_MIN_AREA_MM2 = 60.0
#: ... when it reaches out at least this fraction of its own length along the
#: leg (a lesion bulges; a long strip beside the fitted edge is the shaft's own
#: irregular outline, or a second bone running alongside) ...
SIDE_LOBE_MIN_DEPTH_FRACTION = 0.25
#: ... and is at least this long along the leg (shorter knobs: see _trim_bulges).
SIDE_LOBE_MIN_LENGTH_MM = 20.0
#: Lines where the bone is this many times wider than its median width are a joint ...
JOINT_WIDTH_FACTOR = 1.6
#: ... or where bone fills this fraction of the leg's width ...
JOINT_FILL_FRACTION = 0.8
#: ... provided the run of such lines starts within this distance of an end of the leg.
JOINT_MAX_END_GAP_MM = 20.0
#: Within this distance (along the leg) of a joint, gaps across the leg up to
#: this wide between bones are bone territory.
JOINT_GAP_REACH_MM = 40.0
JOINT_GAP_FILL_MM = 16.0
#: A long bone this fraction of the leg long that stops inside the leg ends at a
#: joint; at most this fraction of the leg beyond it is taken as the joint.
SHAFT_MIN_SPAN = 0.4
JOINT_MAX_SPAN = 0.35
#: Length of a long bone's end section swept to the end of the leg (joint territory) ...
JOINT_END_SECTION_MM = 15.0
#: ... and how far the swept section is widened on each side.
JOINT_WIDEN_MM = 5.0


def rise_above_soft_tissue(straight: np.ndarray, leg: np.ndarray, air_level: float, mm_per_px: float) -> np.ndarray:
    """Rise of every straight-frame pixel above its line's opened soft-tissue profile."""
    flat = np.where(leg, straight, air_level).astype(np.float32)
    widths = _main_widths(leg) * mm_per_px
    lo, hi = OPENING_RANGE_MM
    length_mm = np.clip(OPENING_WIDTH_FRACTION * widths, lo, hi)
    length_mm = np.round(length_mm / OPENING_STEP_MM) * OPENING_STEP_MM
    rise = np.zeros_like(flat)
    for value in np.unique(length_mm[widths > 0]):
        rows = np.flatnonzero((length_mm == value) & (widths > 0))
        size = max(3, int(round(value / mm_per_px)) | 1)
        block = flat[rows]
        rise[rows] = block - ndi.grey_opening(block, size=(1, size), mode="nearest")
    return rise * leg


def structure_power(img: np.ndarray, leg: np.ndarray, mm_per_px: float,
                    exclude: np.ndarray | None = None) -> np.ndarray:
    """Local power of fine structure (1–4 mm), relative to its median over the leg.

    Soft tissue is smooth, so this is about 1 over most of the leg; cortical
    edges and trabecular bone are many times stronger. Pixels in ``exclude``
    (calcifications, say) are left out of the local averages, so that their
    own edges do not count as their surroundings' texture.
    """
    fine = ndi.uniform_filter(img, 3, mode="nearest")
    bandpass = fine - ndi.uniform_filter(img, max(5, int(round(4.0 / mm_per_px)) | 1), mode="nearest")
    size = max(3, int(round(BUSY_WINDOW_MM / mm_per_px)) | 1)
    inner = shrink(leg, max(1, int(round(3.0 / mm_per_px))))
    if exclude is None:
        power = ndi.uniform_filter(bandpass * bandpass, size, mode="nearest")
    else:
        weight = (~exclude).astype(np.float32)
        num = ndi.uniform_filter(bandpass * bandpass * weight, size, mode="nearest")
        den = ndi.uniform_filter(weight, size, mode="nearest")
        power = np.where(den > 0.2, num / np.maximum(den, 1e-6), 0.0)
        inner = inner & ~exclude
    reference = float(np.median(power[inner])) if inner.sum() >= 50 else float(np.median(power[leg]))
    return power / max(reference, 1e-12)


def busy_near_bone(busy: np.ndarray, bone: np.ndarray, mm_per_px: float) -> np.ndarray:
    """The busy texture within half a texture window of bone: trabecular bone, not a textured lesion."""
    return busy & grow(bone, max(1, int(round(BUSY_WINDOW_MM / 2 / mm_per_px))))


def _busy(structure: np.ndarray, leg: np.ndarray, mm_per_px: float) -> np.ndarray:
    """Large regions of strong fine structure: trabecular bone (epiphyses, joint bones)."""
    inner = shrink(leg, max(1, int(round(3.0 / mm_per_px))))
    busy = inner & (structure > BUSY_POWER_RATIO)
    r = max(1, int(round(2.0 / mm_per_px)))
    busy = grow(shrink(busy, r), r)
    labels, n = ndi.label(busy)
    if n == 0:
        return busy
    area = np.bincount(labels.ravel()) * mm_per_px * mm_per_px
    keep = area >= BUSY_MIN_AREA_MM2
    keep[0] = False
    return keep[labels]


def _long_straight(mask: np.ndarray, mm_per_px: float) -> np.ndarray:
    """Pieces of ``mask`` (straight frame) that run long and straight along the rows."""
    labels, n = ndi.label(mask)
    keep = np.zeros(n + 1, dtype=bool)
    for i, sl in enumerate(ndi.find_objects(labels), start=1):
        length_mm = (sl[0].stop - sl[0].start) * mm_per_px
        if length_mm < THIN_BONE_MIN_LENGTH_MM:
            continue
        piece = labels[sl] == i
        rows = np.flatnonzero(piece.any(axis=1))
        centres = np.array([np.flatnonzero(piece[r]).mean() for r in rows])
        fit = np.polyval(np.polyfit(rows, centres, 1), rows)
        keep[i] = float(np.sqrt(np.mean((centres - fit) ** 2))) * mm_per_px <= THIN_BONE_MAX_WANDER_MM
    return keep[labels]


def _line_opening_rise(flat: np.ndarray, length_px: float) -> np.ndarray:
    size = max(3, int(round(length_px)) | 1)
    return flat - ndi.grey_opening(flat, size=(1, size), mode="nearest")


def _main_widths(leg: np.ndarray) -> np.ndarray:
    """Width (px) of the largest leg component on every row (a second leg or debris is ignored)."""
    labels, n = ndi.label(leg)
    if n > 1:
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        leg = labels == int(np.argmax(sizes))
    return leg.sum(axis=1)


def find_bone(
    image: np.ndarray,
    leg: np.ndarray,
    axis_angle: float,
    air_level: float,
    mm_per_px: float,
) -> tuple[np.ndarray, list[dict], int, np.ndarray, np.ndarray]:
    """Bone territory inside the leg.

    Parameters
    ----------
    image : ndarray
        Normalised segmentation-grid image (dense = bright).
    leg : ndarray of bool
        Leg outline on the same grid.
    axis_angle : float
        Leg-axis orientation (radians from the row direction towards columns).
    air_level : float
        Typical normalised value of air.
    mm_per_px : float
        Grid spacing.

    Returns
    -------
    bone : ndarray of bool
        Bone territory on the grid.
    long_bones : list of dict
        ``length_mm``, ``width_mm``, ``angle_deg`` (to the leg axis) of each long bone.
    pieces : int
        Number of bone pieces kept.
    busy : ndarray of bool
        Large regions of strong fine structure (trabecular bone at the joints),
        untrimmed: no calcification is looked for there.
    joint : ndarray of bool
        Whole cross-sections at the joints (flaring bone, and beyond the end of a shaft).
    """
    empty = np.zeros(image.shape, dtype=bool)
    if not leg.any():
        return empty, [], 0, empty, empty
    contrast = float(np.median(image[leg]) - air_level)
    if contrast <= 0:
        return empty, [], 0, empty, empty
    frame = straight_frame(leg, axis_angle)
    img = frame.sample(image, order=1, cval=air_level)
    leg_s = frame.sample_mask(leg)
    # Thin dark lines (fat planes between muscles) would make each muscle belly
    # look like a raised band; a short closing across the leg fills them first.
    fill = max(3, int(round(FAT_PLANE_FILL_MM / mm_per_px)) | 1)
    img = np.where(leg_s, ndi.grey_closing(img, size=(1, fill), mode="nearest"), img)
    rise = rise_above_soft_tissue(img, leg_s, air_level, mm_per_px)

    inner = shrink(leg_s, max(1, int(round(SEED_SKIN_CLEARANCE_MM / mm_per_px))))
    # Thin bones (a fibula behind thick muscle) rise only a little, but sharply:
    # a short opening isolates them from broad soft-tissue curvature.
    # Bones are wide: seeds narrower than SEED_MIN_WIDTH_MM across the leg are
    # calcified vessel walls or small calcifications, never bone.
    width = np.ones((1, max(3, int(round(SEED_MIN_WIDTH_MM / mm_per_px)))), dtype=bool)
    seeds = open_line(inner & (rise > SEED_CONTRAST * contrast), width.shape[1], axis=1)
    # Thin bones (a fibula behind thick muscle) rise only a little, but sharply:
    # a short opening isolates them from broad soft-tissue curvature. Muscle
    # bellies between fat planes do that too, but they curve with the calf's
    # outline; only long straight pieces are taken.
    narrow = _line_opening_rise(np.where(leg_s, img, air_level), THIN_BONE_OPENING_MM / mm_per_px) * leg_s
    thin = open_line(inner & (narrow > THIN_SEED_CONTRAST * contrast), width.shape[1], axis=1)
    seeds |= _long_straight(thin, mm_per_px)
    # Epiphyses and joint bones are too wide for the openings to see, but their
    # trabecular texture gives them away: large busy regions seed bone too.
    structure = structure_power(img, leg_s, mm_per_px)
    busy = _busy(structure, leg_s, mm_per_px)
    # The power is averaged over BUSY_WINDOW_MM, which spreads it half a window
    # beyond the bone's edge: trim that off before seeding.
    seeds |= shrink(busy, max(1, int(round(BUSY_WINDOW_MM / 2 / mm_per_px)))) & inner
    # Soft-tissue seeds: flat places, or gently raised places well away from any
    # bone seed (a bulging calf muscle rises a little above the opening too).
    distance = ndi.distance_transform_edt(~seeds) * mm_per_px
    soft = leg_s & ((rise < SOFT_SEED_CONTRAST * contrast)
                    | ((rise < SOFT_FAR_CONTRAST * contrast) & (distance > SOFT_SEED_FAR_MM)))
    soft &= (distance > SOFT_SEED_CLEARANCE_MM) & (structure < SOFT_MAX_STRUCTURE)
    markers = np.zeros(img.shape, dtype=np.int32)
    markers[~leg_s] = 1
    markers[soft] = 2
    markers[seeds] = 3
    # The watershed of the gradient puts the bone boundary on the cortical edge.
    gradient = sobel(ndi.gaussian_filter(img, 0.8 / mm_per_px))
    bone = (flood(gradient, markers) == 3) & leg_s

    bone, long_bones, long_labels, labels = _keep_pieces(bone, leg_s, mm_per_px)
    pieces = len(np.unique(labels[bone])) if bone.any() else 0
    if not pieces:
        return empty, [], 0, empty, empty
    joint = _joint_zone(bone, leg_s, mm_per_px) | _beyond_shafts(labels, long_labels, leg_s, mm_per_px)
    bone, bulges = _trim_bulges(bone, joint, mm_per_px)
    lobes = _side_lobes(bone, labels, long_labels, joint, mm_per_px)
    bone &= ~lobes
    bulges |= lobes
    bone |= _joint_territory(labels, long_labels, leg_s, mm_per_px)
    across = max(3, int(round(GAP_FILL_ACROSS_MM / mm_per_px)))
    along = max(3, int(round(GAP_FILL_ALONG_MM / mm_per_px)))
    bone = _close(bone, np.ones((1, across), dtype=bool))
    bone = _close(bone | joint, np.ones((along, 1), dtype=bool))  # no notch where a shaft meets its joint
    bone = (bone | joint) & leg_s
    if joint.any():
        # Next to a joint the bones close in (tibia and fibula at the ankle):
        # the narrow gaps between them there are bone territory too.
        joint_rows = joint.any(axis=1)
        near = ndi.binary_dilation(joint_rows, iterations=max(1, int(round(JOINT_GAP_REACH_MM / mm_per_px))))
        wide = max(3, int(round(JOINT_GAP_FILL_MM / mm_per_px)))
        bone |= _close(bone, np.ones((1, wide), dtype=bool)) & near[:, None] & leg_s
    bone = remove_small_holes(bone, max_size=max(1, int(MAX_HOLE_MM2 / mm_per_px**2)))
    # Busy texture is trabecular bone only where there is bone: a textured
    # lesion cut off a shaft is soft tissue again.
    busy = busy_near_bone(busy & ~bulges, bone, mm_per_px)
    back = frame.back
    return (back(bone, image.shape) & leg, long_bones, pieces, back(busy, image.shape) & leg,
            back(joint, image.shape) & leg)


def flood(gradient: np.ndarray, markers: np.ndarray) -> np.ndarray:
    """Marker watershed of ``gradient``: every unmarked pixel takes the label of the marker that floods it first.

    Equal to ``skimage.segmentation.watershed(gradient, markers)``, two to
    four times faster here: only the unmarked pixels and the marked ones
    touching them take part, since the flood never passes through the rest,
    and most of the leg's frame is marked.
    """
    unmarked = markers == 0
    active = ndi.binary_dilation(unmarked, structure=np.ones((3, 3), bool))
    return np.where(active, watershed(gradient, markers, mask=active), markers)


def _trim_bulges(bone: np.ndarray, joint: np.ndarray, mm_per_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Cut off short bulges on the side of a shaft (straight frame: axis along the rows).

    A shaft is long along the leg, so every part of it lies on a run of bone
    at least :data:`SHAFT_SUPPORT_MM` long in a direction near the axis. A
    dense soft-tissue lesion touching the bone is flooded into it by the
    watershed, but it is short: pieces without that support, smaller than
    :data:`BULGE_MAX_AREA_MM2`, away from the joints, are given back to the
    soft tissue.

    Returns
    -------
    bone, bulges : ndarray of bool
    """
    length = max(3, int(round(SHAFT_SUPPORT_MM / mm_per_px)))
    support = np.zeros(bone.shape, dtype=bool)
    for slope in np.tan(np.radians(SHAFT_SUPPORT_TILTS_DEG)):
        # A shaft runs on into its joint; beyond the frame's ends there is no bone.
        support |= line_opening(bone | joint, length, slope, fill=0, mode="constant").astype(bool)
    support = grow(support, max(1, int(round(SHAFT_SUPPORT_MARGIN_MM / mm_per_px))))
    loose = bone & ~support & ~joint
    labels, n = ndi.label(loose)
    if n == 0:
        return bone, np.zeros(bone.shape, dtype=bool)
    areas = np.bincount(labels.ravel(), minlength=n + 1) * mm_per_px**2
    small = areas <= BULGE_MAX_AREA_MM2
    small[0] = False
    # Only along the middle of a shaft: near its ends the bone widens into
    # condyles, heads and malleoli whose curved outlines are short runs too.
    reach = int(round(BULGE_SHAFT_END_MM / mm_per_px))
    shaft_rows = np.flatnonzero(support.any(axis=1))
    core_width = (bone & ~loose).sum(axis=1)
    typical = float(np.median(core_width[shaft_rows])) if shaft_rows.size else 0.0
    flaring = core_width > BULGE_MAX_WIDTH_RATIO * typical
    for i, sl in enumerate(ndi.find_objects(labels), start=1):
        if sl is None or not small[i]:
            continue
        c0, c1 = max(sl[1].start - reach, 0), sl[1].stop + reach
        above = support[max(sl[0].start - reach, 0) : sl[0].start, c0:c1].any(axis=1)
        below = support[sl[0].stop : sl[0].stop + reach, c0:c1].any(axis=1)
        near = slice(max(sl[0].start - reach, 0), sl[0].stop + reach)
        if not (shaft_rows.size and above.size == reach and below.size == reach and above.all() and below.all()
                and not flaring[near].any()):
            small[i] = False
    bulges = small[labels]
    return bone & ~bulges, bulges


def _side_lobes(bone: np.ndarray, labels: np.ndarray, long_labels: list[int], joint: np.ndarray,
                mm_per_px: float) -> np.ndarray:
    """Lobes on the side of a shaft that its edges do not explain (straight frame).

    :func:`_trim_bulges` gives back lesions shorter than a shaft's support
    runs; a long lesion beside a shaft (a fusiform mass, 40–150 mm along the
    leg, or the calcified rim around one) has runs as long as the bone's own.
    What gives it away is the shaft's outline: each edge of a tibia or fibula
    is a smooth curve along the leg, fitted robustly here, and a lobe standing
    :data:`SIDE_LOBE_MIN_DEPTH_MM` beyond it, away from the joints and the
    shaft's ends, is not bone. A knob shorter than
    :data:`SIDE_LOBE_MIN_LENGTH_MM` along the leg is left to
    :func:`_trim_bulges`: there, a condyle's or a malleolus's corner looks the same.
    """
    lobes = np.zeros(bone.shape, dtype=bool)
    joint_rows = joint.any(axis=1)
    min_length = SIDE_LOBE_MIN_LENGTH_MM / mm_per_px
    reach = int(round(BULGE_SHAFT_END_MM / mm_per_px))
    depth = SIDE_LOBE_MIN_DEPTH_MM / mm_per_px
    min_area = SIDE_LOBE_MIN_AREA_MM2 / mm_per_px**2
    cols = np.arange(bone.shape[1])
    for lab in long_labels:
        piece = (labels == lab) & bone
        rows = np.flatnonzero(piece.any(axis=1) & ~joint_rows)
        if rows.size < 3 * reach:
            continue
        inside = piece[rows]
        left = np.where(inside, cols, bone.shape[1]).min(axis=1)
        right = np.where(inside, cols, -1).max(axis=1)
        fitted = [_edge_curve(rows, edge, SHAFT_EDGE_TOLERANCE_MM / mm_per_px) for edge in (left, right)]
        # How far each pixel lies outside the fitted edges (0 within them).
        out = np.zeros(bone.shape, dtype=np.float32)
        out[rows] = np.maximum(fitted[0][:, None] - cols[None, :], cols[None, :] - fitted[1][:, None]).clip(0)
        out[rows] *= inside
        beyond = out > depth
        # The lobe reaches back to the fitted edge: to half a pixel beyond it, so that
        # the fit landing a hair either side of an exactly straight edge decides nothing.
        lobe_labels, n = ndi.label(out > 0.5)
        if n == 0:
            continue
        deep = np.zeros(n + 1, dtype=bool)
        deep[np.unique(lobe_labels[beyond])] = True
        deep[0] = False
        first, last = int(rows[0]), int(rows[-1])
        for i, sl in enumerate(ndi.find_objects(lobe_labels), start=1):
            if sl is None or not deep[i]:
                continue
            own = lobe_labels[sl] == i
            length = sl[0].stop - sl[0].start
            along_shaft = sl[0].start - first >= reach and last - sl[0].stop >= reach
            bulging = float(out[sl][own].max()) >= SIDE_LOBE_MIN_DEPTH_FRACTION * length
            if along_shaft and bulging and length >= min_length and own.sum() >= min_area:
                lobes[sl] |= own
    return lobes


def _edge_curve(rows: np.ndarray, edge: np.ndarray, tolerance_px: float) -> np.ndarray:
    """A quadratic along the rows through ``edge``, refitted without its outliers.

    The first fit takes every point. A lobe small against the shaft leaves it
    close to the shaft's edge and is then left out; a lobe as large as the
    bone itself (a condyle or a tibial plateau in a shaft the joint search
    did not stop) pulls the first fit towards it and stays in, as bone. On
    three synthetic sets a fit started from the median edge instead trimmed
    such knee bones (and one study's whole knee).
    """
    keep = np.ones(rows.size, dtype=bool)
    x = (rows - rows.mean()) / max(float(np.ptp(rows)), 1.0)
    for _ in range(4):
        coeffs = np.polyfit(x[keep], edge[keep], 2)
        residual = edge - np.polyval(coeffs, x)
        spread = 1.4826 * float(np.median(np.abs(residual[keep] - np.median(residual[keep]))))
        new = np.abs(residual) <= max(tolerance_px, 2.5 * spread)
        if new.sum() < 10 or (new == keep).all():
            break
        keep = new
    return np.polyval(coeffs, x)


def _keep_pieces(bone: np.ndarray, leg: np.ndarray, mm_per_px: float):
    """Keep bone-like pieces; describe the long bones (straight frame: axis along rows)."""
    labels, n = ndi.label(bone)
    px_area = mm_per_px * mm_per_px
    keep = np.zeros(n + 1, dtype=bool)
    long_bones, long_labels, compact = [], [], []
    for i, sl in enumerate(ndi.find_objects(labels), start=1):
        piece = labels[sl] == i
        area_mm2 = piece.sum() * px_area
        if area_mm2 < MIN_AREA_MM2:
            continue
        rr, cc = np.nonzero(piece)
        length_mm, width_mm, tilt_deg = _piece_shape(rr, cc, mm_per_px)
        angle_deg = abs(tilt_deg)
        if length_mm / max(width_mm, 1e-6) >= LONG_MIN_ELONGATION and angle_deg <= LONG_MAX_ANGLE_DEG:
            long_bones.append({"length_mm": length_mm, "width_mm": width_mm, "angle_deg": angle_deg,
                               "tilt_deg": tilt_deg})
            long_labels.append(i)
            keep[i] = True
        elif area_mm2 >= LARGE_AREA_MM2:
            compact.append(i)
    # Compact dense pieces are bone only when as large as a patella or a condyle,
    # next to a long bone and near a joint (a calcified lesion in the calf is not).
    if compact:
        near_long = grow(np.isin(labels, long_labels), max(1, int(round(COMPACT_NEAR_LONG_MM / mm_per_px))))
        first, last = _leg_rows(leg)
        reach = JOINT_REACH_MM / mm_per_px
        for i in compact:
            rows = np.nonzero(labels == i)[0]
            centre = float(rows.mean())
            at_joint = centre - first <= reach or last - centre <= reach
            keep[i] = at_joint and (not long_labels or bool(near_long[labels == i].any()))
    kept = keep[labels]
    labels = np.where(kept, labels, 0)
    return kept, long_bones, long_labels, labels


def _piece_shape(rr: np.ndarray, cc: np.ndarray, mm_per_px: float) -> tuple[float, float, float]:
    """Length and mean width (mm) of a piece from its second moments, and its signed tilt.

    The tilt (degrees) is the angle of the piece's major axis from the frame's
    row (along-leg) direction, positive towards the frame's columns.
    """
    if rr.size < 3:
        return float(mm_per_px), float(mm_per_px), 0.0
    cov = np.cov(np.stack([rr - rr.mean(), cc - cc.mean()]))
    evals, evecs = np.linalg.eigh(cov)
    major = evecs[:, 1]
    if major[0] < 0:
        major = -major
    length_mm = 4.0 * np.sqrt(max(evals[1], 0.0)) * mm_per_px
    width_mm = rr.size * mm_per_px * mm_per_px / max(length_mm, 1e-6)
    tilt_deg = float(np.degrees(np.arctan2(major[1], major[0])))
    return float(length_mm), float(width_mm), tilt_deg


def _leg_rows(leg: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero(leg.any(axis=1))
    return (int(rows[0]), int(rows[-1])) if rows.size else (0, leg.shape[0] - 1)


def _joint_zone(bone: np.ndarray, leg: np.ndarray, mm_per_px: float) -> np.ndarray:
    """Whole cross-sections at a flaring joint, and everything beyond them.

    Towards the knee and the ankle the bones flare: the width of bone across
    the leg grows well beyond that of the shafts, or fills nearly all of it.
    Lines where it exceeds :data:`JOINT_WIDTH_FACTOR` times the median, or
    :data:`JOINT_FILL_FRACTION` of the leg, in a run that starts near an end
    of the leg, are a joint: the soft tissue there is a thin rim over bone with
    complex overlapping edges, and is not analysed.
    """
    width = bone.sum(axis=1).astype(float)
    if not (width > 0).any():
        return np.zeros(leg.shape, dtype=bool)
    leg_width = leg.sum(axis=1).astype(float)
    fills = width >= JOINT_FILL_FRACTION * np.maximum(leg_width, 1)
    joint = (width >= JOINT_WIDTH_FACTOR * float(np.median(width[width > 0]))) | fills
    joint = ndi.binary_closing(joint, structure=np.ones(max(3, int(20 / mm_per_px)), bool))
    joint = ndi.binary_opening(joint, structure=np.ones(max(3, int(5 / mm_per_px)), bool))
    first, last = _leg_rows(leg)
    reach = int(round(JOINT_MAX_END_GAP_MM / mm_per_px))
    zone = np.zeros(joint.shape, dtype=bool)
    if joint[first : first + reach + 1].any():
        start = first + int(np.argmax(joint[first : first + reach + 1]))
        run = joint[start:]
        stop = start + (int(np.argmin(run)) if not run.all() else run.size)
        zone[first:stop] = True
    if joint[max(last - reach, 0) : last + 1].any():
        rev = joint[: last + 1][::-1]
        start = int(np.argmax(rev[: reach + 1]))
        run = rev[start:]
        stop = start + (int(np.argmin(run)) if not run.all() else run.size)
        zone[last + 1 - stop : last + 1] = True
    return zone[:, None] & leg


def _beyond_shafts(labels: np.ndarray, long_labels: list[int], leg: np.ndarray, mm_per_px: float) -> np.ndarray:
    """Whole cross-sections beyond the end of a long bone that stops inside the leg.

    A tibia or fibula (at least :data:`SHAFT_MIN_SPAN` of the leg long) that
    ends short of the end of the leg in the image ends at a joint: the rows
    from there to that end of the leg (at most :data:`JOINT_MAX_SPAN` of the
    leg) are the joint.
    """
    first, last = _leg_rows(leg)
    span = max(last - first + 1, 1)
    end_gap = int(round(JOINT_END_SECTION_MM / mm_per_px))
    rows_out = np.zeros(leg.shape[0], dtype=bool)
    for lab in long_labels:
        rr = np.nonzero(labels == lab)[0]
        top, bottom = int(rr.min()), int(rr.max())
        if (bottom - top + 1) < SHAFT_MIN_SPAN * span:
            continue
        if end_gap < top - first <= JOINT_MAX_SPAN * span:
            rows_out[first:top] = True
        if end_gap < last - bottom <= JOINT_MAX_SPAN * span:
            rows_out[bottom + 1 : last + 1] = True
    return rows_out[:, None] & leg


def _joint_territory(labels: np.ndarray, long_labels: list[int], leg: np.ndarray, mm_per_px: float) -> np.ndarray:
    """Where a long bone stops inside the leg, the leg beyond it (in the bone's column) is a joint.

    A tibia or fibula that ends short of the end of the leg in the image
    continues as an epiphysis and joint bones (malleoli, talus, condyles) whose
    density the seeds can miss.
    """
    first, last = _leg_rows(leg)
    end_len = int(round(JOINT_END_SECTION_MM / mm_per_px))
    widen = int(round(JOINT_WIDEN_MM / mm_per_px))
    out = np.zeros(leg.shape, dtype=bool)
    for lab in long_labels:
        rr, cc = np.nonzero(labels == lab)
        top, bottom = int(rr.min()), int(rr.max())
        if top - first > end_len:
            cols = cc[rr <= top + end_len]
            out[first:top, max(cols.min() - widen, 0) : cols.max() + widen + 1] = True
        if last - bottom > end_len:
            cols = cc[rr >= bottom - end_len]
            out[bottom + 1 : last + 1, max(cols.min() - widen, 0) : cols.max() + widen + 1] = True
    return out & leg


def _close(mask: np.ndarray, structure: np.ndarray) -> np.ndarray:
    """Binary closing by a line (a 1×n or n×1 ``structure``) that does not erode from the border."""
    axis = 1 if structure.shape[0] == 1 else 0
    size = max(structure.shape)
    grown = ndi.maximum_filter1d(mask.view(np.uint8), size, axis=axis, mode="constant", cval=0)
    return ndi.minimum_filter1d(grown, size, axis=axis, mode="constant", cval=1).astype(bool)
