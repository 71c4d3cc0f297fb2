"""The soft-tissue thickness model (radassist.image.profile) on drawn legs with known bone."""

from __future__ import annotations

import numpy as np
import pytest

from radassist.image.profile import rise_above_soft_tissue_model

AIR = 0.05


def _leg(rows=300, cols=200, half_width=70, scale=0.5):
    c = np.arange(cols) - cols / 2
    thickness = np.sqrt(np.clip(half_width**2 - c**2, 0, None)) / half_width
    image = AIR + scale * np.tile(thickness, (rows, 1))
    leg = np.tile(np.abs(c) < half_width, (rows, 1))
    return image.astype(np.float32), leg


@pytest.mark.parametrize("bone_fraction", [0.15, 0.5, 0.8])
def test_bone_rises_however_much_of_the_width_it_fills(bone_fraction):
    # A shaft (15 %) or a knee whose bones fill 80 % of the leg's width: an
    # opening narrower than the bone would miss the latter; the model does not.
    image, leg = _leg()
    half = int(70 * bone_fraction)
    bone = np.zeros_like(leg)
    bone[:, 100 - half : 100 + half] = True
    image[bone] += 0.2
    rise = rise_above_soft_tissue_model(image, leg, 0.0, AIR, 1.0)
    soft = leg & ~bone
    inner_soft = soft & (np.abs(np.arange(200) - 100) < 62)[None, :]
    assert np.median(rise[bone]) == pytest.approx(0.2, abs=0.04)
    assert np.abs(np.median(rise[inner_soft])) < 0.03


def test_the_tissue_scale_follows_the_leg_along_its_length():
    # Thicker soft tissue towards the knee: the model follows it, no false rise.
    image, leg = _leg()
    image = AIR + (image - AIR) * np.linspace(0.6, 1.4, image.shape[0])[:, None]
    rise = rise_above_soft_tissue_model(image.astype(np.float32), leg, 0.0, AIR, 1.0)
    inner = leg & (np.abs(np.arange(200) - 100) < 62)[None, :]
    inner[:15] = inner[-15:] = False
    assert np.percentile(np.abs(rise[inner]), 95) < 0.03


def test_no_leg_gives_no_rise():
    image, leg = _leg()
    assert not rise_above_soft_tissue_model(image, np.zeros_like(leg), 0.0, AIR, 1.0).any()
