"""Is this a lower-leg radiograph? What the segmentation must show before analysis.

A calf radiograph shows a band of soft tissue (the leg) with air or
collimation beside it, running along the long axis of one or two long bones
(tibia, fibula) that span much of the leg's length. Chest, pelvis/hip and
breast images and test patterns fail at least one of the checks below; the
reasons are returned as the ``missing`` list of an ``insufficient_information``
result.
"""

from __future__ import annotations

import numpy as np

from .segment import Segmentation

#: The leg covers at least this fraction of the exposed field.
MIN_LEG_FIELD_FRACTION = 0.05
#: ... and at most this fraction (a body filling the whole field is a trunk).
MAX_LEG_FIELD_FRACTION = 0.92
#: A long bone spans at least this fraction of the leg's length in the image
#: (a tibia runs the length of a calf film; a femur on a hip film does not) ...
MIN_LONG_BONE_SPAN = 0.55
#: ... and runs within this angle of the leg axis ...
MAX_LONG_BONE_ANGLE_DEG = 20.0
#: A shorter piece (the shaft between the bone ends set aside as joints) will
#: do when it spans this fraction and runs within this angle of the axis.
MIN_SHAFT_SPAN = 0.35
MAX_SHAFT_ANGLE_DEG = 6.0
#: Plausible adult/child calf widths (mm) when the spacing is known.
LEG_WIDTH_RANGE_MM = (40.0, 200.0)
#: The leg outline is at least this elongated (visible length / median width).
MIN_LEG_ELONGATION = 1.3
#: Dark (air-like) regions enclosed by the body (lungs, bowel gas) up to this
#: fraction of the leg area are tolerated.
MAX_ENCLOSED_AIR_FRACTION = 0.04
#: ... where "air-dark" is below this fraction of the way from air to soft tissue.
ENCLOSED_AIR_LEVEL = 0.25
#: Fraction of pixels taken by the 8 most frequent grey levels above which an
#: image is a synthetic graphic (test pattern), not a radiograph.
MAX_FLAT_LEVEL_FRACTION = 0.5
#: Grey levels this close (fraction of the value range) to either end are
#: background (clipped air, unexposed film), not drawing.
EXTREME_LEVEL_FRACTION = 0.12


def looks_like_graphic(grid: np.ndarray) -> bool:
    """True when a few exact grey levels cover most of the image (test patterns, drawings).

    Levels within :data:`EXTREME_LEVEL_FRACTION` of either end of the value
    range are left out: a radiograph may have a large background of clipped
    air or of unexposed film at one value, with a few burned-in pixels even
    darker or brighter than it.
    """
    values = np.asarray(grid).ravel()
    if values.size == 0:
        return True
    lo, hi = float(values.min()), float(values.max())
    if not hi > lo:
        return True
    margin = EXTREME_LEVEL_FRACTION * (hi - lo)
    inner = values[(values > lo + margin) & (values < hi - margin)]
    if inner.size < 0.05 * values.size:
        return True
    _, counts = np.unique(inner, return_counts=True)
    top = np.sort(counts)[-8:].sum()
    return bool(top / inner.size > MAX_FLAT_LEVEL_FRACTION)


def enclosed_air_fraction(seg: Segmentation) -> float:
    """Area of air-dark regions enclosed by the leg, as a fraction of the leg area."""
    if not seg.leg.any():
        return 0.0
    level = seg.air_level + ENCLOSED_AIR_LEVEL * (seg.tissue_level - seg.air_level)
    dark = seg.leg & (seg.image < level)
    return float(dark.sum() / seg.leg.sum())


def reasons_not_a_leg(seg: Segmentation, spacing_known: bool) -> list[str]:
    """Why the segmentation does not show an analysable lower leg (empty when it does).

    Parameters
    ----------
    seg : Segmentation
    spacing_known : bool
        Whether ``seg.mm_per_px`` is measured (the width check is only made then).

    Returns
    -------
    list of str
        One-line reasons, suitable for ``ImageFindings.missing``.
    """
    field_px = int(seg.field.sum())
    leg_px = int(seg.leg.sum())
    if field_px == 0:
        return ["no exposed field found (the image is all collimation)"]
    if leg_px < MIN_LEG_FIELD_FRACTION * field_px:
        return ["no leg outline found"]
    reasons = []
    fraction = leg_px / field_px
    leg_length_px = max(seg.leg_length_px, 1.0)
    elongation = leg_length_px / max(seg.leg_width_px, 1.0)
    if fraction > MAX_LEG_FIELD_FRACTION and elongation < 2.0:
        reasons.append("the body fills the whole field: not a lower-leg radiograph?")
    elif elongation < MIN_LEG_ELONGATION:
        reasons.append("the body outline is not an elongated limb: not a lower-leg radiograph?")
    if spacing_known:
        width_mm = seg.leg_width_px * seg.mm_per_px
        lo, hi = LEG_WIDTH_RANGE_MM
        if not lo <= width_mm <= hi:
            reasons.append(f"the body is {width_mm:.0f} mm wide, not a calf: not a lower-leg radiograph?")
    long_ok = [
        b for b in seg.long_bones
        if (b["length_mm"] / seg.mm_per_px >= MIN_LONG_BONE_SPAN * leg_length_px
            and b["angle_deg"] <= MAX_LONG_BONE_ANGLE_DEG)
        or (b["length_mm"] / seg.mm_per_px >= MIN_SHAFT_SPAN * leg_length_px
            and b["angle_deg"] <= MAX_SHAFT_ANGLE_DEG)
    ]
    if not long_ok:
        reasons.append("no long bone found along the limb — not a lower-leg radiograph?")
    if enclosed_air_fraction(seg) > MAX_ENCLOSED_AIR_FRACTION:
        reasons.append("air-filled regions inside the body (lungs or bowel): not a lower-leg radiograph?")
    return reasons
