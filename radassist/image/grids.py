"""Working grids: integer block-mean downsampling and robust intensity scaling.

Every stage works on the coarsest grid it can afford: segmentation on a
≈1 mm grid, detection on a ≈0.25 mm grid, fine measurement on full-resolution
crops. All grids are obtained by averaging non-overlapping ``k × k`` blocks of
the stored image, so grid pixel ``(i, j)`` covers stored pixels
``[i*k, (i+1)*k) × [j*k, (j+1)*k)`` and its centre sits at stored coordinate
``(i*k + (k-1)/2, j*k + (k-1)/2)``.
"""

from __future__ import annotations

import numpy as np


def block_mean(image: np.ndarray, factor: int) -> np.ndarray:
    """Average non-overlapping ``factor × factor`` blocks.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        Input image (any real dtype).
    factor : int
        Block size in pixels (≥ 1). Trailing rows/columns that do not fill a
        whole block are padded by repeating the last row/column, so the output
        has ``ceil(H / factor) × ceil(W / factor)`` pixels and covers the image.

    Returns
    -------
    ndarray of float32
    """
    factor = int(factor)
    if factor < 1:
        raise ValueError(f"block factor must be >= 1, got {factor}")
    img = np.asarray(image, dtype=np.float32)
    if factor == 1:
        return img.copy()
    h, w = img.shape
    # Pad by edge replication to whole blocks, then sum strided slices: much
    # faster than a reshape-and-reduce on large images.
    ph, pw = -h % factor, -w % factor
    if ph or pw:
        img = np.pad(img, ((0, ph), (0, pw)), mode="edge")
    rows = img[0::factor] + img[1::factor]
    for i in range(2, factor):
        rows += img[i::factor]
    out = rows[:, 0::factor] + rows[:, 1::factor]
    for j in range(2, factor):
        out += rows[:, j::factor]
    out *= np.float32(1.0 / (factor * factor))
    return out


def grid_factor(spacing_mm: float, target_mm: float) -> int:
    """Integer block size that brings ``spacing_mm`` closest to ``target_mm`` (≥ 1)."""
    if spacing_mm <= 0:
        raise ValueError(f"spacing must be positive, got {spacing_mm}")
    return max(1, int(round(target_mm / spacing_mm)))


def median_square(image: np.ndarray, size: int) -> np.ndarray:
    """Running median over a ``size × size`` square (odd), edges repeated.

    Equal to ``scipy.ndimage.median_filter(image, size, mode="nearest")``, a
    few times faster on the small coarse grids it is used on: the ``size²``
    shifted copies are stacked and partitioned once, instead of one selection
    per pixel.

    Parameters
    ----------
    image : ndarray, shape (H, W)
    size : int
        Odd window side in pixels (≥ 1).

    Returns
    -------
    ndarray of float32
    """
    size = int(size)
    if size < 1 or size % 2 == 0:
        raise ValueError(f"median window must be odd and >= 1, got {size}")
    img = np.asarray(image, dtype=np.float32)
    if size == 1:
        return img.copy()
    h, w = img.shape
    half = size // 2
    padded = np.pad(img, half, mode="edge")
    stack = np.stack([padded[i:i + h, j:j + w] for i in range(size) for j in range(size)])
    middle = (size * size) // 2
    stack.partition(middle, axis=0)
    return stack[middle]


def box_mean3(image: np.ndarray) -> np.ndarray:
    """Mean over each pixel's ``3 × 3`` neighbourhood, edges repeated.

    Equal (to float32 rounding) to ``scipy.ndimage.uniform_filter(image, 3,
    mode="nearest")`` and about three times faster on the detection grid:
    six whole-array additions of shifted views instead of two line-by-line
    passes in double precision.

    Parameters
    ----------
    image : ndarray, shape (H, W)

    Returns
    -------
    ndarray of float32
    """
    padded = np.pad(np.asarray(image, dtype=np.float32), 1, mode="edge")
    rows = padded[:-2] + padded[1:-1]
    rows += padded[2:]
    out = rows[:, :-2] + rows[:, 1:-1]
    out += rows[:, 2:]
    out *= np.float32(1.0 / 9.0)
    return out


def grown_block_any(mask: np.ndarray, radius: int, factor: int) -> np.ndarray:
    """Blocks of ``factor × factor`` pixels that ``mask``, grown by a square of half-side ``radius``, touches.

    Equal to ``block_mean(grow(mask, radius), factor) > 0`` without growing
    the fine mask: a block is reached when the mask has a pixel within
    ``radius`` of it, that is, in the block itself or in the ``radius``
    nearest rows (columns) of its neighbours. Rows, then columns.

    Parameters
    ----------
    mask : ndarray of bool, shape (H, W)
    radius : int
        Growth half-side in pixels, ``0 <= radius <= factor``.
    factor : int
        Block size in pixels (≥ 1).

    Returns
    -------
    ndarray of bool, shape ``(ceil(H / factor), ceil(W / factor))``
    """
    radius, factor = int(radius), int(factor)
    if not 0 <= radius <= factor:
        raise ValueError(f"growth radius must lie in [0, {factor}], got {radius}")
    return _grown_any_along(_grown_any_along(np.asarray(mask, dtype=bool), radius, factor, 0), radius, factor, 1)


def _grown_any_along(mask: np.ndarray, radius: int, factor: int, axis: int) -> np.ndarray:
    m = np.moveaxis(mask, axis, 0)
    n = m.shape[0]
    blocks = -(-n // factor)
    if blocks * factor != n:
        m = np.concatenate([m, np.zeros((blocks * factor - n,) + m.shape[1:], dtype=bool)])
    m = m.reshape((blocks, factor) + m.shape[1:])
    out = m.any(axis=1)
    if radius:
        out[1:] |= m[:-1, factor - radius:].any(axis=1)  # the last rows of the block before
        out[:-1] |= m[1:, :radius].any(axis=1)           # the first rows of the block after
    return np.moveaxis(out, 0, axis)
