"""Soft-tissue masses: larger regions of soft-tissue density above their surroundings.

Work is on a ≈3 mm grid, in the straightened leg (:mod:`.legframe`) with
every line across the leg resampled to the same number of bins from skin to
skin (*normalised across-position*). Along the leg the density at a given
normalised position changes slowly (the calf tapers, muscles thin out), while
a mass is a localised bump 15–150 mm long. So the expected density at each
place is a robust local linear trend along the leg at the same position,
fitted separately over soft tissue and over the interior of the bone shafts
(a mass often projects over the tibia); bone edges, joints, calcifications,
markers and borders are left out. The excess over it, smoothed at the mass
scale, is a mass where it stands out against its own noise.

Two uses: :func:`mass_around` (the mass a calcification sits in, the basis
of the central / eccentric / peripheral-plaque distinction) and
:func:`find_masses` (masses on their own, with stricter shape and contrast
criteria; switched off in :mod:`.analyze` because on generated studies it
was not specific enough).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage as ndi

from .grids import block_mean
from .legframe import straight_frame
from .segment import Segmentation
from .morph import fill_holes, grow, shrink

#: Grid (mm) on which masses are looked for.
MASS_GRID_MM = 3.0
#: Bins from skin to skin on each line across the leg.
ACROSS_BINS = 48
#: Length (mm, Gaussian sigma) of the running average along the leg that gives
#: the expected soft tissue.
BACKGROUND_ALONG_MM = 35.0
#: Smoothing of the excess map at the mass scale (Gaussian sigma, mm along the leg).
SMOOTHING_ALONG_MM = 4.0
#: ... and across it, in bins.
SMOOTHING_ACROSS_BINS = 1.5
#: Mass size range (equivalent diameter, mm).
MASS_DIAMETER_MM = (15.0, 150.0)
#: A mass found on its own is a rounded swelling: at least this wide (mm) ...
MIN_MASS_WIDTH_MM = 22.0
#: ... and at most this many times longer than wide (thin streaks are bone and fascia edges) ...
MAX_MASS_ASPECT = 2.2
#: ... peaking this many noise sigmas above its surroundings ...
MIN_MASS_SNR = 6.0
#: No mass is accepted this close (mm along the leg) to an end of the leg in
#: the image, where the knee or ankle flares (the reference cannot follow).
MIN_FROM_LEG_END_MM = 55.0
#: ... and by at least this fraction of the soft-tissue contrast.
MIN_MASS_CONTRAST = 0.01
#: A soft-tissue mass adds at most this fraction of the tissue contrast (more is bone or artefact).
MAX_MASS_CONTRAST = 0.6
#: Around a calcification, soft tissue raised by this many noise sigmas ...
LOCAL_MASS_SNR = 3.5
#: ... reaching within this distance of it ...
LOCAL_MASS_REACH_MM = 4.0
#: ... within this distance (mm) of the calcification's outline ...
MASS_AROUND_REACH_MM = 100.0
#: ... is its mass when this many times wider than the calcification.
LOCAL_MASS_MIN_RATIO = 2.0
#: A mass around a calcification may be longer (fusiform, up to this aspect
#: ratio) but not narrower (mm) than one found on its own.
LOCAL_MASS_MAX_ASPECT = 3.0
LOCAL_MASS_MIN_WIDTH_MM = 15.0
#: ... and must peak this many noise sigmas above its surroundings.
LOCAL_MASS_MIN_SNR = 4.5
#: No mass starts within this distance of the image or field border.
BORDER_MM = 5.0
#: The outline of a mass is where the excess falls to this fraction of its peak.
MASS_OUTLINE_LEVEL = 0.4
#: Band (mm) either side of a bone edge left out: the edge is not a density level.
BONE_EDGE_MARGIN_MM = 2.5
#: Cross-sections this close (mm, along the leg) to a joint are left out.
JOINT_MARGIN_MM = 15.0
#: Margin (mm) around calcifications left out of the reference.
CALCIFICATION_MARGIN_MM = 3.0


@dataclass
class MassRegion:
    """A soft-tissue mass on the segmentation grid."""

    mask: np.ndarray  # bool, segmentation grid
    centroid: tuple[float, float]  # grid px
    semi_axes_px: tuple[float, float]  # major, minor semi-axes of the equivalent ellipse
    orientation: float  # radians from rows towards columns, of the major axis
    peak_contrast: float  # fraction of tissue contrast
    snr: float
    confidence: float


def _normalised_gaussian(values: np.ndarray, weights: np.ndarray, sigma: tuple[float, float]) -> np.ndarray:
    num = ndi.gaussian_filter(values * weights, sigma, mode="nearest")
    den = ndi.gaussian_filter(weights, sigma, mode="nearest")
    return num / np.maximum(den, 1e-6)


def _to_bins(straight: np.ndarray, first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Resample each row between ``first`` and ``last`` to ACROSS_BINS samples (row-wise linear)."""
    rows = np.arange(straight.shape[0])
    t = (np.arange(ACROSS_BINS, dtype=np.float32) + 0.5) / ACROSS_BINS
    cols = first[:, None] + t[None, :] * (last - first + 1)[:, None] - 0.5
    cols = np.clip(cols, 0, straight.shape[1] - 1)
    c0 = np.floor(cols).astype(np.intp)
    c1 = np.minimum(c0 + 1, straight.shape[1] - 1)
    w = (cols - c0).astype(np.float32)
    out = straight[rows[:, None], c0] * (1 - w) + straight[rows[:, None], c1] * w
    return out.astype(np.float32), cols


@dataclass
class ExcessMap:
    """Soft-tissue density excess on the segmentation grid, in tissue-contrast units."""

    values: np.ndarray  # float32, 0 where not usable
    usable: np.ndarray  # bool: soft tissue the map was measured on
    sigma: float  # robust noise of ``values`` over the usable soft tissue
    border: np.ndarray  # bool: the image and field border band, where no mass starts
    calcified: np.ndarray  # bool: calcifications with their margin (no excess measured there)


def soft_tissue_excess(seg: Segmentation, calcified: np.ndarray) -> ExcessMap | None:
    """Excess density over what the leg shows elsewhere at the same across-position.

    Soft tissue and the interior of the bone shafts are compared each with its
    own kind (a mass often projects over the tibia in the AP view); the bands
    along bone edges, the joints' trabecular bone, calcifications, markers and
    borders are left out.

    Parameters
    ----------
    seg : Segmentation
    calcified : ndarray of bool
        Segmentation-grid pixels covered by detected calcification (left out).

    Returns
    -------
    ExcessMap or None
        None when the leg is too short or has too little soft tissue to tell.
    """
    if not seg.leg.any():
        return None
    fine_shape = seg.image.shape
    calcified_fine = grow(calcified, max(1, int(round(CALCIFICATION_MARGIN_MM / seg.mm_per_px))))
    step = max(1, int(round(MASS_GRID_MM / seg.mm_per_px)))
    if step > 1:
        # Masses are 15 mm or more: a ≈2 mm grid is plenty and four times cheaper.
        seg, calcified = _coarser(seg, step), block_mean(calcified.astype(np.float32), step) > 0
    mm = seg.mm_per_px
    contrast = max(seg.tissue_level - seg.air_level, 1e-6)
    frame = straight_frame(seg.leg, seg.axis_angle)
    img = frame.sample(seg.image, order=1, cval=seg.air_level)
    leg = frame.sample_mask(seg.leg)
    edge = max(1, int(round(BONE_EDGE_MARGIN_MM / mm)))
    excluded = grow(calcified, max(1, int(round(CALCIFICATION_MARGIN_MM / mm))))
    excluded |= seg.markers | ~seg.field
    excluded = frame.sample_mask(excluded)
    bone = frame.sample_mask(seg.bone)
    soft = leg & ~grow(bone, edge) & ~excluded
    soft = ndi.binary_erosion(soft, structure=np.ones((1, 3), bool))  # off the skin line
    # Only along the shafts: across a joint (condyles, patella, malleoli,
    # talus) bone and soft tissue change too fast along the leg for a reference.
    joint_rows = frame.sample_mask(seg.joint).any(axis=1)
    joint_rows = ndi.maximum_filter1d(joint_rows.astype(np.uint8), 2 * int(round(JOINT_MARGIN_MM / mm)) + 1) > 0
    interior = leg & shrink(bone, edge) & ~excluded & ~joint_rows[:, None]
    soft &= ~joint_rows[:, None]  # the soft tissue flares round a joint as fast as the bone
    rows = np.flatnonzero(leg.any(axis=1))
    if rows.size < int(2 * MASS_DIAMETER_MM[0] / mm) or soft.sum() + interior.sum() < 200:
        return None
    first = np.where(leg.any(axis=1), np.argmax(leg, axis=1), 0)
    last = np.where(leg.any(axis=1), leg.shape[1] - 1 - np.argmax(leg[:, ::-1], axis=1), 0)
    binned, _ = _to_bins(img, first, last)
    along = leg.any(axis=1)[:, None]
    excess = np.zeros(binned.shape, dtype=np.float32)
    weight = np.zeros(binned.shape, dtype=np.float32)
    for kind in (soft, interior):
        w, _ = _to_bins(kind.astype(np.float32), first, last)
        w = ((w > 0.99) & along).astype(np.float32)
        if w.sum() < 20:
            continue
        excess += w * (binned - _robust_along(binned, w, BACKGROUND_ALONG_MM / mm)) / contrast
        weight += w
    smooth = _normalised_gaussian(excess, weight, (SMOOTHING_ALONG_MM / mm, SMOOTHING_ACROSS_BINS)) * weight
    values = smooth[weight > 0]
    if values.size < 100:
        return None
    sigma = max(1.4826 * float(np.median(np.abs(values - np.median(values)))), 1e-4)
    grid_values = _bins_to_grid(smooth, first, last, frame, seg.image.shape)
    grid_usable = _bins_to_grid(weight > 0, first, last, frame, seg.image.shape) & seg.leg
    border = _border_band(seg)
    if step > 1:
        grid_values, grid_usable, border = (_finer(a, step, fine_shape) for a in (grid_values, grid_usable, border))
    return ExcessMap(grid_values.astype(np.float32) * grid_usable, grid_usable, sigma, border, calcified_fine)


def _coarser(seg: Segmentation, step: int) -> Segmentation:
    """The segmentation on a grid ``step`` times coarser (masks: majority of each block)."""
    def mask(m):
        return block_mean(m.astype(np.float32), step) > 0.5

    return replace(seg, factor=seg.factor * step, mm_per_px=seg.mm_per_px * step,
                   image=block_mean(seg.image, step), field=mask(seg.field), leg=mask(seg.leg),
                   bone=block_mean(seg.bone.astype(np.float32), step) > 0, busy=mask(seg.busy),
                   joint=block_mean(seg.joint.astype(np.float32), step) > 0,
                   markers=block_mean(seg.markers.astype(np.float32), step) > 0)


def _finer(values: np.ndarray, step: int, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour expansion back to the finer grid of ``shape``."""
    big = np.repeat(np.repeat(values, step, axis=0), step, axis=1)
    out = np.zeros(shape, dtype=values.dtype)
    h, w = min(shape[0], big.shape[0]), min(shape[1], big.shape[1])
    out[:h, :w] = big[:h, :w]
    return out


def find_masses(excess: ExcessMap | None, seg: Segmentation) -> list[MassRegion]:
    """Masses that stand out on their own (no calcification needed to find them).

    Returns
    -------
    list of MassRegion
        Strongest first.
    """
    if excess is None:
        return []
    mm = seg.mm_per_px
    peak_level = max(MIN_MASS_SNR * excess.sigma, MIN_MASS_CONTRAST)
    labels, n = ndi.label(excess.values > 0.5 * peak_level)
    if n == 0:
        return []
    peaks = ndi.maximum(excess.values, labels, np.arange(1, n + 1))
    on_border = np.bincount(labels[excess.border], minlength=n + 1)[1:] > 0
    sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:] * mm * mm
    smallest = np.pi * (MASS_DIAMETER_MM[0] / 2) ** 2
    out = []
    for i, sl in enumerate(ndi.find_objects(labels), start=1):
        peak = float(peaks[i - 1])
        if sl is None or on_border[i - 1] or sizes[i - 1] < smallest or not peak_level <= peak <= MAX_MASS_CONTRAST:
            continue
        # Work in the component's box (plus a margin for the calcifications it touches).
        pad = max(2, int(round(CALCIFICATION_MARGIN_MM / mm)) + 2)
        box = (slice(max(sl[0].start - pad, 0), sl[0].stop + pad), slice(max(sl[1].start - pad, 0), sl[1].stop + pad))
        region = labels[box] == i
        part = _with_calcifications(region & (excess.values[box] >= MASS_OUTLINE_LEVEL * peak), excess.calcified[box])
        eq_d = 2 * np.sqrt(float(part.sum()) * mm * mm / np.pi)
        if not MASS_DIAMETER_MM[0] <= eq_d <= MASS_DIAMETER_MM[1]:
            continue
        outline = np.zeros(labels.shape, dtype=bool)
        outline[box] = part
        found = _describe(outline, peak, peak / excess.sigma)
        major, minor = (2 * s * mm for s in found.semi_axes_px)
        if (minor >= MIN_MASS_WIDTH_MM and major <= MAX_MASS_ASPECT * minor
                and _from_leg_ends_mm(seg, found.centroid) >= MIN_FROM_LEG_END_MM):
            out.append(found)
    out.sort(key=lambda m: -m.snr)
    return out


def _with_calcifications(outline: np.ndarray, calcified: np.ndarray) -> np.ndarray:
    """The outline with the calcifications it touches (left out of the excess map) filled in."""
    touching = calcified & grow(outline, 1)
    if touching.any():
        labels, _ = ndi.label(calcified)
        ids = np.unique(labels[touching])
        outline = outline | np.isin(labels, ids[ids > 0])
    return fill_holes(outline)


def mass_around(excess: ExcessMap | None, seg: Segmentation, lesion: np.ndarray) -> MassRegion | None:
    """The soft-tissue mass a calcification sits in, if there is one.

    Knowing where to look allows a lower threshold than :func:`find_masses`:
    the raised soft tissue (above :data:`LOCAL_MASS_SNR` noise sigmas) that
    touches the calcification, together with the calcification itself, is the
    mass when it is clearly larger than the calcification.

    Parameters
    ----------
    excess : ExcessMap or None
    seg : Segmentation
    lesion : ndarray of bool
        The calcified cluster on the segmentation grid.
    """
    if excess is None or not lesion.any():
        return None
    mm = seg.mm_per_px
    # Only a window around the calcification can hold its mass.
    rows, cols = np.nonzero(lesion)
    half = int(np.ceil(MASS_AROUND_REACH_MM / mm))
    r0, r1 = max(rows.min() - half, 0), min(rows.max() + half + 1, lesion.shape[0])
    c0, c1 = max(cols.min() - half, 0), min(cols.max() + half + 1, lesion.shape[1])
    window = (slice(r0, r1), slice(c0, c1))
    near = lesion[window]
    # The margin left out around the calcification belongs with it.
    near = near | (excess.calcified[window] & grow(near, max(1, int(round(CALCIFICATION_MARGIN_MM / mm))) + 1))
    raised = excess.values[window] > max(LOCAL_MASS_SNR * excess.sigma, MIN_MASS_CONTRAST * 0.5)
    reach = grow(near, max(1, int(round(LOCAL_MASS_REACH_MM / mm))))
    labels, n = ndi.label(raised | near)
    touching = np.unique(labels[reach & (raised | near)])
    touching = touching[touching > 0]
    if touching.size == 0:
        return None
    part = fill_holes(np.isin(labels, touching) | near)
    border = excess.border[window]
    if (part & border).any() and part.sum() > 4 * near.sum():
        part &= ~border
    region = np.zeros(lesion.shape, dtype=bool)
    region[window] = part
    area = float(region.sum()) * mm * mm
    eq_d = 2 * np.sqrt(area / np.pi)
    lesion_d = 2 * np.sqrt(float(lesion.sum()) * mm * mm / np.pi)
    if not MASS_DIAMETER_MM[0] * 0.8 <= eq_d <= MASS_DIAMETER_MM[1] or eq_d < LOCAL_MASS_MIN_RATIO * lesion_d:
        return None
    values = excess.values[region & ~lesion & excess.usable]
    if values.size == 0:
        return None
    peak = float(np.percentile(values, 90))
    if not LOCAL_MASS_MIN_SNR * excess.sigma <= peak <= MAX_MASS_CONTRAST:
        return None
    found = _describe(region, peak, peak / excess.sigma)
    major, minor = (2 * s * mm for s in found.semi_axes_px)
    if minor < LOCAL_MASS_MIN_WIDTH_MM or major > LOCAL_MASS_MAX_ASPECT * minor:
        return None
    if _from_leg_ends_mm(seg, found.centroid) < MIN_FROM_LEG_END_MM:
        return None
    return found


def _from_leg_ends_mm(seg: Segmentation, point: tuple[float, float]) -> float:
    """Distance (mm, along the leg axis) from a grid point to the nearer end of the leg."""
    rr, cc = np.nonzero(seg.leg)
    if rr.size == 0:
        return 0.0
    ca, sa = np.cos(seg.axis_angle), np.sin(seg.axis_angle)
    u = rr * ca + cc * sa
    up = point[0] * ca + point[1] * sa
    return float(min(up - u.min(), u.max() - up)) * seg.mm_per_px


def _border_band(seg: Segmentation) -> np.ndarray:
    """The outer few mm of the image and of the exposed field: no mass starts there."""
    band = np.zeros(seg.image.shape, dtype=bool)
    k = max(1, int(round(BORDER_MM / seg.mm_per_px)))
    band[:k] = band[-k:] = True
    band[:, :k] = band[:, -k:] = True
    return band | grow(~seg.field, k)


def _local_linear(values: np.ndarray, weight: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian-weighted local linear fit along axis 0, evaluated at every row.

    Unlike a running mean it follows a steady taper without bias and does not
    flatten towards the ends of the leg. Where one side has too little support
    it falls back to the weighted mean. The fit is smooth at the scale of
    ``sigma_px``, so it is computed on blocks of rows a quarter of that long
    and interpolated back.
    """
    n = values.shape[0]
    k = max(1, int(sigma_px / 4))
    m = -(-n // k)
    pad = m * k - n
    w = np.pad(weight.astype(np.float32), ((0, pad), (0, 0)))
    wy = np.pad((weight * values).astype(np.float32), ((0, pad), (0, 0)))
    rows = np.pad(np.arange(n, dtype=np.float32), (0, pad))[:, None]
    w_b = w.reshape(m, k, -1).sum(axis=1)
    wy_b = wy.reshape(m, k, -1).sum(axis=1)
    wt_b = (w * rows).reshape(m, k, -1).sum(axis=1)
    t = wt_b / np.maximum(w_b, 1e-9)  # weighted row position of each block
    t = np.where(w_b > 0, t, (np.arange(m, dtype=np.float32)[:, None] * k + (k - 1) / 2))
    s = sigma_px / k

    def smooth(a):
        return ndi.gaussian_filter1d(a, s, axis=0, mode="constant", cval=0.0, truncate=3.0)

    centre = (np.arange(m, dtype=np.float64)[:, None] * k + (k - 1) / 2)
    t = t.astype(np.float64) - centre  # positions relative to each block centre keep the sums small
    w_b, wy_b = w_b.astype(np.float64), wy_b.astype(np.float64)
    y_b = wy_b / np.maximum(w_b, 1e-9)
    tc = t + centre
    s0, s1, s2 = smooth(w_b), smooth(w_b * tc), smooth(w_b * tc * tc)
    y0, y1 = smooth(wy_b), smooth(w_b * tc * y_b)
    x = centre
    m1 = s1 - x * s0
    m2 = s2 - 2 * x * s1 + x * x * s0
    z1 = y1 - x * y0
    det = s0 * m2 - m1 * m1
    mean = y0 / np.maximum(s0, 1e-9)
    ok = det > 0.025 * np.maximum(s0, 1e-9) ** 2 * sigma_px ** 2
    intercept = np.where(ok, (m2 * y0 - m1 * z1) / np.where(ok, det, 1.0), mean)
    slope = np.where(ok, (s0 * z1 - m1 * y0) / np.where(ok, det, 1.0), 0.0)
    # Evaluate the local line of the nearest block at every row.
    block = np.minimum(np.arange(n) // k, m - 1)
    offset = (np.arange(n) - centre[block, 0])[:, None]
    return (intercept[block] + slope[block] * offset).astype(np.float32)


def _robust_along(binned: np.ndarray, weight: np.ndarray, sigma_px: float) -> np.ndarray:
    """Expected density: a weighted local linear trend along the leg that ignores bumps.

    Two more passes leave out what stood more than two robust sigmas above
    the previous fit, so a mass does not raise its own reference.
    """
    w = weight.copy()
    background = _local_linear(binned, w, sigma_px)
    for _ in range(2):
        resid = (binned - background)[w > 0]
        if resid.size < 10:
            break
        s = 1.4826 * float(np.median(np.abs(resid - np.median(resid)))) + 1e-9
        w = weight * ((binned - background) < 2 * s)
        background = _local_linear(binned, w, sigma_px)
    return background


def _bins_to_grid(mask_bins: np.ndarray, first: np.ndarray, last: np.ndarray, frame, grid_shape) -> np.ndarray:
    """Map a (row, bin) array back to the straight frame, then to the grid (nearest neighbour)."""
    straight = np.zeros(frame.shape, dtype=mask_bins.dtype)
    width = (last - first + 1).astype(np.float32)
    cols = np.arange(frame.shape[1], dtype=np.float32)[None, :]
    b = np.floor((cols - first[:, None] + 0.5) / np.maximum(width[:, None], 1) * ACROSS_BINS).astype(np.intp)
    inside = (b >= 0) & (b < ACROSS_BINS)
    rows = np.broadcast_to(np.arange(frame.shape[0])[:, None], b.shape)
    straight[inside] = mask_bins[rows[inside], b[inside]]
    return frame.back(straight, grid_shape)


def _describe(mask: np.ndarray, peak: float, snr: float) -> MassRegion:
    rr, cc = np.nonzero(mask)
    centre = (float(rr.mean()), float(cc.mean()))
    cov = np.cov(np.stack([rr - centre[0], cc - centre[1]])) if rr.size > 2 else np.eye(2)
    evals, evecs = np.linalg.eigh(cov)
    semi = (2 * np.sqrt(max(evals[1], 1e-6)), 2 * np.sqrt(max(evals[0], 1e-6)))
    orientation = float(np.arctan2(evecs[1, 1], evecs[0, 1]))
    confidence = float(np.clip(0.3 + 0.6 * (snr - MIN_MASS_SNR) / (2 * MIN_MASS_SNR), 0.3, 0.9))
    return MassRegion(mask, centre, semi, orientation, peak, snr, round(confidence, 3))
