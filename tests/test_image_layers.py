"""Concentric layers (radassist.image.layers), on drawn residual images with known truth."""

from __future__ import annotations

import numpy as np
import pytest

from radassist.image.layers import count_layers

MM = 0.2  # detection-grid spacing of the drawn images
SIZE = 400


def _grid():
    rr, cc = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    return rr, cc


def _ring(image, centre, radius_mm, width_mm=0.8, height=1.0, gap=None):
    """A bright ring; ``gap`` = (start, length) in radians leaves an arc out."""
    rr, cc = _grid()
    dist = np.hypot(rr - centre[0], cc - centre[1]) * MM
    band = np.abs(dist - radius_mm) <= width_mm / 2
    if gap is not None:
        angle = np.mod(np.arctan2(rr - centre[0], cc - centre[1]) - gap[0], 2 * np.pi)
        band &= angle >= gap[1]
    image[band] += height


def _disc(image, centre, radius_mm, height=1.0):
    rr, cc = _grid()
    image[np.hypot(rr - centre[0], cc - centre[1]) * MM <= radius_mm] += height


def _coords(image):
    return np.argwhere(image > 0.5)


def _noisy(image, rng, sigma=0.05):
    return image + rng.normal(0, sigma, image.shape)


@pytest.mark.parametrize("seed", range(3))
def test_concentric_rings_are_counted(seed):
    rng = np.random.default_rng(seed)
    image = np.zeros((SIZE, SIZE))
    centre = (200 + rng.uniform(-5, 5), 200 + rng.uniform(-5, 5))
    n = int(rng.integers(2, 4))
    for k in range(n):
        _ring(image, centre, 12.0 - 4.0 * k)
    assert count_layers(_noisy(image, rng), _coords(image), MM) == n


def test_an_interrupted_outer_ring_still_counts_and_keeps_the_centre():
    # A third of the outer ring missing pulls the centroid off the centre.
    image = np.zeros((SIZE, SIZE))
    _ring(image, (200, 200), 14.0, gap=(0.0, 2.0))
    _ring(image, (200, 200), 8.0)
    _disc(image, (200, 200), 1.5)  # a nidus
    assert count_layers(_noisy(image, np.random.default_rng(3)), _coords(image), MM) == 3


def test_a_solid_lesion_and_a_single_ring_are_one_layer():
    rng = np.random.default_rng(4)
    solid = np.zeros((SIZE, SIZE))
    _disc(solid, (200, 200), 8.0)
    assert count_layers(_noisy(solid, rng), _coords(solid), MM) == 1
    ring = np.zeros((SIZE, SIZE))
    _ring(ring, (200, 200), 8.0, width_mm=1.5)
    assert count_layers(_noisy(ring, rng), _coords(ring), MM) == 1


@pytest.mark.parametrize("seed", range(3))
def test_blobs_at_two_distances_from_a_centre_are_not_layers(seed):
    # Popcorn: nodules 3-4 mm across, several at about the same distance from
    # the centre, so the radial profile peaks at two radii; the blobs do not go round.
    rng = np.random.default_rng(10 + seed)
    image = np.zeros((SIZE, SIZE))
    for radius, count in ((5.0, 3), (12.0, 5)):
        start = rng.uniform(0, 2 * np.pi)
        for k in range(count):
            angle = start + 2 * np.pi * k / count + rng.normal(0, 0.15)
            centre = (200 + radius / MM * np.sin(angle), 200 + radius / MM * np.cos(angle))
            _disc(image, centre, rng.uniform(1.5, 2.0))
    assert count_layers(_noisy(image, rng), _coords(image), MM) == 1


def test_two_parallel_walls_are_not_rings():
    # An artery's two walls crossing the disc: peaks in the radial profile, on two short arcs only.
    image = np.zeros((SIZE, SIZE))
    image[:, 180:184] = 1.0
    image[:, 216:220] = 1.0
    coords = np.argwhere(image[100:300] > 0.5) + [100, 0]
    assert count_layers(_noisy(image, np.random.default_rng(5)), coords, MM) == 1


def test_a_cluster_too_large_for_one_lesion_is_one_layer():
    image = np.zeros((SIZE, SIZE))
    _ring(image, (200, 200), 35.0)
    _ring(image, (200, 200), 25.0)
    assert count_layers(image, _coords(image), MM) == 1
