"""The leg's own background: what stays the same along the leg.

A calf radiograph is, to first order, the same from one cross-section to the
next: the tibia, the fibula, the skin line and the fat planes run along the
leg and change slowly, while a calcification or a soft-tissue mass is a
local event, shorter along the leg than :data:`AXIAL_OPENING_MM`. A grey
opening by a line of that length along the leg axis keeps everything long
and removes everything short, so the image minus its opening holds the
lesions (bright, short along the leg) and almost nothing of the anatomy.
Unlike a disc-shaped background filter, the line opening needs no size limit
across the leg: a 20 mm lesion beside the tibia keeps its full contrast, and
bone edges parallel to the axis do not show. :mod:`.analyze` uses it to take
lesions lying next to a bone out of the brightness-based bone mask.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .legframe import straight_frame

#: Length (mm) of the line opening along the leg: longer than any compact
#: lesion, shorter than the distance over which a cortex tilted by a few
#: degrees to the axis drifts by its own width.
AXIAL_OPENING_MM = 50.0
#: Tilts (degrees) of the opening line to the leg axis.
TILTS_DEG = (-6.0, 0.0, 6.0)
#: Lucent lines up to this width (mm) are closed before the opening.
LUCENT_LINE_MM = 2.5


def axial_opening(image: np.ndarray, leg: np.ndarray, axis_angle: float, length_px: float,
                  tilts_deg: tuple[float, ...] = TILTS_DEG, gap_px: float = 0.0) -> np.ndarray:
    """Grey opening of ``image`` by a line ``length_px`` long along the leg axis.

    The line may tilt by any of ``tilts_deg`` from the axis (the result is the
    largest of the openings): fat planes, the fibula and the skin line run a
    few degrees off the axis, and a single straight line would cut them.

    Parameters
    ----------
    image : ndarray of float32, shape (rows, columns)
        Dense-bright image on any grid.
    leg : ndarray of bool, same shape
        The leg outline (sets the straightened frame's extent).
    axis_angle : float
        Leg-axis orientation, radians from the row direction towards the
        column direction.
    length_px : float
        Length of the line, in pixels of ``image``.
    tilts_deg : tuple of float
        Tilts of the line to the axis, degrees.
    gap_px : float
        Lucent lines up to this width (pixels) are closed before the opening.

    Returns
    -------
    ndarray of float32, same shape
        The opening, mapped back onto the image grid (bilinear); outside the
        straightened frame, the image itself.
    """
    image = np.asarray(image, dtype=np.float32)
    n = max(3, int(round(length_px)) | 1)
    fill = float(np.median(image))
    # Thin lucent lines (fat planes, skin creases) crossing the line would
    # pull the opening down on both sides of them: close them first.
    source = image
    if gap_px >= 2:
        source = ndi.grey_closing(image, size=(int(gap_px) | 1, int(gap_px) | 1), mode="nearest")
    best = None
    for tilt in tilts_deg:
        angle = axis_angle + np.deg2rad(tilt)
        if abs(np.sin(angle)) < 1e-3:  # already straight: no resampling at all
            opened = ndi.grey_opening(source, size=(n, 1), mode="nearest")
        else:
            frame = straight_frame(leg, angle, margin_px=n // 2 + 2)
            straight = frame.sample(source, order=1, cval=fill)
            opened = frame.back_linear(ndi.grey_opening(straight, size=(n, 1), mode="nearest"), image)
        best = opened if best is None else np.maximum(best, opened)
    return best
