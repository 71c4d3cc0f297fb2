"""A radiograph's scene as plain data: geometry, anatomy, lesions, overlays, acquisition.

:func:`sample_scene` draws every random choice from the seed (one independent
random stream per concern, so that e.g. changing the pattern leaves the leg,
the noise and the markers unchanged); :mod:`radassist.synth.render` turns the
scene into pixels. Scenes are frozen dataclasses: to study one ingredient,
``dataclasses.replace`` it and render again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from radassist.model import PATTERN_SIGNIFICANCE

from . import patterns as pattern_builders
from .anatomy import LegAnatomy, sample_anatomy
from .detector import Acquisition, sample_acquisition
from .frame import LegFrame
from .overlays import BurnedText, Collimation, Marker
from .solids import MassSolid, Solid, extent_of

ALL_PATTERNS: tuple[str, ...] = PATTERN_SIGNIFICANCE + ("none",)
VIEWS = ("AP", "LAT")

# Independent random streams, one per concern (see module docstring).
STREAM = {"geometry": 0, "anatomy": 1, "lesions": 2, "overlays": 3, "acquisition": 4, "header": 5, "report": 6, "pattern": 7, "storage": 8}


def stream(seed: int, name: str) -> np.random.Generator:
    """The random generator of one concern of one case."""
    return np.random.default_rng([int(seed), STREAM[name]])


@dataclass(frozen=True)
class PlacedCluster:
    """One calcification cluster: its true pattern and its calcified solids (leg frame)."""

    pattern: str
    solids: tuple[Solid, ...]


@dataclass(frozen=True)
class Scene:
    """Everything needed to render one radiograph, as data."""

    seed: int
    view: str
    laterality: str
    frame: LegFrame
    anatomy: LegAnatomy
    clusters: tuple[PlacedCluster, ...]
    masses: tuple[MassSolid, ...]
    skin_folds: tuple[MassSolid, ...]
    collimation: Collimation
    markers: tuple[Marker, ...]
    texts: tuple[BurnedText, ...]
    acquisition: Acquisition
    monochrome1: bool


# --- geometry -------------------------------------------------------------------


def _image_size(rng, rows, columns):
    r = int(rng.integers(1500, 3001))
    c = int(np.clip(r * rng.uniform(0.42, 0.75), 800, 2000))
    return (rows or r), (columns or c)


def _spacing(rng, columns, leg_width_mm, spacing_mm):
    draw = float(rng.uniform(0.1, 0.2)) if rng.random() < 0.8 else float(rng.uniform(0.08, 0.3))
    if spacing_mm is not None:
        return float(spacing_mm)
    # Keep air on both sides of the leg: the field must be wider than the leg.
    need = (leg_width_mm + rng.uniform(25, 80)) / columns
    return float(np.clip(max(draw, need), 0.08, 0.4))


def _frame(rng, rows, columns, spacing, anatomy: LegAnatomy, field):
    L = anatomy.tibia_length
    height = rows * spacing
    lo, hi = -0.3 * L + height / 2, 1.1 * L - height / 2
    u_centre = float(rng.uniform(lo, hi)) if lo < hi else float(L / 2 + rng.normal(0, 20))
    angle = float(np.clip(rng.normal(0, np.deg2rad(3.5)), -np.deg2rad(10), np.deg2rad(10)))
    u_sign = 1 if rng.random() < 0.88 else -1
    us = np.linspace(u_centre - height / 2, u_centre + height / 2, 32)
    spans = np.array([anatomy.soft_tissue_interval(x) for x in us])
    leg_mid = 0.5 * (spans[:, 0].min() + spans[:, 1].max())
    leg_half = 0.5 * (spans[:, 1].max() - spans[:, 0].min())
    r0, c0, r1, c1 = field
    field_mid = 0.5 * (c0 + c1) * spacing
    room = max(0.5 * (c1 - c0) * spacing - leg_half - 4.0, 0.0)
    x_leg = field_mid + float(rng.uniform(-room, room)) * 0.8
    return LegFrame(
        rows=rows,
        columns=columns,
        spacing_mm=spacing,
        anchor_rc_mm=(rows * spacing / 2, x_leg - leg_mid),
        u_anchor=u_centre,
        angle=angle,
        u_sign=u_sign,
    )


def _collimation(rng, rows, columns, spacing, leg_width_mm):
    sides = int(rng.choice([0, 1, 2, 2, 2, 3, 4, 4]))
    which = rng.permutation(4)[:sides]
    inset = [0, 0, 0, 0]  # top, left, bottom, right (pixels)
    free_cols = max(columns - (leg_width_mm + 10) / spacing, 0)
    for k in which:
        if k in (0, 2):
            inset[k] = int(rows * rng.uniform(0.01, 0.08))
        else:
            inset[k] = int(free_cols * rng.uniform(0.05, 0.45) / 2)
    field = (inset[0], inset[1], rows - inset[2], columns - inset[3])
    return Collimation(field=field, penumbra_px=float(rng.uniform(0.5, 2.5)) / spacing, leak=float(rng.uniform(0.0, 0.03)))


# --- lesion placement -----------------------------------------------------------


def _support_points(solids, step=0.5, max_points=1500):
    """Leg-frame points (mm, ``(n, 2)``) on and inside the visible outline of some solids.

    The outline (support pixels next to empty ones) is kept whole; the
    interior is thinned out. Used to test a placement against the bones.
    """
    u_lo, u_hi, v_lo, v_hi = extent_of(solids)
    us = np.arange(u_lo, u_hi + step, step)
    vs = np.arange(v_lo, v_hi + step, step)
    uu, vv = np.meshgrid(us, vs, indexing="ij")
    value = sum(s.mu_path(uu, vv) for s in solids)
    support = value > 0.03 * float(value.max()) if np.max(value) > 0 else np.ones_like(uu, dtype=bool)
    inner = ndimage.binary_erosion(support)
    edge = support & ~inner
    thin = np.zeros_like(inner)
    thin[::4, ::4] = True
    keep = edge | (inner & thin)
    points = np.stack([uu[keep], vv[keep]], axis=1)
    if len(points) > max_points:
        points = points[:: int(np.ceil(len(points) / max_points))]
    return points


def _free_shifts(anatomy, points, shifts, margin, allow_fibula):
    """Which in-plane shifts ``shifts`` (mm) keep every point in soft tissue and clear of bone."""
    u = points[:, 0]
    v = points[:, 1][:, None] + shifts[None, :]
    lo, hi = anatomy.soft_tissue_interval(u)
    ok = ((v > (lo + margin)[:, None]) & (v < (hi - margin)[:, None])).all(axis=0)
    for b_lo, b_hi in anatomy.bone_shadows(u, include_fibula=not allow_fibula):
        present = b_lo <= b_hi
        if not present.any():
            continue
        vb = v[present]
        clear = (vb < (b_lo[present] - margin)[:, None]) | (vb > (b_hi[present] + margin)[:, None])
        ok &= clear.all(axis=0)
    return ok


def _inside_field(frame: LegFrame, field, ext, margin_px):
    u_lo, u_hi, v_lo, v_hi = ext
    r, c = frame.to_image(np.array([u_lo, u_lo, u_hi, u_hi]), np.array([v_lo, v_hi, v_lo, v_hi]))
    r0, c0, r1, c1 = field
    return r.min() >= r0 + margin_px and r.max() <= r1 - margin_px and c.min() >= c0 + margin_px and c.max() <= c1 - margin_px


def _overlaps(ext, taken, gap):
    return any(
        not (ext[1] + gap < t[0] or t[1] + gap < ext[0] or ext[3] + gap < t[2] or t[3] + gap < ext[2]) for t in taken
    )


def _place(rng, anatomy, frame, field, solids, masses, taken, allow_fibula, tries=25):
    """Find a shift ``(du, dv)`` (mm) that puts a cluster in clear soft tissue, or None.

    Every point of the calcifications' outline must lie inside the skin and
    outside the bones' shadows with a margin; a mass's centre must lie well
    inside the skin; the cluster must lie in the exposed field, away from
    clusters already placed.
    """
    target = tuple(solids) if solids else tuple(masses)
    calc_ext = extent_of(target)
    all_ext = extent_of(tuple(solids) + tuple(masses))
    points = _support_points(target)
    mid_c = np.float32((field[1] + field[3]) / 2)
    u_top, _ = frame.to_leg(np.float32(field[0]), mid_c)
    u_bot, _ = frame.to_leg(np.float32(field[2] - 1), mid_c)
    u_lo, u_hi = sorted((float(u_top), float(u_bot)))
    # Lesions belong to the calf: between just below the knee and the ankle.
    u_lo = max(u_lo, 0.04 * anatomy.tibia_length)
    u_hi = min(u_hi, 0.97 * anatomy.tibia_length)
    if u_lo >= u_hi:
        return None
    centre_u = 0.5 * (calc_ext[0] + calc_ext[1])
    centre_v = 0.5 * (calc_ext[2] + calc_ext[3])
    for _ in range(tries):
        du = float(rng.uniform(u_lo, u_hi)) - centre_u
        s_lo, s_hi = anatomy.soft_tissue_interval(centre_u + du)
        shifts = np.arange(s_lo - calc_ext[3], s_hi - calc_ext[2], 0.5)
        if shifts.size == 0:
            continue
        margin = float(rng.uniform(2.0, 6.0))
        moved = points + np.array([du, 0.0])
        ok = _free_shifts(anatomy, moved, shifts, margin, allow_fibula)
        for m in masses:  # a mass's centre lies well inside the skin
            m_lo, m_hi = anatomy.soft_tissue_interval(m.centre[0] + du)
            keep = 0.45 * m.half_width_in_plane()
            mv = m.centre[1] + shifts
            ok &= (mv >= m_lo + keep) & (mv <= m_hi - keep)
        for k in rng.permutation(np.flatnonzero(ok))[:12]:
            dv = float(shifts[k])
            ext = (calc_ext[0] + du, calc_ext[1] + du, calc_ext[2] + dv, calc_ext[3] + dv)
            moved_all = (all_ext[0] + du, all_ext[1] + du, all_ext[2] + dv, all_ext[3] + dv)
            if _inside_field(frame, field, ext, 10) and not _overlaps(moved_all, taken, gap=12.0):
                return du, dv
    return None


def _place_cluster(rng, pattern, anatomy, frame, field, taken, allow_fibula):
    builder = pattern_builders.BUILDERS[pattern]
    scale = 1.0
    for _ in range(14):
        solids, masses = builder(rng, scale)
        shift = _place(rng, anatomy, frame, field, solids, masses, taken, allow_fibula)
        if shift is not None:
            du, dv = shift
            return tuple(s.moved(du, dv) for s in solids), tuple(m.moved(du, dv) for m in masses)
        scale *= 0.82
    return None


def _secondary_pattern(rng, primary):
    """A less significant companion pattern (vascular ones most often)."""
    rank = PATTERN_SIGNIFICANCE.index(primary)
    lower = PATTERN_SIGNIFICANCE[rank + 1 :]
    if not lower:
        return None
    weights = np.array([4.0 if p in ("phlebolith", "arterial") else 1.0 for p in lower])
    return str(rng.choice(lower, p=weights / weights.sum()))


# --- markers and text -----------------------------------------------------------


def _markers(rng, frame: LegFrame, field, anatomy, laterality, view):
    """Lead side marker (8-20 mm) in the air beside the leg, sometimes on the field edge."""
    s = frame.spacing_mm
    height = float(rng.uniform(8, 20)) / s
    r0, c0, r1, c1 = field
    # Background columns on each side of the leg at mid-height.
    u_mid, _ = frame.to_leg(np.float32((r0 + r1) / 2), np.float32((c0 + c1) / 2))
    v_lo, v_hi = anatomy.soft_tissue_interval(float(u_mid))
    _, c_left = frame.to_image(u_mid, v_lo)
    _, c_right = frame.to_image(u_mid, v_hi)
    c_left, c_right = sorted((float(c_left), float(c_right)))
    options = []
    if c_left - c0 > 1.6 * height:
        options.append((c0 + c_left) / 2)
    if c1 - c_right > 1.6 * height:
        options.append((c_right + c1) / 2)
    if not options or rng.random() < 0.12:
        col = float(rng.choice([c0 + 0.3 * height, c1 - 0.3 * height]))  # overlapping the field edge
    else:
        col = float(rng.choice(options)) + float(rng.normal(0, 0.2 * height))
    row = float(rng.uniform(r0 + 1.5 * height, max(r1 - 1.5 * height, r0 + 1.6 * height)))
    markers = [
        Marker(
            letter=laterality,
            centre_rc=(row, col),
            height_px=height,
            angle_deg=float(rng.normal(0, 6)),
            mirrored=bool(rng.random() < 0.35),
            lead=float(rng.uniform(3.0, 7.0)),
            holder=float(rng.uniform(0.05, 0.25)) if rng.random() < 0.5 else 0.0,
        )
    ]
    if rng.random() < 0.2:  # a second marker: view label or position letter
        extra = "AP" if view == "AP" else str(rng.choice(["LAT", "L", "R"]))
        row2 = row + (1 if row < (r0 + r1) / 2 else -1) * 2.5 * height
        markers.append(Marker(extra, (row2, col), height * 0.8, float(rng.normal(0, 4)), False, float(rng.uniform(3, 6)), 0.0))
    return tuple(markers)


def _texts(rng, rows, columns, spacing, seed):
    """Burned-in annotation lines near the top of the image, in about 45 % of cases."""
    texts = []
    if rng.random() < 0.45:
        height = float(rng.uniform(2.5, 6.0)) / spacing
        lines = [
            str(rng.choice(["PHANTOM GENERAL", "SYNTH IMAGING", "RADASSIST TEST", "DEMO HOSPITAL"])),
            f"ID PH{seed % 10**8:08d}",
            str(rng.choice(["TIB/FIB", "LOWER LEG", "CALF", "LEG"])),
        ]
        top = int(rng.uniform(0.01, 0.03) * rows)
        left = int(rng.uniform(0.01, 0.04) * columns) if rng.random() < 0.5 else int(columns * rng.uniform(0.55, 0.7))
        value = 1.0 if rng.random() < 0.8 else 0.0
        for k, line in enumerate(lines[: int(rng.integers(1, 4))]):
            texts.append(BurnedText(line, (int(top + k * 1.5 * height), left), height, value))
    return tuple(texts)


def _lesions(rng, pattern, anatomy, frame, field, mass_draw, second_draw, with_mass):
    """Place the pattern's cluster, sometimes a lesser second cluster, and any extra mass."""
    clusters, masses, taken = [], [], []
    if pattern != "none":
        allow_fibula = bool(rng.random() < (0.4 if pattern == "peripheral_plaque" else 0.15))
        placed = _place_cluster(rng, pattern, anatomy, frame, field, taken, allow_fibula)
        if placed is None:  # nowhere to fit beside the bones: accept the fibula's shadow
            placed = _place_cluster(rng, pattern, anatomy, frame, field, taken, True)
        if placed is None:
            raise RuntimeError(f"could not place a {pattern} cluster; image too small?")
        solids, cmasses = placed
        clusters.append(PlacedCluster(pattern, solids))
        masses.extend(cmasses)
        taken.append(extent_of(solids + cmasses))
        if second_draw < 0.15:
            second = _secondary_pattern(rng, pattern)
            if second is not None:
                placed2 = _place_cluster(rng, second, anatomy, frame, field, taken, False)
                if placed2 is not None and not placed2[1]:
                    clusters.append(PlacedCluster(second, placed2[0]))
                    taken.append(extent_of(placed2[0]))
    mass_chance = {"none": 0.3, "stippled": 0.3, "nonspecific": 0.2}.get(pattern, 0.1)
    want_mass = (mass_draw < mass_chance) if with_mass is None else with_mass
    if want_mass and pattern not in pattern_builders.MASS_PATTERNS:
        lone = pattern_builders.lone_mass(rng)
        if pattern in ("stippled", "nonspecific") and rng.random() < 0.5:
            # The calcification lies inside the mass (e.g. a chondroid tumour).
            u_lo, u_hi, v_lo, v_hi = taken[0]
            grow = max(u_hi - u_lo, v_hi - v_lo) * 0.6 + 4.0
            a, b, c = lone.semi_axes
            k = max(grow / min(a, b), 1.0)
            centre = (0.5 * (u_lo + u_hi), 0.5 * (v_lo + v_hi))
            masses.append(MassSolid(centre, (a * k, b * k, c * k), lone.yaw, lone.delta_mu, lone.mu))
        else:
            for _ in range(6):
                shift = _place(rng, anatomy, frame, field, (), (lone,), taken, True)
                if shift is not None:
                    masses.append(lone.moved(*shift))
                    break
                lone = pattern_builders.lone_mass(rng, scale=0.7)
    return tuple(clusters), tuple(masses)


def _skin_folds(rng, anatomy):
    """Sometimes a skin fold: doubled skin just inside the outline, a faint line along the leg."""
    if rng.random() >= 0.25:
        return ()
    u_mid = float(rng.uniform(0.2, 0.8) * anatomy.tibia_length)
    lo, hi = anatomy.soft_tissue_interval(u_mid)
    inward = float(rng.uniform(4, 14))
    edge = lo + inward if rng.random() < 0.5 else hi - inward
    fold = MassSolid(
        centre=(u_mid, float(edge)),
        semi_axes=(float(rng.uniform(20, 50)), float(rng.uniform(0.8, 2.0)), float(rng.uniform(6, 15))),
        yaw=float(rng.uniform(-0.12, 0.12)),
        delta_mu=0.021,
        mu=0.021,
    )
    return (fold,)


# --- the scene --------------------------------------------------------------------


def sample_scene(
    seed: int,
    pattern: str | None = None,
    *,
    view: str | None = None,
    rows: int | None = None,
    columns: int | None = None,
    spacing_mm: float | None = None,
    photometric: str | None = None,
    bits_stored: int | None = None,
    with_mass: bool | None = None,
) -> Scene:
    """Draw one radiograph's scene from ``seed``; arguments left as None are drawn too.

    Raises
    ------
    ValueError
        For an unknown pattern, view or photometric interpretation.
    """
    if pattern is not None and pattern not in ALL_PATTERNS:
        raise ValueError(f"unknown pattern {pattern!r}; expected one of {', '.join(ALL_PATTERNS)}")
    if view is not None and view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; expected 'AP' or 'LAT'")
    if photometric is not None and photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise ValueError(f"unsupported photometric interpretation {photometric!r}")

    g = stream(seed, "geometry")
    drawn_view = str(g.choice(VIEWS, p=[0.6, 0.4]))
    view = view or drawn_view
    laterality = str(g.choice(["L", "R"]))
    rows_drawn, columns = _image_size(g, rows, columns)

    anatomy = sample_anatomy(stream(seed, "anatomy"), view)
    leg_width = 2.0 * max(anatomy.soft_half_width[1][2:10])
    spacing = _spacing(g, columns, leg_width, spacing_mm)
    # A drawn height never exceeds a long cassette (about 43 cm).
    tallest = float(g.uniform(380.0, 460.0))
    rows = rows if rows else int(min(rows_drawn, max(tallest / spacing, 1.2 * columns)))
    collimation = _collimation(g, rows, columns, spacing, leg_width)
    frame = _frame(g, rows, columns, spacing, anatomy, collimation.field)

    p = stream(seed, "pattern")
    drawn_pattern = str(p.choice(ALL_PATTERNS))
    pattern = pattern or drawn_pattern
    mass_draw = p.random()
    second_draw = p.random()

    clusters, masses = _lesions(
        stream(seed, "lesions"), pattern, anatomy, frame, collimation.field, mass_draw, second_draw, with_mass
    )
    o = stream(seed, "overlays")
    folds = _skin_folds(o, anatomy)
    markers = _markers(o, frame, collimation.field, anatomy, laterality, view)
    texts = _texts(o, rows, columns, spacing, seed)

    h = stream(seed, "storage")
    drawn_mono1 = bool(h.random() < 0.55)
    drawn_bits = int(h.choice([10, 12, 12, 14, 16]))
    monochrome1 = drawn_mono1 if photometric is None else photometric == "MONOCHROME1"
    acquisition = sample_acquisition(stream(seed, "acquisition"), bits_stored or drawn_bits)

    return Scene(
        seed=int(seed),
        view=view,
        laterality=laterality,
        frame=frame,
        anatomy=anatomy,
        clusters=clusters,
        masses=masses,
        skin_folds=folds,
        collimation=collimation,
        markers=markers,
        texts=texts,
        acquisition=acquisition,
        monochrome1=monochrome1,
    )
