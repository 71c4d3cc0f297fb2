"""Soft-tissue masses: what a mass is, and where one may be looked for.

A soft-tissue mass is a broad, faint swelling that adds a few tenths of
muscle's attenuation over 15–80 mm. It is looked for only around a
calcification (:mod:`.outline` finds its rim): on their own, faint swellings
cannot be told reliably from the slow changes of the soft tissue along the
leg. Work is on the ≈1 mm segmentation grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .morph import grow, shrink
from .segment import Segmentation

#: Bone edges and the skin line are left out by this margin (mm): they are not density levels.
EDGE_MARGIN_MM = 2.0


@dataclass
class MassRegion:
    """A soft-tissue mass on the segmentation grid."""

    mask: np.ndarray  # bool, segmentation grid
    centroid: tuple[float, float]  # grid px
    semi_axes_px: tuple[float, float]  # major, minor semi-axes of the equivalent ellipse
    orientation: float  # radians from rows towards columns, of the major axis
    peak_contrast: float  # how much brighter inside than just outside, fraction of the tissue contrast
    snr: float  # strength of its rim: median downward slope at the outline over the slope noise
    confidence: float


def usable_soft_tissue(seg: Segmentation) -> np.ndarray:
    """Soft tissue whose density means something: the leg less its skin line, bone edges, joints, markers."""
    margin = max(1, int(round(EDGE_MARGIN_MM / seg.mm_per_px)))
    return shrink(seg.leg, margin) & ~grow(seg.bone, margin) & ~seg.joint & ~seg.markers & seg.field
