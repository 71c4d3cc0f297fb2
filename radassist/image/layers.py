"""Concentric layers of a calcification: how many bright rings go round one centre.

A laminated ("onion skin") calcification is two or more concentric rings. A
plain radial profile about the cluster's centroid counts peaks, but it
cannot tell rings from popcorn blobs that merely lie at one distance from
the centre, nor from the two walls of an artery crossing the disc. So a
peak counts as a layer only when it goes round: in most angular sectors,
and over one long unbroken arc, the sector's own profile rises there above
both sides.

Units: pixels of the detection grid unless a name says mm.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.signal import find_peaks

from .measure import disc_patch, ring_means

#: Rings are this wide (mm) in the radial profile.
RING_WIDTH_MM = 0.5
#: A profile peak stands this fraction of the profile's maximum above its surroundings.
PEAK_PROMINENCE = 0.25
#: The centre is looked for within this fraction of the cluster's radius of its centroid.
CENTRE_SEARCH_FRACTION = 0.15
#: A layer is judged in this many angular sectors ...
SECTORS = 36
#: ... where it must stand this fraction of the profile's maximum above both sides
#: (within 2 mm inside and outside) ...
SECTOR_PROMINENCE = 0.1
#: ... in at least this fraction of the sectors, and over one unbroken arc of this fraction of the circle.
MIN_COVERAGE = 0.6
MIN_ARC = 0.4
#: Clusters smaller than this, or reaching further than this from their centre (mm), are one layer.
MIN_RADIUS_MM = 2.0
MAX_RADIUS_MM = 30.0


def count_layers(residual: np.ndarray, coords: np.ndarray, det_mm: float) -> int:
    """Number of bright layers about a cluster's centre that go most of the way round.

    Parameters
    ----------
    residual : ndarray of float
        Background-subtracted detection-grid image (calcification positive).
    coords : ndarray of int, shape (n, 2)
        The cluster's calcified pixels (row, column).
    det_mm : float
        Detection-grid spacing (mm).

    Returns
    -------
    int
        At least 1. A solid lesion (bright centre) and a single ring count 1;
        a ring about a bright nidus counts 2, as do two rings.

    Notes
    -----
    The centre is the one, within ``CENTRE_SEARCH_FRACTION`` of the
    cluster's radius of its centroid, whose radial profile has the most
    prominent peaks (a coarse 3 × 3 search, then a finer one about the best):
    an interrupted outer ring pulls the centroid off the true centre.
    """
    coords = np.asarray(coords, dtype=float)
    centroid = coords.mean(axis=0)
    radius = float(np.max(np.linalg.norm(coords - centroid, axis=1))) + 1.0
    if not MIN_RADIUS_MM <= radius * det_mm <= MAX_RADIUS_MM:
        return 1
    step = max(1.0, RING_WIDTH_MM / det_mm)
    reach = CENTRE_SEARCH_FRACTION * radius
    patch, dy, dx = disc_patch(residual, (float(centroid[0]), float(centroid[1])), radius + reach + 4 * step)
    n_bins = int(np.ceil((radius + 4 * step) / step))

    def sampled(every: int):
        rows, cols = np.meshgrid(dy[::every].astype(np.float32), dx[::every].astype(np.float32), indexing="ij")
        rows, cols = rows.ravel(), cols.ravel()
        # Only the disc any tried centre's profile reaches: the patch's corners never count.
        keep = rows * rows + cols * cols <= (radius + 2 * reach + 4 * step) ** 2
        return patch[::every, ::every].ravel()[keep], rows[keep], cols[keep]

    # Pixels half a ring width apart sample every ring many times round (the
    # coarse centre search does with one per ring width).
    values, rows, cols = sampled(max(1, round(step / 2)))
    sparse = sampled(max(1, round(step)))

    def profile_about(centre: tuple[float, float], samples):
        values, rows, cols = samples
        profile = ring_means(values, np.hypot(rows - centre[0], cols - centre[1]), step, n_bins)
        if profile.max() <= 0:
            return None
        # Mirrored about radius 0 so that a bright centre is a peak; background beyond the end.
        padded = np.concatenate([profile[:0:-1], profile, [0.0]])
        peaks, props = find_peaks(padded, prominence=PEAK_PROMINENCE * float(profile.max()))
        peaks = peaks - (n_bins - 1)
        return float(props["prominences"].sum()), centre, profile, peaks[peaks >= 0]

    best = None
    for spread, samples in ((reach, sparse), (reach / 2, (values, rows, cols))):
        base = best[1] if best is not None else (0.0, 0.0)
        tries = [profile_about((base[0] + i * spread, base[1] + j * spread), samples)
                 for i in (-1, 0, 1) for j in (-1, 0, 1)]
        # The fine tries include the coarse best's own centre, rescored on the dense samples.
        best = max([t for t in tries if t is not None], key=lambda t: t[0], default=None)
        if best is None:
            return 1
    _, centre, profile, peaks = best
    by_sector = _sector_profiles(values, rows - centre[0], cols - centre[1], step, n_bins)
    top = float(profile.max())
    # A bright centre (a nidus, or a solid lesion) is a layer of its own.
    layers = sum(p == 0 or _goes_round(by_sector, p, SECTOR_PROMINENCE * top) for p in peaks)
    return max(1, int(layers))


def _sector_profiles(values, rows, cols, step, n_bins) -> np.ndarray:
    """Radial profiles in ``SECTORS`` angular sectors, shape (SECTORS, n_bins); NaN where a sector bin is empty."""
    bins = (np.hypot(rows, cols) / step).astype(np.intp)
    ok = bins < n_bins
    sector = ((np.arctan2(rows, cols) + np.pi) / (2 * np.pi) * SECTORS).astype(np.intp) % SECTORS
    index = sector[ok] * n_bins + bins[ok]
    sums = np.bincount(index, weights=values[ok], minlength=SECTORS * n_bins).reshape(SECTORS, n_bins)
    counts = np.bincount(index, minlength=SECTORS * n_bins).reshape(SECTORS, n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)


def _goes_round(by_sector: np.ndarray, p: int, prominence: float) -> bool:
    """Whether the ring at bin ``p`` rises above both sides in enough sectors, over one long arc."""
    n_bins = by_sector.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # empty sector bins near the image edge
        ring = np.nanmax(by_sector[:, max(p - 1, 0) : p + 2], axis=1)
        outside = np.nanmin(by_sector[:, min(p + 1, n_bins - 1) : p + 5], axis=1)
        inside = np.nanmin(by_sector[:, max(p - 4, 0) : p], axis=1) if p >= 2 else outside
    with np.errstate(invalid="ignore"):
        hit = ring - np.maximum(inside, outside) > prominence
    return bool(hit.mean() >= MIN_COVERAGE and _longest_circular_run(hit) >= MIN_ARC * SECTORS)


def _longest_circular_run(flags: np.ndarray) -> int:
    """Length of the longest run of True in a circular sequence."""
    if flags.all():
        return int(flags.size)
    # Start just after a False: no run then wraps round the end.
    start = int(np.argmin(flags)) + 1
    rolled = np.roll(flags, -start).astype(np.int8)
    edges = np.diff(np.concatenate([[0], rolled, [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int((ends - starts).max()) if starts.size else 0
