"""Soft-tissue masses: the mass a calcification sits in, from the leg's axial background.

A soft-tissue mass is a broad, faint swelling: it adds a few tenths of
muscle's attenuation over 15–80 mm. Along the leg the soft tissue otherwise
changes slowly, so the image minus its opening by a long line along the leg
(:func:`.axial.axial_opening`) holds the mass and
the calcifications, and little else. Around a calcification (whose own pixels
are left out and filled from their surroundings) the mass is the raised,
smooth region that reaches it.

Work is on the ≈1 mm segmentation grid. Masses are only looked for around a
calcification: on their own, faint swellings cannot be told reliably from
the slow changes of the soft tissue along the leg.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from .morph import fill_holes, grow, shrink
from .segment import Segmentation

#: Smoothing (Gaussian sigma, mm) of the residual at the mass scale.
SMOOTHING_MM = 2.5
#: Margin (mm) around calcified pixels left out and filled from the surroundings.
CALCIFICATION_MARGIN_MM = 1.5
#: Bone edges and the skin line are left out by this margin (mm): they are not density levels.
EDGE_MARGIN_MM = 2.0
#: The calcification is inside the mass when the mass covers this fraction of
#: the soft tissue just around it.
INSIDE_FRACTION = 0.2
#: The mass is looked for within this distance (mm) of the calcification ...
NEAR_MM = 6.0
#: ... its outline at this fraction of the highest excess found there ...
OUTLINE_LEVEL = 0.5
#: ... and the soft tissue in a ring this wide (mm) outside the outline stays
#: below this fraction of that excess.
RING_MM = 6.0
RING_LEVEL = 0.3
#: At least this fraction of the ring must be soft tissue (a mass beside a
#: bone or near the skin has part of its ring there).
MIN_RING_USABLE = 0.3
#: ... and it is a mass when it peaks this many sigmas up ...
MIN_PEAK_SNR = 3.0
#: ... is at least this wide (equivalent diameter, mm) and this many times
#: wider than the calcification ...
MIN_DIAMETER_MM = 12.0
MAX_DIAMETER_MM = 90.0
MIN_RATIO = 1.6
#: ... no more elongated than this ...
MAX_ASPECT = 3.5
#: ... and faint: a mass adds at most this fraction of the tissue contrast per
#: unit of its relative thickness (a calcified lump adds much more).
MAX_RELATIVE_ATTENUATION = 0.6


@dataclass
class MassRegion:
    """A soft-tissue mass on the segmentation grid."""

    mask: np.ndarray  # bool, segmentation grid
    centroid: tuple[float, float]  # grid px
    semi_axes_px: tuple[float, float]  # major, minor semi-axes of the equivalent ellipse
    orientation: float  # radians from rows towards columns, of the major axis
    peak_contrast: float  # fraction of tissue contrast
    snr: float
    confidence: float


@dataclass
class SoftResidual:
    """The smoothed soft-tissue residual on the segmentation grid."""

    values: np.ndarray  # float32, calcifications filled in
    usable: np.ndarray  # bool, where the values mean something
    sigma: float  # noise of ``values``
    tissue_contrast: float
    leg_thickness_mm: float


def usable_soft_tissue(seg: Segmentation) -> np.ndarray:
    """Soft tissue whose density means something: the leg less its skin line, bone edges, joints, markers."""
    margin = max(1, int(round(EDGE_MARGIN_MM / seg.mm_per_px)))
    return shrink(seg.leg, margin) & ~grow(seg.bone, margin) & ~seg.joint & ~seg.markers & seg.field


def soft_residual(seg: Segmentation, background: np.ndarray, calcified: np.ndarray) -> SoftResidual | None:
    """The leg's soft-tissue residual, smoothed at the mass scale.

    Parameters
    ----------
    seg : Segmentation
    background : ndarray of float32
        The leg's axial background on the segmentation grid
        (:func:`.axial.axial_opening` of ``seg.image``).
    calcified : ndarray of bool
        Calcified pixels on the segmentation grid (left out, filled in).

    Returns
    -------
    SoftResidual or None
        ``None`` when the leg has too little soft tissue.
    """
    mm = seg.mm_per_px
    contrast = max(seg.tissue_level - seg.air_level, 1e-6)
    residual = seg.image - background
    usable = usable_soft_tissue(seg)
    left_out = grow(calcified, max(1, int(round(CALCIFICATION_MARGIN_MM / mm))))
    weight = (usable & ~left_out).astype(np.float32)
    if weight.sum() < 100:
        return None
    sigma_px = SMOOTHING_MM / mm
    num = ndi.gaussian_filter(residual * weight, sigma_px, mode="nearest", truncate=3.0)
    den = ndi.gaussian_filter(weight, sigma_px, mode="nearest", truncate=3.0)
    # Fill the calcifications from a wider neighbourhood, where the
    # mass-scale smoothing has no support.
    wide_num = ndi.gaussian_filter(residual * weight, 3 * sigma_px, mode="nearest", truncate=2.5)
    wide_den = ndi.gaussian_filter(weight, 3 * sigma_px, mode="nearest", truncate=2.5)
    with np.errstate(invalid="ignore", divide="ignore"):
        smooth = np.where(den > 0.3, num / np.maximum(den, 1e-9), wide_num / np.maximum(wide_den, 1e-9))
    smooth = np.nan_to_num(smooth).astype(np.float32)
    values_in = smooth[usable & ~left_out]
    # The residual is one-sided (an opening leaves only the raised); its noise
    # is read from the spread below its median.
    centre = float(np.median(values_in))
    below = values_in[values_in < centre] - centre
    sigma = float(np.sqrt(np.mean(below * below))) if below.size else 0.0
    smooth -= np.float32(centre)
    thickness = seg.leg_width_px * mm
    return SoftResidual(smooth, usable | left_out, max(sigma, 1e-6), contrast, thickness)


def mass_around(soft: SoftResidual | None, seg: Segmentation, lesion: np.ndarray) -> MassRegion | None:
    """The soft-tissue mass around a calcified cluster, if there is one.

    The mass is a bump: the region around the calcification above half of
    the highest soft-tissue excess near it must be closed and compact, and
    clearly higher than a ring of soft tissue just outside it (a plateau or
    the edge of a larger structure is not a mass).

    Parameters
    ----------
    soft : SoftResidual or None
    seg : Segmentation
    lesion : ndarray of bool
        The cluster's calcified pixels on the segmentation grid.
    """
    if soft is None or not lesion.any():
        return None
    mm = seg.mm_per_px
    own = grow(lesion, 1)  # the calcification and its filled-in margin
    near = grow(lesion, max(1, int(round(NEAR_MM / mm))))
    candidates = soft.values[near & ~own & soft.usable]
    if candidates.size == 0:
        return None
    peak = float(candidates.max())
    if peak < MIN_PEAK_SNR * soft.sigma:
        return None
    above = (soft.values > OUTLINE_LEVEL * peak) & soft.usable & ~own
    labels, _ = ndi.label(above)
    keep = np.unique(labels[near & above])
    region = np.isin(labels, keep[keep > 0])
    # The calcification lies in (or on the edge of) the mass when the mass
    # reaches the soft tissue just around it.
    around = grow(own, 2) & ~own
    if around.any() and (region & around).sum() >= INSIDE_FRACTION * around.sum():
        region |= own
    region = fill_holes(region)
    area = float(region.sum()) * mm * mm
    diameter = 2 * np.sqrt(area / np.pi)
    lesion_d = 2 * np.sqrt(float(lesion.sum()) * mm * mm / np.pi)
    if not MIN_DIAMETER_MM <= diameter <= MAX_DIAMETER_MM or diameter < MIN_RATIO * lesion_d:
        return None
    ring = grow(region, max(1, int(round(RING_MM / mm)))) & ~grow(region, 1) & soft.usable
    if ring.sum() < MIN_RING_USABLE * (grow(region, max(1, int(round(RING_MM / mm)))) & ~grow(region, 1)).sum():
        return None  # the region runs into bone, skin or a border: no closed outline
    if float(np.percentile(soft.values[ring], 75)) > RING_LEVEL * peak:
        return None
    found = _describe(region, peak, soft)
    major, minor = (2 * s * mm for s in found.semi_axes_px)
    if major > MAX_ASPECT * max(minor, 1e-6):
        return None
    # Attenuation per mm relative to muscle: peak / contrast × thickness / depth (≈ its width).
    relative = (peak / soft.tissue_contrast) * (soft.leg_thickness_mm / max(minor, 1.0))
    if relative > MAX_RELATIVE_ATTENUATION:
        return None
    return found


def _describe(mask: np.ndarray, peak: float, soft: SoftResidual) -> MassRegion:
    rr, cc = np.nonzero(mask)
    centre = (float(rr.mean()), float(cc.mean()))
    cov = np.cov(np.stack([rr - centre[0], cc - centre[1]])) if rr.size > 2 else np.eye(2)
    evals, evecs = np.linalg.eigh(cov)
    semi = (2 * np.sqrt(max(evals[1], 1e-6)), 2 * np.sqrt(max(evals[0], 1e-6)))
    orientation = float(np.arctan2(evecs[1, 1], evecs[0, 1]))
    snr = peak / soft.sigma
    confidence = float(np.clip(0.3 + 0.6 * (snr - MIN_PEAK_SNR) / (3 * MIN_PEAK_SNR), 0.3, 0.9))
    return MassRegion(mask, centre, semi, orientation, peak / soft.tissue_contrast, snr, round(confidence, 3))
