"""A straightened view of the leg: the leg axis along the rows.

Many measurements are simplest along lines across the leg (its width, the
soft-tissue thickness profile, where bone starts). :class:`StraightFrame`
resamples a grid image so that each row is one such line, and maps results
back. Coordinates: a grid pixel ``(r, c)`` has *along* coordinate
``u = r cos a + c sin a`` and *across* coordinate ``v = -r sin a + c cos a``,
where ``a`` is the axis angle (radians from the row direction towards the
column direction); straight-frame pixel ``(i, j)`` sits at ``u = u0 + i``,
``v = v0 + j``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from skimage.transform import warp


@dataclass(frozen=True)
class StraightFrame:
    """Resampling between a grid and its straightened (axis-along-rows) version."""

    angle: float
    u0: float
    v0: float
    shape: tuple[int, int]

    def source_coords(self) -> tuple[np.ndarray, np.ndarray]:
        """Grid ``(row, col)`` coordinates of every straight-frame pixel (float32)."""
        i = np.arange(self.shape[0], dtype=np.float32)[:, None] + np.float32(self.u0)
        j = np.arange(self.shape[1], dtype=np.float32)[None, :] + np.float32(self.v0)
        ca, sa = np.float32(np.cos(self.angle)), np.float32(np.sin(self.angle))
        return i * ca - j * sa, i * sa + j * ca

    def frame_coords(self, grid_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Straight-frame ``(i, j)`` coordinates of every grid pixel (float32): the inverse of :meth:`source_coords`."""
        rr, cc = np.indices(grid_shape, dtype=np.float32)
        ca, sa = np.float32(np.cos(self.angle)), np.float32(np.sin(self.angle))
        return rr * ca + cc * sa - np.float32(self.u0), -rr * sa + cc * ca - np.float32(self.v0)

    def sample(self, image: np.ndarray, order: int = 1, cval: float = 0.0) -> np.ndarray:
        """The grid image resampled onto the straight frame.

        ``order`` 1 is bilinear, 0 nearest. Frame pixels whose source lies
        outside the grid (beyond its outermost pixel centres) take ``cval``,
        as :func:`scipy.ndimage.map_coordinates` with ``mode="constant"``
        gives. Bilinear sampling is skimage's affine warp, in half
        ``map_coordinates``' time; skimage has no fast nearest-neighbour path.
        """
        image = np.asarray(image, dtype=np.float32)
        rows, cols = self.source_coords()
        if order != 1:
            return ndi.map_coordinates(image, [rows, cols], order=order, mode="constant", cval=cval,
                                       prefilter=False).astype(np.float32)
        c, s = np.cos(self.angle), np.sin(self.angle)
        # (column, row) of the grid from (column, row) of the frame, homogeneous.
        to_grid = np.array([[c, s, self.u0 * s + self.v0 * c],
                            [-s, c, self.u0 * c - self.v0 * s],
                            [0.0, 0.0, 1.0]])
        out = warp(image, to_grid, output_shape=self.shape, order=1, mode="constant", cval=cval,
                   preserve_range=True, clip=False).astype(np.float32, copy=False)
        out[(rows < 0) | (rows > image.shape[0] - 1) | (cols < 0) | (cols > image.shape[1] - 1)] = cval
        return out

    def back_linear(self, straight: np.ndarray, fallback: np.ndarray) -> np.ndarray:
        """Bilinear map of a straight-frame array back onto the grid; ``fallback`` outside the frame."""
        c, s = np.cos(self.angle), np.sin(self.angle)
        # (column, row) of the frame from (column, row) of the grid, homogeneous.
        to_frame = np.array([[c, -s, -self.v0],
                             [s, c, -self.u0],
                             [0.0, 0.0, 1.0]])
        out = warp(np.asarray(straight, dtype=np.float32), to_frame, output_shape=fallback.shape, order=1,
                   mode="constant", cval=0.0, preserve_range=True, clip=False).astype(np.float32, copy=False)
        i, j = self.frame_coords(fallback.shape)
        inside = (i >= 0) & (i <= self.shape[0] - 1) & (j >= 0) & (j <= self.shape[1] - 1)
        return np.where(inside, out, np.asarray(fallback, dtype=np.float32))

    def sample_mask(self, mask: np.ndarray) -> np.ndarray:
        """A grid mask resampled (nearest neighbour) onto the straight frame."""
        return self.sample(mask.astype(np.float32), order=0) > 0.5

    def back(self, straight: np.ndarray, grid_shape: tuple[int, int]) -> np.ndarray:
        """Nearest-neighbour map of a straight-frame array back onto the grid (0 outside)."""
        i, j = (np.rint(x).astype(np.intp) for x in self.frame_coords(grid_shape))
        inside = (i >= 0) & (i < self.shape[0]) & (j >= 0) & (j < self.shape[1])
        out = np.zeros(grid_shape, dtype=straight.dtype)
        out[inside] = straight[i[inside], j[inside]]
        return out


def straight_frame(mask: np.ndarray, axis_angle: float, margin_px: int = 2) -> StraightFrame:
    """The straight frame enclosing ``mask`` (plus a margin) for a given axis angle."""
    rr, cc = np.nonzero(mask)
    if rr.size == 0:
        rr, cc = np.array([0, mask.shape[0] - 1]), np.array([0, mask.shape[1] - 1])
    ca, sa = np.cos(axis_angle), np.sin(axis_angle)
    u = rr * ca + cc * sa
    v = -rr * sa + cc * ca
    u0, v0 = np.floor(u.min()) - margin_px, np.floor(v.min()) - margin_px
    shape = (int(np.ceil(u.max() - u0)) + margin_px + 1, int(np.ceil(v.max() - v0)) + margin_px + 1)
    return StraightFrame(float(axis_angle), float(u0), float(v0), shape)


def line_opening(straight: np.ndarray, length: int, slope: float, fill: float = 0.0,
                 mode: str = "nearest") -> np.ndarray:
    """Grey opening of a straight-frame image by a line ``length`` pixels long along its rows.

    The line leans ``slope`` columns per row from the frame's axis. Rather
    than resampling the image at that tilt, each row is shifted by a whole
    number of columns (a shear), which makes the leaning line vertical; the
    opening is then two running extremes down the columns, and the rows are
    shifted back. No value is interpolated.

    Parameters
    ----------
    straight : ndarray, shape (rows, columns)
        Image in a straight frame (axis along the rows); bool images are
        opened as 0/1.
    length : int
        Line length in rows. With an even length both running extremes
        lean the same half row, so the result is the opening moved by one
        row (as :func:`.bone._trim_bulges` has always used it).
    slope : float
        Columns per row.
    fill : float
        Value beyond the image's sides once sheared (and beyond its ends
        when ``mode="constant"``).
    mode : str
        How the running extremes treat the frame's ends
        (:func:`scipy.ndimage.minimum_filter1d`).

    Returns
    -------
    ndarray, same shape and dtype as ``straight`` (uint8 for bool input)
    """
    values = straight.astype(np.uint8) if straight.dtype == bool else straight
    rows = np.arange(values.shape[0])
    # Row i moves left by its line's lean, so the leaning line stands upright.
    shift = -np.round(rows * slope).astype(np.intp)
    shift -= shift.min()
    sheared = np.full((values.shape[0], values.shape[1] + int(shift.max())), fill, dtype=values.dtype)
    cols = np.arange(values.shape[1])[None, :] + shift[:, None]
    sheared[rows[:, None], cols] = values
    opened = ndi.minimum_filter1d(sheared, length, axis=0, mode=mode, cval=fill)
    opened = ndi.maximum_filter1d(opened, length, axis=0, mode=mode, cval=fill)
    return opened[rows[:, None], cols]
