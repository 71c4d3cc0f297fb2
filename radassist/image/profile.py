"""How much brighter than soft tissue alone each point of the leg is.

Across the leg, soft tissue alone gives a rounded thickness profile: a
roughly elliptical cross-section of width ``w`` is ``∝ sqrt(x (w - x))``
thick at ``x`` from one skin line. On a log-exposure image the soft tissue's
brightness above air follows that shape, scaled by how strongly the tissue
attenuates. Bone only adds, so the scale is read from the *lower* envelope
of brightness over thickness on each line across the leg (a low percentile),
smoothed along the leg. What rises above the model is bone, or something as
dense, whatever its width: unlike an opening, the model sees a knee whose
bones fill the leg's whole width.

Work is on the ≈1 mm segmentation grid, in the straightened leg
(:mod:`.legframe`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .legframe import straight_frame

#: The scale is read on each line from this percentile of brightness over thickness ...
ENVELOPE_PERCENTILE = 10.0
#: ... where the model thickness is at least this fraction of the line's largest
#: (close to the skin the elliptical model is least reliable) ...
MIN_RELATIVE_THICKNESS = 0.3
#: ... and smoothed by a running median this long (mm) along the leg.
SCALE_SMOOTHING_MM = 15.0
#: Lines with fewer leg pixels than this give no scale of their own.
MIN_LINE_PX = 10


def rise_above_soft_tissue_model(
    image: np.ndarray,
    leg: np.ndarray,
    axis_angle: float,
    air_level: float,
    mm_per_px: float,
) -> np.ndarray:
    """Brightness above the modelled soft-tissue profile, on the image's grid.

    Parameters
    ----------
    image : ndarray
        Normalised segmentation-grid image (dense = bright).
    leg : ndarray of bool
        The leg's outline on the same grid.
    axis_angle : float
        Leg-axis orientation (radians from the row direction towards columns).
    air_level : float
        Typical normalised value of air.
    mm_per_px : float
        Grid spacing.

    Returns
    -------
    ndarray of float32
        Rise in normalised units (0 outside the leg); divide by the tissue
        contrast for a fraction of it.
    """
    out = np.zeros(image.shape, dtype=np.float32)
    if not leg.any():
        return out
    frame = straight_frame(leg, axis_angle)
    img = frame.sample(image, order=1, cval=air_level)
    leg_s = frame.sample_mask(leg)
    thickness = _relative_thickness(leg_s)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(leg_s & (thickness >= MIN_RELATIVE_THICKNESS),
                         (img - air_level) / np.maximum(thickness, 1e-6), np.nan)
    counts = np.isfinite(ratio).sum(axis=1)
    enough = counts >= MIN_LINE_PX
    if not enough.any():
        return out
    # The percentile of each line's finite values (NaN sorts last): one sort,
    # far cheaper than nanpercentile row by row.
    ordered = np.sort(ratio[enough], axis=1)
    rank = np.floor(ENVELOPE_PERCENTILE / 100.0 * (counts[enough] - 1)).astype(np.intp)
    scale = np.full(img.shape[0], np.nan, dtype=np.float64)
    scale[enough] = np.take_along_axis(ordered, rank[:, None], axis=1)[:, 0]
    rows = np.arange(scale.size)
    scale = np.interp(rows, rows[enough], scale[enough])
    size = max(3, int(round(SCALE_SMOOTHING_MM / mm_per_px)) | 1)
    scale = ndi.median_filter(scale, size=size, mode="nearest")
    rise = (img - air_level - scale[:, None] * thickness) * leg_s
    return (frame.back(rise.astype(np.float32), image.shape) * leg).astype(np.float32)


def _relative_thickness(leg: np.ndarray) -> np.ndarray:
    """Elliptical thickness model across each line, 1 at the line's middle, 0 at its skin lines."""
    has = leg.any(axis=1)
    first = np.where(has, np.argmax(leg, axis=1), 0)
    last = np.where(has, leg.shape[1] - 1 - np.argmax(leg[:, ::-1], axis=1), -1)
    x = np.arange(leg.shape[1])[None, :]
    half = np.maximum((last - first + 1) / 2.0, 1.0)[:, None]
    inside = np.clip((x - first[:, None] + 0.5) * (last[:, None] + 0.5 - x), 0, None)
    return (np.sqrt(inside) / half * has[:, None]).astype(np.float32)
