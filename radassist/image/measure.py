"""Per-focus measurements in millimetres.

Each candidate focus found by :mod:`.detect` is measured on the detection
grid: size and shape (area, equivalent diameter, diameter at half its peak,
axes, eccentricity, solidity, holes, skeleton length and mean width),
orientation relative to the leg axis, contrast (relative to the soft-tissue
contrast and to the local noise), evidence (peak and integrated
signal-to-noise), the steepness of the background it sits on, and the radial
profile about its centre (a ring is brighter at the rim than at the centre).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi
from skimage.measure import regionprops
from skimage.morphology import skeletonize

#: Foci smaller than this (pixels) are measured without convex hull or skeleton.
SMALL_FOCUS_PX = 12
#: Width (mm) over which the background step beside a focus is compared with its contrast.
EDGE_STEP_MM = 4.0


@dataclass
class Focus:
    """One dense focus, with coordinates on the detection-grid crop.

    ``coords`` are ``(row, col)`` pixel coordinates on the detection-grid crop;
    everything named ``*_mm`` or ``*_mm2`` is in millimetres.
    """

    label: int
    coords: np.ndarray
    bbox: tuple[int, int, int, int]
    centroid: tuple[float, float]
    area_mm2: float
    filled_area_mm2: float
    hole_area_mm2: float
    eq_diameter_mm: float
    major_mm: float
    minor_mm: float
    eccentricity: float
    solidity: float
    euler_number: int
    skeleton_mm: float
    width_mm: float
    orientation_to_axis_deg: float
    peak_contrast: float
    mean_contrast: float
    peak_snr: float
    centre_to_rim: float
    edge_ratio: float = 0.0
    ring_depth: float = 0.0
    halfmax_diameter_mm: float = 0.0
    integrated_snr: float = 0.0
    features: dict = field(default_factory=dict)

    @property
    def elongation(self) -> float:
        return self.major_mm / max(self.minor_mm, 1e-6)


def moment_shape(coords: np.ndarray) -> tuple[float, float, float, float]:
    """Ellipse of the same second moments as a set of pixels.

    The same quantities as scikit-image's ``regionprops`` (``axis_major_length``,
    ``axis_minor_length``, ``eccentricity``; ``orientation`` flipped to the
    row→column convention), from the coordinates' covariance directly: the
    region-image moments behind them cost more than the rest of a focus's
    measurement.

    Parameters
    ----------
    coords : ndarray, shape (n, 2)
        ``(row, col)`` pixel coordinates, ``n >= 1``.

    Returns
    -------
    major, minor : float
        Full axis lengths (pixels).
    orientation : float
        Angle of the major axis from the row direction towards the column
        direction, radians in ``(-pi/2, pi/2]``.
    eccentricity : float
    """
    rc = np.asarray(coords, dtype=np.float64)
    d = rc - rc.mean(axis=0)
    var_r = float(np.mean(d[:, 0] * d[:, 0]))
    var_c = float(np.mean(d[:, 1] * d[:, 1]))
    cov = float(np.mean(d[:, 0] * d[:, 1]))
    # scikit-image's inertia tensor [[var_c, -cov], [-cov, var_r]] and its eigenvalues.
    half_sum, root = (var_r + var_c) / 2, np.hypot((var_r - var_c) / 2, cov)
    l1, l2 = half_sum + root, max(half_sum - root, 0.0)
    if var_c - var_r == 0:
        sk_orientation = np.pi / 4 if cov > 0 else -np.pi / 4
    else:
        sk_orientation = 0.5 * np.arctan2(2 * cov, var_r - var_c)
    eccentricity = float(np.sqrt(1 - l2 / l1)) if l1 > 0 else 0.0
    return 4 * float(np.sqrt(l1)), 4 * float(np.sqrt(l2)), -float(sk_orientation), eccentricity


def holes(image: np.ndarray) -> tuple[int, int]:
    """Euler number and hole-filled pixel count of one object, as :func:`skimage.measure.regionprops` gives them.

    The object is 8-connected; for the Euler number its holes are the
    4-connected background regions the object encloses (so two holes that
    touch only at a corner count twice), while the filled area fills the
    8-connected ones. One labelling of the padded background each, instead
    of a bit-quad count and an iterated fill.

    Parameters
    ----------
    image : ndarray of bool
        The object's mask in its bounding box (one connected component).

    Returns
    -------
    euler_number, filled_pixels : int
    """
    background = np.pad(~image, 1, constant_values=True)
    # The padding ring is one background region: the outside.
    _, count4 = ndi.label(background)
    if count4 == 1:
        return 1, int(image.sum())
    labels8, count8 = ndi.label(background, structure=np.ones((3, 3), dtype=bool))
    filled = int(image.sum()) if count8 == 1 else int(background.size - np.count_nonzero(labels8 == labels8[0, 0]))
    return 2 - count4, filled


def axis_angle_deg(orientation_rows: float, axis_angle: float) -> float:
    """Unsigned angle (degrees, 0–90) between a direction and the leg axis.

    Both angles are radians measured from the row direction towards the
    column direction.
    """
    d = abs(orientation_rows - axis_angle) % np.pi
    return float(np.degrees(min(d, np.pi - d)))


def measure_foci(
    labels: np.ndarray,
    residual: np.ndarray,
    smoothed: np.ndarray,
    noise: np.ndarray,
    det_mm: float,
    tissue_contrast: float,
    axis_angle: float,
    background_slope: np.ndarray | None = None,
) -> list[Focus]:
    """Measure every labelled focus.

    Parameters
    ----------
    labels : ndarray of int
        Focus labels on the detection-grid crop.
    residual : ndarray of float32
        Image minus its fine background (normalised units).
    smoothed, noise : ndarray of float32
        Matched-filtered residual and its local noise.
    det_mm : float
        Detection-grid spacing.
    tissue_contrast : float
        Air-to-soft-tissue contrast (normalised units).
    axis_angle : float
        Leg-axis orientation (radians from the row direction towards columns).
    background_slope : ndarray, optional
        Background steepness (tissue-contrast fraction per mm); gives each
        focus its ``edge_ratio``: the background step across
        :data:`EDGE_STEP_MM` over the focus's own peak contrast.

    Returns
    -------
    list of Focus
    """
    if labels.size == 0 or not labels.any():
        return []
    px_area = det_mm * det_mm
    ref = max(tissue_contrast, 1e-6)
    foci = []
    for region in regionprops(labels, intensity_image=residual):
        coords = region.coords
        r0, c0, r1, c1 = region.bbox
        image = region.image
        values = residual[coords[:, 0], coords[:, 1]]
        area = float(region.area) * px_area
        euler, filled_px = holes(image)
        filled = filled_px * px_area
        snr = smoothed[coords[:, 0], coords[:, 1]] / np.maximum(noise[coords[:, 0], coords[:, 1]], 1e-9)
        if region.area >= 3:
            major, minor, orient, ecc = moment_shape(coords)
            major *= det_mm
            minor *= det_mm
            # Dots of a few pixels are convex and their own skeleton; skip the costly parts.
            solidity = float(region.solidity) if region.area >= SMALL_FOCUS_PX else 1.0
        else:
            major = minor = float(np.sqrt(4 * area / np.pi))
            orient, ecc, solidity = 0.0, 0.0, 1.0
        major = max(major, det_mm)
        minor = max(minor, det_mm)
        if region.area >= SMALL_FOCUS_PX:
            skel_len = max(float(skeletonize(image).sum()) * det_mm * 1.1, det_mm)
        else:
            skel_len = major
        eq_d = float(np.sqrt(4 * filled / np.pi))
        # Size at half the peak: independent of how far the threshold let the
        # focus grow into the noise, so tiny dots measure as tiny.
        half = int((values >= 0.5 * values.max()).sum()) if values.max() > 0 else region.area
        halfmax_d = float(np.sqrt(4 * half * px_area / np.pi))
        foci.append(
            Focus(
                label=int(region.label),
                coords=coords,
                bbox=(int(r0), int(c0), int(r1), int(c1)),
                centroid=(float(region.centroid[0]), float(region.centroid[1])),
                area_mm2=area,
                filled_area_mm2=filled,
                hole_area_mm2=filled - area,
                eq_diameter_mm=eq_d,
                major_mm=major,
                minor_mm=minor,
                eccentricity=ecc,
                solidity=solidity,
                euler_number=euler,
                skeleton_mm=skel_len,
                width_mm=area / skel_len,
                orientation_to_axis_deg=axis_angle_deg(orient, axis_angle),
                peak_contrast=float(values.max()) / ref,
                mean_contrast=float(values.mean()) / ref,
                peak_snr=float(snr.max()),
                integrated_snr=_integrated_snr(snr),
                centre_to_rim=centre_to_rim_ratio(residual, region.centroid, eq_d / 2 / det_mm),
                ring_depth=ring_depth(residual, region.centroid, eq_d / 2 / det_mm),
                edge_ratio=_edge_ratio(background_slope, coords, float(values.max()) / ref),
                halfmax_diameter_mm=halfmax_d,
            )
        )
    return foci


def _integrated_snr(snr_values: np.ndarray) -> float:
    """Evidence of an extended focus: mean SNR times the root of its independent samples.

    The matched-filtered SNR map is correlated over about 3×3 pixels, so a
    focus of n pixels has about n/9 independent measurements.
    """
    n_independent = max(1.0, snr_values.size / 9.0)
    return float(np.mean(snr_values) * np.sqrt(n_independent))


def _edge_ratio(slope: np.ndarray | None, coords: np.ndarray, peak_contrast: float) -> float:
    """Background step across EDGE_STEP_MM at the focus over the focus's peak contrast."""
    if slope is None or peak_contrast <= 0:
        return 0.0
    step = float(np.median(slope[coords[:, 0], coords[:, 1]])) * EDGE_STEP_MM
    return step / peak_contrast


def centre_to_rim_ratio(residual: np.ndarray, centre: tuple[float, float], radius_px: float) -> float:
    """Mean residual in the central disc over the mean in the rim annulus.

    The central disc has 40 % of ``radius_px``; the annulus spans 60–100 %.
    A solid nodule (a sphere projects brightest at its centre) gives ≥ 1, a
    ring with a lucent centre gives well below 1. Returns 1.0 for foci too
    small to have a centre.
    """
    if radius_px < 2.5:
        return 1.0
    patch, dist = _disc_patch(residual, centre, radius_px)
    dist = dist / radius_px
    inner = patch[dist <= 0.4]
    rim = patch[(dist >= 0.6) & (dist <= 1.0)]
    if inner.size == 0 or rim.size == 0:
        return 1.0
    rim_mean = float(rim.mean())
    if rim_mean <= 0:
        return 1.0
    return float(np.clip(inner.mean() / rim_mean, 0.0, 3.0))


#: The centre of a focus, for :func:`ring_depth`: this fraction of its radius, at least this many pixels.
RING_CENTRE_FRACTION = 0.2
RING_CENTRE_MIN_PX = 1.5


def ring_depth(residual: np.ndarray, centre: tuple[float, float], radius_px: float) -> float:
    """How far the centre of a focus falls below its brightest ring (0 = brightest at the centre).

    A solid nodule projects brightest at its centre; a hollow one (a
    phlebolith's central lucency, a shell) is brightest on a ring some way
    out. This is 1 - centre / peak of the radial profile (1-pixel rings),
    the centre being the mean within :data:`RING_CENTRE_FRACTION` of the
    radius. Unlike :func:`centre_to_rim_ratio`, it does not assume where the
    ring lies: the equivalent radius of a focus includes its blurred edge,
    whose faint outer part would otherwise dilute the ring. Returns 0.0 for
    foci too small to have a centre.
    """
    if radius_px < 3.0:
        return 0.0
    patch, dist = _disc_patch(residual, centre, radius_px)
    inner = patch[dist <= max(RING_CENTRE_MIN_PX, RING_CENTRE_FRACTION * radius_px)]
    peak = float(ring_means(patch, dist, 1.0, int(np.ceil(radius_px))).max())
    if inner.size == 0 or peak <= 0:
        return 0.0
    return float(np.clip(1.0 - inner.mean() / peak, 0.0, 1.0))


def ring_means(values: np.ndarray, dist: np.ndarray, step_px: float, n_bins: int) -> np.ndarray:
    """Mean of ``values`` in ``n_bins`` rings of width ``step_px`` by ``dist`` from a centre (0 for an empty ring)."""
    bins = np.floor(dist / step_px).astype(int)
    ok = bins < n_bins
    sums = np.bincount(bins[ok], weights=values[ok], minlength=n_bins)
    counts = np.bincount(bins[ok], minlength=n_bins)
    return sums / np.maximum(counts, 1)


def disc_patch(residual: np.ndarray, centre: tuple[float, float],
               radius_px: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The square patch of ``residual`` around ``centre`` that holds a disc of
    ``radius_px``, clipped at the image edges, with the row and column offset
    (px) of each of its rows and columns from ``centre``."""
    r = int(np.ceil(radius_px)) + 1
    rc, cc = int(round(centre[0])), int(round(centre[1]))
    r0, c0 = max(rc - r, 0), max(cc - r, 0)
    r1, c1 = min(rc + r + 1, residual.shape[0]), min(cc + r + 1, residual.shape[1])
    return residual[r0:r1, c0:c1], np.arange(r0, r1) - centre[0], np.arange(c0, c1) - centre[1]


def _disc_patch(residual: np.ndarray, centre: tuple[float, float],
                radius_px: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`disc_patch` with each pixel's distance (px) from ``centre``."""
    patch, dy, dx = disc_patch(residual, centre, radius_px)
    return patch, np.hypot(dy[:, None], dx[None, :])
