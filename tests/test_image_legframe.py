"""The leg's straight frame: resampling onto it and back, and line openings in it."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from radassist.image.legframe import line_opening, straight_frame


def _smooth_image(shape=(300, 200), seed=0):
    rng = np.random.default_rng(seed)
    return ndi.gaussian_filter(rng.random(shape), 2).astype(np.float32)


@pytest.mark.parametrize("angle", [0.0, 0.1, -0.07, 0.3])
@pytest.mark.parametrize("order", [0, 1])
def test_sample_equals_map_coordinates_with_constant_edges(angle, order):
    image = _smooth_image()
    leg = np.zeros(image.shape, bool)
    leg[10:290, 40:160] = True
    frame = straight_frame(leg, angle, margin_px=27)
    rows, cols = frame.source_coords()
    expected = ndi.map_coordinates(image, [rows, cols], order=order, mode="constant", cval=0.3, prefilter=False)
    out = frame.sample(image, order=order, cval=0.3)
    assert out.shape == frame.shape and out.dtype == np.float32
    outside = (rows < 0) | (rows > image.shape[0] - 1) | (cols < 0) | (cols > image.shape[1] - 1)
    assert outside.any() and (out[outside] == np.float32(0.3)).all()
    if order == 1:
        np.testing.assert_allclose(out, expected, atol=1e-5)
    else:
        np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("angle", [0.0, 0.12, -0.2])
def test_back_linear_returns_the_grid_inside_the_frame_and_the_fallback_outside(angle):
    image = _smooth_image(seed=1)
    leg = np.zeros(image.shape, bool)
    leg[60:240, 70:130] = True
    frame = straight_frame(leg, angle)
    back = frame.back_linear(frame.sample(image), np.full(image.shape, -1.0, np.float32))
    covered = back != -1.0
    # The frame encloses the leg: there, a round trip of a smooth image changes it little.
    assert covered[leg].all() and not covered.all()
    np.testing.assert_allclose(back[leg], image[leg], atol=0.02)


def test_line_opening_keeps_a_line_leaning_at_its_slope_and_removes_what_is_shorter():
    image = np.zeros((120, 60), bool)
    rows = np.arange(10, 110)
    leaning = np.round(20 + rows * np.tan(np.radians(6))).astype(int)
    image[rows, leaning] = True          # 100 rows long, 6° off the axis
    image[40:60, 50] = True              # 20 rows long, straight
    kept = line_opening(image, 41, np.tan(np.radians(6)), fill=0, mode="constant").astype(bool)
    assert kept[rows, leaning].all()
    assert not kept[:, 50].any()
    # The same leaning line, opened straight down the axis, is broken into
    # runs of about ten rows: nothing 41 rows long is left.
    assert not line_opening(image, 41, 0.0, fill=0, mode="constant").any()


def test_line_opening_of_a_grey_image_takes_the_line_minimum_at_its_flat_ends():
    rng = np.random.default_rng(3)
    image = rng.normal(size=(50, 20)).astype(np.float32)
    expected = ndi.grey_opening(image, size=(9, 1), mode="nearest")
    np.testing.assert_array_equal(line_opening(image, 9, 0.0, fill=0.0), expected)
