"""A parametric lower leg: soft-tissue envelope, tibia, fibula and joint ends.

Everything is described in the leg frame (mm, see :mod:`radassist.synth.frame`)
by profiles along ``u`` (control points, linearly interpolated), and rendered
as per-pixel path lengths (mm) through each material along the beam.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.interpolate import PchipInterpolator

from .projection import ellipse_chord, ellipsoid_chord, rotation_matrix

Profile = tuple[tuple[float, ...], tuple[float, ...]]  # (u control points, values)


@lru_cache(maxsize=256)
def _dense(profile: Profile):
    """A profile resampled every 0.5 mm with a shape-preserving cubic (smooth outlines)."""
    knots = np.asarray(profile[0], dtype=float)
    grid = np.arange(knots[0], knots[-1] + 0.5, 0.5)
    return grid, PchipInterpolator(knots, np.asarray(profile[1], dtype=float))(grid)


def _at(profile: Profile, u):
    grid, values = _dense(profile)
    return np.interp(u, grid, values).astype(np.float32)


@dataclass(frozen=True)
class LongBone:
    """A tubular bone along ``u``: cortical wall around a marrow/trabecular core.

    Profiles give, along ``u``: the axis position ``centre`` (v, mm), the
    in-plane and beam-direction semi-axes of the cross-section, the cortical
    thickness, and the fraction of the medulla that is trabecular bone rather
    than fatty marrow. The ends are rounded over ``cap_start`` / ``cap_end`` mm.
    """

    name: str
    u_start: float
    u_end: float
    centre: Profile
    half_width: Profile
    half_depth: Profile
    cortex: Profile
    trabecular: Profile
    cap_start: float
    cap_end: float

    def end_factor(self, u):
        """Shrink factor (0–1) rounding the bone's ends."""
        f = np.ones(np.shape(u), dtype=np.float32)
        for edge, cap, sign in ((self.u_start, self.cap_start, 1.0), (self.u_end, self.cap_end, -1.0)):
            inner = edge + sign * cap
            t = np.clip(sign * (inner - u) / max(cap, 1e-3), 0.0, None)
            f = np.minimum(f, np.sqrt(np.clip(1.0 - t * t, 0.0, 1.0)))
        return f

    def v_range(self):
        """In-plane extent ``(v_lo, v_hi)`` (mm) the bone can cover anywhere along its length."""
        centre = np.asarray(self.centre[1])
        widest = float(max(self.half_width[1]))
        return (float(centre.min()) - widest - 1.0, float(centre.max()) + widest + 1.0)

    def shadow(self, u):
        """In-plane interval ``(v_lo, v_hi)`` (mm) covered by the bone at ``u``.

        ``u`` may be an array; where the bone is absent the interval is empty
        (``v_lo = +inf``, ``v_hi = -inf``).
        """
        u = np.asarray(u, dtype=np.float64)
        hw = _at(self.half_width, u) * self.end_factor(u)
        c = _at(self.centre, u)
        inside = (u >= self.u_start) & (u <= self.u_end)
        return np.where(inside, c - hw, np.inf), np.where(inside, c + hw, -np.inf)


@dataclass(frozen=True)
class OvoidBone:
    """A compact bone (patella, talus, calcaneus) as a cortical ellipsoidal shell."""

    name: str
    centre: tuple[float, float]
    semi_axes: tuple[float, float, float]
    yaw: float
    cortex: float

    def extent(self):
        r = max(self.semi_axes)
        return (self.centre[0] - r, self.centre[0] + r, self.centre[1] - r, self.centre[1] + r)


@dataclass(frozen=True)
class FatPlane:
    """An intermuscular fat septum seen edge-on: a faint lucent line along the leg."""

    v0: float
    slope: float
    amplitude: float
    wavelength: float
    phase: float
    depth_mm: float
    sigma_mm: float
    u_range: tuple[float, float]

    def centre_v(self, u, anatomy):
        """In-plane position (mm) of the septum at ``u``."""
        return (
            _at(anatomy.soft_centre, u)
            + _at(anatomy.soft_half_width, u) * self.v0
            + self.slope * u
            + self.amplitude * np.sin(2 * np.pi * u / self.wavelength + self.phase)
        )


@dataclass(frozen=True)
class LegAnatomy:
    """The whole leg in the leg frame.

    ``soft_half_width`` is the in-plane semi-axis of the (elliptic) soft-tissue
    cross-section, ``soft_half_depth`` its semi-axis along the beam,
    ``soft_centre`` its in-plane centre; ``skin_mm`` and ``fat`` the thickness of
    skin and subcutaneous fat.
    """

    tibia_length: float
    soft_centre: Profile
    soft_half_width: Profile
    soft_half_depth: Profile
    skin_mm: float
    fat: Profile
    long_bones: tuple[LongBone, ...]
    ovoid_bones: tuple[OvoidBone, ...]
    fat_planes: tuple[FatPlane, ...]
    texture_seed: int

    def leg_v_range(self):
        """In-plane extent ``(v_lo, v_hi)`` (mm) of the soft tissue anywhere along the leg."""
        c = np.asarray(self.soft_centre[1])
        hw = np.asarray(self.soft_half_width[1])
        return (float((c - hw).min()) - 2.0, float((c + hw).max()) + 2.0)

    def soft_tissue_interval(self, u):
        """In-plane interval ``(v_lo, v_hi)`` (mm) inside the skin at ``u`` (scalar or array)."""
        c = _at(self.soft_centre, np.asarray(u, dtype=np.float64)).astype(np.float64)
        hw = _at(self.soft_half_width, np.asarray(u, dtype=np.float64)).astype(np.float64)
        if c.ndim == 0:
            return (float(c - hw), float(c + hw))
        return c - hw, c + hw

    def bone_shadows(self, u, include_fibula=True):
        """In-plane intervals ``(v_lo, v_hi)`` covered by each bone at ``u`` (scalar or array).

        Returns one ``(v_lo, v_hi)`` pair of arrays per bone; intervals are
        empty (``v_lo > v_hi``) where that bone is absent.
        """
        u = np.asarray(u, dtype=np.float64)
        out = []
        for bone in self.long_bones:
            if bone.name == "fibula" and not include_fibula:
                continue
            out.append(bone.shadow(u))
        for ob in self.ovoid_bones:
            u_lo, u_hi, v_lo, v_hi = ob.extent()
            inside = (u >= u_lo) & (u <= u_hi)
            out.append((np.where(inside, v_lo, np.inf), np.where(inside, v_hi, -np.inf)))
        return out


# --- sampling -------------------------------------------------------------------


def sample_anatomy(rng: np.random.Generator, view: str) -> LegAnatomy:
    """Draw a plausible adult lower leg for an ``"AP"`` or ``"LAT"`` projection.

    Sizes vary with a habitus factor (0.8–1.25) and independent jitter per
    control point; ``view`` decides which cross-section dimension lies in the
    image plane and where the fibula projects relative to the tibia.
    """
    L = float(rng.uniform(320.0, 420.0))
    size = float(rng.uniform(0.82, 1.22))
    fat_scale = float(rng.lognormal(0.0, 0.45))
    side = 1.0 if rng.random() < 0.5 else -1.0  # image side of medial (AP) / anterior (LAT)
    t = np.array([-0.55, -0.3, -0.12, 0.0, 0.1, 0.28, 0.5, 0.72, 0.9, 1.0, 1.08, 1.3])
    u = tuple(float(x) for x in t * L)

    def jitter(values, rel=0.06):
        v = np.asarray(values, dtype=float)
        return v * (1.0 + rel * rng.standard_normal(v.shape))

    # Semi-axes of the soft-tissue cross-section, mediolateral and anteroposterior.
    ml = jitter([72, 66, 56, 52, 56, 59, 52, 42, 35, 33, 36, 40], 0.03) * size
    ap = jitter([70, 62, 54, 53, 56, 58, 51, 41, 34, 33, 40, 48], 0.03) * size
    calf_bulge = float(rng.uniform(0.95, 1.08))
    ml[4:7] *= calf_bulge
    ap[4:7] *= calf_bulge
    fat = jitter([10, 9, 6, 5, 6, 7, 6, 4, 3, 2.5, 3, 4], 0.15) * fat_scale
    fat = np.clip(fat, 1.0, 30.0)
    ml = ml + 0.6 * (fat - 5.0)
    ap = ap + 0.6 * (fat - 5.0)

    # Tibia cross-section (mm): plateau, shaft, plafond.
    tb = np.array([-0.01, 0.0, 0.03, 0.06, 0.1, 0.15, 0.22, 0.32, 0.7, 0.8, 0.88, 0.95, 1.0, 1.001])
    tu = tuple(float(x) for x in tb * L)
    # Concave flare from the shaft into the plateau and the plafond.
    tib_ml = jitter([37, 38, 37.5, 34, 27, 20.5, 16.5, 14, 13, 14.5, 17.5, 21.5, 23, 23], 0.04) * size ** 0.5
    tib_ap = jitter([26, 27, 27, 25, 22, 18.5, 16, 15, 14, 15, 17, 19, 20, 20], 0.04) * size ** 0.5
    tib_cortex = jitter([0.8, 0.8, 0.9, 1.0, 1.4, 2.2, 3.4, 4.8, 5.0, 3.8, 2.2, 1.2, 1.0, 1.0], 0.15)
    tib_trab = (1.0, 1.0, 1.0, 1.0, 0.9, 0.6, 0.3, 0.12, 0.1, 0.25, 0.6, 0.95, 1.0, 1.0)
    tib_axis = rng.normal(0, 1.0, tb.size) + rng.normal(0, 3.0) * np.sin(np.pi * tb)

    if view == "AP":
        in_plane, depth = ml, ap
        tib_w, tib_d = tib_ml, tib_ap
        # Soft tissue centre lies lateral of the tibia (towards the fibula).
        centre = -side * jitter([4, 6, 8, 10, 14, 16, 15, 12, 9, 8, 8, 8], 0.25) * size
        fib_sep = jitter([30, 29, 29, 30, 32, 34, 31, 27, 25], 0.08) * size ** 0.5
    else:
        in_plane, depth = ap, ml
        tib_w, tib_d = tib_ap, tib_ml
        # Tibia lies close to the anterior skin; calf muscles behind it.
        anterior_cover = jitter([14, 14, 16, 18, 10, 7, 6, 7, 9, 11, 14, 18], 0.2)
        tib_half = np.interp(t, tb, tib_w)
        centre = side * (tib_half + anterior_cover - in_plane)
        fib_sep = jitter([14, 13, 12, 12, 12, 12, 10, 8, 8], 0.2) * size ** 0.5

    soft_centre: Profile = (u, tuple(float(x) for x in centre))
    tibia = LongBone(
        name="tibia",
        u_start=0.0,
        u_end=L,
        centre=(tu, tuple(float(x) for x in tib_axis)),
        half_width=(tu, tuple(float(x) for x in tib_w)),
        half_depth=(tu, tuple(float(x) for x in tib_d)),
        cortex=(tu, tuple(float(x) for x in tib_cortex)),
        trabecular=(tu, tib_trab),
        cap_start=float(rng.uniform(2.0, 5.0)),
        cap_end=float(rng.uniform(1.0, 4.0)),
    )

    fb = np.array([0.03, 0.07, 0.12, 0.2, 0.4, 0.65, 0.85, 0.97, 1.06])
    fu = tuple(float(x) for x in fb * L)
    fib_r = jitter([12, 11, 7.5, 6.5, 6.5, 6.0, 6.5, 10, 9], 0.1) * size ** 0.5
    fib_c = jitter([1.2, 1.3, 2.0, 2.4, 2.6, 2.5, 2.0, 1.2, 1.0], 0.15)
    fib_trab = (1.0, 1.0, 0.5, 0.15, 0.1, 0.1, 0.3, 1.0, 1.0)
    fibula = LongBone(
        name="fibula",
        u_start=float(fb[0] * L),
        u_end=float(fb[-1] * L),
        centre=(fu, tuple(float(x) for x in -side * fib_sep)),
        half_width=(fu, tuple(float(x) for x in fib_r)),
        half_depth=(fu, tuple(float(x) for x in fib_r * rng.uniform(0.85, 1.15))),
        cortex=(fu, tuple(float(x) for x in fib_c)),
        trabecular=(fu, fib_trab),
        cap_start=float(rng.uniform(6.0, 11.0)),
        cap_end=float(rng.uniform(6.0, 10.0)),
    )

    # Distal femur: condyles above a 4-7 mm joint space, tapering to the shaft.
    gap = float(rng.uniform(4.0, 7.0))
    fm = np.array([-0.6, -0.35, -0.2, -0.1, -0.04, 0.0]) * L - gap
    fmu = tuple(float(x) for x in fm)
    fem_w = jitter([15, 16, 21, 31, 40, 42], 0.05) * size ** 0.5
    fem_d = jitter([16, 17, 22, 28, 32, 32], 0.05) * size ** 0.5
    if view == "LAT":
        fem_w, fem_d = fem_d, fem_w
    femur = LongBone(
        name="femur",
        u_start=float(fm[0]),
        u_end=float(fm[-1]),
        centre=(fmu, tuple(float(x) for x in rng.normal(0, 1.5, 6))),
        half_width=(fmu, tuple(float(x) for x in fem_w)),
        half_depth=(fmu, tuple(float(x) for x in fem_d)),
        cortex=(fmu, (5.0, 4.5, 2.5, 1.2, 1.0, 1.0)),
        trabecular=(fmu, (0.1, 0.15, 0.7, 1.0, 1.0, 1.0)),
        cap_start=1.0,
        cap_end=float(rng.uniform(12.0, 20.0)),
    )

    ankle_gap = float(rng.uniform(3.0, 5.0))
    talus_v = float(rng.normal(0, 2.0)) if view == "AP" else float(side * rng.uniform(-8, 2))
    ovoids = [
        OvoidBone("talus", (L + ankle_gap + 15.0, talus_v), (15.0, 19.0 * size ** 0.5, 22.0), 0.0, 1.2),
        OvoidBone(
            "patella",
            (-gap - 22.0, float(rng.normal(0, 3)) if view == "AP" else float(side * (fem_w[-1] + 8.0))),
            (22.0, 20.0 if view == "AP" else 9.0, 20.0 if view == "LAT" else 9.0),
            float(rng.normal(0, 0.1)),
            1.0,
        ),
    ]
    if view == "LAT":
        ovoids.append(
            OvoidBone("calcaneus", (L + 40.0, float(-side * 25.0)), (20.0, 36.0, 18.0), float(rng.normal(0.3, 0.1)), 1.0)
        )

    planes = []
    for _ in range(int(rng.integers(0, 5))):
        planes.append(
            FatPlane(
                v0=float(rng.uniform(-0.6, 0.6)),  # fraction of half-width from the centre
                slope=float(rng.normal(0, 0.02)),
                amplitude=float(rng.uniform(0, 6)),
                wavelength=float(rng.uniform(150, 500)),
                phase=float(rng.uniform(0, 2 * np.pi)),
                depth_mm=float(rng.uniform(8, 35)),
                sigma_mm=float(rng.uniform(0.4, 1.5)),
                u_range=(float(rng.uniform(-0.1, 0.3) * L), float(rng.uniform(0.6, 1.0) * L)),
            )
        )

    return LegAnatomy(
        tibia_length=L,
        soft_centre=soft_centre,
        soft_half_width=(u, tuple(float(x) for x in in_plane)),
        soft_half_depth=(u, tuple(float(x) for x in depth)),
        skin_mm=float(rng.uniform(1.2, 2.5)),
        fat=(u, tuple(float(x) for x in fat)),
        long_bones=(tibia, fibula, femur),
        ovoid_bones=tuple(ovoids),
        fat_planes=tuple(planes),
        texture_seed=int(rng.integers(0, 2**31)),
    )


# --- rendering ------------------------------------------------------------------


@dataclass
class MaterialPaths:
    """Per-pixel path lengths (mm, float32) through each material along the beam."""

    soft: np.ndarray  # skin + muscle (water-like)
    fat: np.ndarray  # subcutaneous and intermuscular fat, fatty marrow
    cortical: np.ndarray
    trabecular: np.ndarray  # already weighted by trabecular texture
    tibia_mask: np.ndarray  # bool: pixels inside the tibia's shadow


class _Lookup:
    """Profiles tabulated on a fine ``u`` grid and read through one index array.

    Interpolating a dozen profiles at millions of pixels is the renderer's
    hot spot; since profiles vary slowly, a 0.25 mm table lookup is exact
    to far below a pixel.
    """

    STEP = 0.25

    def __init__(self, u):
        self.u0 = float(np.floor(u.min())) - 1.0
        n = int((float(u.max()) - self.u0) / self.STEP) + 3
        self.grid = self.u0 + self.STEP * np.arange(n)
        self.index = np.clip(((u - self.u0) / self.STEP + 0.5).astype(np.int32), 0, n - 1)

    def __call__(self, profile: Profile, box=None):
        table = _at(profile, self.grid)
        idx = self.index if box is None else self.index[box[0] : box[2], box[1] : box[3]]
        return table[idx]


def _slices(box):
    return (slice(box[0], box[2]), slice(box[1], box[3]))


def render_anatomy(anatomy: LegAnatomy, frame, texture: np.ndarray, texture_box) -> MaterialPaths:
    """Project the leg onto the image grid of ``frame``.

    Parameters
    ----------
    anatomy : LegAnatomy
    frame : LegFrame
        Placement of the leg in the image.
    texture : ndarray, float32
        Zero-mean trabecular texture for the pixels of ``texture_box``;
        multiplies trabecular density.
    texture_box : tuple of int
        ``(r0, c0, r1, c1)`` covered by ``texture`` (must enclose all bones).

    Returns
    -------
    MaterialPaths
    """
    u, v = frame.full_grid()
    at = _Lookup(u)
    shape = u.shape
    soft = np.zeros(shape, dtype=np.float32)
    fat = np.zeros(shape, dtype=np.float32)
    cortical = np.zeros(shape, dtype=np.float32)
    trabecular = np.zeros(shape, dtype=np.float32)
    tibia_mask = np.zeros(shape, dtype=bool)

    leg_box = frame.crop_for(float(u.min()), float(u.max()), *anatomy.leg_v_range())
    if leg_box is None:
        return MaterialPaths(soft, fat, cortical, trabecular, tibia_mask)
    sl = _slices(leg_box)
    c = at(anatomy.soft_centre, leg_box)
    hw = at(anatomy.soft_half_width, leg_box)
    hd = at(anatomy.soft_half_depth, leg_box)
    d = v[sl] - c
    outer = ellipse_chord(d, hw, hd)
    sk = np.float32(anatomy.skin_mm)
    below_skin = ellipse_chord(d, hw - sk, hd - sk)
    fat_t = at(anatomy.fat, leg_box)
    muscle_env = ellipse_chord(d, np.maximum(hw - sk - fat_t, 1.0), np.maximum(hd - sk - fat_t, 1.0))
    fat[sl] = below_skin - muscle_env
    soft[sl] = (outer - below_skin) + muscle_env

    def tex(box):
        r0, c0 = box[0] - texture_box[0], box[1] - texture_box[1]
        return 1.0 + texture[r0 : r0 + box[2] - box[0], c0 : c0 + box[3] - box[1]]

    for bone in anatomy.long_bones:
        v_lo, v_hi = bone.v_range()
        box = frame.crop_for(bone.u_start, bone.u_end, v_lo, v_hi)
        if box is None:
            continue
        sl = _slices(box)
        ub, vb = u[sl], v[sl]
        inside = (ub >= bone.u_start) & (ub <= bone.u_end)
        f = bone.end_factor(ub) * inside
        bw = at(bone.half_width, box) * f
        bd = at(bone.half_depth, box) * f
        ct = at(bone.cortex, box)
        db = vb - at(bone.centre, box)
        out_chord = ellipse_chord(db, bw, bd)
        in_chord = ellipse_chord(db, np.maximum(bw - ct, 0.0), np.maximum(bd - ct, 0.0))
        trab_frac = at(bone.trabecular, box)
        cortical[sl] += out_chord - in_chord
        trabecular[sl] += in_chord * trab_frac * tex(box)
        fat[sl] += in_chord * (1.0 - trab_frac)
        soft[sl] -= out_chord
        if bone.name == "tibia":
            tibia_mask[sl] |= out_chord > 0

    for ob in anatomy.ovoid_bones:
        box = frame.crop_for(*ob.extent())
        if box is None:
            continue
        sl = _slices(box)
        du, dv = u[sl] - ob.centre[0], v[sl] - ob.centre[1]
        rot = rotation_matrix(ob.yaw)
        out_chord = ellipsoid_chord(du, dv, ob.semi_axes, rot)
        inner_axes = tuple(max(a - ob.cortex, 0.5) for a in ob.semi_axes)
        in_chord = ellipsoid_chord(du, dv, inner_axes, rot)
        cortical[sl] += out_chord - in_chord
        trabecular[sl] += in_chord * tex(box)
        soft[sl] -= out_chord

    for plane in anatomy.fat_planes:
        us = np.linspace(plane.u_range[0], plane.u_range[1], 64)
        course = plane.centre_v(us, anatomy)
        pad = 5 * plane.sigma_mm
        box = frame.crop_for(plane.u_range[0], plane.u_range[1], float(course.min()) - pad, float(course.max()) + pad)
        if box is None:
            continue
        sl = _slices(box)
        ub = u[sl]
        centre_v = np.interp(ub, us, course).astype(np.float32)
        along = (ub > plane.u_range[0]) & (ub < plane.u_range[1])
        line = plane.depth_mm * np.exp(-0.5 * np.square((v[sl] - centre_v) / plane.sigma_mm)) * along
        line = np.minimum(line, np.maximum(soft[sl], 0.0) * 0.5)
        soft[sl] -= line
        fat[sl] += line

    np.maximum(soft, 0.0, out=soft)
    return MaterialPaths(soft=soft, fat=fat, cortical=cortical, trabecular=trabecular, tibia_mask=tibia_mask)
