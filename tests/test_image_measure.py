"""Focus measurements: the moment ellipse against scikit-image's regionprops."""

import numpy as np
import pytest
from skimage.measure import label, regionprops

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
