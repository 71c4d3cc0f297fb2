"""Working grids: block means and the square running median."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from radassist.image import grids


@pytest.mark.parametrize("size", [1, 3, 5, 9])
@pytest.mark.parametrize("shape", [(40, 31), (7, 60), (3, 3)])
def test_median_square_equals_scipy_median_filter_with_repeated_edges(size, shape):
    rng = np.random.default_rng(size * 100 + shape[0])
    image = rng.normal(size=shape).astype(np.float32)
    image[shape[0] // 2, :] += 5.0  # a bright line the median must remove
    expected = ndi.median_filter(image, size=size, mode="nearest")
    np.testing.assert_array_equal(grids.median_square(image, size), expected)


def test_median_square_removes_a_dot_smaller_than_half_its_window_and_keeps_a_plateau():
    image = np.zeros((30, 30), np.float32)
    image[5:7, 5:7] = 1.0           # 4 px, fewer than half of 25
    image[15:28, 15:28] = 2.0       # a plateau wider than the window
    out = grids.median_square(image, 5)
    assert out[5:7, 5:7].max() == 0.0
    assert (out[17:26, 17:26] == 2.0).all()


@pytest.mark.parametrize("size", [0, 4, -3])
def test_median_square_refuses_an_even_or_empty_window(size):
    with pytest.raises(ValueError, match="odd"):
        grids.median_square(np.zeros((5, 5), np.float32), size)


@pytest.mark.parametrize("shape", [(40, 31), (7, 60), (1, 5), (3, 3)])
def test_box_mean3_equals_scipy_uniform_filter_with_repeated_edges(shape):
    rng = np.random.default_rng(shape[0] * 7 + shape[1])
    image = (rng.normal(size=shape) * 0.05).astype(np.float32)
    image[0, 0] = 3.0  # a corner value the repeated edge must count four times
    expected = ndi.uniform_filter(image, 3, mode="nearest")
    out = grids.box_mean3(image)
    assert out.dtype == np.float32 and out.shape == image.shape
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-6)


def test_box_mean3_of_a_single_bright_pixel_spreads_a_ninth_over_its_neighbours():
    image = np.zeros((5, 5), np.float32)
    image[2, 2] = 9.0
    out = grids.box_mean3(image)
    np.testing.assert_allclose(out[1:4, 1:4], 1.0, rtol=1e-6)
    assert out[0].max() == 0.0 and out[:, 4].max() == 0.0


@pytest.mark.parametrize("shape", [(61, 47), (5, 5), (7, 3), (40, 1)])
@pytest.mark.parametrize("radius, factor", [(4, 5), (1, 2), (0, 3), (3, 3), (2, 5)])
def test_grown_block_any_equals_growing_then_taking_block_means(shape, radius, factor):
    from radassist.image.morph import grow

    mask = np.random.default_rng(shape[0] + radius * 10 + factor).random(shape) > 0.93
    grown = grow(mask, radius) if radius else mask
    expected = grids.block_mean(grown.astype(np.float32), factor) > 0
    np.testing.assert_array_equal(grids.grown_block_any(mask, radius, factor), expected)


def test_grown_block_any_reaches_the_next_block_only_within_the_radius():
    mask = np.zeros((20, 20), bool)
    mask[8, 8] = True                       # in block (1, 1) of 5-pixel blocks, 2 px from block 2
    assert grids.grown_block_any(mask, 1, 5).sum() == 1
    reached = grids.grown_block_any(mask, 2, 5)
    assert reached[1:3, 1:3].all() and reached.sum() == 4
    with pytest.raises(ValueError, match="radius"):
        grids.grown_block_any(mask, 6, 5)


@pytest.mark.parametrize("factor, origin", [(5, (0, 0)), (4, (6, 3)), (2, (1, 0))])
def test_upsample_linear_reproduces_a_plane_between_the_block_centres(factor, origin):
    from radassist.image.detect import upsample_linear

    rows, cols = np.mgrid[0:30, 0:20]
    centre_r, centre_c = rows * factor + (factor - 1) / 2, cols * factor + (factor - 1) / 2
    coarse = (0.3 * centre_r - 0.7 * centre_c + 2.0).astype(np.float32)
    shape = (30 * factor - origin[0] - factor, 20 * factor - origin[1] - factor)
    out = upsample_linear(coarse, factor, shape, origin)
    fr, fc = np.mgrid[0:shape[0], 0:shape[1]]
    fr, fc = fr + origin[0], fc + origin[1]
    interior = (fr >= (factor - 1) / 2) & (fc >= (factor - 1) / 2)  # between block centres
    np.testing.assert_allclose(out[interior], (0.3 * fr - 0.7 * fc + 2.0)[interior], atol=1e-4)
    assert out.dtype == np.float32 and out.shape == shape
