"""The mass outline found from its edge (radassist.image.outline), on drawn images with known truth."""

from __future__ import annotations

import numpy as np
import pytest

from radassist.image.outline import mass_from_edges

MM = 1.0  # grid spacing of the drawn images
SHAPE = (220, 160)


def _leg(rng: np.random.Generator, noise: float = 0.004) -> np.ndarray:
    """A soft-tissue band whose thickness falls towards both skin lines (a calf seen on a 1 mm grid)."""
    cols = np.arange(SHAPE[1])
    across = np.clip(1 - ((cols - 80) / 75.0) ** 2, 0, None) ** 0.5
    image = np.tile(0.3 + 0.4 * across, (SHAPE[0], 1)).astype(np.float32)
    return image + rng.normal(0, noise, SHAPE).astype(np.float32)


def _add_mass(image, centre, semi, angle, contrast):
    """An ellipsoidal lump: thickest in the middle, thinning to nothing at its rim."""
    rr, cc = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]]
    dr, dc = rr - centre[0], cc - centre[1]
    u = dr * np.cos(angle) + dc * np.sin(angle)
    v = -dr * np.sin(angle) + dc * np.cos(angle)
    rho2 = (u / semi[0]) ** 2 + (v / semi[1]) ** 2
    image += (contrast * np.sqrt(np.clip(1 - rho2, 0, None))).astype(np.float32)


def _add_dot(image, centre, radius=2.5, height=0.5):
    rr, cc = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]]
    dot = (rr - centre[0]) ** 2 + (cc - centre[1]) ** 2 <= radius**2
    image[dot] += height
    return dot


def _usable() -> np.ndarray:
    usable = np.zeros(SHAPE, dtype=bool)
    usable[4:-4, 12:-12] = True
    return usable


@pytest.mark.parametrize("seed", range(4))
def test_a_lump_around_a_calcification_is_outlined_where_it_is(seed):
    rng = np.random.default_rng(seed)
    image = _leg(rng)
    centre = (110 + rng.uniform(-10, 10), 80 + rng.uniform(-8, 8))
    semi = (rng.uniform(18, 28), rng.uniform(13, 18))
    angle = rng.uniform(-0.3, 0.3)
    _add_mass(image, centre, semi, angle, contrast=0.06)
    dot = _add_dot(image, centre)
    mass = mass_from_edges(image, dot, dot, _usable(), MM, tissue_contrast=0.5)
    assert mass is not None
    assert np.hypot(mass.centroid[0] - centre[0], mass.centroid[1] - centre[1]) < 3.0
    assert mass.semi_axes_px[0] == pytest.approx(max(semi), abs=3.0)
    assert mass.semi_axes_px[1] == pytest.approx(min(semi), abs=3.0)
    assert mass.mask[int(centre[0]), int(centre[1])]


def test_an_off_centre_calcification_keeps_the_mass_centre():
    rng = np.random.default_rng(7)
    image = _leg(rng)
    centre, semi = (110.0, 80.0), (25.0, 18.0)
    _add_mass(image, centre, semi, 0.0, contrast=0.06)
    dot = _add_dot(image, (110.0 + 0.6 * semi[0], 80.0))
    mass = mass_from_edges(image, dot, dot, _usable(), MM, tissue_contrast=0.5)
    assert mass is not None
    assert abs(mass.centroid[0] - centre[0]) < 3.0  # not pulled onto the calcification


@pytest.mark.parametrize("seed", range(4))
def test_a_calcification_without_a_lump_has_no_mass(seed):
    rng = np.random.default_rng(100 + seed)
    image = _leg(rng)
    dot = _add_dot(image, (110 + rng.uniform(-20, 20), 80 + rng.uniform(-20, 20)))
    assert mass_from_edges(image, dot, dot, _usable(), MM, tissue_contrast=0.5) is None


def test_a_straight_step_beside_a_calcification_is_not_a_mass():
    # A fat plane or muscle border: a long straight step, no closed outline.
    rng = np.random.default_rng(3)
    image = _leg(rng)
    image[:, 95:] -= 0.05
    dot = _add_dot(image, (110.0, 85.0))
    assert mass_from_edges(image, dot, dot, _usable(), MM, tissue_contrast=0.5) is None
