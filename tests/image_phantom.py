"""A small hand-made lower-leg phantom for fast image-analysis tests.

Not a physics model (that is ``radassist.synth``): a dense-bright image with
air, an elliptic soft-tissue cross-section along the rows, a tibia and a
fibula as cortical tubes, optional collimation bands, a lead marker in the air
and calcifications drawn as small bright solids. Every quantity is in mm and
converted with the spacing, so the same scene can be drawn at any spacing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

AIR = 0.05
TISSUE_PER_MM = 0.004  # intensity per mm of soft-tissue path (dense = bright)
BONE_PER_MM = 0.012  # extra intensity per mm of cortical bone path


@dataclass
class Phantom:
    pixels: np.ndarray
    spacing_mm: float
    leg: np.ndarray  # bool, true leg outline
    bone: np.ndarray  # bool, true bone (tibia and fibula)
    calcifications: list = field(default_factory=list)  # bounding boxes (r0, c0, r1, c1)


def _tube_chord(d, r_out, r_in):
    outer = 2 * np.sqrt(np.clip(r_out**2 - d**2, 0, None))
    inner = 2 * np.sqrt(np.clip(r_in**2 - d**2, 0, None))
    return outer - inner * 0.7  # a partly dense medulla


def make_phantom(
    shape_mm=(300.0, 200.0),
    spacing_mm=0.5,
    *,
    collimation_mm=0.0,
    marker=False,
    phleboliths=(),
    stipple_at=None,
    masses=(),
    noise=0.004,
    seed=0,
) -> Phantom:
    """Draw the phantom.

    Parameters
    ----------
    shape_mm : (float, float)
        Image height and width in mm.
    spacing_mm : float
        Pixel spacing.
    collimation_mm : float
        Width of flat bright unexposed bands on the left and right (0 for none).
    marker : bool
        Put a dense "L"-shaped lead marker in the air on the right.
    phleboliths : sequence of (row_mm, col_mm, diameter_mm[, hollow])
        Round calcifications: solid spheres, or shells whose uncalcified
        core has ``hollow`` times their radius (a central lucency).
    stipple_at : (row_mm, col_mm) or None
        Centre of a field of 20 tiny (0.8 mm) dots spread over ~15 mm.
    masses : sequence of (row_mm, col_mm, radius_mm)
        Soft-tissue masses: spheres attenuating 30 % more than muscle.
    noise : float
        Gaussian noise standard deviation.
    seed : int
    """
    rng = np.random.default_rng(seed)
    h, w = int(shape_mm[0] / spacing_mm), int(shape_mm[1] / spacing_mm)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) * np.float32(spacing_mm)
    centre_c = shape_mm[1] / 2
    half_width = 55.0 + 8.0 * np.sin(yy / shape_mm[0] * np.pi)  # a calf that bulges in the middle
    d = (xx - centre_c) / half_width
    tissue_path = 2 * 45.0 * np.sqrt(np.clip(1 - d**2, 0, None))
    leg = np.abs(d) < 1
    tibia_c, fibula_c = centre_c - 12.0, centre_c + 25.0
    tibia = _tube_chord(xx - tibia_c, 12.0, 7.0)
    fibula = _tube_chord(xx - fibula_c, 6.0, 3.0)
    bone = ((np.abs(xx - tibia_c) < 12.0) | (np.abs(xx - fibula_c) < 6.0)) & leg
    img = AIR + TISSUE_PER_MM * tissue_path + BONE_PER_MM * (tibia + fibula) * leg
    for r_mm, c_mm, rad in masses:
        chord = 2 * np.sqrt(np.clip(rad**2 - (yy - r_mm) ** 2 - (xx - c_mm) ** 2, 0, None))
        img = img + 0.3 * TISSUE_PER_MM * chord
    boxes = []
    for r_mm, c_mm, diam, *hollow in phleboliths:
        rad = diam / 2
        chord = 2 * np.sqrt(np.clip(rad**2 - (yy - r_mm) ** 2 - (xx - c_mm) ** 2, 0, None))
        if hollow:  # a shell: the inner sphere (this fraction of the radius) is not calcified
            inner = hollow[0] * rad
            chord = chord - 2 * np.sqrt(np.clip(inner**2 - (yy - r_mm) ** 2 - (xx - c_mm) ** 2, 0, None))
        img = img + 0.05 * chord
        boxes.append(_box(r_mm, c_mm, rad, spacing_mm))
    if stipple_at is not None:
        r0, c0 = stipple_at
        offsets = rng.uniform(-7.5, 7.5, size=(20, 2))
        for dr, dc in offsets:
            chord = 2 * np.sqrt(np.clip(0.4**2 - (yy - r0 - dr) ** 2 - (xx - c0 - dc) ** 2, 0, None))
            img = img + 0.12 * chord
        boxes.append(_box(r0, c0, 8.0, spacing_mm))
    if marker:
        mr, mc = shape_mm[0] * 0.7, shape_mm[1] - 22.0
        lead = ((np.abs(yy - mr) < 8) & (np.abs(xx - mc) < 1.5)) | ((np.abs(yy - mr - 7) < 1.5) & (xx > mc) & (xx < mc + 8))
        img = np.where(lead, 1.2, img)
    img = img + rng.normal(0, noise, img.shape)
    if collimation_mm > 0:
        band = (xx < collimation_mm) | (xx > shape_mm[1] - collimation_mm)
        img = np.where(band, 1.3, img)
        leg &= ~band
        bone &= ~band
    return Phantom(img.astype(np.float32), spacing_mm, leg, bone, boxes)


def _box(r_mm, c_mm, rad_mm, spacing_mm):
    return (int((r_mm - rad_mm) / spacing_mm), int((c_mm - rad_mm) / spacing_mm),
            int(np.ceil((r_mm + rad_mm) / spacing_mm)), int(np.ceil((c_mm + rad_mm) / spacing_mm)))


def overlaps(a, b) -> bool:
    """Whether two boxes ``(r0, c0, r1, c1)`` (end-exclusive) intersect."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
