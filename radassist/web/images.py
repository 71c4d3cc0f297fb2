"""Pictures for the page: the windowed display image and the downloadable overlay.

The display image is the radiograph as analysed (stored orientation, dense is
bright), windowed on the leg by :func:`radassist.render.display_window` and
scaled so its longer side is at most :data:`DISPLAY_MAX_SIDE` pixels. The page
draws the cluster outlines over it as SVG; the overlay PNG (outlines burnt in)
is made from it only when someone downloads it, so no analysis waits for it.
The analysis process stores the display image as raw 8-bit pixels after it
has answered; the web process encodes the PNG the first time it is asked for
(see :mod:`radassist.web.store`).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from ..model import ImageFindings
from ..render import display_window, overlay_png

DISPLAY_MAX_SIDE = 2048


def display_image(pixels: np.ndarray, findings: ImageFindings, *, max_side: int = DISPLAY_MAX_SIDE) -> np.ndarray:
    """8-bit display copy of the radiograph, windowed on the leg.

    The image is first shrunk by the smallest whole factor that brings its
    longer side to at most ``max_side`` (a box filter: cheap, and it does not
    alias), then windowed, so the work is done on the small copy.
    """
    factor = max(1, -(-max(pixels.shape) // max_side))
    bbox = findings.leg_bbox_px
    if factor > 1:
        pixels = np.asarray(Image.fromarray(np.ascontiguousarray(pixels, dtype=np.float32)).reduce(factor))
        bbox = tuple(v // factor for v in bbox) if bbox else None
    return display_window(pixels, bbox)


def encode_png(grey: np.ndarray) -> bytes:
    """PNG of an 8-bit image (fast compression: it is re-sent, not archived)."""
    buf = io.BytesIO()
    Image.fromarray(grey).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def display_png(pixels: np.ndarray, findings: ImageFindings, *, max_side: int = DISPLAY_MAX_SIDE) -> bytes:
    """:func:`display_image` as PNG bytes."""
    return encode_png(display_image(pixels, findings, max_side=max_side))


def overlay_from_display(display: bytes, findings: ImageFindings, rows: int, columns: int) -> bytes:
    """The overlay PNG (every cluster and mass outlined and labelled) drawn on the stored display image.

    Parameters
    ----------
    display : bytes
        PNG from :func:`display_png`.
    findings : ImageFindings
        Coordinates in pixels of the image as stored.
    rows, columns : int
        Size of the image as stored; the display image is scaled back to it
        so the findings' coordinates apply unchanged.
    """
    grey = Image.open(io.BytesIO(display)).convert("L")
    if grey.size != (columns, rows):
        grey = grey.resize((columns, rows), Image.Resampling.BILINEAR)
    return overlay_png(np.asarray(grey, dtype=np.float32), findings,
                       max_side=min(DISPLAY_MAX_SIDE, max(rows, columns)))
