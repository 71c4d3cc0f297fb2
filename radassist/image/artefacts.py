"""What looks bright and small but is not a calcification.

Rules applied to foci and clusters after detection, each with a one-line
physical reason. Every rejection is counted and reported in the findings'
notes, so nothing disappears silently.

- *Anatomical lines*: one unbroken, long, thin, straight line (a bone cortex,
  fascia, a skin fold) unless it has a tram-track partner.
- *Weak evidence*: clusters not dense enough (calcium is several times denser
  than soft tissue) or not standing out enough from the noise.
- *Bone rims*: thin foci lying along a bone edge.
- *Edge overshoots*: clusters on a background step several times their own
  contrast; lone continuous streaks beside a bone; hairlines thinner than a
  calcified vessel wall seen edge-on.

Thresholds are module constants with units in their names.
"""

from __future__ import annotations

import numpy as np

from .cluster import Group
from .detect import Detection
from .measure import Focus

#: A single unbroken focus this long (along its skeleton) and this thin is an
#: anatomical line, straight or curved ...
ANATOMICAL_LINE_MIN_MM = 30.0
ANATOMICAL_LINE_MAX_WIDTH_MM = 3.0
#: ... and this straight (moment length over skeleton length; ~1.15 for a straight line).
ANATOMICAL_LINE_MIN_STRAIGHTNESS = 0.9
#: Tram track: a partner line at least this long, this parallel, this far away,
#: with the band between them not darker than this many noise sigmas.
TRACK_PARTNER_MIN_MM = 8.0
TRACK_MAX_ANGLE_DEG = 15.0
TRACK_SEPARATION_MM = (1.5, 7.0)
TRACK_MAX_DARK_SNR = 1.0

#: Rim: a partner at least this fraction as long, this parallel, this far away
#: (mm), its separation in the middle this many times that at the ends.
RIM_PARTNER_MIN_FRACTION = 0.3
RIM_PARTNER_MAX_ANGLE_DEG = 30.0
RIM_PARTNER_SEPARATION_MM = (6.0, 60.0)
RIM_MIN_BOW = 1.15

#: Evidence needed to report a cluster at all (see :func:`enough_evidence`).
MIN_CLUSTER_PEAK_CONTRAST = 0.06  # fraction of the soft-tissue contrast
#: ... unless at least MIN_CLUSTER_FOCI of its foci stand this far above the
#: noise (fine stippling on a film processed to low contrast).
STRONG_FOCUS_SNR = 15.0
MIN_MANY_FOCI = 8
MIN_CLUSTER_FOCI = 3
MIN_FEW_FOCI_SNR = 7.0
MIN_SINGLE_FOCUS_SNR = 8.0
MIN_SINGLE_FOCUS_AREA_MM2 = 1.0
#: A lone unnamed focus this solid (area over convex area) is a blob, whose
#: peak must reach MIN_SINGLE_FOCUS_SNR (see :func:`faint_unnamed`).
FAINT_BLOB_MIN_SOLIDITY = 0.5

#: A cluster of thin foci (median width up to this) lying mostly (this fraction)
#: within this distance of bone is the bone's cortical rim.
BONE_RIM_MAX_WIDTH_MM = 3.0
BONE_RIM_MIN_FRACTION = 0.7
BONE_RIM_DISTANCE_MM = 3.0
#: A cluster whose surroundings (a ring RING_MM away) rise above the modelled
#: soft-tissue profile by this fraction of the tissue contrast sits on bone (or
#: something as dense) that the bone mask missed: a bone edge or trabecula.
ON_BONE_RISE = 0.25
ON_BONE_RING_MM = (3.0, 6.0)
#: ... or whose surroundings carry this many times the leg's typical fine
#: structure (trabecular texture, like the bone mask's "busy" regions).
ON_BONE_TEXTURE = 2.0
#: A cluster whose background steps by more than this many times its own peak
#: contrast across 4 mm sits on an edge, when the step is a strong one (this
#: fraction of the tissue contrast: a skin line, a fat plane or a cortex, not
#: the rim of a soft-tissue mass or the leg's thickness ramp).
MAX_EDGE_RATIO = 2.5
EDGE_MIN_STEP = 0.3
#: A faint cluster (peak below this SNR) this close to bone (mm) is the bone's
#: own edge or texture showing through the margin.
FAINT_NEAR_BONE_SNR = 10.0
FAINT_NEAR_BONE_MM = 4.0
#: A cluster that fits no pattern on a background stepping by more than this
#: fraction of the tissue contrast across 4 mm sits on an edge (skin, fat plane, cortex).
UNNAMED_MAX_EDGE_STEP = 0.3
#: A lone streak (one focus, at least this elongated) on a background stepping
#: by more than this fraction of the tissue contrast is the edge it lies on
#: (skin fold, fat plane); calcified walls are beaded or paired.
LONE_STREAK_MIN_ASPECT = 3.0
LONE_STREAK_MAX_EDGE_STEP = 0.2
#: A lone continuous streak (aspect, continuity) this close to bone is its cortex.
BONE_STREAK_MIN_ASPECT = 3.0
BONE_STREAK_MIN_CONTINUITY = 0.8
BONE_STREAK_MAX_DISTANCE_MM = 8.0
#: A cluster on a background stepping by more than this fraction of the tissue
#: contrast across 4 mm lies on a bone's cortex or the skin line (soft-tissue
#: planes and mass rims step far less), unless it is a solid nodule (largest
#: focus at least this solid), whose own blur makes such a step.
CORTEX_MIN_STEP = 0.5
SOLID_NODULE_MIN_SOLIDITY = 0.8
#: A cluster named arterial that is at most this many foci, unbroken over at
#: least this fraction of its length, with no second wall beside it (a
#: tram-track valley shallower than this) is one smooth line: a fibula's edge,
#: a cortex or a fascial plane. Calcified artery walls over such lengths are
#: beaded or interrupted, or come in pairs (patterns.md).
SMOOTH_LINE_MAX_FOCI = 2
SMOOTH_LINE_MIN_CONTINUITY = 0.9
SMOOTH_LINE_MAX_TRACK_VALLEY = 0.2
#: A line this drawn out and thinner than this (median focus width) is an overshoot hairline.
HAIRLINE_MIN_ASPECT = 5.0
HAIRLINE_MAX_WIDTH_MM = 0.9


def anatomical_lines(foci: list[Focus], found: Detection, det_mm: float) -> list[Focus]:
    """Foci that are one long unbroken line: a bone cortex, fascia or skin fold.

    Calcified vessel walls are interrupted (beaded) over such lengths, or come
    with their second wall alongside (a tram track); rings and strongly curved
    arcs (laminated, peripheral plaque) are not lines.
    """
    out = []
    for focus in foci:
        if focus.skeleton_mm < ANATOMICAL_LINE_MIN_MM or focus.width_mm > ANATOMICAL_LINE_MAX_WIDTH_MM:
            continue
        closed = focus.hole_area_mm2 > 0.5
        straight = focus.major_mm >= ANATOMICAL_LINE_MIN_STRAIGHTNESS * focus.skeleton_mm
        if (straight and not closed and not _has_track_partner(focus, foci, found, det_mm)
                and not _has_rim_partner(focus, foci, det_mm)):
            out.append(focus)
    return out


def _has_rim_partner(focus: Focus, foci: list[Focus], det_mm: float) -> bool:
    """A second long line on the far side of an elongated outline: the two sides of a calcified rim.

    The long sides of a fusiform outline (peripheral plaque around a mass)
    are gently bowed towards each other at both ends; the two cortices of a
    bone or two fascial planes stay parallel. A partner this long, this far
    away, whose separation from the line is clearly larger in the middle than
    at the ends, makes the pair a rim.
    """
    pts = focus.coords[:: max(1, focus.coords.shape[0] // 200)].astype(float)
    centre = pts.mean(axis=0)
    cov = np.cov((pts - centre).T) if pts.shape[0] > 2 else np.eye(2)
    direction = np.linalg.eigh(cov)[1][:, -1]
    t = (pts - centre) @ direction
    if np.ptp(t) <= 0:
        return False
    lo, hi = RIM_PARTNER_SEPARATION_MM
    for other in foci:
        if other is focus or other.skeleton_mm < RIM_PARTNER_MIN_FRACTION * focus.skeleton_mm:
            continue
        if abs(other.orientation_to_axis_deg - focus.orientation_to_axis_deg) > RIM_PARTNER_MAX_ANGLE_DEG:
            continue
        others = other.coords[:: max(1, other.coords.shape[0] // 200)].astype(float)
        nearest = np.sqrt(((pts[:, None, :] - others[None, :, :]) ** 2).sum(-1)).min(axis=1) * det_mm
        if not lo <= float(np.median(nearest)) <= hi:
            continue
        third = np.ptp(t) / 3
        middle = nearest[np.abs(t - (t.min() + np.ptp(t) / 2)) <= third / 2]
        ends = (nearest[t <= t.min() + third / 2], nearest[t >= t.max() - third / 2])
        if middle.size and all(e.size for e in ends) and all(
                float(np.median(middle)) >= RIM_MIN_BOW * float(np.median(e)) for e in ends):
            return True
    return False


def _has_track_partner(focus: Focus, foci: list[Focus], found: Detection, det_mm: float) -> bool:
    """A parallel line 1.5–7 mm away with no dark band between: the other wall of a calcified artery.

    A fat plane seen with edge enhancement also gives two bright lines, but
    with the dark plane itself between them.
    """
    pts = focus.coords[:: max(1, focus.coords.shape[0] // 200)]
    lo, hi = TRACK_SEPARATION_MM
    for other in foci:
        if other is focus or other.skeleton_mm < TRACK_PARTNER_MIN_MM or other.width_mm > ANATOMICAL_LINE_MAX_WIDTH_MM:
            continue
        if abs(other.orientation_to_axis_deg - focus.orientation_to_axis_deg) > TRACK_MAX_ANGLE_DEG:
            continue
        others = other.coords[:: max(1, other.coords.shape[0] // 200)]
        dist = np.sqrt(((pts[:, None, :] - others[None, :, :]) ** 2).sum(-1)) * det_mm
        nearest = dist.min(axis=1)
        if not lo <= float(np.median(nearest)) <= hi or (nearest <= hi).mean() < 0.3:
            continue
        near = nearest <= hi
        mid = np.round((pts[near] + others[dist.argmin(axis=1)[near]]) / 2).astype(int)
        between = found.smoothed[mid[:, 0], mid[:, 1]] / found.noise[mid[:, 0], mid[:, 1]]
        if float(np.median(between)) > -TRACK_MAX_DARK_SNR:
            return True
    return False


def enough_evidence(group: Group) -> bool:
    """Whether a cluster stands out enough to be reported at all.

    Its brightest focus must reach :data:`MIN_CLUSTER_PEAK_CONTRAST` of the
    soft-tissue contrast (or several foci stand :data:`STRONG_FOCUS_SNR` above
    the noise); then either many foci (stippling), or a few with
    one standing :data:`MIN_FEW_FOCI_SNR` above the noise, or one or two whose
    evidence — the peak signal-to-noise, or for a faint extended focus (a
    ring, a lesion) its summed signal-to-noise — reaches
    :data:`MIN_SINGLE_FOCUS_SNR`, with some size.
    """
    peak_contrast = max(f.peak_contrast for f in group.foci)
    evidence = max(max(f.peak_snr, f.integrated_snr) for f in group.foci)
    n = len(group.foci)
    strong = sum(f.peak_snr >= STRONG_FOCUS_SNR for f in group.foci)
    if peak_contrast < MIN_CLUSTER_PEAK_CONTRAST and strong < MIN_CLUSTER_FOCI:
        # Faint against the tissue; only several foci each far above the noise count.
        return False
    if n >= MIN_MANY_FOCI:
        return True
    if n >= MIN_CLUSTER_FOCI:
        return evidence >= MIN_FEW_FOCI_SNR
    area = sum(f.area_mm2 for f in group.foci)
    return evidence >= MIN_SINGLE_FOCUS_SNR and area >= MIN_SINGLE_FOCUS_AREA_MM2


def hugs_bone(group: Group, bone_distance_mm: np.ndarray) -> bool:
    """A thin line lying along the edge of a bone: its cortical rim.

    ``bone_distance_mm`` is the distance to bone of each of the group's pixels.
    """
    if float(np.median([f.width_mm for f in group.foci])) > BONE_RIM_MAX_WIDTH_MM:
        return False
    return float((bone_distance_mm <= BONE_RIM_DISTANCE_MM).mean()) >= BONE_RIM_MIN_FRACTION


def on_bone(surrounding_rise: float, surrounding_texture: float = 0.0) -> bool:
    """Whether a cluster sits on bone that the bone mask missed, judged by its surroundings.

    ``surrounding_rise`` is the median rise, above the modelled soft-tissue
    profile (:mod:`.profile`), of a ring :data:`ON_BONE_RING_MM` around the
    cluster, as a fraction of the tissue contrast; ``surrounding_texture``
    the median power of fine structure there (:func:`.bone.structure_power`,
    1 for plain soft tissue, the cluster itself left out). A calcification
    lies in soft tissue (or a faint soft-tissue mass, which adds far less);
    bone the bone mask missed (a joint bone, a faint epiphysis) is bright or
    trabecular all around, and carries its edges and trabeculae into the detector.
    """
    return surrounding_rise > ON_BONE_RISE or surrounding_texture > ON_BONE_TEXTURE


def edge_overshoot(group: Group) -> bool:
    """Whether a described cluster is an overshoot beside an edge, or the edge itself (any of six signs).

    - it sits on a strong background step several times its own contrast (a field
      of many dots not drawn out along a line is exempt: faint stippling on a
      sloping background would otherwise count);
    - it is one or two continuous streaks close beside a bone (the bone's own
      edge: calcified walls near a bone are beaded or paired);
    - it is a drawn-out hairline thinner than a vessel wall seen edge-on, in
      fewer than :data:`MIN_MANY_FOCI` pieces (a thin calcified wall beaded
      along a long course is an artery);
    - it is faint and lies within a few millimetres of bone;
    - it is a lone streak on a background step (a skin fold or fat plane);
    - it is not a solid nodule and sits on a step as large as a cortex's or the
      skin line's (the curved cortex of a joint bone, which the bone mask missed).
    """
    f = group.features
    stepped = f["edge_ratio"] > MAX_EDGE_RATIO and f.get("edge_step", 0.0) > EDGE_MIN_STEP and not (
        f["lesion_count"] >= MIN_MANY_FOCI and f["aspect_ratio"] < 3.0)
    streak = (f["lesion_count"] <= 2 and f["aspect_ratio"] >= BONE_STREAK_MIN_ASPECT
              and f["continuity"] >= BONE_STREAK_MIN_CONTINUITY
              and f.get("bone_distance_mm", np.inf) <= BONE_STREAK_MAX_DISTANCE_MM)
    hairline = (f["aspect_ratio"] >= HAIRLINE_MIN_ASPECT and f["median_focus_width_mm"] < HAIRLINE_MAX_WIDTH_MM
                and f["lesion_count"] < MIN_MANY_FOCI)
    faint_near_bone = (f["peak_snr"] < FAINT_NEAR_BONE_SNR
                       and f.get("bone_distance_mm", np.inf) < FAINT_NEAR_BONE_MM)
    lone_edge_streak = (f["lesion_count"] <= 1 and f["aspect_ratio"] >= LONE_STREAK_MIN_ASPECT
                        and f.get("edge_step", 0.0) > LONE_STREAK_MAX_EDGE_STEP)
    on_cortex = (f.get("edge_step", 0.0) > CORTEX_MIN_STEP
                 and f.get("largest_solidity", 0.0) < SOLID_NODULE_MIN_SOLIDITY)
    return stepped or streak or hairline or faint_near_bone or lone_edge_streak or on_cortex


def unnamed_on_edge(features: dict[str, float], pattern: str) -> bool:
    """A cluster that fits no pattern (``nonspecific``) sitting on a strong background step.

    Named patterns have shape evidence of their own; an amorphous clump on
    a skin, fat-plane or cortical edge is far more often the edge itself. A
    lone solid nodule is nonspecific for want of a phlebolith's hallmarks,
    not of a shape: it stays.
    """
    round_solid = (features.get("lone_solid_nodule", 0.0) >= 1.0
                   and features.get("largest_solidity", 0.0) >= SOLID_NODULE_MIN_SOLIDITY)
    return (pattern == "nonspecific" and not round_solid
            and features.get("edge_step", 0.0) > UNNAMED_MAX_EDGE_STEP)


def faint_unnamed(features: dict[str, float], pattern: str) -> bool:
    """A lone blob that fits no pattern (``nonspecific``) and is faint at its peak.

    A single focus is reported when its evidence, the larger of its peak
    and its summed signal-to-noise, reaches :data:`MIN_SINGLE_FOCUS_SNR`
    (:func:`enough_evidence`): a faint ring or a faint solid lesion has little
    signal at any one point but much over its area. That shape is then its
    second piece of evidence. A blob with no shape to name has only its
    signal: it is kept when its peak alone reaches the bar. A piece of an arc
    or a ring (less than :data:`FAINT_BLOB_MIN_SOLIDITY` of its hull filled)
    keeps its summed evidence: the outer rings of a faint laminated lesion
    are often found as such pieces.
    """
    return (pattern == "nonspecific" and features.get("lesion_count", 0.0) <= 1
            and features.get("largest_solidity", 1.0) >= FAINT_BLOB_MIN_SOLIDITY
            and features.get("peak_snr", 0.0) < MIN_SINGLE_FOCUS_SNR)


def smooth_lone_line(features: dict[str, float], pattern: str) -> bool:
    """A cluster named ``arterial`` that is one smooth, unbroken line with no second wall.

    Only the arterial pattern rests on a cluster being a line; an anatomical
    line that the other filters let through (a fibula tapering out of the
    bone mask, a curved cortex, fascia) is named arterial. On three synthetic
    sets (two generators), such clusters were anatomy 25 times and a true
    arterial cluster never.
    """
    return (pattern == "arterial"
            and features.get("lesion_count", 0.0) <= SMOOTH_LINE_MAX_FOCI
            and features.get("continuity", 0.0) >= SMOOTH_LINE_MIN_CONTINUITY
            and features.get("track_valley_depth", 0.0) < SMOOTH_LINE_MAX_TRACK_VALLEY)
