"""Anatomy and exclusions on a ≈1 mm grid: field, leg outline, bone, markers.

Everything that must never be called a calcification is found here first:
collimation borders (unexposed bands, flat and bright in the dense-bright
convention), lead markers and burned-in text (dense compact objects in the air
or at the skin edge), and bone (tibia, fibula, knee and ankle bones).

All functions take a *segmentation grid* image: the stored image block-averaged
to about 1 mm per pixel and scaled so that air is near 0 and the densest
exposed structure near 1 (see :func:`normalise`). Lengths are given in mm and
converted with the grid's ``mm_per_px``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu

from .bone import find_bone
from .legframe import straight_frame
from .morph import fill_holes, grow, shrink

#: A collimation band is a run of edge lines whose 10th percentile is at least
#: this fraction of the way from the darkest to the brightest pixel.
COLLIMATION_MIN_LEVEL = 0.35
#: ... and whose 10th percentile falls by this fraction of the range into the field.
COLLIMATION_MIN_FALL = 0.3
#: The band continues inwards while the line median still falls by this fraction per mm.
COLLIMATION_EDGE_SLOPE_PER_MM = 0.02
#: The shutter edge is looked for this far either side of the band's common depth.
COLLIMATION_EDGE_SEARCH_MM = 10.0
#: Extra safety margin inside the field next to a collimation band.
COLLIMATION_MARGIN_MM = 3.0
#: A band is at most this fraction of the image across.
COLLIMATION_MAX_FRACTION = 0.45

#: The leg threshold sits this fraction of the way from air to the Otsu split.
LEG_THRESHOLD_BLEND = 0.5
#: Components smaller than this fraction of the largest leg component are dropped.
LEG_MIN_COMPONENT_FRACTION = 0.4
#: Morphological clean-up radius of the leg mask.
LEG_SMOOTHING_MM = 2.0

#: Bone segmentation is redone when the long bones tilt this far from the outline's axis.
AXIS_REFIT_DEG = 6.0

#: Markers: dense objects at least this fraction of the way from tissue to the densest pixel.
MARKER_MIN_LEVEL = 0.5
#: A marker or text object is smaller than this.
MARKER_MAX_AREA_MM2 = 2500.0
#: ... and no longer than this in any direction.
MARKER_MAX_EXTENT_MM = 60.0
#: Exclusion margin around markers.
MARKER_MARGIN_MM = 3.0


@dataclass
class Segmentation:
    """What the segmentation grid shows, all masks on that grid.

    Attributes
    ----------
    factor : int
        Stored pixels per segmentation-grid pixel (block size).
    mm_per_px : float
        Grid spacing in mm (measured, or estimated from anatomy when the file has none).
    image : ndarray of float32
        The normalised grid image (air ≈ 0, densest exposed ≈ 1).
    field : ndarray of bool
        Exposed field (inside the collimation).
    collimated_sides : list of str
        Sides with an unexposed band: ``"top"``, ``"bottom"``, ``"left"``, ``"right"``.
    leg : ndarray of bool
        Soft-tissue outline of the leg (holes filled), markers removed.
    bone : ndarray of bool
        Bone (tibia, fibula, joint bones), gaps between bone pieces filled.
    busy : ndarray of bool
        Large regions of trabecular texture (bone ends at the joints).
    joint : ndarray of bool
        Whole cross-sections of the leg at the knee and ankle joints (where the
        bones flare), inside the leg.
    bone_components : int
        Number of separate bone pieces.
    long_bones : list of dict
        Long-bone pieces: ``length_mm``, ``width_mm``, ``angle_deg`` (to the leg axis).
    markers : ndarray of bool
        Markers and burned-in text, with their exclusion margin.
    marker_count : int
    air_level, tissue_level, bone_level : float
        Typical normalised values of air, soft tissue and bone.
    axis_angle : float
        Orientation of the leg's long axis, radians from the row (down) direction
        towards the column (right) direction.
    leg_width_px : float
        Median width of the leg across its axis, in grid pixels.
    leg_length_px : float
        Length of the leg along its axis in the image, in grid pixels.
    """

    factor: int
    mm_per_px: float
    image: np.ndarray
    field: np.ndarray
    collimated_sides: list[str]
    leg: np.ndarray
    bone: np.ndarray
    busy: np.ndarray
    joint: np.ndarray
    bone_components: int
    long_bones: list[dict]
    markers: np.ndarray
    marker_count: int
    air_level: float
    tissue_level: float
    bone_level: float
    axis_angle: float
    leg_width_px: float
    leg_length_px: float = 0.0


# --- intensity ----------------------------------------------------------------


def normalise(grid: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Scale a grid image so its 0.1th percentile is 0 and its 99.9th is 1.

    Returns the scaled image (float32) and the two reference values, so the
    same scaling can be applied to finer grids.
    """
    lo, hi = np.percentile(grid, [0.1, 99.9])
    span = float(hi - lo)
    if not np.isfinite(span) or span <= 0:
        return np.zeros_like(grid, dtype=np.float32), float(lo), float(lo)
    return ((grid - lo) / span).astype(np.float32), float(lo), float(hi)


# --- collimation ----------------------------------------------------------------


def _side_lines(image: np.ndarray, side: str) -> np.ndarray:
    """Lines parallel to ``side``, ordered from that edge inwards (one per row of the result)."""
    if side == "top":
        return image
    if side == "bottom":
        return image[::-1]
    if side == "left":
        return image.T
    return image.T[::-1]


def _band_depths(lines: np.ndarray, lo: float, hi: float, mm_per_px: float) -> np.ndarray | None:
    """Depth (in lines) of a flat bright band at the start of ``lines``, per position along it.

    ``lines[k]`` is the k-th line in from the edge. Returns ``None`` when the
    edge has no band. The band is the run of lines that are bright and flat
    along their length; it then goes on, position by position, while the
    intensity is still falling steeply (the penumbra), and gets a safety margin.
    """
    span = hi - lo
    # Only the outer part of the image can be a band (and the fall after it).
    max_depth = int(COLLIMATION_MAX_FRACTION * len(lines))
    lines = lines[: max_depth + 2]
    p10 = np.percentile(lines, 10, axis=1)
    # Unexposed bands need not be white (glare from the field lightens them) nor
    # perfectly even, but they are well above air all along the edge.
    bright = p10 >= lo + COLLIMATION_MIN_LEVEL * span
    if not bright[0]:
        return None
    depth = int(np.argmin(bright)) if not bright.all() else len(bright)
    if depth > max_depth:
        return None
    # An unexposed band ends in a clear fall into the exposed field (air or
    # thinner tissue); a leg that merely fills the image to its edge does not.
    window = max(1, int(round(COLLIMATION_EDGE_SEARCH_MM / mm_per_px)))
    after = p10[depth : min(depth + 2 * window, len(p10))]
    if after.size == 0 or float(np.median(p10[:depth])) - float(after.min()) < COLLIMATION_MIN_FALL * span:
        return None
    step = COLLIMATION_EDGE_SLOPE_PER_MM * span * mm_per_px
    # Per position the shutter edge is the steepest fall within a few mm of
    # the band's common depth (a slightly tilted shutter, a graded penumbra);
    # from there the band goes on while the intensity still falls steeply.
    k0 = max(depth - window, 1)
    k1 = min(depth + window, max_depth - 1)
    if k1 <= k0:
        extra = np.zeros(lines.shape[1], dtype=int)
    else:
        drop = lines[k0 - 1 : k1 + 1] - lines[k0 : k1 + 2]  # drop[i] = fall into line k0 + i
        edge = np.argmax(drop[: k1 - k0 + 1], axis=0)
        steep = drop > step
        # The first line past each position's edge that does not fall steeply
        # (or the end of the drops) is where its band stops.
        stops = ~steep & (np.arange(steep.shape[0])[:, None] > edge[None, :])
        stops = np.vstack([stops, np.ones((1, steep.shape[1]), dtype=bool)])
        k = np.argmax(stops, axis=0) - 1
        extra = np.maximum(k0 + k + 1 - depth, 0)
    # Shutter edges are straight: a running maximum over ~15 mm removes the
    # noise of the per-position estimate without cutting into the penumbra.
    extra = ndi.maximum_filter1d(ndi.median_filter(extra, size=max(3, int(15 / mm_per_px) | 1)),
                                 size=max(3, int(5 / mm_per_px) | 1))
    margin = int(np.ceil(COLLIMATION_MARGIN_MM / mm_per_px))
    return depth + extra + margin


def find_collimation(image: np.ndarray, mm_per_px: float) -> tuple[np.ndarray, list[str]]:
    """Find unexposed bands along the image edges.

    Parameters
    ----------
    image : ndarray
        Normalised segmentation-grid image (dense = bright).
    mm_per_px : float
        Grid spacing.

    Returns
    -------
    field : ndarray of bool
        True inside the exposed field.
    sides : list of str
        The sides that have a band.
    """
    lo, hi = np.percentile(image, [1, 99.9])
    field_mask = np.ones(image.shape, dtype=bool)
    sides = []
    if hi - lo <= 0:
        return field_mask, sides
    for side in ("top", "bottom", "left", "right"):
        lines = _side_lines(image, side)
        depths = _band_depths(lines, lo, hi, mm_per_px)
        if depths is None:
            continue
        sides.append(side)
        view = _side_lines(field_mask, side)
        view[np.arange(view.shape[0])[:, None] < depths[None, :]] = False
    return field_mask, sides


# --- leg ------------------------------------------------------------------------


def find_leg(image: np.ndarray, field_mask: np.ndarray, mm_per_px: float) -> tuple[np.ndarray, float, float]:
    """Soft-tissue outline of the leg inside the exposed field.

    The split between air and body is Otsu's threshold over the field, moved
    half-way towards the air level so the thin tissue at the skin is kept.
    Components smaller than 40 % of the largest are dropped (debris, markers);
    holes are filled.

    Returns
    -------
    leg : ndarray of bool
    air_level : float
        Median of the field outside the leg (0 if there is no air).
    threshold : float
        The air/tissue threshold used.
    """
    values = image[field_mask]
    if values.size < 16 or np.ptp(values) <= 0:
        return np.zeros(image.shape, dtype=bool), 0.0, 0.0
    split = float(threshold_otsu(values))
    air_values = values[values < split]
    air_level = float(np.median(air_values)) if air_values.size else float(values.min())
    threshold = air_level + LEG_THRESHOLD_BLEND * (split - air_level)
    leg = (image > threshold) & field_mask
    radius = LEG_SMOOTHING_MM / mm_per_px
    r = max(1, int(round(radius)))
    leg = grow(shrink(leg, r), r)
    leg = _keep_large_components(leg, LEG_MIN_COMPONENT_FRACTION)
    leg = fill_holes(leg)
    outside = image[field_mask & ~leg]
    air_level = float(np.median(outside)) if outside.size else air_level
    return leg, air_level, threshold


def _keep_large_components(mask: np.ndarray, min_fraction: float) -> np.ndarray:
    labels, n = ndi.label(mask)
    if n == 0:
        return mask
    sizes = np.bincount(labels.ravel())[1:]
    keep = np.flatnonzero(sizes >= min_fraction * sizes.max()) + 1
    return np.isin(labels, keep)


def principal_axis(mask: np.ndarray) -> tuple[float, float, float]:
    """Orientation and extents of a mask from its second moments.

    Returns
    -------
    angle : float
        Radians of the major axis from the row direction towards the column direction,
        in (-pi/2, pi/2].
    major, minor : float
        Full lengths (px) of the equivalent ellipse's axes.
    """
    rr, cc = np.nonzero(mask)
    if rr.size < 3:
        return 0.0, 0.0, 0.0
    r = rr - rr.mean()
    c = cc - cc.mean()
    cov = np.cov(np.stack([r, c]))
    evals, evecs = np.linalg.eigh(cov)
    major_vec = evecs[:, 1]
    angle = float(np.arctan2(major_vec[1], major_vec[0]))
    if angle <= -np.pi / 2:
        angle += np.pi
    elif angle > np.pi / 2:
        angle -= np.pi
    major = 4.0 * np.sqrt(max(evals[1], 0.0))
    minor = 4.0 * np.sqrt(max(evals[0], 0.0))
    return angle, float(major), float(minor)


def edge_axis(image: np.ndarray, leg: np.ndarray, mm_per_px: float) -> float:
    """Orientation of the leg's long axis from the direction of its edges.

    The cortices of the tibia and fibula run along the leg, so the dominant
    orientation of the strong edges inside the leg (the structure tensor of
    the gradient, skin line left out) gives the axis; a bulging calf, a foot
    or a knee at one end skews the outline's moments much more.
    Falls back to the outline's moments when the edges have no clear direction.

    Returns
    -------
    float
        Radians from the row direction towards the column direction, in (-pi/2, pi/2].
    """
    smooth = ndi.gaussian_filter(image, 1.0 / mm_per_px)
    gr = ndi.sobel(smooth, axis=0)
    gc = ndi.sobel(smooth, axis=1)
    # Inside the leg, away from the skin line: the cortices are straighter than the outline.
    inside = shrink(leg, max(1, int(round(5.0 / mm_per_px))))
    if inside.sum() < 50:
        inside = leg
    w = np.hypot(gr, gc) * inside
    jrr, jcc, jrc = float((w * gr * gr).sum()), float((w * gc * gc).sum()), float((w * gr * gc).sum())
    evals, evecs = np.linalg.eigh(np.array([[jrr, jrc], [jrc, jcc]]))
    if evals[1] <= 0 or evals[0] / evals[1] > 0.7:
        return principal_axis(leg)[0]
    gradient_dir = evecs[:, 1]
    angle = float(np.arctan2(gradient_dir[1], gradient_dir[0])) + np.pi / 2  # edges run across the gradient
    while angle <= -np.pi / 2:
        angle += np.pi
    while angle > np.pi / 2:
        angle -= np.pi
    return angle


# --- markers --------------------------------------------------------------------


def find_markers(
    image: np.ndarray,
    field_mask: np.ndarray,
    leg: np.ndarray,
    threshold: float,
    tissue_level: float,
    mm_per_px: float,
) -> tuple[np.ndarray, int]:
    """Lead markers and burned-in text: dense compact objects outside the leg.

    A marker is a connected object above the air/tissue ``threshold`` that is
    not part of the leg, or one that is far denser than soft tissue and
    straddles the skin line. Objects larger than
    :data:`MARKER_MAX_AREA_MM2` are not markers.

    Returns
    -------
    markers : ndarray of bool
        The objects, grown by :data:`MARKER_MARGIN_MM`.
    count : int
    """
    px_area = mm_per_px * mm_per_px
    dense_level = tissue_level + MARKER_MIN_LEVEL * (1.0 - tissue_level)
    labels, n = ndi.label((image > threshold) & field_mask)
    keep = np.zeros(n + 1, dtype=bool)
    if n:
        area = np.bincount(labels.ravel(), minlength=n + 1) * px_area
        in_leg = np.bincount(labels.ravel(), weights=leg.ravel(), minlength=n + 1) * px_area
        extent = np.concatenate([[0.0], _extents_mm(labels, n, mm_per_px)])
        keep = (area <= MARKER_MAX_AREA_MM2) & (extent <= MARKER_MAX_EXTENT_MM) & (in_leg <= 0.5 * area)
        keep[0] = False
    marker = keep[labels]
    count = int(keep.sum())
    # Dense objects straddling the skin line (markers taped to the skin).
    outer = ~shrink(leg, max(1, int(round(3.0 / mm_per_px))))
    dense_labels, n_dense = ndi.label((image > dense_level) & field_mask & outer)
    if n_dense:
        d_area = np.bincount(dense_labels.ravel(), minlength=n_dense + 1) * px_area
        d_out = np.bincount(dense_labels.ravel(), weights=(~leg).ravel(), minlength=n_dense + 1) * px_area
        d_extent = np.concatenate([[0.0], _extents_mm(dense_labels, n_dense, mm_per_px)])
        straddling = (d_area <= MARKER_MAX_AREA_MM2) & (d_extent <= MARKER_MAX_EXTENT_MM) & (d_out > 0.2 * d_area)
        straddling[0] = False
        new_objects = np.setdiff1d(np.flatnonzero(straddling), np.unique(dense_labels[marker]))
        count += int(new_objects.size)
        marker |= straddling[dense_labels]
    if count:
        marker = grow(marker, max(1, int(round(MARKER_MARGIN_MM / mm_per_px))))
    return marker, count


def _extents_mm(labels: np.ndarray, n: int, mm_per_px: float) -> np.ndarray:
    """Largest bounding-box side (mm) of each labelled object."""
    out = np.zeros(n)
    for i, sl in enumerate(ndi.find_objects(labels)):
        if sl is not None:
            out[i] = max(sl[0].stop - sl[0].start, sl[1].stop - sl[1].start) * mm_per_px
    return out


# --- bone -----------------------------------------------------------------------


# --- all together ---------------------------------------------------------------


def segment(image: np.ndarray, factor: int, mm_per_px: float) -> Segmentation:
    """Segment a normalised segmentation-grid image.

    Parameters
    ----------
    image : ndarray of float32
        Normalised grid image (see :func:`normalise`), dense = bright.
    factor : int
        Stored pixels per grid pixel (kept in the result for coordinate mapping).
    mm_per_px : float
        Grid spacing in mm (measured or provisional).

    Returns
    -------
    Segmentation
    """
    field_mask, sides = find_collimation(image, mm_per_px)
    leg, air_level, threshold = find_leg(image, field_mask, mm_per_px)
    tissue_level = float(np.median(image[leg])) if leg.any() else 0.0
    markers, marker_count = find_markers(image, field_mask, leg, threshold, tissue_level, mm_per_px)
    if marker_count:
        leg = leg & ~markers
        leg = _keep_large_components(leg, LEG_MIN_COMPONENT_FRACTION)
    axis_angle = edge_axis(image, leg, mm_per_px)
    bone, long_bones, pieces, busy, joint = find_bone(image, leg, axis_angle, air_level, mm_per_px)
    if long_bones:
        # The long bones give the leg axis more reliably than the outline (a foot
        # or a knee at one end skews the outline's moments).
        weights = np.array([b["length_mm"] for b in long_bones])
        tilt = float(np.radians(np.average([b["tilt_deg"] for b in long_bones], weights=weights)))
        axis_angle += tilt
        if abs(tilt) > np.radians(AXIS_REFIT_DEG):
            bone, long_bones, pieces, busy, joint = find_bone(image, leg, axis_angle, air_level, mm_per_px)
    soft = leg & ~bone
    tissue_level = float(np.median(image[soft])) if soft.any() else tissue_level
    bone_level = float(np.median(image[bone])) if bone.any() else tissue_level
    leg_straight = straight_frame(leg, axis_angle).sample_mask(leg)
    widths = leg_straight.sum(axis=1)
    widths = widths[widths > 0]
    leg_width = float(np.median(widths)) if widths.size else 0.0
    return Segmentation(
        factor=factor,
        mm_per_px=mm_per_px,
        image=image,
        field=field_mask,
        collimated_sides=sides,
        leg=leg,
        bone=bone,
        busy=busy,
        joint=joint,
        bone_components=pieces,
        long_bones=long_bones,
        markers=markers,
        marker_count=marker_count,
        air_level=air_level,
        tissue_level=tissue_level,
        bone_level=bone_level,
        axis_angle=axis_angle,
        leg_width_px=leg_width,
        leg_length_px=float(widths.size),
    )
