"""Mapping between stored-image pixels and the leg's own millimetre frame.

The leg frame has ``u`` along the tibia (0 at the knee joint line, growing
towards the ankle) and ``v`` across it in the image plane (0 on the leg's
reference axis). Image pixel ``(r, c)`` has its centre at ``(r * s, c * s)`` mm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LegFrame:
    """Placement of the leg in the image.

    Attributes
    ----------
    rows, columns : int
        Image size in pixels.
    spacing_mm : float
        True pixel spacing at the object (mm per pixel), rows and columns alike.
    anchor_rc_mm : tuple of float
        Image position (mm, row then column) of the leg-frame point ``(u_anchor, 0)``.
    u_anchor : float
        Leg coordinate (mm) found at ``anchor_rc_mm``.
    angle : float
        Tilt (radians) of the leg axis from the image's row direction.
    u_sign : int
        +1 when the knee is at the top of the image, -1 when the ankle is.
    """

    rows: int
    columns: int
    spacing_mm: float
    anchor_rc_mm: tuple[float, float]
    u_anchor: float
    angle: float
    u_sign: int = 1

    def to_leg(self, r, c):
        """Leg coordinates ``(u, v)`` in mm of pixel coordinates ``(r, c)``."""
        y = np.asarray(r, dtype=np.float32) * np.float32(self.spacing_mm) - np.float32(self.anchor_rc_mm[0])
        x = np.asarray(c, dtype=np.float32) * np.float32(self.spacing_mm) - np.float32(self.anchor_rc_mm[1])
        ca, sa = np.float32(np.cos(self.angle)), np.float32(np.sin(self.angle))
        u = self.u_sign * (y * ca + x * sa) + np.float32(self.u_anchor)
        v = -y * sa + x * ca
        return u, v

    def to_image(self, u, v):
        """Pixel coordinates ``(r, c)`` (float) of leg coordinates ``(u, v)`` in mm."""
        along = self.u_sign * (np.asarray(u, dtype=float) - self.u_anchor)
        v = np.asarray(v, dtype=float)
        ca, sa = np.cos(self.angle), np.sin(self.angle)
        y = along * ca - v * sa + self.anchor_rc_mm[0]
        x = along * sa + v * ca + self.anchor_rc_mm[1]
        return y / self.spacing_mm, x / self.spacing_mm

    def full_grid(self):
        """Leg coordinates (float32, mm) of every pixel of the image."""
        r = np.arange(self.rows, dtype=np.float32)[:, None]
        c = np.arange(self.columns, dtype=np.float32)[None, :]
        return self.to_leg(r, c)

    def crop_for(self, u_lo, u_hi, v_lo, v_hi, margin_px=2):
        """Pixel box ``(r0, c0, r1, c1)`` (end-exclusive, clipped) enclosing a leg-frame box.

        Returns ``None`` when the box falls entirely outside the image.
        """
        uu = np.array([u_lo, u_lo, u_hi, u_hi])
        vv = np.array([v_lo, v_hi, v_lo, v_hi])
        r, c = self.to_image(uu, vv)
        r0 = max(int(np.floor(r.min())) - margin_px, 0)
        c0 = max(int(np.floor(c.min())) - margin_px, 0)
        r1 = min(int(np.ceil(r.max())) + margin_px + 1, self.rows)
        c1 = min(int(np.ceil(c.max())) + margin_px + 1, self.columns)
        if r0 >= r1 or c0 >= c1:
            return None
        return r0, c0, r1, c1

    def crop_grid(self, box, supersample=1):
        """Leg coordinates of the pixels (or sub-pixels) inside a pixel box.

        With ``supersample = k`` each pixel is sampled at ``k × k`` points,
        returning arrays of shape ``((r1 - r0) * k, (c1 - c0) * k)``; average
        ``k × k`` blocks to get pixel values.
        """
        r0, c0, r1, c1 = box
        k = int(supersample)
        offsets = (np.arange(k, dtype=np.float32) + 0.5) / k - 0.5
        r = (np.arange(r0, r1, dtype=np.float32)[:, None] + offsets[None, :]).reshape(-1, 1)
        c = (np.arange(c0, c1, dtype=np.float32)[:, None] + offsets[None, :]).reshape(1, -1)
        return self.to_leg(r, c)


def block_mean(values, k):
    """Average non-overlapping ``k × k`` blocks (undoes :meth:`LegFrame.crop_grid` supersampling)."""
    if k == 1:
        return values
    h, w = values.shape
    return values.reshape(h // k, k, w // k, k).mean(axis=(1, 3))
