"""analyze_image on hand-made phantoms: findings, the contract's fields, and refusals."""

from __future__ import annotations

import numpy as np
import pytest

from radassist.image import analyze_image
from radassist.image.classify import load_pattern_table, pattern_scores
from radassist.model import PATTERN_SIGNIFICANCE

from image_phantom import make_phantom, overlaps

SPACING = 0.25


@pytest.fixture(scope="module")
def plain():
    phantom = make_phantom(spacing_mm=SPACING, collimation_mm=12.0, marker=True)
    return phantom, analyze_image(phantom.pixels, (SPACING, SPACING))


@pytest.fixture(scope="module")
def with_nodule():
    phantom = make_phantom(spacing_mm=SPACING, phleboliths=[(150.0, 60.0, 5.0, 0.6)])
    return phantom, analyze_image(phantom.pixels, (SPACING, SPACING))


@pytest.fixture(scope="module")
def with_stippling():
    phantom = make_phantom(spacing_mm=SPACING, stipple_at=(100.0, 145.0))
    return phantom, analyze_image(phantom.pixels, (SPACING, SPACING))


def test_a_normal_leg_has_no_calcification_and_says_what_was_excluded(plain):
    phantom, result = plain
    assert result.status == "analysed"
    assert result.clusters == []
    assert result.calcification_detected is False
    assert result.primary_pattern == "none"
    assert any("collimation border on 2 sides" in n for n in result.notes)
    assert any("marker" in n for n in result.notes)
    r0, c0, r1, c1 = result.leg_bbox_px
    rows, cols = np.nonzero(phantom.leg)
    assert r0 <= rows.min() + 20 and r1 >= rows.max() - 20
    assert abs(c0 - cols.min()) < 30 and abs(c1 - cols.max()) < 30


def test_a_round_nodule_with_a_central_lucency_is_found_and_named(with_nodule):
    phantom, result = with_nodule
    assert result.calcification_detected
    hits = [c for c in result.clusters if overlaps(c.bbox_px, phantom.calcifications[0])]
    assert len(hits) == 1
    cluster = hits[0]
    assert cluster.pattern == "phlebolith"
    assert cluster.features["ring_count"] == 1.0
    assert cluster.features["largest_ring_depth"] > 0.15
    # 5 mm nodule: its size in mm is right to within a couple of pixels.
    assert cluster.size_mm[0] == pytest.approx(5.0, abs=1.5)
    assert cluster.size_mm[1] == pytest.approx(5.0, abs=1.5)
    assert cluster.features["largest_diameter_mm"] == pytest.approx(5.0, abs=1.5)


def test_a_lone_solid_nodule_is_nonspecific_with_phlebolith_its_first_alternative_but_several_are_phleboliths():
    lone = make_phantom(spacing_mm=SPACING, phleboliths=[(150.0, 60.0, 5.0)])
    result = analyze_image(lone.pixels, (SPACING, SPACING))
    hits = [c for c in result.clusters if overlaps(c.bbox_px, lone.calcifications[0])]
    assert len(hits) == 1
    # Neither hallmark (a central lucency, company): it could as well be the
    # core of a mass whose outline does not show, so it is not forced benign.
    assert hits[0].features["ring_count"] == 0.0
    assert hits[0].pattern == "nonspecific"
    assert next(iter(hits[0].alternatives)) == "phlebolith"

    several = make_phantom(spacing_mm=SPACING, phleboliths=[(150.0, 60.0, 5.0), (162.0, 62.0, 4.0)])
    result = analyze_image(several.pixels, (SPACING, SPACING))
    assert result.primary_pattern == "phlebolith"

    # Several scattered far apart fall into separate clusters, and keep each other company.
    apart = make_phantom(spacing_mm=SPACING, phleboliths=[(110.0, 60.0, 5.0), (190.0, 58.0, 5.0)])
    result = analyze_image(apart.pixels, (SPACING, SPACING))
    hits = [[c for c in result.clusters if overlaps(c.bbox_px, box)] for box in apart.calcifications]
    assert [len(h) for h in hits] == [1, 1] and hits[0][0] is not hits[1][0]
    assert [h[0].pattern for h in hits] == ["phlebolith", "phlebolith"]
    assert all(h[0].features["lone_solid_nodule"] == 0.0 for h in hits)


def test_a_field_of_tiny_dots_is_stippled(with_stippling):
    phantom, result = with_stippling
    hits = [c for c in result.clusters if overlaps(c.bbox_px, phantom.calcifications[0])]
    assert len(hits) == 1
    assert hits[0].pattern == "stippled"
    assert hits[0].lesion_count >= 10
    assert result.primary_pattern == "stippled"


def test_clusters_honour_the_contract(with_nodule, with_stippling):
    for phantom, result in (with_nodule, with_stippling):
        h, w = phantom.pixels.shape
        order = [PATTERN_SIGNIFICANCE.index(p) for p in result.patterns]
        assert order == sorted(order)
        assert result.primary_pattern == (result.patterns[0] if result.patterns else "none")
        for i, cluster in enumerate(result.clusters, start=1):
            assert cluster.id == i
            assert 0.0 <= cluster.confidence <= 1.0
            scores = list(cluster.alternatives.values())
            assert len(scores) >= 2 and scores == sorted(scores, reverse=True)
            assert cluster.pattern not in cluster.alternatives
            assert 3 <= len(cluster.contour_px) <= 64
            assert all(0 <= r < h and 0 <= c < w for r, c in cluster.contour_px)
            r0, c0, r1, c1 = cluster.bbox_px
            assert 0 <= r0 < r1 <= h and 0 <= c0 < c1 <= w
            assert r0 <= cluster.centroid_px[0] <= r1 and c0 <= cluster.centroid_px[1] <= c1
            assert cluster.size_px == (r1 - r0, c1 - c0)
            assert all(isinstance(v, float) for v in cluster.features.values())


def test_without_spacing_sizes_are_in_pixels_and_a_note_says_so():
    phantom = make_phantom(spacing_mm=SPACING, phleboliths=[(150.0, 60.0, 5.0)])
    result = analyze_image(phantom.pixels, None)
    assert result.status == "analysed"
    assert any("no pixel spacing" in n for n in result.notes)
    assert result.clusters, "the nodule is still found without a spacing"
    for cluster in result.clusters:
        assert cluster.size_mm is None
        assert cluster.size_px[0] > 0 and cluster.size_px[1] > 0


def test_timings_are_reported_per_stage():
    phantom = make_phantom(spacing_mm=0.5)
    timings: dict[str, float] = {}
    analyze_image(phantom.pixels, (0.5, 0.5), timings=timings)
    assert {"segment", "detect", "measure", "classify"} <= set(timings)
    assert all(v >= 0 for v in timings.values())


@pytest.mark.parametrize(
    "pixels, message",
    [
        (np.full((300, 200), 7.0, np.float32), "constant"),
        (np.zeros((10, 10), np.float32), "2-D greyscale image"),
        (np.zeros((4, 50, 50), np.float32), "2-D greyscale image"),
    ],
)
def test_unusable_pixels_are_insufficient(pixels, message):
    result = analyze_image(pixels, (0.2, 0.2))
    assert result.status == "insufficient_information"
    assert any(message in m for m in result.missing)
    assert result.clusters == []


def test_a_test_pattern_is_not_analysed_as_a_leg():
    pattern = np.zeros((512, 512), np.float32)
    for i, level in enumerate(np.linspace(0, 4095, 8)):
        pattern[:, i * 64 : (i + 1) * 64] = level
    pattern[200:300, 100:400] = 2048.0
    result = analyze_image(pattern, (0.5, 0.5))
    assert result.status == "insufficient_information"
    assert any("test pattern" in m for m in result.missing)


def test_a_wide_body_without_long_bones_is_not_a_leg():
    # A disc of soft tissue 250 mm across: no limb outline, no long bone.
    yy, xx = np.mgrid[0:600, 0:600].astype(np.float32)
    r = np.hypot(yy - 300, xx - 300) * 0.5
    img = 0.05 + 0.4 * np.sqrt(np.clip(1 - (r / 125.0) ** 2, 0, None))
    img += np.random.default_rng(1).normal(0, 0.004, img.shape).astype(np.float32)
    result = analyze_image(img.astype(np.float32), (0.5, 0.5))
    assert result.status == "insufficient_information"
    assert result.missing


def test_the_pattern_table_scores_every_pattern_in_range():
    table = load_pattern_table()
    scores = pattern_scores({}, table)
    assert set(scores) == set(table["patterns"]) | {"nonspecific"}
    assert all(0.0 <= s <= 1.0 for s in scores.values())


def _mass_case(calcification_offset_mm, with_mass=True):
    from image_phantom import make_phantom

    row, col = 150.0, 60.0  # soft tissue between the skin and the tibia
    phantom = make_phantom(spacing_mm=0.2, phleboliths=[(row + calcification_offset_mm, col, 4.0)],
                           masses=[(row, col, 14.0)] if with_mass else (), seed=11)
    return analyze_image(phantom.pixels, (0.2, 0.2)), phantom


def test_a_soft_tissue_mass_around_a_calcification_is_found_and_related_to_it():
    central, _ = _mass_case(0.0)
    edge, _ = _mass_case(9.0)
    assert central.mass_detected and edge.mass_detected
    (c,), (e,) = central.clusters, edge.clusters
    assert c.mass_id is not None and e.mass_id is not None
    mass = central.masses[0]
    # The mass is the 28 mm sphere, not the 4 mm calcification.
    assert 20.0 <= max(mass.size_mm) <= 40.0
    assert c.features["mass_offset_norm"] < 0.35 < e.features["mass_offset_norm"]


def test_no_mass_is_reported_around_a_calcification_in_plain_soft_tissue():
    result, _ = _mass_case(0.0, with_mass=False)
    assert len(result.clusters) == 1
    assert not result.mass_detected and result.clusters[0].mass_id is None


def test_a_beaded_arterial_wall_is_one_arterial_cluster():
    spacing = 0.2
    phantom = make_phantom(spacing_mm=spacing, seed=4)
    img = phantom.pixels.copy()
    yy, xx = np.mgrid[0 : img.shape[0], 0 : img.shape[1]].astype(np.float32) * spacing
    col = 45.0  # soft tissue, parallel to the leg axis (the rows)
    wall = (np.abs(xx - col) < 0.6) & (yy > 100) & (yy < 130)  # a 30 mm wall segment
    beads = [(142.0, col), (156.0, col), (168.0, col + 4.0)]  # beads beyond it, one on the partner wall
    for r, c in beads:
        wall |= (yy - r) ** 2 + (xx - c) ** 2 < 1.2**2
    img = img + 0.06 * wall
    result = analyze_image(img, (spacing, spacing))
    hits = [c for c in result.clusters if c.bbox_px[0] * spacing < 170 and c.bbox_px[2] * spacing > 100]
    assert len(hits) == 1, [(c.pattern, c.bbox_px) for c in result.clusters]
    assert hits[0].pattern == "arterial"
    assert hits[0].lesion_count >= 3


def test_a_bead_left_alone_by_a_long_gap_in_an_arterial_wall_joins_it_but_one_off_its_course_does_not():
    spacing = 0.2
    phantom = make_phantom(spacing_mm=spacing, seed=4)
    yy, xx = np.mgrid[0 : phantom.pixels.shape[0], 0 : phantom.pixels.shape[1]].astype(np.float32) * spacing
    col = 45.0

    def clusters_with_bead_at(bead_col):
        # The beaded wall of test_a_beaded_arterial_wall_is_one_arterial_cluster, and one
        # more bead 27 mm beyond its last: farther than the grouping joins beads.
        wall = (np.abs(xx - col) < 0.6) & (yy > 100) & (yy < 130)
        for r, c in [(142.0, col), (156.0, col), (168.0, col + 4.0), (195.0, bead_col)]:
            wall |= (yy - r) ** 2 + (xx - c) ** 2 < 1.2**2
        result = analyze_image(phantom.pixels + 0.06 * wall, (spacing, spacing))
        return [(c.pattern, c.lesion_count) for c in result.clusters
                if c.bbox_px[0] * spacing < 200 and c.bbox_px[2] * spacing > 100]

    # On the wall's course: one arterial cluster holding the bead too.
    assert clusters_with_bead_at(col) == [("arterial", 4)]
    # 12 mm to the side of it: the bead is a cluster of its own.
    assert sorted(clusters_with_bead_at(col + 12.0)) == [("arterial", 3), ("nonspecific", 1)]


def test_a_piece_is_on_an_arterys_course_within_the_gap_and_band_only():
    from radassist.image.cluster import FRAGMENT_GAP_MM, FRAGMENT_OFFSET_MM, Group, on_course

    det_mm = 0.25
    rows = np.arange(0, 200)
    line = Group(foci=[], coords=np.stack([rows, 50 + (rows % 3) - 1], axis=1))  # a wall 3 px wide

    def piece(start_row, col):
        r = np.arange(start_row, start_row + 10)
        return Group(foci=[], coords=np.stack([r, np.full(r.size, col)], axis=1))

    gap_px = FRAGMENT_GAP_MM / det_mm
    off_px = FRAGMENT_OFFSET_MM / det_mm
    assert on_course(line, piece(int(200 + 0.8 * gap_px), 50), det_mm, 0.0)
    assert on_course(line, piece(int(-10 - 0.8 * gap_px), 51), det_mm, 0.0)  # beyond the other end
    assert not on_course(line, piece(int(200 + 1.2 * gap_px), 50), det_mm, 0.0)
    assert not on_course(line, piece(100, int(51 + 1.5 * off_px)), det_mm, 0.0)
    # The leg axis sets "along": with the leg along the columns the same piece is beside the line.
    assert not on_course(line, piece(int(200 + 0.8 * gap_px), 50), det_mm, np.pi / 2)


def test_only_unnamed_clusters_on_a_strong_edge_are_dropped_as_edge_artefacts():
    from radassist.image.artefacts import UNNAMED_MAX_EDGE_STEP, unnamed_on_edge

    on_edge = {"edge_step": UNNAMED_MAX_EDGE_STEP * 1.5}
    flat = {"edge_step": UNNAMED_MAX_EDGE_STEP * 0.5}
    assert unnamed_on_edge(on_edge, "nonspecific")
    assert not unnamed_on_edge(flat, "nonspecific")
    # A named pattern carries shape evidence of its own and stays, whatever its background.
    for pattern in ("phlebolith", "stippled", "eccentric", "arterial"):
        assert not unnamed_on_edge(on_edge, pattern)
    # So does a lone solid nodule, nonspecific only for want of a phlebolith's hallmarks.
    assert not unnamed_on_edge(on_edge | {"lone_solid_nodule": 1.0, "largest_solidity": 0.95}, "nonspecific")
    assert unnamed_on_edge(on_edge | {"lone_solid_nodule": 1.0, "largest_solidity": 0.5}, "nonspecific")


def test_a_lone_unnamed_blob_needs_its_peak_to_reach_the_single_focus_bar():
    from radassist.image.artefacts import MIN_SINGLE_FOCUS_SNR, faint_unnamed

    from radassist.image.artefacts import FAINT_BLOB_MIN_SOLIDITY

    faint = {"lesion_count": 1.0, "peak_snr": MIN_SINGLE_FOCUS_SNR * 0.7, "largest_solidity": 0.8}
    bright = faint | {"peak_snr": MIN_SINGLE_FOCUS_SNR * 1.2}
    assert faint_unnamed(faint, "nonspecific")
    assert not faint_unnamed(bright, "nonspecific")
    # A named shape is evidence of its own; several foci are a cluster's; a
    # piece of an arc or a ring (a faint laminated lesion's outer ring) is a shape too.
    for pattern in ("phlebolith", "laminated", "diffuse", "eccentric"):
        assert not faint_unnamed(faint, pattern)
    assert not faint_unnamed(faint | {"lesion_count": 2.0}, "nonspecific")
    assert not faint_unnamed(faint | {"largest_solidity": FAINT_BLOB_MIN_SOLIDITY * 0.8}, "nonspecific")


def test_a_lone_streak_on_an_edge_is_an_artefact_but_a_beaded_wall_or_a_streak_on_flat_tissue_is_not():
    from radassist.image.artefacts import LONE_STREAK_MAX_EDGE_STEP, edge_overshoot
    from radassist.image.cluster import Group

    def group(lesion_count, edge_step):
        features = {"lesion_count": lesion_count, "aspect_ratio": 8.0, "continuity": 0.9, "edge_ratio": 1.0,
                    "median_focus_width_mm": 1.5, "peak_snr": 20.0, "bone_distance_mm": 20.0,
                    "edge_step": edge_step}
        return Group(foci=[], coords=np.zeros((1, 2), int), features=features)

    assert edge_overshoot(group(1, 2 * LONE_STREAK_MAX_EDGE_STEP))
    assert not edge_overshoot(group(1, 0.5 * LONE_STREAK_MAX_EDGE_STEP))
    assert not edge_overshoot(group(4, 2 * LONE_STREAK_MAX_EDGE_STEP))


def test_a_curved_line_on_a_cortex_sized_step_is_the_cortex_but_a_solid_nodule_there_is_not():
    from radassist.image.artefacts import CORTEX_MIN_STEP, SOLID_NODULE_MIN_SOLIDITY, edge_overshoot
    from radassist.image.cluster import Group

    def group(edge_step, solidity):
        # A long, curved, beaded-looking line (so that none of the other signs apply).
        features = {"lesion_count": 3, "aspect_ratio": 2.5, "continuity": 0.5, "edge_ratio": 1.0,
                    "median_focus_width_mm": 1.5, "peak_snr": 20.0, "bone_distance_mm": 20.0,
                    "edge_step": edge_step, "largest_solidity": solidity}
        return Group(foci=[], coords=np.zeros((1, 2), int), features=features)

    thin = 0.5 * SOLID_NODULE_MIN_SOLIDITY
    solid = min(1.0, 1.1 * SOLID_NODULE_MIN_SOLIDITY)
    assert edge_overshoot(group(1.5 * CORTEX_MIN_STEP, thin))
    # A dense nodule's own blur makes as large a step: it stays.
    assert not edge_overshoot(group(1.5 * CORTEX_MIN_STEP, solid))
    # A soft-tissue plane or a mass's rim steps far less: the line stays.
    assert not edge_overshoot(group(0.6 * CORTEX_MIN_STEP, thin))


def test_a_smooth_unbroken_line_named_arterial_is_anatomy_but_a_beaded_or_paired_wall_is_not():
    from radassist.image.artefacts import (SMOOTH_LINE_MAX_FOCI, SMOOTH_LINE_MAX_TRACK_VALLEY,
                                           SMOOTH_LINE_MIN_CONTINUITY, smooth_lone_line)

    line = {"lesion_count": 1, "continuity": 1.0, "track_valley_depth": 0.0}
    assert smooth_lone_line(line, "arterial")
    # Beaded (many foci, gaps along the course) or a tram track (a second wall alongside): an artery.
    assert not smooth_lone_line(line | {"lesion_count": SMOOTH_LINE_MAX_FOCI + 3, "continuity": 0.6}, "arterial")
    assert not smooth_lone_line(line | {"continuity": 0.8 * SMOOTH_LINE_MIN_CONTINUITY}, "arterial")
    assert not smooth_lone_line(line | {"lesion_count": 2, "track_valley_depth": 2 * SMOOTH_LINE_MAX_TRACK_VALLEY},
                                "arterial")
    # Only a cluster named for being a line is judged as one.
    for pattern in ("peripheral_plaque", "nonspecific", "phlebolith"):
        assert not smooth_lone_line(line, pattern)


def test_ring_depth_sees_a_central_lucency_wherever_the_ring_lies_and_not_in_a_solid_nodule():
    from radassist.image.measure import ring_depth

    yy, xx = np.mgrid[-20:21, -20:21].astype(float)
    r = np.hypot(yy, xx)
    sphere = 2 * np.sqrt(np.clip(8.0**2 - r**2, 0, None))
    shell = sphere - 2 * np.sqrt(np.clip(5.0**2 - r**2, 0, None))
    centre = (20.0, 20.0)
    assert ring_depth(sphere, centre, 8.0) == pytest.approx(0.0, abs=0.02)
    # The same shell measured within a radius that takes in its blurred edge.
    for radius in (8.0, 10.0, 12.0):
        assert ring_depth(shell, centre, radius) > 0.3
    assert ring_depth(shell, centre, 2.0) == 0.0  # too small to have a centre


def test_a_dense_ball_wedged_against_the_skin_stands_on_the_leg_above_and_below_it(monkeypatch):
    from radassist.image import detect

    # A 20 mm calcified ball whose edge reaches the skin margin: too little
    # soft tissue around it to interpolate the background from.
    phantom = make_phantom(spacing_mm=0.2, phleboliths=[(150.0, 45.0, 20.0)])
    result = analyze_image(phantom.pixels, (0.2, 0.2))
    hits = [c for c in result.clusters if overlaps(c.bbox_px, phantom.calcifications[0])]
    assert len(hits) == 1
    assert hits[0].pattern == "diffuse"
    assert hits[0].features["largest_diameter_mm"] == pytest.approx(20.0, abs=4.0)
    # Without the axial background under it, the background filters follow
    # the ball and it is lost.
    monkeypatch.setattr(detect, "EDGE_OBJECT_MIN_AXIAL_RISE", float("inf"))
    result = analyze_image(phantom.pixels, (0.2, 0.2))
    assert not any(overlaps(c.bbox_px, phantom.calcifications[0]) for c in result.clusters)


def test_a_hairline_is_an_overshoot_but_a_thin_wall_beaded_along_a_long_course_is_not():
    from radassist.image.artefacts import HAIRLINE_MAX_WIDTH_MM, MIN_MANY_FOCI, edge_overshoot
    from radassist.image.cluster import Group

    def group(lesion_count):
        features = {"lesion_count": lesion_count, "aspect_ratio": 30.0, "continuity": 0.7, "edge_ratio": 1.0,
                    "median_focus_width_mm": 0.9 * HAIRLINE_MAX_WIDTH_MM, "peak_snr": 14.0,
                    "bone_distance_mm": 50.0, "edge_step": 0.1}
        return Group(foci=[], coords=np.zeros((1, 2), int), features=features)

    assert edge_overshoot(group(1))
    assert edge_overshoot(group(MIN_MANY_FOCI - 1))
    assert not edge_overshoot(group(MIN_MANY_FOCI + 12))
