"""Fast binary growing and shrinking by a square of given radius.

Iterated binary dilations cost one pass per pixel of radius; a running
maximum (minimum) filter is separable and costs the same whatever the
radius. A square is a fine stand-in for a disc for the safety margins used
here.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi


def grow(mask: np.ndarray, radius_px: int) -> np.ndarray:
    """Dilate ``mask`` by a square of half-side ``radius_px`` (≥ 1)."""
    size = 2 * max(1, int(radius_px)) + 1
    return ndi.maximum_filter(mask.view(np.uint8) if mask.dtype == bool else mask.astype(np.uint8),
                              size=size, mode="constant", cval=0).astype(bool)


def shrink(mask: np.ndarray, radius_px: int) -> np.ndarray:
    """Erode ``mask`` by a square of half-side ``radius_px`` (≥ 1); outside the array counts as empty."""
    size = 2 * max(1, int(radius_px)) + 1
    return ndi.minimum_filter(mask.view(np.uint8) if mask.dtype == bool else mask.astype(np.uint8),
                              size=size, mode="constant", cval=0).astype(bool)


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill the holes of ``mask``: background regions that do not reach the array's border.

    One labelling of the background, instead of scipy's iterated propagation.
    """
    labels, n = ndi.label(~mask)
    if n == 0:
        return mask.copy()
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    outside = np.zeros(n + 1, dtype=bool)
    outside[edge] = True
    outside[0] = True  # label 0 is the mask itself
    return mask | ~outside[labels]


def open_line(mask: np.ndarray, length_px: int, axis: int) -> np.ndarray:
    """Binary opening by a straight line of ``length_px`` along ``axis``."""
    u8 = mask.view(np.uint8) if mask.dtype == bool else mask.astype(np.uint8)
    eroded = ndi.minimum_filter1d(u8, length_px, axis=axis, mode="constant", cval=0)
    return ndi.maximum_filter1d(eroded, length_px, axis=axis, mode="constant", cval=0).astype(bool)
