"""Bone mask clean-up in the straightened frame: lesions the watershed flooded into a shaft."""

import numpy as np
import pytest

from radassist.image import bone

MM = 1.0  # straight-frame pixel size (mm) in these drawings


def _shaft(rows=300, left=40, right=60, flare=0.0):
    """A shaft along the rows, its edges bowing out by ``flare`` px towards both ends."""
    mask = np.zeros((rows, 140), dtype=bool)
    r = np.arange(rows)
    bow = flare * ((r - rows / 2) / (rows / 2)) ** 2
    for i in range(rows):
        mask[i, int(round(left - bow[i])): int(round(right + bow[i]))] = True
    return mask


def _ellipse(shape, centre, semi_rows, semi_cols):
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    return ((rr - centre[0]) / semi_rows) ** 2 + ((cc - centre[1]) / semi_cols) ** 2 <= 1


def _lobes(mask):
    labels = mask.astype(np.int32)  # one long bone, label 1
    return bone._side_lobes(mask, labels, [1], np.zeros_like(mask), MM)


def test_a_long_lesion_flooded_into_the_side_of_a_shaft_is_given_back():
    shaft = _shaft()
    # 50 mm along the leg (longer than a shaft's support runs), reaching 20 mm out.
    lesion = _ellipse(shaft.shape, (150, 68), 25, 12)
    lobes = _lobes(shaft | lesion)
    beyond = lesion & ~shaft
    assert lobes[beyond].mean() > 0.95
    assert not lobes[shaft].any()  # the shaft itself stays bone


def test_a_lobe_as_large_as_the_bone_itself_stays_bone():
    # 120 mm along a 300 mm shaft, twice its width: the size of a condyle or a
    # plateau in a shaft the joint search did not stop, not a lesion to give back.
    shaft = _shaft()
    assert not _lobes(shaft | _ellipse(shaft.shape, (150, 76), 60, 20)).any()


def test_a_smoothly_flaring_shaft_has_no_lobe():
    assert not _lobes(_shaft(flare=12.0)).any()


@pytest.mark.parametrize("what", ["strip", "knob", "at_the_end", "shallow"])
def test_what_is_not_a_flooded_lesion_stays_bone(what):
    shaft = _shaft()
    extra = np.zeros_like(shaft)
    if what == "strip":          # a long thin strip along the edge: the shaft's outline, a second bone
        extra[60:240, 60:67] = True
    elif what == "knob":         # 12 mm along the leg: a corner, left to _trim_bulges
        extra[144:156, 60:72] = True
    elif what == "at_the_end":   # where the shaft ends (a condyle, a malleolus)
        extra[0:40, 60:85] = True
    else:                        # 3 mm proud of the edge only
        extra[120:180, 60:63] = True
    assert not _lobes(shaft | extra).any()


def test_the_edge_curve_leaves_out_a_short_lobe_and_follows_a_smooth_flare():
    rows = np.arange(300)
    edge = np.full(300, 60.0)
    edge[130:170] += 20.0
    assert np.abs(bone._edge_curve(rows, edge, tolerance_px=2.0) - 60.0).max() < 1.0
    flare = 60.0 + 12.0 * ((rows - 150) / 150.0) ** 2
    assert np.abs(bone._edge_curve(rows, flare, tolerance_px=2.0) - flare).max() < 0.5



@pytest.mark.parametrize("seed", range(4))
def test_flood_equals_the_full_watershed(seed):
    from scipy import ndimage as ndi
    from skimage.segmentation import watershed

    rng = np.random.default_rng(seed)
    gradient = ndi.gaussian_filter(rng.random((80, 60)), 1.5)
    markers = np.zeros(gradient.shape, np.int32)
    markers[:, :8] = 1                       # a wide marked band, as outside the leg
    markers[rng.random(gradient.shape) > 0.97] = 2
    markers[30:36, 30:34] = 3
    flooded = bone.flood(gradient, markers)
    np.testing.assert_array_equal(flooded, watershed(gradient, markers))
    assert set(np.unique(flooded)) == {1, 2, 3}


@pytest.mark.parametrize("nudge", [-1e-9, 1e-9])
def test_a_rounding_nudge_of_the_fitted_edge_changes_no_lobe(monkeypatch, nudge):
    # A shaft's edges are exactly straight here, so the fit lands on a pixel
    # column; whether it lands a hair inside or outside must not decide
    # whether the whole edge column joins the lobe.
    shaft = _shaft()
    lesion = _ellipse(shaft.shape, (150, 68), 25, 12)
    expected = _lobes(shaft | lesion)
    fit = bone._edge_curve
    monkeypatch.setattr(bone, "_edge_curve", lambda rows, edge, tol: fit(rows, edge, tol) + nudge)
    np.testing.assert_array_equal(_lobes(shaft | lesion), expected)
    assert expected[lesion & ~shaft].mean() > 0.95
