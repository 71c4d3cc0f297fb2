"""Grouping foci into clusters and the cluster-level measurements.

Foci closer than :data:`LINK_GAP_MM` (edge to edge) belong to one cluster.
Linear pieces lined up along the leg axis (an interrupted, beaded arterial
wall) are then joined across larger gaps. Each cluster gets the geometric
features the pattern scores need, all in millimetres.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from . import layers
from .measure import Focus, axis_angle_deg

#: Foci with an edge-to-edge gap up to this belong to one cluster.
LINK_GAP_MM = 8.0
#: Linear pieces are joined along their common line across gaps up to this.
COLLINEAR_GAP_MM = 30.0
#: ... when the other piece's centre is within this distance of the line ...
COLLINEAR_OFFSET_MM = 4.0
#: ... and their directions differ by at most this.
COLLINEAR_ANGLE_DEG = 20.0
#: A short piece (a bead or a wall segment too short to be linear on its own,
#: at most this long) on a linear group's line joins it across gaps up to
#: :data:`BEAD_GAP_MM` (a beaded, interrupted arterial wall).
BEAD_MAX_MM = 15.0
BEAD_GAP_MM = 20.0
#: ... and lies within this distance of the line (the partner wall of a
#: "tram track" runs 2–6 mm from it).
BEAD_OFFSET_MM = 7.0
#: After naming: an unnamed fragment (at most this many foci) on the course of
#: an arterial cluster, within this gap (mm) along the leg beyond its ends and
#: this far (mm) outside the band its walls fill across the leg, is a piece of
#: that artery.
FRAGMENT_MAX_FOCI = 3
FRAGMENT_GAP_MM = 40.0
FRAGMENT_OFFSET_MM = 3.0
#: A piece is linear when it is this elongated ...
LINEAR_MIN_ELONGATION = 3.0
#: ... and runs within this angle of the leg axis.
LINEAR_MAX_AXIS_ANGLE_DEG = 30.0
#: Equivalent diameter up to which a focus counts as a tiny dot (stippling).
TINY_DOT_MAX_MM = 1.2
#: Nodule (phlebolith-like) equivalent-diameter range.
NODULE_DIAMETER_MM = (1.8, 12.0)
#: A focus whose centre falls this far below its brightest ring is ringed
#: (see :func:`.measure.ring_depth`): a phlebolith's central lucency.
RING_MIN_DEPTH = 0.15


#: Surround activity: pixels above this matched-filter SNR ...
SURROUND_SNR = 2.5
#: ... counted between these distances outside the cluster's box.
SURROUND_INNER_MM = 3.0
SURROUND_OUTER_MM = 12.0


@dataclass
class Group:
    """A cluster of foci with its measurements (detection-grid crop coordinates)."""

    foci: list[Focus]
    coords: np.ndarray
    features: dict[str, float] = field(default_factory=dict)

    @property
    def centroid(self) -> tuple[float, float]:
        c = self.coords.mean(axis=0)
        return float(c[0]), float(c[1])


class _UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)

    def groups(self) -> list[list[int]]:
        out: dict[int, list[int]] = {}
        for i in range(len(self.parent)):
            out.setdefault(self.find(i), []).append(i)
        return list(out.values())


def _principal(coords: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Centre, unit major direction (row, col), and full major/minor lengths (px)."""
    centre = coords.mean(axis=0)
    if coords.shape[0] < 3:
        return centre, np.array([1.0, 0.0]), 1.0, 1.0
    cov = np.cov((coords - centre).T)
    evals, evecs = np.linalg.eigh(cov)
    return centre, evecs[:, 1], 4 * np.sqrt(max(evals[1], 0)) + 1, 4 * np.sqrt(max(evals[0], 0)) + 1


def group_foci(foci: list[Focus], det_mm: float, axis_angle: float) -> list[Group]:
    """Cluster foci by proximity, then join collinear linear pieces along the leg axis.

    Parameters
    ----------
    foci : list of Focus
    det_mm : float
        Detection-grid spacing.
    axis_angle : float
        Leg-axis orientation (radians from the row direction towards columns).

    Returns
    -------
    list of Group
        Largest total area first.
    """
    n = len(foci)
    if n == 0:
        return []
    uf = _UnionFind(n)
    link_px = LINK_GAP_MM / det_mm
    centres = np.array([f.coords.mean(axis=0) for f in foci])
    reach = np.array([np.max(np.linalg.norm(f.coords - c, axis=1)) + 1 for f, c in zip(foci, centres)])
    trees = [None] * n
    for i in range(n):
        d = np.linalg.norm(centres[i + 1 :] - centres[i], axis=1) - reach[i + 1 :] - reach[i]
        for j in np.flatnonzero(d <= link_px) + i + 1:
            if uf.find(i) == uf.find(j):
                continue
            if trees[j] is None:
                trees[j] = cKDTree(foci[j].coords)
            gap, _ = trees[j].query(foci[i].coords, k=1, distance_upper_bound=link_px + 1)
            if np.min(gap) <= link_px:
                uf.union(i, j)
    members = uf.groups()
    members = _join_collinear(members, foci, det_mm, axis_angle)
    groups = [Group(foci=[foci[i] for i in m], coords=np.concatenate([foci[i].coords for i in m])) for m in members]
    groups.sort(key=lambda g: -sum(f.area_mm2 for f in g.foci))
    return groups


def _join_collinear(members: list[list[int]], foci: list[Focus], det_mm: float, axis_angle: float) -> list[list[int]]:
    """Join linear groups lying on one line along the leg axis (beaded artery)."""
    axis = np.array([np.cos(axis_angle), np.sin(axis_angle)])
    changed = True
    while changed:
        changed = False
        info = []
        for m in members:
            coords = np.concatenate([foci[i].coords for i in m]).astype(float)
            centre, direction, major, minor = _principal(coords)
            angle = np.degrees(np.arccos(min(1.0, abs(float(direction @ axis)))))
            linear = (major / max(minor, 1.0) >= LINEAR_MIN_ELONGATION or len(m) >= 3 and
                      major / max(minor, 1.0) >= 2.0) and angle <= LINEAR_MAX_AXIS_ANGLE_DEG
            proj = (coords - centre) @ direction
            bead = not linear and major * det_mm <= BEAD_MAX_MM
            info.append((linear, centre, direction, proj.min(), proj.max(), bead))
        for a in range(len(members)):
            if not info[a][0]:
                continue
            for b in range(len(members)):
                if b == a or not (info[b][0] and b > a or info[b][5]):
                    continue
                _, ca, da, lo_a, hi_a, _ = info[a]
                linear_b, cb, db, lo_b, hi_b, _ = info[b]
                cos = min(1.0, abs(float(da @ db)))
                # A small bead has no direction of its own: only its place on the line counts.
                if linear_b and np.degrees(np.arccos(cos)) > COLLINEAR_ANGLE_DEG:
                    continue
                offset = cb - ca
                perp = abs(float(offset[0] * da[1] - offset[1] * da[0])) * det_mm
                if perp > (COLLINEAR_OFFSET_MM if linear_b else BEAD_OFFSET_MM):
                    continue
                t = float(offset @ da)
                sign = 1.0 if float(da @ db) >= 0 else -1.0
                b_lo, b_hi = sorted((t + sign * lo_b, t + sign * hi_b))
                gap = max(b_lo - hi_a, lo_a - b_hi, 0.0) * det_mm
                if gap <= (COLLINEAR_GAP_MM if linear_b else BEAD_GAP_MM):
                    members[a] = members[a] + members[b]
                    del members[b]
                    changed = True
                    break
            if changed:
                break
    return members


def on_course(line: Group, piece: Group, det_mm: float, axis_angle: float) -> bool:
    """Whether ``piece`` lies on the course of the linear cluster ``line``, extended along the leg.

    Arteries run along the leg (patterns.md), so the course is the band
    across the leg that the line's pixels fill (both walls of a tram track),
    extended along the leg axis: a direction fitted to a short line, or to
    a tram track's two walls, would swing far off over a long gap. ``piece``
    qualifies when its centre is within :data:`FRAGMENT_OFFSET_MM` of that
    band and within :data:`FRAGMENT_GAP_MM` of the line's ends.
    """
    ca, sa = np.cos(axis_angle), np.sin(axis_angle)

    def along_across(coords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r, c = coords[:, 0].astype(float), coords[:, 1].astype(float)
        return r * ca + c * sa, -r * sa + c * ca

    u, v = along_across(line.coords)
    lo, hi = np.percentile(v, [5, 95])
    pu, pv = along_across(piece.coords)
    centre = float(pv.mean())
    offset = max(lo - centre, centre - hi, 0.0)
    gap = max(float(pu.min() - u.max()), float(u.min() - pu.max()), 0.0)
    return offset * det_mm <= FRAGMENT_OFFSET_MM and gap * det_mm <= FRAGMENT_GAP_MM


def merged(groups: list[Group]) -> Group:
    """One group holding the foci of several (features to be measured again)."""
    return Group(foci=[f for g in groups for f in g.foci], coords=np.concatenate([g.coords for g in groups]))


def describe_group(group: Group, residual: np.ndarray, det_mm: float, axis_angle: float,
                   tissue_contrast: float, snr: np.ndarray | None = None,
                   allowed: np.ndarray | None = None) -> dict[str, float]:
    """Cluster-level features (mm units in the names) used by the pattern scores.

    ``snr`` (matched-filter signal-to-noise map) and ``allowed`` (the soft
    tissue zone) give the activity of the cluster's surroundings.
    """
    foci = group.foci
    coords = group.coords.astype(float)
    areas = np.array([f.area_mm2 for f in foci])
    diam = np.array([f.eq_diameter_mm for f in foci])
    halfmax = np.array([f.halfmax_diameter_mm for f in foci])
    total = float(areas.sum())
    centre, direction, major, minor = _principal(coords)
    orient = float(np.arctan2(direction[1], direction[0]))
    largest = foci[int(np.argmax(areas))]
    tiny = halfmax <= TINY_DOT_MAX_MM
    nodule = (
        (diam >= NODULE_DIAMETER_MM[0]) & (diam <= NODULE_DIAMETER_MM[1])
        & (np.array([f.solidity for f in foci]) >= 0.8)
        & (np.array([f.elongation for f in foci]) <= 1.8)
    )
    ringed = np.array([(f.hole_area_mm2 > 0.05 * f.filled_area_mm2 and f.hole_area_mm2 > 0.3)
                       or f.centre_to_rim < 0.8 or f.ring_depth >= RING_MIN_DEPTH for f in foci])
    linear = np.array([f.elongation >= LINEAR_MIN_ELONGATION and f.width_mm <= 2.5 for f in foci])
    irregular = np.array([f.solidity < 0.75 for f in foci])
    mid_size = (diam >= 1.5) & (diam <= 8.0)

    feats: dict[str, float] = {
        "lesion_count": float(len(foci)),
        "total_area_mm2": total,
        "length_mm": float(major * det_mm),
        "width_mm": float(minor * det_mm),
        "aspect_ratio": float(major / max(minor, 1.0)),
        "orientation_to_axis_deg": axis_angle_deg(orient, axis_angle),
        "largest_area_fraction": float(areas.max() / max(total, 1e-9)),
        "largest_diameter_mm": float(largest.eq_diameter_mm),
        "largest_solidity": float(largest.solidity),
        "largest_elongation": float(largest.elongation),
        "largest_centre_to_rim": float(largest.centre_to_rim),
        "largest_ring_depth": float(largest.ring_depth),
        "largest_hole_fraction": float(largest.hole_area_mm2 / max(largest.filled_area_mm2, 1e-9)),
        "largest_mean_contrast": float(largest.mean_contrast),
        "tiny_dot_count": float(tiny.sum()),
        "tiny_dot_fraction": float(tiny.mean()),
        "median_dot_diameter_mm": float(np.median(halfmax)),
        "nodule_count": float(nodule.sum()),
        "nodule_fraction": float(nodule.mean()),
        "ring_count": float(ringed.sum()),
        # One focus, no central lucency: a solid nodule, which nothing marks as a phlebolith.
        "lone_solid_nodule": float(len(foci) == 1 and not ringed.any()),
        "linear_area_fraction": float(areas[linear].sum() / max(total, 1e-9)),
        "skeleton_length_mm": float(sum(f.skeleton_mm for f in foci)),
        "irregular_count": float(irregular.sum()),
        "mid_size_count": float(mid_size.sum()),
        "mid_size_irregular_count": float((mid_size & (irregular | ringed)).sum()),
        "peak_snr": float(max(f.peak_snr for f in foci)),
        "peak_contrast": float(max(f.peak_contrast for f in foci)),
        "mean_contrast": float(np.average([f.mean_contrast for f in foci], weights=areas)),
        "median_focus_width_mm": float(np.median([f.width_mm for f in foci])),
        "edge_ratio": float(np.average([f.edge_ratio for f in foci], weights=areas)),
        # the background step itself (fraction of the soft-tissue contrast across 4 mm)
        "edge_step": float(np.average([f.edge_ratio * f.peak_contrast for f in foci], weights=areas)),
    }
    feats.update(_uniformity(largest, residual))
    feats.update(_track_features(coords, centre, direction, det_mm))
    feats.update(_rim_features(coords, det_mm, axis_angle))
    feats["concentric_rings"] = float(layers.count_layers(residual, group.coords, det_mm))
    feats["continuity"] = float(min(1.0, feats["skeleton_length_mm"] / max(feats["length_mm"], 1e-6)))
    if snr is not None and allowed is not None:
        feats["surround_activity"] = surround_activity(group, snr, allowed, det_mm)
    return feats


def surround_activity(group: Group, snr: np.ndarray, allowed: np.ndarray, det_mm: float) -> float:
    """Fraction of the soft tissue around a cluster that is itself raised above the noise.

    Calcifications sit in quiet soft tissue; the trabecular texture of bone
    ends and the edges of bones are busy all around. Counts pixels above
    :data:`SURROUND_SNR` in a frame :data:`SURROUND_INNER_MM` to
    :data:`SURROUND_OUTER_MM` outside the cluster's bounding box.
    """
    r0, c0 = group.coords.min(axis=0)
    r1, c1 = group.coords.max(axis=0) + 1
    inner = int(round(SURROUND_INNER_MM / det_mm))
    outer = int(round(SURROUND_OUTER_MM / det_mm))
    R0, C0 = max(r0 - outer, 0), max(c0 - outer, 0)
    R1, C1 = min(r1 + outer, snr.shape[0]), min(c1 + outer, snr.shape[1])
    region = allowed[R0:R1, C0:C1].copy()
    i0, j0 = max(r0 - inner, 0) - R0, max(c0 - inner, 0) - C0
    i1, j1 = min(r1 + inner, snr.shape[0]) - R0, min(c1 + inner, snr.shape[1]) - C0
    region[i0:i1, j0:j1] = False
    n = int(region.sum())
    if n < 50:
        return 0.0
    return float((snr[R0:R1, C0:C1][region] > SURROUND_SNR).mean())


def _uniformity(focus: Focus, residual: np.ndarray) -> dict[str, float]:
    """Coefficient of variation of the residual inside the largest focus."""
    values = residual[focus.coords[:, 0], focus.coords[:, 1]]
    mean = float(values.mean())
    cv = float(values.std() / mean) if mean > 0 else 1.0
    return {"largest_intensity_cv": cv}


def _track_features(coords: np.ndarray, centre: np.ndarray, direction: np.ndarray, det_mm: float) -> dict[str, float]:
    """Two parallel lines (tram track): the across-line profile of the cluster has two peaks.

    Returns the separation (mm) of the two strongest peaks of the histogram of
    the pixels' perpendicular offsets, and how deep the valley between them is
    (0 = no valley, 1 = empty between the lines).
    """
    perp = (coords - centre) @ np.array([-direction[1], direction[0]]) * det_mm
    bins = np.arange(perp.min() - 0.5, perp.max() + 0.75, 0.5)
    if bins.size < 4:
        return {"track_separation_mm": 0.0, "track_valley_depth": 0.0}
    hist, edges = np.histogram(perp, bins=bins)
    hist = np.convolve(hist, [0.25, 0.5, 0.25], mode="same")
    peaks, _ = find_peaks_simple(hist)
    if len(peaks) < 2:
        return {"track_separation_mm": 0.0, "track_valley_depth": 0.0}
    top = sorted(peaks, key=lambda i: -hist[i])[:2]
    i, j = sorted(top)
    valley = hist[i : j + 1].min()
    depth = 1.0 - valley / max(min(hist[i], hist[j]), 1e-9)
    return {"track_separation_mm": float((j - i) * 0.5), "track_valley_depth": float(depth)}


def find_peaks_simple(values: np.ndarray) -> tuple[list[int], None]:
    """Indices of strict local maxima (plateaus count once)."""
    peaks = []
    n = values.size
    for i in range(n):
        left = values[i - 1] if i > 0 else -np.inf
        right = values[i + 1] if i < n - 1 else -np.inf
        if values[i] > left and values[i] >= right and values[i] > 0:
            peaks.append(i)
    return peaks, None


def _rim_features(coords: np.ndarray, det_mm: float, axis_angle: float) -> dict[str, float]:
    """How much of the calcification lies on the rim of its own enclosing ellipse.

    The ellipse is the one with the second moments of the convex hull of the
    cluster (for a uniform elliptic disc, semi-axes are 2·sqrt(eigenvalues)).
    ``rim_fraction`` is the share of calcified pixels at normalised radius
    ≥ 0.65, ``interior_fill`` the calcified share of the inner half (radius <
    0.5) of the ellipse's area.
    """
    from skimage.morphology import convex_hull_image

    if coords.shape[0] < 10:
        return {"rim_fraction": 0.0, "interior_fill": 1.0, "hull_length_mm": 0.0, "hull_width_mm": 0.0,
                "hull_fill": 1.0, "hull_aspect_ratio": 1.0, "hull_orientation_to_axis_deg": 0.0}
    ci = coords.astype(int)
    r0, c0 = ci.min(axis=0)
    mask = np.zeros(tuple(ci.max(axis=0) - (r0, c0) + 1), dtype=bool)
    mask[ci[:, 0] - r0, ci[:, 1] - c0] = True
    hull = convex_hull_image(mask)
    hr, hc = np.nonzero(hull)
    hpts = np.stack([hr, hc], axis=1).astype(float)
    centre = hpts.mean(axis=0)
    cov = np.cov((hpts - centre).T)
    evals, evecs = np.linalg.eigh(cov)
    semi = 2.0 * np.sqrt(np.maximum(evals, 1e-6))
    local = (coords - (r0, c0) - centre) @ evecs
    rho = np.sqrt((local[:, 0] / semi[0]) ** 2 + (local[:, 1] / semi[1]) ** 2)
    inner_area_px = np.pi * semi[0] * semi[1] * 0.25
    inner_calc = float((rho < 0.5).sum())
    return {
        "rim_fraction": float((rho >= 0.65).mean()),
        "interior_fill": float(min(1.0, inner_calc / max(inner_area_px, 1.0))),
        "hull_length_mm": float(2 * semi[1] * det_mm),
        "hull_width_mm": float(2 * semi[0] * det_mm),
        "hull_fill": float(mask.sum() / max(hull.sum(), 1)),
        "hull_aspect_ratio": float(semi[1] / semi[0]),
        "hull_orientation_to_axis_deg": axis_angle_deg(float(np.arctan2(evecs[1, 1], evecs[0, 1])), axis_angle),
    }
