"""Segmentation: field, leg outline, bone and markers are found before anything else."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from radassist.image import grids, segment
from radassist.image.analyze import SEGMENTATION_GRID_MM

from image_fixtures import synth_case  # noqa: F401
from image_phantom import make_phantom


def _segment(phantom):
    factor = grids.grid_factor(phantom.spacing_mm, SEGMENTATION_GRID_MM)
    image, _, _ = segment.normalise(grids.block_mean(phantom.pixels, factor))
    seg = segment.segment(image, factor, phantom.spacing_mm * factor)
    truth_leg = grids.block_mean(phantom.leg.astype(np.float32), factor) > 0.5
    truth_bone = grids.block_mean(phantom.bone.astype(np.float32), factor) > 0.5
    return seg, truth_leg, truth_bone


def test_leg_outline_matches_the_phantom():
    seg, truth_leg, _ = _segment(make_phantom())
    inter = (seg.leg & truth_leg).sum()
    union = (seg.leg | truth_leg).sum()
    assert inter / union > 0.85
    # The axis of this phantom runs along the rows.
    assert abs(np.degrees(seg.axis_angle)) < 5


def test_bone_covers_tibia_and_fibula_but_not_the_soft_tissue():
    seg, truth_leg, truth_bone = _segment(make_phantom())
    assert (seg.bone & truth_bone).sum() / truth_bone.sum() > 0.8
    # Soft tissue well away from the bones stays soft tissue.
    far_soft = truth_leg & ~ndi.binary_dilation(truth_bone, iterations=6)
    assert (seg.bone & far_soft).sum() / far_soft.sum() < 0.1
    assert len(seg.long_bones) >= 1
    assert all(b["angle_deg"] < 10 for b in seg.long_bones)


def test_collimation_bands_are_found_and_excluded_from_the_field():
    phantom = make_phantom(collimation_mm=15.0)
    seg, truth_leg, _ = _segment(phantom)
    assert set(seg.collimated_sides) == {"left", "right"}
    band_px = int(15.0 / seg.mm_per_px)
    assert not seg.field[:, : band_px].any()
    assert not seg.field[:, -band_px:].any()
    assert not (seg.leg & ~seg.field).any()


def test_no_collimation_is_reported_on_an_open_field():
    seg, _, _ = _segment(make_phantom())
    assert seg.collimated_sides == []


def test_a_lead_marker_in_the_air_is_excluded():
    seg, _, _ = _segment(make_phantom(marker=True))
    assert seg.marker_count >= 1
    assert not (seg.markers & seg.leg).any()
    rows, cols = np.nonzero(seg.markers)
    # The marker sits on the right, beside the leg, not on it.
    assert cols.min() * seg.mm_per_px > 150


def test_block_mean_averages_whole_blocks_and_pads_ragged_edges():
    image = np.arange(5 * 7, dtype=np.float32).reshape(5, 7)
    out = grids.block_mean(image, 2)
    assert out.shape == (3, 4)
    assert out[0, 0] == pytest.approx(image[:2, :2].mean())
    assert out[-1, -1] == pytest.approx(image[4, 6])


def test_generated_case_leg_contains_the_labelled_calcification(synth_case):
    case = synth_case(6101, "phlebolith")
    from radassist.image import analyze_image

    result = analyze_image(case.pixels, case.spacing_mm)
    assert result.status == "analysed"
    r0, c0, r1, c1 = result.leg_bbox_px
    for cluster in case.label["clusters"]:
        b = cluster["bbox_px"]
        assert r0 <= b[0] and c0 <= b[1] and b[2] <= r1 and b[3] <= c1


def test_a_radiograph_with_clipped_background_and_burned_in_text_is_not_a_graphic():
    from radassist.image.legcheck import looks_like_graphic

    rng = np.random.default_rng(3)
    image = np.full((256, 256), 2700.0)  # clipped air: one value over most of the film
    image[:, 90:170] = 20000 + 3000 * rng.standard_normal((256, 80))  # the leg, noisy
    image[5:12, 5:60] = 0.0  # burned-in text darker than the clipped air
    image[-6:, :] = 53000.0  # an unexposed band at the bottom
    assert not looks_like_graphic(np.round(image))
    pattern = np.repeat(np.linspace(0, 1, 8), 32)[None, :].repeat(256, axis=0)  # 8 grey steps
    assert looks_like_graphic(pattern)


def _lump_beside_a_shaft(radius_mm: float = 4.0):
    """A segmented phantom with a dense lump fused to the side of a shaft, away from the bone ends.

    Returns the segmentation (the lump drawn into its image and bone mask),
    the lump, the shafts' own bone, the lump's centre row and column and its
    radius (px), and the grid's row and column coordinates.
    """
    seg, _, _ = _segment(make_phantom(seed=5))
    rows, cols = np.nonzero(seg.bone & ~ndi.binary_dilation(seg.joint, iterations=8) if seg.joint.any() else seg.bone)
    r = int(np.median(rows))
    c = int(cols[rows == r].max()) + 2
    yy, xx = np.ogrid[: seg.image.shape[0], : seg.image.shape[1]]
    radius = radius_mm / seg.mm_per_px
    lump = (yy - r) ** 2 + (xx - c) ** 2 <= radius**2
    seg.image = np.where(lump, seg.image + 0.5 * (seg.bone_level - seg.tissue_level), seg.image)
    shafts = seg.bone.copy()
    seg.bone = seg.bone | lump
    return seg, lump, shafts, (r, c, radius), (yy, xx)


def _axial_background(seg):
    from radassist.image import axial

    return axial.axial_opening(seg.image, seg.leg, seg.axis_angle, axial.AXIAL_OPENING_MM / seg.mm_per_px,
                               gap_px=axial.LUCENT_LINE_MM / seg.mm_per_px)


def test_a_lesion_beside_the_tibia_is_taken_out_of_the_bone_mask():
    from radassist.image.analyze import _released_lesions

    # A dense 8 mm lump fused to the side of a shaft.
    seg, lump, shafts, _, _ = _lump_beside_a_shaft()
    cleaned, _ = _released_lesions(seg, _axial_background(seg))
    assert not cleaned[lump & ~ndi.binary_dilation(shafts, iterations=2)].any()
    # The shafts themselves stay bone.
    assert cleaned.sum() >= 0.9 * shafts.sum()


def test_the_texture_at_a_lesion_beside_the_tibia_is_soft_tissue_again():
    from radassist.image.analyze import _released_lesions

    seg, lump, shafts, (r, c, radius), (yy, xx) = _lump_beside_a_shaft()
    # The lump's edge read as fine structure, joined to a band of texture along the cortex.
    edge = ((yy - r) ** 2 + (xx - c) ** 2 <= (radius + 2) ** 2) & ~lump
    band = ndi.binary_dilation(shafts, iterations=2) & ~shafts & (np.abs(yy - r) < 3 * radius)
    seg.busy = edge | band
    bone, busy = _released_lesions(seg, _axial_background(seg))
    away = ~ndi.binary_dilation(shafts, iterations=3)
    assert not busy[edge & away].any()
    assert not bone[lump & away].any()
    # The texture along the cortex, away from the lump, stays.
    far_band = band & ~ndi.binary_dilation(lump, iterations=int(radius) + 4)
    assert busy[far_band].mean() > 0.8


def test_a_collimation_band_goes_on_through_its_penumbra_where_the_shutter_is_tilted():
    from radassist.image.segment import COLLIMATION_MARGIN_MM, find_collimation

    # 1 mm grid, a bright band on the left whose edge moves from 20 to 30 mm
    # down the image, then a 6 mm penumbra falling steeply to the field.
    rows, cols = 240, 160
    image = np.full((rows, cols), 0.3, np.float32)
    image += np.random.default_rng(0).normal(0, 0.005, image.shape).astype(np.float32)
    edge = np.linspace(20, 30, rows).round().astype(int)
    for r in range(rows):
        image[r, : edge[r]] = 1.0
        image[r, edge[r] : edge[r] + 6] = np.linspace(0.9, 0.4, 6)
    field, sides = find_collimation(image, 1.0)
    assert sides == ["left"]
    first_open = np.argmax(field, axis=1)
    # Every row's band reaches at least through its own penumbra, plus the margin ...
    assert (first_open >= edge + 6).mean() > 0.95
    # ... and no row's band is more than the margin beyond the deepest penumbra.
    assert first_open.max() <= edge.max() + 6 + COLLIMATION_MARGIN_MM + 2
