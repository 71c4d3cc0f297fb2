"""The phantom generator: determinism, truthful labels, DICOM encodings, balanced sets."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pydicom
import pytest
from scipy import ndimage

from radassist.model import PATTERN_SIGNIFICANCE
from radassist.synth import ALL_PATTERNS, make_case, write_set
from radassist.synth.__main__ import main as synth_main
from radassist.synth.case import draw_header, primary_pattern
from radassist.synth.render import rasterise, render
from radassist.synth.scene import sample_scene

SMALL = dict(rows=1200, columns=700)
CALCIFICATIONS = [p for p in ALL_PATTERNS if p != "none"]


def test_same_seed_same_pixels_and_label():
    a = make_case(11, "popcorn", **SMALL)
    b = make_case(11, "popcorn", **SMALL)
    assert a.dataset.PixelData == b.dataset.PixelData
    assert a.label == b.label
    assert a.report == b.report
    c = make_case(12, "popcorn", **SMALL)
    assert c.dataset.PixelData != a.dataset.PixelData


def test_pattern_choice_leaves_the_leg_unchanged():
    """Separate random streams: the lesion is the only difference between patterns."""
    a = sample_scene(5, "diffuse", **SMALL)
    b = sample_scene(5, "stippled", **SMALL)
    assert a.anatomy == b.anatomy and a.frame == b.frame and a.acquisition == b.acquisition


@pytest.mark.parametrize("pattern", CALCIFICATIONS)
def test_label_box_holds_the_added_calcification(pattern):
    scene = sample_scene(100 + CALCIFICATIONS.index(pattern), pattern, **SMALL)
    with_calc = render(scene)
    without = render(dataclasses.replace(scene, clusters=()))
    assert with_calc.clusters and with_calc.clusters[0].pattern == pattern

    diff = np.abs(with_calc.signal - without.signal)
    boxed = np.zeros(diff.shape, dtype=bool)
    for truth in with_calc.clusters:
        r0, c0, r1, c1 = truth.bbox_px
        boxed[r0:r1, c0:c1] = True
        assert diff[r0:r1, c0:c1].max() > 0, "nothing was drawn in the box"
    near = ndimage.binary_dilation(boxed, iterations=int(np.ceil(1.5 / scene.frame.spacing_mm)))
    # Blur spreads a lesion by a pixel or two and scatter spreads a faint halo
    # far away; the lesion itself lies inside its box.
    assert diff[~near].max() < 0.2 * diff[boxed].max()


@pytest.mark.parametrize("pattern", CALCIFICATIONS)
def test_calcification_lies_outside_the_tibia(pattern):
    for seed in (300, 301):
        scene = sample_scene(seed, pattern, **SMALL)
        result = render(scene)
        for cluster in scene.clusters:
            (r0, c0, r1, c1), image = rasterise(cluster.solids, scene.frame)
            support = image > 0.03 * image.max()
            assert not (support & result.tibia_mask[r0:r1, c0:c1]).any()


def test_label_matches_the_rendered_truth():
    case = make_case(21, "phlebolith", **SMALL)
    label = case.label
    json.dumps(label)  # serialisable
    cluster = label["clusters"][0]
    r0, c0, r1, c1 = cluster["bbox_px"]
    assert 0 <= r0 < r1 <= label["rows"] and 0 <= c0 < c1 <= label["columns"]
    assert r0 <= cluster["centroid_px"][0] <= r1 and c0 <= cluster["centroid_px"][1] <= c1
    assert cluster["size_mm"][0] == pytest.approx((r1 - r0) * label["spacing_mm"], abs=0.02)
    assert label["primary_pattern"] == "phlebolith"


@pytest.mark.parametrize("pattern", ["central", "eccentric", "peripheral_plaque"])
def test_mass_patterns_have_a_mass_around_the_calcification(pattern):
    label = make_case(31, pattern, **SMALL).label
    assert label["mass"] and label["masses"]
    mr0, mc0, mr1, mc1 = label["masses"][0]["bbox_px"]
    r, c = label["clusters"][0]["centroid_px"]
    assert mr0 <= r <= mr1 and mc0 <= c <= mc1


def test_none_has_no_clusters_and_mass_is_optional():
    plain = make_case(41, "none", with_mass=False, **SMALL).label
    lump = make_case(41, "none", with_mass=True, **SMALL).label
    assert plain["clusters"] == [] and plain["primary_pattern"] == "none" and not plain["mass"]
    assert lump["clusters"] == [] and lump["primary_pattern"] == "none" and lump["mass"]


def test_primary_pattern_follows_the_significance_order():
    assert primary_pattern(["phlebolith", "stippled"]) == "stippled"
    assert primary_pattern(["arterial", "popcorn", "diffuse"]) == "popcorn"
    assert primary_pattern([]) == "none"
    # Some seeds carry a second, less significant cluster.
    found = None
    for seed in range(200):
        scene = sample_scene(seed, "stippled", **SMALL)
        if len(scene.clusters) > 1:
            found = scene
            break
    assert found is not None
    second = found.clusters[1].pattern
    assert PATTERN_SIGNIFICANCE.index(second) > PATTERN_SIGNIFICANCE.index("stippled")


def _seed_with_spacing_mode(mode):
    return next(s for s in range(2000) if draw_header(s)[0].spacing_mode == mode)


@pytest.mark.parametrize(
    "mode", ["PixelSpacing", "ImagerPixelSpacing", "ImagerPixelSpacing+ERMF", "none"]
)
def test_spacing_is_written_as_labelled(mode):
    case = make_case(_seed_with_spacing_mode(mode), "diffuse", **SMALL)
    ds, spacing = case.dataset, case.label["spacing_mm"]
    if mode == "PixelSpacing":
        assert float(ds.PixelSpacing[0]) == pytest.approx(spacing, rel=1e-4)
        assert "ImagerPixelSpacing" not in ds
    elif mode == "ImagerPixelSpacing":
        assert float(ds.ImagerPixelSpacing[0]) == pytest.approx(spacing, rel=1e-4)
        assert "PixelSpacing" not in ds and "EstimatedRadiographicMagnificationFactor" not in ds
    elif mode == "ImagerPixelSpacing+ERMF":
        ermf = float(ds.EstimatedRadiographicMagnificationFactor)
        assert 1.05 <= ermf <= 1.2
        assert float(ds.ImagerPixelSpacing[0]) / ermf == pytest.approx(spacing, rel=1e-4)
        assert case.label["spacing_source"] == "ImagerPixelSpacing/EstimatedRadiographicMagnificationFactor"
    else:
        assert "PixelSpacing" not in ds and "ImagerPixelSpacing" not in ds
        assert case.label["spacing_source"] == "none" and spacing > 0


def test_monochrome1_is_stored_inverted():
    one = make_case(51, "diffuse", photometric="MONOCHROME1", **SMALL)
    two = make_case(51, "diffuse", photometric="MONOCHROME2", **SMALL)
    assert one.dataset.PhotometricInterpretation == "MONOCHROME1"
    a1 = one.dataset.pixel_array.astype(np.int64)
    a2 = two.dataset.pixel_array.astype(np.int64)
    total = a1 + a2
    assert total.min() == total.max()  # a1 = top - a2 everywhere
    # In MONOCHROME2 the bone (tibia) is brighter than the direct-exposure air.
    scene = sample_scene(51, "diffuse", **SMALL)
    tibia = render(scene).tibia_mask
    assert a2[tibia].mean() > np.percentile(a2, 5) + 0.2 * np.ptp(a2)


@pytest.mark.parametrize("syntax", ["rle", "jpegls", "j2k", "deflate"])
def test_transfer_syntaxes_round_trip(tmp_path, syntax):
    plain = make_case(61, "laminated", rows=900, columns=600)
    packed = make_case(61, "laminated", rows=900, columns=600, transfer_syntax=syntax)
    path = tmp_path / f"{syntax}.dcm"
    packed.dataset.save_as(path, enforce_file_format=True)
    back = pydicom.dcmread(path)
    assert back.file_meta.TransferSyntaxUID == packed.label["transfer_syntax"]
    assert back.file_meta.TransferSyntaxUID != plain.label["transfer_syntax"]
    assert np.array_equal(back.pixel_array, plain.dataset.pixel_array)


def test_unknown_arguments_are_refused():
    with pytest.raises(ValueError, match="pattern"):
        make_case(1, "calcified", **SMALL)
    with pytest.raises(ValueError, match="transfer syntax"):
        make_case(1, "diffuse", transfer_syntax="jpeg-baseline", **SMALL)
    with pytest.raises(ValueError, match="view"):
        make_case(1, "diffuse", view="PA", **SMALL)


def test_explicit_geometry_is_respected():
    case = make_case(71, "arterial", view="LAT", rows=1300, columns=750, spacing_mm=0.3)
    ds = case.dataset
    assert (ds.Rows, ds.Columns) == (1300, 750)
    assert case.label["spacing_mm"] == pytest.approx(0.3)
    assert case.label["view"] == "LAT" and ds.ViewPosition == "LL"


def test_write_set_is_balanced_and_readable(tmp_path):
    patterns = ["stippled", "none", "arterial"]
    labels_path = write_set(tmp_path, 6, seed=3, patterns=patterns, **SMALL)
    lines = [json.loads(line) for line in labels_path.read_text().splitlines()]
    assert [x["requested_pattern"] for x in lines] == patterns * 2
    assert [x["primary_pattern"] for x in lines] == patterns * 2
    for label in lines:
        ds = pydicom.dcmread(tmp_path / label["file"])
        assert ds.PatientName.family_name == "PHANTOM"
        assert (ds.Rows, ds.Columns) == (label["rows"], label["columns"])
        assert (tmp_path / label["report_file"]).exists()
    uids = {pydicom.dcmread(tmp_path / x["file"]).SOPInstanceUID for x in lines}
    assert len(uids) == len(lines)


def test_cli_writes_a_set(tmp_path, capsys):
    assert synth_main([str(tmp_path), "--n", "2", "--seed", "4", "--rows", "1200", "--columns", "700"]) == 0
    assert (tmp_path / "labels.jsonl").read_text().count("\n") == 2
    assert "labels.jsonl" in capsys.readouterr().out
