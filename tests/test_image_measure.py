"""Focus measurements: the moment ellipse against scikit-image's regionprops."""

import numpy as np
import pytest
from skimage.measure import label, regionprops

from radassist.image import measure
from radassist.image.measure import moment_shape


def _shapes():
    rng = np.random.default_rng(7)
    yield np.eye(30, dtype=bool) | np.eye(30, k=1, dtype=bool)          # a diagonal line
    yield np.fliplr(np.eye(30, dtype=bool))                               # the other diagonal
    square = np.zeros((30, 30), bool)
    square[5:15, 5:15] = True                                             # equal variances
    yield square
    bar = np.zeros((30, 30), bool)
    bar[10:13, 2:28] = True                                               # across the rows
    yield bar
    yield bar.T                                                           # along the rows
    for _ in range(20):
        blob = np.zeros((40, 40), bool)
        h, w = rng.integers(2, 25, 2)
        r, c = rng.integers(0, 15, 2)
        blob[r:r + h, c:c + w] = True
        yield blob & (rng.random((40, 40)) > 0.35)


@pytest.mark.parametrize("index,mask", list(enumerate(_shapes())))
def test_moment_shape_equals_regionprops_with_orientation_towards_columns(index, mask):
    for region in regionprops(label(mask)):
        if region.area < 3:
            continue
        major, minor, orientation, eccentricity = moment_shape(region.coords)
        assert major == pytest.approx(region.axis_major_length, abs=1e-9)
        assert minor == pytest.approx(region.axis_minor_length, abs=1e-9)
        assert orientation == pytest.approx(-region.orientation, abs=1e-9)
        assert eccentricity == pytest.approx(region.eccentricity, abs=1e-9)


def test_moment_shape_of_a_line_along_the_columns_points_across_the_rows():
    coords = np.stack([np.full(20, 5), np.arange(20)], axis=1)
    major, minor, orientation, eccentricity = moment_shape(coords)
    assert major > 20 and minor == pytest.approx(0.0)
    assert abs(orientation) == pytest.approx(np.pi / 2)
    assert eccentricity == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(6))
def test_holes_equal_regionprops_euler_number_and_filled_area(seed):
    from scipy import ndimage as ndi
    from skimage.measure import regionprops

    rng = np.random.default_rng(seed)
    field = ndi.gaussian_filter(rng.random((60, 60)), 1.5)
    labels, _ = ndi.label(field > np.quantile(field, rng.uniform(0.3, 0.8)))
    regions = regionprops(labels)
    assert regions
    for region in regions:
        assert measure.holes(region.image) == (region.euler_number, region.area_filled)


def test_holes_count_a_ring_and_two_corner_touching_holes():
    ring = np.ones((7, 7), bool)
    ring[2:5, 2:5] = False
    assert measure.holes(ring) == (0, 49)
    twin = np.ones((6, 6), bool)
    twin[2, 2] = twin[3, 3] = False          # touch at a corner: two holes, one filled region
    assert measure.holes(twin) == (-1, 36)
