"""Things in the image that are not the patient: shutters, lead markers, burned-in text.

All are traps for a calcification detector (dense edges, dense letters,
saturated text), so they are drawn as a real system would produce them:
collimation and lead markers act on the X-ray beam, text is burned into the
processed display values.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage


@dataclass(frozen=True)
class Collimation:
    """Exposed field ``(r0, c0, r1, c1)`` (pixels, end-exclusive) with a soft penumbra."""

    field: tuple[int, int, int, int]
    penumbra_px: float
    leak: float  # fraction of the beam passing the shutters


@dataclass(frozen=True)
class Marker:
    """A lead letter (``"L"`` / ``"R"``), optionally in a plastic holder."""

    letter: str
    centre_rc: tuple[float, float]
    height_px: float
    angle_deg: float
    mirrored: bool
    lead: float  # line integral of the lead (dimensionless), 3-7
    holder: float  # line integral of the plastic holder, 0 when absent


@dataclass(frozen=True)
class BurnedText:
    """Text burned into the display image (saturated white or black)."""

    text: str
    top_left_rc: tuple[int, int]
    height_px: float
    value: float


@lru_cache(maxsize=64)
def glyph_mask(text: str, height_px: int) -> np.ndarray:
    """Binary raster (bool) of ``text`` with capital letters about ``height_px`` pixels tall."""
    size = max(int(height_px * 1.35), 6)
    font = ImageFont.load_default(size=size)
    left, top, right, bottom = font.getbbox(text)
    canvas = Image.new("L", (right - left + 4, bottom - top + 4), 0)
    ImageDraw.Draw(canvas).text((2 - left, 2 - top), text, fill=255, font=font)
    mask = np.asarray(canvas) > 127
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return np.zeros((1, 1), dtype=bool)
    return mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def field_transmission(shape, collimation: Collimation):
    """Collimator transmission per pixel (float32): 1 in the field, ``leak`` outside."""
    h, w = shape
    r0, c0, r1, c1 = collimation.field
    p = max(collimation.penumbra_px, 0.5)
    rr = np.arange(h, dtype=np.float32)
    cc = np.arange(w, dtype=np.float32)
    fr = np.clip((rr - r0 + 0.5) / p + 0.5, 0, 1) * np.clip((r1 - 0.5 - rr) / p + 0.5, 0, 1)
    fc = np.clip((cc - c0 + 0.5) / p + 0.5, 0, 1) * np.clip((c1 - 0.5 - cc) / p + 0.5, 0, 1)
    inside = fr[:, None] * fc[None, :]
    return (collimation.leak + (1 - collimation.leak) * inside).astype(np.float32)


def add_marker(lead_integral, marker: Marker):
    """Add a marker's lead (and holder) line integral into ``lead_integral`` in place.

    Returns the pixel box ``(r0, c0, r1, c1)`` it covers (clipped), or None.
    """
    glyph = glyph_mask(marker.letter, int(round(marker.height_px)))
    if marker.mirrored:
        glyph = glyph[:, ::-1]
    pad = int(marker.height_px * 0.35) + 2
    glyph = np.pad(glyph.astype(np.float32), pad)
    holder = np.ones_like(glyph) * marker.holder
    layer = glyph * marker.lead + holder
    if marker.angle_deg:
        layer = ndimage.rotate(layer, marker.angle_deg, order=1, reshape=True)
    gh, gw = layer.shape
    r0 = int(round(marker.centre_rc[0] - gh / 2))
    c0 = int(round(marker.centre_rc[1] - gw / 2))
    H, W = lead_integral.shape
    rs, cs = max(r0, 0), max(c0, 0)
    re, ce = min(r0 + gh, H), min(c0 + gw, W)
    if rs >= re or cs >= ce:
        return None
    lead_integral[rs:re, cs:ce] += layer[rs - r0 : re - r0, cs - c0 : ce - c0]
    return (rs, cs, re, ce)


def burn_text(display, text: BurnedText):
    """Burn ``text`` into ``display`` (float, 0-1) in place."""
    glyph = glyph_mask(text.text, int(round(text.height_px)))
    r0, c0 = text.top_left_rc
    H, W = display.shape
    gh, gw = glyph.shape
    re, ce = min(r0 + gh, H), min(c0 + gw, W)
    if r0 >= re or c0 >= ce or r0 < 0 or c0 < 0:
        return
    region = display[r0:re, c0:ce]
    region[glyph[: re - r0, : ce - c0]] = text.value
