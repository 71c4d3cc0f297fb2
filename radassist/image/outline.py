"""The outline of a soft-tissue mass around a calcification, from its edge.

A mass is a lump of soft tissue: where it ends, the image steps down. The
step is sharp (a rounded lump is thickest in the middle and thins fast at its
rim), while the leg's own thickness changes slowly. Rays cast from the
calcification find the strongest downward step on each bearing; when most of
those steps lie on one ellipse that encloses the calcification, that ellipse
is the mass. This finds masses of any size, where a background filter (see
:mod:`.masses`) only finds those smaller than its window.

Work is on the ≈1 mm segmentation grid; distances in the constants are mm.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .detect import interpolated_background
from .masses import MassRegion
from .morph import grow, shrink

#: Rays cast from the calcification's centre ...
RAY_COUNT = 36
#: ... out to this distance (mm), in steps of this length (mm).
RAY_REACH_MM = 60.0
RAY_STEP_MM = 0.5
#: The image is smoothed by this Gaussian sigma (mm) before its slope is taken.
EDGE_SMOOTHING_MM = 1.0
#: ... and the slope of a smoothing this broad (mm) is taken off it.
TREND_SMOOTHING_MM = 4.0
#: Calcified pixels and this margin (mm) around them are passed over (their own
#: edges are not the mass's).
CALCIFICATION_MARGIN_MM = 2.5
#: Rays stop this much further (mm) from the skin and from bone than the
#: usable soft tissue's own margin: those edges are not the mass's ...
EXTRA_MARGIN_MM = 2.0
#: ... and a step this close (mm) to where a ray stops is that edge's shoulder.
STOP_CLEARANCE_MM = 2.0
#: A ray's step is an edge when the slope falls this many noise sigmas below zero.
EDGE_MIN_SNR = 2.0
#: An edge point lies on the ellipse when within this distance (mm) of it ...
INLIER_MM = 2.5
#: ... and the ellipse is a mass outline when at least MIN_INLIERS edge points
#: lie on it, making up this fraction of the edge points found and this
#: fraction of the rays open to the soft tissue, with no gap between them
#: wider than MAX_GAP_DEG.
MIN_INLIERS = 10
MIN_INLIER_FRACTION = 0.7
MIN_OPEN_FRACTION = 0.4
MAX_GAP_DEG = 180.0
#: Rays open for less than this (mm) beyond the calcification say nothing.
MIN_OPEN_MM = 4.0
#: The mass must be brighter inside than in a ring this wide (mm) outside it.
RING_MM = 6.0
#: Plausible masses: diameter range (mm), largest aspect ratio, and smallest
#: ratio to the calcification's size (an outline hugging a large solid
#: calcification at less than this is often its own blur or edge-enhancement
#: halo, and then renames a diffuse lesion or popcorn; on three synthetic sets,
#: raising this from 1.6 lost as many true masses as false ones, but only the
#: false ones had changed a pattern: 3 studies named right, none wrong).
MIN_DIAMETER_MM = 12.0
MAX_DIAMETER_MM = 100.0
MAX_ASPECT = 3.0
MIN_RATIO = 2.4
#: At most this many ellipse hypotheses are tried, stopping early once one
#: fits this fraction of the points.
TRIALS = 36
GOOD_ENOUGH_FRACTION = 0.85


def mass_from_edges(
    image: np.ndarray,
    lesion: np.ndarray,
    calcified: np.ndarray,
    usable: np.ndarray,
    mm_per_px: float,
    tissue_contrast: float,
) -> MassRegion | None:
    """The mass around a calcified cluster, from the downward step at its rim.

    Parameters
    ----------
    image : ndarray of float32
        Normalised segmentation-grid image (dense = bright).
    lesion : ndarray of bool
        The cluster's calcified pixels on the same grid.
    calcified : ndarray of bool
        Every calcified pixel (all clusters): passed over by the rays.
    usable : ndarray of bool
        Soft tissue the rays may cross (the leg without bone, joints, markers, borders).
    mm_per_px : float
        Grid spacing.
    tissue_contrast : float
        Air-to-soft-tissue contrast (normalised units), for the mass's contrast.

    Returns
    -------
    MassRegion or None
    """
    if not lesion.any():
        return None
    # Everything happens within reach of the rays (plus the smoothing's own
    # reach) of the calcification: work on that crop.
    rows, cols = np.nonzero(lesion)
    pad = int(np.ceil((RAY_REACH_MM + 3 * TREND_SMOOTHING_MM) / mm_per_px))
    r0, r1 = max(int(rows.min()) - pad, 0), min(int(rows.max()) + pad + 1, image.shape[0])
    c0, c1 = max(int(cols.min()) - pad, 0), min(int(cols.max()) + pad + 1, image.shape[1])
    box = (slice(r0, r1), slice(c0, c1))
    found = _mass_in_crop(image[box], lesion[box], calcified[box], usable[box], mm_per_px, tissue_contrast)
    if found is None:
        return None
    mask = np.zeros(image.shape, dtype=bool)
    mask[box] = found.mask
    found.mask = mask
    found.centroid = (found.centroid[0] + r0, found.centroid[1] + c0)
    return found


def _mass_in_crop(image, lesion, calcified, usable, mm_per_px, tissue_contrast) -> MassRegion | None:
    """:func:`mass_from_edges` on a crop around the calcification (same parameters, coordinates in the crop)."""
    mm = mm_per_px
    rows, cols = np.nonzero(lesion)
    centre = np.array([rows.mean(), cols.mean()])
    lesion_d = 2 * np.sqrt(rows.size * mm * mm / np.pi)
    skip = grow(calcified, max(1, int(round(CALCIFICATION_MARGIN_MM / mm))))
    # The calcifications are filled from the tissue around them first: their
    # own bright edges, spread by the smoothing, are not the mass's.
    filled = _filled(image.astype(np.float32), skip, TREND_SMOOTHING_MM / mm)
    smooth = ndi.gaussian_filter(filled, EDGE_SMOOTHING_MM / mm, mode="nearest")
    # The leg's own thickness changes slowly (a ramp towards the skin): the
    # slope of a broader smoothing is taken off, leaving the steps.
    trend = ndi.gaussian_filter(filled, TREND_SMOOTHING_MM / mm, mode="nearest")
    grad_r, grad_c = np.gradient(smooth - trend)
    open_zone = shrink(usable, max(1, int(round(EXTRA_MARGIN_MM / mm))))
    noise = _slope_noise(grad_r, grad_c, open_zone & ~skip)
    if noise <= 0:
        return None

    angles = np.linspace(0, 2 * np.pi, RAY_COUNT, endpoint=False)
    radii = np.arange(RAY_STEP_MM, RAY_REACH_MM, RAY_STEP_MM) / mm
    ur, uc = np.cos(angles), np.sin(angles)
    pr = centre[0] + radii[None, :] * ur[:, None]
    pc = centre[1] + radii[None, :] * uc[:, None]
    coords = np.stack([pr.ravel(), pc.ravel()])
    inside = (pr >= 0) & (pr <= image.shape[0] - 1) & (pc >= 0) & (pc <= image.shape[1] - 1)
    ok = ndi.map_coordinates(open_zone.astype(np.float32), coords, order=0).reshape(pr.shape) > 0.5
    passed = ndi.map_coordinates(skip.astype(np.float32), coords, order=0).reshape(pr.shape) > 0.5
    slope = (ndi.map_coordinates(grad_r, coords, order=1).reshape(pr.shape) * ur[:, None]
             + ndi.map_coordinates(grad_c, coords, order=1).reshape(pr.shape) * uc[:, None]) / noise

    points, bearings, strengths, open_rays = [], [], [], 0
    clearance = int(round(STOP_CLEARANCE_MM / RAY_STEP_MM))
    for k in range(RAY_COUNT):
        ray_ok = ok[k] & inside[k]
        beyond = ~passed[k] & ray_ok
        if not beyond.any():
            continue
        first = int(np.argmax(beyond))
        # The ray ends where it first leaves the open soft tissue past the calcification.
        blocked = ~ray_ok[first:]
        stop = first + (int(np.argmax(blocked)) if blocked.any() else blocked.size)
        if (stop - first) * RAY_STEP_MM < MIN_OPEN_MM:
            continue
        open_rays += 1
        usable_k = np.zeros(radii.size, dtype=bool)
        usable_k[first : max(first, stop - clearance)] = True
        usable_k &= ~passed[k]
        if not usable_k.any():
            continue
        values = np.where(usable_k, slope[k], np.inf)
        j = int(np.argmin(values))
        if values[j] > -EDGE_MIN_SNR:
            continue
        points.append((pr[k, j], pc[k, j]))
        bearings.append(angles[k])
        strengths.append(-values[j])
    if open_rays == 0 or len(points) < MIN_INLIERS:
        return None
    points = np.asarray(points)
    bearings = np.asarray(bearings)
    fit = _ransac_ellipse(points, INLIER_MM / mm)
    if fit is None:
        return None
    ellipse, inliers = fit
    n_in = int(inliers.sum())
    if n_in < max(MIN_INLIERS, MIN_INLIER_FRACTION * len(points), MIN_OPEN_FRACTION * open_rays):
        return None
    if _largest_gap_deg(bearings[inliers]) > MAX_GAP_DEG:
        return None
    (cr, cc), (a, b), theta = ellipse
    if _normalised_radius(centre[None, :], ellipse)[0] >= 1.0:
        return None  # the calcification must lie inside the mass
    diameter = 2 * np.sqrt(a * b) * mm
    if not MIN_DIAMETER_MM <= diameter <= MAX_DIAMETER_MM or diameter < MIN_RATIO * lesion_d:
        return None
    if max(a, b) > MAX_ASPECT * min(a, b):
        return None
    radius = _radius_map(image.shape, ellipse, reach_px=max(a, b) + RING_MM / mm)
    mask = radius < 1.0
    ring = ~mask & (radius < 1.0 + RING_MM / (mm * np.sqrt(a * b)))
    inner, outer = mask & open_zone & ~skip, ring & open_zone & ~skip
    if inner.sum() < 10 or outer.sum() < 10:
        return None
    step = float(np.median(smooth[inner]) - np.median(smooth[outer]))
    if step <= 0:
        return None
    fraction = n_in / open_rays
    confidence = float(np.clip(0.5 + 0.4 * (fraction - MIN_OPEN_FRACTION) / (1 - MIN_OPEN_FRACTION), 0.5, 0.9))
    major, minor = max(a, b), min(a, b)
    # Orientation of the major axis, radians from rows towards columns.
    orientation = theta if a >= b else theta + np.pi / 2
    return MassRegion(
        mask=mask,
        centroid=(float(cr), float(cc)),
        semi_axes_px=(float(major), float(minor)),
        orientation=float(orientation),
        peak_contrast=step / max(tissue_contrast, 1e-6),
        snr=float(np.median(np.asarray(strengths)[inliers])),
        confidence=round(confidence, 3),
    )


def _filled(image: np.ndarray, holes: np.ndarray, sigma_px: float) -> np.ndarray:
    """``image`` with the ``holes`` filled by a Gaussian-weighted mean of the pixels around them."""
    if not holes.any():
        return image
    around = interpolated_background(image, ~holes, image, sigma_px, truncate=4.0, min_weight=1e-3)
    return np.where(holes, around, image).astype(np.float32)


def _slope_noise(grad_r: np.ndarray, grad_c: np.ndarray, where: np.ndarray) -> float:
    """Robust spread (std) of the image slope over plain soft tissue."""
    values = np.concatenate([grad_r[where], grad_c[where]])
    if values.size < 50:
        return 0.0
    values = values[:: max(1, values.size // 50_000)]
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def _fit_conic(points: np.ndarray):
    """Direct least-squares ellipse through ``points`` (Halíř–Flusser), as ((row, col), (a, b), theta) or None."""
    mean = points.mean(axis=0)
    scale = float(np.sqrt(((points - mean) ** 2).sum(axis=1).mean())) or 1.0
    x = (points[:, 0] - mean[0]) / scale
    y = (points[:, 1] - mean[1]) / scale
    d1 = np.column_stack([x * x, x * y, y * y])
    d2 = np.column_stack([x, y, np.ones_like(x)])
    s1, s2, s3 = d1.T @ d1, d1.T @ d2, d2.T @ d2
    try:
        t = -np.linalg.solve(s3, s2.T)
    except np.linalg.LinAlgError:
        return None
    m = s1 + s2 @ t
    m = np.array([m[2] / 2, -m[1], m[0] / 2])
    try:
        evals, evecs = np.linalg.eig(m)
    except np.linalg.LinAlgError:
        return None
    evecs = np.real(evecs)
    cond = 4 * evecs[0] * evecs[2] - evecs[1] ** 2
    if not (cond > 0).any():
        return None
    a1 = evecs[:, int(np.argmax(cond > 0))]
    A, B, C = a1
    D, E, F = t @ a1
    den = B * B - 4 * A * C
    if den >= 0:
        return None
    x0 = (2 * C * D - B * E) / den
    y0 = (2 * A * E - B * D) / den
    f0 = A * x0 * x0 + B * x0 * y0 + C * y0 * y0 + D * x0 + E * y0 + F
    q = np.array([[A, B / 2], [B / 2, C]])
    lam, vec = np.linalg.eigh(q)
    if f0 == 0 or np.any(-f0 / lam <= 0):
        return None
    semi = np.sqrt(-f0 / lam) * scale
    theta = float(np.arctan2(vec[1, 0], vec[0, 0]))  # direction of the first semi-axis
    return (float(x0 * scale + mean[0]), float(y0 * scale + mean[1])), (float(semi[0]), float(semi[1])), theta


def _normalised_radius(points: np.ndarray, ellipse) -> np.ndarray:
    """Elliptical radius of each point: < 1 inside, 1 on the outline."""
    (cr, cc), (a, b), theta = ellipse
    dr, dc = points[:, 0] - cr, points[:, 1] - cc
    u = dr * np.cos(theta) + dc * np.sin(theta)
    v = -dr * np.sin(theta) + dc * np.cos(theta)
    return np.sqrt((u / a) ** 2 + (v / b) ** 2)


def _radius_map(shape: tuple[int, int], ellipse, reach_px: float) -> np.ndarray:
    """Elliptical radius of every grid pixel within ``reach_px`` of the centre (infinite elsewhere)."""
    (cr, cc), _, _ = ellipse
    r0, r1 = max(int(cr - reach_px), 0), min(int(cr + reach_px) + 2, shape[0])
    c0, c1 = max(int(cc - reach_px), 0), min(int(cc + reach_px) + 2, shape[1])
    out = np.full(shape, np.inf, dtype=np.float32)
    if r0 >= r1 or c0 >= c1:
        return out
    rr, cc_ = np.mgrid[r0:r1, c0:c1]
    out[r0:r1, c0:c1] = _normalised_radius(np.stack([rr.ravel(), cc_.ravel()], axis=1), ellipse).reshape(rr.shape)
    return out


def _ransac_ellipse(points: np.ndarray, tolerance_px: float):
    """The ellipse most edge points agree with, refitted on them; with the inlier mask.

    ``points`` come in bearing order around the calcification. Each hypothesis
    is the ellipse through five points spread around that order (every fifth
    of the way round, from each starting point in turn): spread points fit a
    stable ellipse, and the hypotheses are the same on every run.
    """
    best, best_in = None, None
    n = points.shape[0]
    spacing = max(1, n // 5)
    starts = np.unique(np.linspace(0, n - 1, min(n, TRIALS)).astype(int))
    for start in starts:
        pick = (start + spacing * np.arange(5)) % n
        if np.unique(pick).size < 5:
            continue
        ellipse = _fit_conic(points[pick])
        if ellipse is None:
            continue
        inliers = _distance(points, ellipse) < tolerance_px
        if best_in is None or inliers.sum() > best_in.sum():
            best, best_in = ellipse, inliers
            if best_in.sum() >= GOOD_ENOUGH_FRACTION * n:
                break  # nearly every point agrees: no better hypothesis to find
    if best is None or best_in.sum() < 6:
        return None
    # Refit on the agreeing points until the set stops growing.
    for _ in range(3):
        refit = _fit_conic(points[best_in])
        if refit is None:
            break
        inliers = _distance(points, refit) < tolerance_px
        if inliers.sum() < best_in.sum():
            break
        grew = inliers.sum() > best_in.sum()
        best, best_in = refit, inliers
        if not grew:
            break
    return best, best_in


def _distance(points: np.ndarray, ellipse) -> np.ndarray:
    """Approximate distance (px) of each point from the ellipse outline."""
    (_, _), (a, b), _ = ellipse
    return np.abs(_normalised_radius(points, ellipse) - 1.0) * np.sqrt(a * b)


def _largest_gap_deg(bearings: np.ndarray) -> float:
    if bearings.size == 0:
        return 360.0
    s = np.sort(np.mod(bearings, 2 * np.pi))
    gaps = np.diff(np.concatenate([s, [s[0] + 2 * np.pi]]))
    return float(np.degrees(gaps.max()))
