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

    def sample(self, image: np.ndarray, order: int = 1, cval: float = 0.0) -> np.ndarray:
        """The grid image resampled onto the straight frame."""
        rows, cols = self.source_coords()
        out = ndi.map_coordinates(np.asarray(image, dtype=np.float32), [rows, cols], order=order,
                                  mode="constant", cval=cval, prefilter=False)
        return out.astype(np.float32)

    def sample_mask(self, mask: np.ndarray) -> np.ndarray:
        """A grid mask resampled (nearest neighbour) onto the straight frame."""
        return self.sample(mask.astype(np.float32), order=0) > 0.5

    def back(self, straight: np.ndarray, grid_shape: tuple[int, int]) -> np.ndarray:
        """Nearest-neighbour map of a straight-frame array back onto the grid (0 outside)."""
        rr, cc = np.indices(grid_shape, dtype=np.float32)
        ca, sa = np.float32(np.cos(self.angle)), np.float32(np.sin(self.angle))
        i = np.rint(rr * ca + cc * sa - np.float32(self.u0)).astype(np.intp)
        j = np.rint(-rr * sa + cc * ca - np.float32(self.v0)).astype(np.intp)
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
