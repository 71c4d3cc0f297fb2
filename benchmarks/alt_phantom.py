"""A held-out phantom generator for calf radiographs, independent of ``radassist.synth``.

Run::

    python benchmarks/alt_phantom.py OUT_DIR --n 110 --seed 1 [--rows R --columns C] [--jobs J]

It writes ``case_XXXX.dcm``, ``case_XXXX.txt`` (a short clinical indication, possibly empty) and
``labels.jsonl`` (one JSON object per case: ``file``, ``report_file``, ``primary_pattern``,
``clusters`` with ``pattern`` and ``bbox_px`` = ``[r0, c0, r1, c1]`` end-exclusive in stored pixels,
``mass`` and ``spacing_mm``), round-robin over the eleven patterns of ``patterns.md``, so that
``radassist evaluate OUT_DIR`` can measure the image analysis on cases it was never tuned on.

It was written from the pattern spec and one real calf radiograph only, without reading the
project's own generator or image analysis, so that heuristics fitted to one generator's look show
up as a drop in the figures here. The model is deliberately different:

* anatomy is an analytic *line-integral* map built row by row from tapered elliptical cross
  sections (soft tissue with a subcutaneous fat layer, tibia and fibula as hollow cortical tubes
  with trabecular ends, femoral condyles, patella, talus and calcaneus where in view);
* lesions are painted as 2-D shapes with smooth projected profiles (spheres, shells, arcs, tubes,
  mottled clouds), super-sampled, with a contrast set relative to the local quantum noise;
* image formation goes through photons: ``exp(-A)``, a low-frequency scatter glow, quantum and
  electronic noise, detector blur, ``-log``, an optional unsharp-mask "vendor processing" and a
  gamma, then storage as CR or DX, MONOCHROME1 or 2, 10 to 16 bits, with PixelSpacing or
  ImagerPixelSpacing (sometimes with a magnification factor).

Conventions: ``A`` is the attenuation line integral (dimensionless, dense = high); millimetres are
at the object (the spacing written to ``labels.jsonl``); pixel ``(r, c)`` has its centre at
``((c + 0.5) * s, (r + 0.5) * s)`` in image millimetres ``(x, y)``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Callable
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi
from scipy.interpolate import PchipInterpolator
from scipy.special import ndtr

#: The eleven labels of patterns.md, in the order the cases cycle through them.
PATTERNS = (
    "arterial", "phlebolith", "central", "diffuse", "laminated", "popcorn",
    "stippled", "eccentric", "peripheral_plaque", "nonspecific", "none",
)

#: Linear attenuation coefficients at an effective ~40 keV (a 55-65 kVp extremity beam), in 1/mm.
MU_FAT, MU_MUSCLE, MU_CORTEX, MU_MARROW = 0.0215, 0.0265, 0.125, 0.022

PROFILE_STEP_MM = 0.25


# --------------------------------------------------------------------------------------------
# geometry: image millimetres <-> leg frame
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Geometry:
    """Where the leg lies in the image.

    The leg frame has ``t`` (mm along the leg, 0 at the knee joint line, growing towards the
    ankle) and ``u`` (mm across it, 0 on the leg axis, positive towards the fibula).
    """

    rows: int
    columns: int
    spacing: float          # mm per pixel at the object
    theta: float            # radians, rotation of the leg axis from the image vertical
    t_sign: int             # +1: knee at the top of the image
    u_sign: int             # +1: fibula on the image right
    x_axis: float           # mm, image x of the leg axis at the image's middle row
    t_mid: float            # leg t at the image's middle row

    @property
    def height_mm(self) -> float:
        return self.rows * self.spacing

    @property
    def width_mm(self) -> float:
        return self.columns * self.spacing

    def to_leg(self, x, y):
        """Image millimetres (x right, y down) to leg ``(t, u)``."""
        dx, dy = x - self.x_axis, y - self.height_mm / 2
        c, s = math.cos(self.theta), math.sin(self.theta)
        return self.t_mid + self.t_sign * (dy * c + dx * s), self.u_sign * (dx * c - dy * s)

    def to_image(self, t, u):
        """Leg ``(t, u)`` to image millimetres ``(x, y)``."""
        a, b = self.t_sign * (np.asarray(t) - self.t_mid), self.u_sign * np.asarray(u)
        c, s = math.cos(self.theta), math.sin(self.theta)
        return self.x_axis + a * s + b * c, self.height_mm / 2 + a * c - b * s

    def t_range(self) -> tuple[float, float]:
        """Smallest and largest leg ``t`` (mm) seen in the image."""
        ts = [self.to_leg(x, y)[0] for x in (0, self.width_mm) for y in (0, self.height_mm)]
        return min(ts), max(ts)

    def leg_axis_angle(self) -> float:
        """Angle (radians, image frame, atan2(dy, dx)) of the direction of growing ``t``."""
        x0, y0 = self.to_image(0.0, 0.0)
        x1, y1 = self.to_image(1.0, 0.0)
        return math.atan2(float(y1 - y0), float(x1 - x0))

    def pixel_grid(self, r0, r1, c0, c1, supersample=1):
        """Image-mm coordinates of the (sub)pixel centres of rows r0:r1, columns c0:c1."""
        k = (np.arange(supersample) + 0.5) / supersample
        ys = ((np.arange(r0, r1)[:, None] + k[None, :]).ravel() * self.spacing).astype(np.float32)
        xs = ((np.arange(c0, c1)[:, None] + k[None, :]).ravel() * self.spacing).astype(np.float32)
        return np.meshgrid(xs, ys)

    def bbox_px(self, x_lo, x_hi, y_lo, y_hi):
        """Pixel box ``(r0, r1, c0, c1)`` covering an image-mm box, clipped to the image."""
        s = self.spacing
        r0 = max(0, int(math.floor(y_lo / s)))
        r1 = min(self.rows, int(math.ceil(y_hi / s)) + 1)
        c0 = max(0, int(math.floor(x_lo / s)))
        c1 = min(self.columns, int(math.ceil(x_hi / s)) + 1)
        return r0, r1, c0, c1


# --------------------------------------------------------------------------------------------
# anatomy: profiles along the leg
# --------------------------------------------------------------------------------------------

@dataclass
class Bone:
    """A bone as a stack of elliptical (hollow) cross sections along ``t``.

    All profiles are sampled on the anatomy's ``t`` grid; ``a`` is the half-width across the
    image, ``b`` the half-depth along the beam, ``a_in``/``b_in`` those of the medullary space.
    """

    name: str
    centre: np.ndarray
    a: np.ndarray
    b: np.ndarray
    a_in: np.ndarray
    b_in: np.ndarray
    mu_core: np.ndarray     # attenuation of the medullary/trabecular space, 1/mm
    texture: np.ndarray     # relative amplitude of trabecular texture
    t_range: tuple[float, float]


@dataclass
class Anatomy:
    """Soft-tissue and bone profiles of one leg, sampled every ``PROFILE_STEP_MM`` along ``t``."""

    t0: float
    length: float           # knee joint line to ankle joint line, mm
    half_width: dict        # side (+1 fibula side, -1 tibia side) -> outer half-width, mm
    depth: np.ndarray       # outer half-depth along the beam, mm
    fat: np.ndarray         # subcutaneous fat thickness, mm
    bones: list[Bone]
    fat_planes: list[tuple[np.ndarray, float, float]] = field(default_factory=list)

    @property
    def grid(self) -> np.ndarray:
        return self.t0 + PROFILE_STEP_MM * np.arange(self.depth.size, dtype=np.float32)

    def at(self, profile: np.ndarray, t):
        """Linear interpolation of a profile at ``t`` (mm), clamped at the grid ends."""
        return self.sampler(t)(profile)

    def sampler(self, t):
        """A function interpolating any profile at the fixed points ``t`` (mm)."""
        idx = (np.asarray(t, dtype=np.float32) - self.t0) / PROFILE_STEP_MM
        i0 = np.clip(np.floor(idx).astype(np.int32), 0, self.depth.size - 2)
        f = np.clip(idx - i0, 0.0, 1.0).astype(np.float32)
        g = 1.0 - f
        return lambda profile: profile[i0] * g + profile[i0 + 1] * f

    def skin_margin(self, t, u):
        """Distance (mm) from ``(t, u)`` inwards to the skin across the leg; negative outside."""
        side = np.where(np.asarray(u) >= 0, 1, -1)
        w = np.where(side > 0, self.at(self.half_width[1], t), self.at(self.half_width[-1], t))
        return w - np.abs(u)

    def bone_clearance(self, t, u):
        """Distance (mm) across the leg from ``(t, u)`` to the nearest bone edge; negative inside."""
        t = np.asarray(t, dtype=np.float32)
        best = np.full(np.shape(t), np.inf, dtype=np.float32)
        for bone in self.bones:
            a = self.at(bone.a, t)
            gap = np.abs(np.asarray(u) - self.at(bone.centre, t)) - a
            gap = np.where(a > 0.05, gap, np.inf)
            best = np.minimum(best, gap)
        return best


def _pchip(points, grid):
    xs, ys = zip(*sorted(points))
    return PchipInterpolator(xs, ys, extrapolate=True)(grid).astype(np.float32)


def _caps(grid, t_start, t_end, radius_start, radius_end):
    """1 inside ``[t_start, t_end]``, rounding to 0 at the ends like a sphere of the given radii."""
    out = np.ones_like(grid)
    z0 = np.clip((t_start + radius_start - grid) / max(radius_start, 1e-3), 0, None)
    z1 = np.clip((grid - (t_end - radius_end)) / max(radius_end, 1e-3), 0, None)
    out *= np.sqrt(np.clip(1 - z0 ** 2, 0, 1)) * np.sqrt(np.clip(1 - z1 ** 2, 0, 1))
    return out.astype(np.float32)


def _bone(name, grid, centre, a, depth_ratio, cortex, t_start, t_end, cap, mu_core, texture,
          end_plate=1.2):
    """A tubular bone from its half-width and cortex profiles (all mm) and its rounded ends."""
    outer = _caps(grid, t_start, t_end, cap[0], cap[1])
    inner = _caps(grid, t_start + end_plate, t_end - end_plate,
                  max(cap[0] - end_plate, 0.5), max(cap[1] - end_plate, 0.5))
    a_out = a * outer
    a_in = np.clip(a - cortex, 0, None) * inner
    return Bone(name, centre, a_out, a_out * depth_ratio, a_in, a_in * depth_ratio,
                mu_core, texture, (t_start, t_end))


def build_anatomy(rng: np.random.Generator, t_lo: float, t_hi: float) -> Anatomy:
    """Random adult leg anatomy with profiles covering ``t_lo..t_hi`` (mm).

    Parameters
    ----------
    rng : numpy.random.Generator
    t_lo, t_hi : float
        Range of leg ``t`` (mm from the knee joint line) the image shows.

    Returns
    -------
    Anatomy
    """
    length = rng.uniform(340, 400)
    grid = np.arange(t_lo - 20, t_hi + 20, PROFILE_STEP_MM, dtype=np.float32)
    L = length

    half_width = {}
    w_knee, w_max, w_ankle = rng.uniform(46, 56), rng.uniform(52, 66), rng.uniform(28, 36)
    t_belly = rng.uniform(0.22, 0.36) * L
    for side, bulge in ((1, rng.uniform(0.88, 1.0)), (-1, rng.uniform(1.0, 1.12))):
        j = lambda: rng.uniform(0.96, 1.04)  # noqa: E731 - tiny per-side asymmetry
        half_width[side] = _pchip([
            (-220, w_knee * 1.35 * j()), (-60, w_knee * 1.06 * j()), (0, w_knee * j()),
            (t_belly, w_max * bulge), (0.62 * L, (w_max + w_ankle) / 2 * j()),
            (L - 25, w_ankle * j()), (L + 20, w_ankle * 1.08 * j()), (L + 120, w_ankle * 1.3),
        ], grid)
    depth = (0.5 * (half_width[1] + half_width[-1]) * rng.uniform(0.85, 1.0)).astype(np.float32)
    fat_knee, fat_calf = rng.uniform(4, 10), rng.uniform(3, 12)
    fat = _pchip([(-200, fat_knee * 1.3), (0, fat_knee), (t_belly, fat_calf),
                  (L, 2.5), (L + 120, 5.0)], grid)

    bones = []
    trabecular = lambda lo, hi: _pchip(  # noqa: E731 - 1 near the joints, low in the shaft
        [(-300, hi), (-10, hi), (45, hi), (110, lo), (L - 100, lo), (L - 45, hi), (L + 200, hi)],
        grid)
    trab = trabecular(0.1, 1.0)
    mu_spongy = MU_MARROW + trab * rng.uniform(0.014, 0.026)
    # tibia
    a_shaft, a_plateau, a_distal = rng.uniform(10.5, 14), rng.uniform(33, 40), rng.uniform(19, 25)
    c_tib = _pchip([(-50, 1.0), (20, 1.0), (90, 3.0), (0.5 * L, rng.uniform(3.5, 5.5)),
                    (L - 90, 2.5), (L - 30, 1.0), (L + 50, 1.0)], grid)
    u_knee, u_shaft, u_ankle = rng.uniform(-3, 1), rng.uniform(-11, -7), rng.uniform(-7, -4)
    tib_centre = _pchip([(-50, u_knee), (0, u_knee), (90, (u_knee + u_shaft) / 2),
                         (0.5 * L, u_shaft), (L - 50, (u_shaft + u_ankle) / 2), (L, u_ankle),
                         (L + 50, u_ankle)], grid)
    a_tib = _pchip([(-10, a_plateau), (6, a_plateau * 0.98), (25, a_plateau * 0.85),
                    (50, a_plateau * 0.6), (85, a_shaft * 1.45), (120, a_shaft * 1.12),
                    (0.55 * L, a_shaft), (L - 95, a_shaft * 1.08), (L - 40, a_distal * 0.82),
                    (L, a_distal), (L + 20, a_distal)], grid)
    bones.append(_bone("tibia", grid, tib_centre, a_tib, rng.uniform(0.95, 1.15), c_tib,
                       0.0, L, (5.0, 4.0), mu_spongy, trab * 0.16))
    # medial malleolus: a short process below the medial edge of the plafond
    a_mm = rng.uniform(6, 8)
    bones.append(_bone("medial_malleolus", grid, tib_centre - a_distal + a_mm,
                       np.full_like(grid, a_mm), 1.1, np.full_like(grid, 1.2),
                       L - 2, L + rng.uniform(9, 14), (2.0, 7.0), mu_spongy, trab * 0.15))
    # fibula
    a_fib_shaft = rng.uniform(5.5, 7.5)
    gap = rng.uniform(7, 14)
    # the fibular head tucks under the lateral tibial condyle; the shaft keeps an
    # interosseous gap; the lateral malleolus hugs the distal tibia
    a_fib = _pchip([(-20, 11), (24, rng.uniform(9, 12)), (50, 7.0), (80, a_fib_shaft),
                    (L - 80, a_fib_shaft), (L - 20, rng.uniform(9, 11)), (L + 10, 11),
                    (L + 40, 10)], grid)
    # signed distance between the tibia's lateral edge and the fibula's medial edge
    interosseous = _pchip([(-50, -8), (22, -0.45 * a_plateau * 0.3), (70, 1.5), (120, gap),
                           (L - 120, gap), (L - 45, 1.0), (L - 5, -3.0), (L + 60, -3.0)], grid)
    fib_centre = (tib_centre + a_tib + interosseous + a_fib).astype(np.float32)
    c_fib = _pchip([(-20, 0.8), (30, 0.9), (80, rng.uniform(1.5, 2.3)), (L - 70, 1.8),
                    (L - 10, 0.9), (L + 40, 0.9)], grid)
    fib_top, fib_end = rng.uniform(10, 18), L + rng.uniform(12, 20)
    bones.append(_bone("fibula", grid, fib_centre, a_fib, rng.uniform(0.9, 1.1), c_fib,
                       fib_top, fib_end, (7.0, 9.0), mu_spongy, trab * 0.15))
    # femur, patella (above the knee joint line)
    a_cond = rng.uniform(37, 44)
    fem_centre = _pchip([(-300, rng.uniform(-4, 4)), (-5, u_knee + rng.uniform(-2, 2)),
                         (50, u_knee)], grid)
    a_fem = _pchip([(-400, 15), (-120, rng.uniform(14, 17)), (-60, a_cond * 0.8),
                    (-20, a_cond), (0, a_cond)], grid)
    c_fem = _pchip([(-400, 5), (-120, 4), (-50, 1.0), (0, 1.0)], grid)
    fem_end = -rng.uniform(4.5, 6.5)
    bones.append(_bone("femur", grid, fem_centre, a_fem, 0.75, c_fem,
                       -1000.0, fem_end, (1.0, 22.0), mu_spongy, trab * 0.16))
    pat_t = fem_end - rng.uniform(18, 30)
    bones.append(_bone("patella", grid, fem_centre + rng.uniform(-4, 6),
                       np.full_like(grid, rng.uniform(19, 23)), 0.45, np.full_like(grid, 1.3),
                       pat_t - 22, pat_t + 22, (20.0, 20.0), mu_spongy, trab * 0.18))
    # talus below the ankle joint line: a dome under the plafond, between the malleoli
    tal_top = L + rng.uniform(3, 4.5)
    a_tal = rng.uniform(15, 19)
    tal_half = _pchip([(L - 10, a_tal * 0.95), (tal_top + 8, a_tal), (L + 30, a_tal * 0.9),
                       (L + 45, a_tal * 0.75), (L + 80, a_tal * 0.7)], grid)
    bones.append(_bone("talus", grid, tib_centre + rng.uniform(0, 3), tal_half, 1.5,
                       np.full_like(grid, 1.1), tal_top, L + rng.uniform(45, 60), (4.0, 18.0),
                       mu_spongy, trab * 0.2))

    anatomy = Anatomy(float(grid[0]), length, half_width, depth, fat, bones)
    for _ in range(rng.integers(0, 4)):
        u0 = rng.uniform(-0.6, 0.6) * w_max
        wobble = rng.uniform(-3, 3) * np.sin(grid / rng.uniform(60, 160) + rng.uniform(0, 6))
        anatomy.fat_planes.append(((u0 + wobble).astype(np.float32),
                                   rng.uniform(0.6, 1.6), rng.uniform(0.008, 0.025)))
    return anatomy


# --------------------------------------------------------------------------------------------
# anatomy rendering
# --------------------------------------------------------------------------------------------

def _chord(du, a, b):
    """Path length (mm) through an ellipse of half-width ``a`` and half-depth ``b`` at offset ``du``."""
    q = 1.0 - (du / np.maximum(a, 1e-3)) ** 2
    return np.where(a > 1e-3, 2.0 * b * np.sqrt(np.clip(q, 0.0, None)), 0.0).astype(np.float32)


def _bandpass_noise(rng, shape, sigma_fine, sigma_coarse):
    """Zero-mean, unit-std band-pass noise (pixel sigmas given as (rows, cols) pairs)."""
    white = rng.standard_normal(shape, dtype=np.float32)
    band = ndi.gaussian_filter(white, sigma_fine) - ndi.gaussian_filter(white, sigma_coarse)
    return band / (band.std() + 1e-6)


def render_anatomy(geom: Geometry, anat: Anatomy, rng: np.random.Generator):
    """Attenuation line integral of the leg, and the soft-tissue path length.

    Returns
    -------
    attenuation : ndarray of float32, shape (rows, columns)
    soft_path : ndarray of float32, mm of tissue along each ray (0 in air)
    """
    x, y = geom.pixel_grid(0, geom.rows, 0, geom.columns)
    t, u = geom.to_leg(x, y)
    t, u = t.astype(np.float32), u.astype(np.float32)
    del x, y
    at = anat.sampler(t)
    side_w = np.where(u >= 0, at(anat.half_width[1]), at(anat.half_width[-1]))
    depth, fat = at(anat.depth), at(anat.fat)
    outer = _chord(u, side_w, depth)
    inner = _chord(u, side_w - fat, depth - fat)
    attenuation = MU_FAT * outer + (MU_MUSCLE - MU_FAT) * inner
    for centre, width, strength in anat.fat_planes:
        attenuation -= strength * np.exp(-((u - at(centre)) / width) ** 2) * (inner > 0)

    # soft-tissue heterogeneity: low-frequency, computed coarse
    coarse = max(1, int(round(2.0 / geom.spacing)))
    small = rng.standard_normal((geom.rows // coarse + 2, geom.columns // coarse + 2)).astype(np.float32)
    small = ndi.gaussian_filter(small, 4.0 / (coarse * geom.spacing))
    small /= small.std() + 1e-6
    mottle = ndi.zoom(small, coarse, order=1)[: geom.rows, : geom.columns]
    attenuation += rng.uniform(0.004, 0.015) * mottle * (inner / (inner.max() + 1e-6))

    sp = geom.spacing
    trab_noise = None
    for bone in anat.bones:
        box = _bone_box(geom, anat, bone)
        if box is None:
            continue
        r0, r1, c0, c1 = box
        at = anat.sampler(t[r0:r1, c0:c1])
        du = u[r0:r1, c0:c1] - at(bone.centre)
        out = _chord(du, at(bone.a), at(bone.b))
        inn = _chord(du, at(bone.a_in), at(bone.b_in))
        if trab_noise is None:
            # trabeculae: fine band-pass texture, elongated along the leg
            along = 1.2 / sp
            trab_noise = _bandpass_noise(rng, t.shape, (0.45 / sp, 0.25 / sp), (along * 1.5, 1.0 / sp))
        tex = 1.0 + at(bone.texture) * trab_noise[r0:r1, c0:c1]
        attenuation[r0:r1, c0:c1] += ((MU_CORTEX - MU_MUSCLE) * (out - inn)
                                      + (at(bone.mu_core) - MU_MUSCLE) * inn * tex)
    return attenuation, outer


def _bone_box(geom: Geometry, anat: Anatomy, bone: Bone):
    """Pixel box ``(r0, r1, c0, c1)`` enclosing a bone's projection, or None if out of view."""
    grid = anat.grid
    on = bone.a > 0.05
    if not on.any():
        return None
    tg, lo, hi = grid[on], (bone.centre - bone.a)[on], (bone.centre + bone.a)[on]
    xs, ys = geom.to_image(np.concatenate([tg, tg]), np.concatenate([lo, hi]))
    r0, r1, c0, c1 = geom.bbox_px(xs.min() - 1, xs.max() + 1, ys.min() - 1, ys.max() + 1)
    return None if r1 <= r0 or c1 <= c0 else (r0, r1, c0, c1)


# --------------------------------------------------------------------------------------------
# painted shapes (lesions, masses)
# --------------------------------------------------------------------------------------------

@dataclass
class Shape:
    """A painted shape: a normalised profile (peak 1) times ``peak`` (attenuation).

    ``kind`` is one of ``sphere`` (solid ellipsoid), ``plateau`` (flat-topped, soft-edged),
    ``shell`` (hollow ellipsoid: a ring with a lucent centre), ``cloud`` (mottled amorphous
    density), ``tube`` (a polyline of round cross section), ``spindle`` (fusiform ellipsoid
    elongated along ``angle``).
    """

    kind: str
    x: float = 0.0          # centre, image mm
    y: float = 0.0
    a: float = 1.0          # half-axes, mm (a along ``angle``)
    b: float = 1.0
    angle: float = 0.0      # radians, image frame
    peak: float = 0.1
    inner: float = 0.5      # shell: inner radius / outer radius
    core: float = 0.0       # shell: relative density of the core (0 = empty)
    wobble: tuple = ()      # outline harmonics: (order, amplitude, phase)
    arc: tuple = ()         # (centre angle, half span) radians in the shape's frame: partial ring
    points: np.ndarray | None = None   # tube: (n, 2) image mm
    radius: float = 0.5     # tube radius, mm
    seed: int = 0           # cloud: texture seed
    density: float = 1.0    # masses: attenuation excess over muscle, 1/mm (peak is then in mm)
    min_size_mm: float = 1.0  # smallest dimension, for the contrast-vs-blur correction

    def extent(self):
        """Image-mm bounding box ``(x_lo, x_hi, y_lo, y_hi)``."""
        if self.kind == "tube":
            p = self.points
            return (p[:, 0].min() - self.radius, p[:, 0].max() + self.radius,
                    p[:, 1].min() - self.radius, p[:, 1].max() + self.radius)
        r = max(self.a, self.b) * (1.0 + sum(abs(w[1]) for w in self.wobble)) + 0.5
        return self.x - r, self.x + r, self.y - r, self.y + r

    def profile(self, X, Y):
        """Normalised profile (peak about 1) at image-mm coordinates ``X, Y``."""
        if self.kind == "tube":
            return _tube_profile(X, Y, self.points, self.radius)
        c, s = math.cos(self.angle), math.sin(self.angle)
        dx, dy = X - self.x, Y - self.y
        p, q = (dx * c + dy * s) / self.a, (-dx * s + dy * c) / self.b
        rho = np.hypot(p, q)
        phi = np.arctan2(q, p)
        if self.wobble:
            scale = 1.0 + sum(amp * np.cos(k * phi + ph) for k, amp, ph in self.wobble)
            rho = rho / scale
        if self.kind == "spindle":
            # fusiform: round cross sections whose radius tapers towards both poles
            h = np.clip(1 - p ** 2, 0, None) ** 0.9
            return np.sqrt(np.clip(h ** 2 - q ** 2, 0, None)).astype(np.float32)
        if self.kind == "sphere":
            return np.sqrt(np.clip(1 - rho ** 2, 0, None)).astype(np.float32)
        if self.kind == "plateau":
            edge = 0.18
            z = np.clip((1 - rho) / edge, 0, 1)
            return (z * z * (3 - 2 * z)).astype(np.float32)
        if self.kind == "shell":
            r_in = self.inner
            val = (np.sqrt(np.clip(1 - rho ** 2, 0, None))
                   - (1 - self.core) * r_in * np.sqrt(np.clip(1 - (rho / r_in) ** 2, 0, None)))
            val /= math.sqrt(1 - r_in ** 2)
            if self.arc:
                centre, half = self.arc
                d = np.abs(np.angle(np.exp(1j * (phi - centre))))
                val = val * np.clip((half - d) / 0.25 + 0.5, 0, 1)
            return val.astype(np.float32)
        if self.kind == "cloud":
            rng = np.random.default_rng(self.seed)
            grain = rng.standard_normal(X.shape).astype(np.float32)
            px = float(abs(X[0, 1] - X[0, 0])) if X.shape[1] > 1 else 0.1
            grain = ndi.gaussian_filter(grain, 0.35 / px)
            grain /= grain.std() + 1e-6
            z = np.clip((1 - rho) / 0.45, 0, 1)
            envelope = z * z * (3 - 2 * z)
            return (envelope * np.clip(0.55 + 0.45 * grain, 0, 1.6)).astype(np.float32)
        raise ValueError(f"unknown shape kind {self.kind!r}")


def _tube_profile(X, Y, points, radius):
    """Round-tube profile around a polyline (distance to the nearest segment)."""
    d2 = np.full(X.shape, np.inf, dtype=np.float32)
    for (x0, y0), (x1, y1) in zip(points[:-1], points[1:]):
        vx, vy = x1 - x0, y1 - y0
        den = vx * vx + vy * vy
        w = np.clip(((X - x0) * vx + (Y - y0) * vy) / den, 0, 1) if den > 0 else 0.0
        d2 = np.minimum(d2, (X - x0 - w * vx) ** 2 + (Y - y0 - w * vy) ** 2)
    return np.sqrt(np.clip(1 - d2 / radius ** 2, 0, None)).astype(np.float32)


def paint(canvas: np.ndarray, geom: Geometry, shape: Shape, supersample: int):
    """Add ``shape`` (pixel-averaged over a supersampled grid) to ``canvas``.

    Returns
    -------
    tuple or None
        The footprint ``(r0, c0, r1, c1)`` (end-exclusive) where the shape exceeds 15 % of its
        own maximum, or None if it fell outside the image.
    """
    r0, r1, c0, c1 = geom.bbox_px(*shape.extent())
    if r1 <= r0 or c1 <= c0:
        return None
    X, Y = geom.pixel_grid(r0, r1, c0, c1, supersample)
    prof = shape.profile(X, Y)
    k = supersample
    prof = prof.reshape(r1 - r0, k, c1 - c0, k).mean(axis=(1, 3)) * shape.peak
    canvas[r0:r1, c0:c1] += prof
    top = prof.max()
    if top <= 0:
        return None
    rr, cc = np.nonzero(prof > 0.15 * top)
    return (r0 + int(rr.min()), c0 + int(cc.min()), r0 + int(rr.max()) + 1, c0 + int(cc.max()) + 1)


def add_mass(attenuation, soft_path, geom, mass: Shape, supersample: int) -> None:
    """Add a soft-tissue mass; where it is thicker than the leg along the ray it bulges the skin."""
    r0, r1, c0, c1 = geom.bbox_px(*mass.extent())
    chord = np.zeros((r1 - r0, c1 - c0), dtype=np.float32)
    shifted = Geometry(r1 - r0, c1 - c0, geom.spacing, geom.theta, geom.t_sign, geom.u_sign,
                       geom.x_axis, geom.t_mid)
    local = replace(mass, x=mass.x - c0 * geom.spacing, y=mass.y - r0 * geom.spacing)
    paint(chord, shifted, local, supersample)
    extra = np.clip(chord - soft_path[r0:r1, c0:c1], 0, None)
    attenuation[r0:r1, c0:c1] += mass.density * chord + MU_MUSCLE * extra


# --------------------------------------------------------------------------------------------
# lesion placement and patterns
# --------------------------------------------------------------------------------------------

@dataclass
class Scene:
    """What pattern builders need to place lesions: geometry, anatomy and exposed field."""

    geom: Geometry
    anat: Anatomy
    field_ok: Callable              # (x, y) image mm -> bool array: exposed and inside the image
    t_window: tuple[float, float]   # leg t range where lesions may be centred
    rng: np.random.Generator
    taken: list = field(default_factory=list)   # image-mm boxes of lesions already placed

    def free(self, t, u, skin=3.0, bone=2.5):
        """True where leg points ``(t, u)`` lie in soft tissue, clear of bone, in the field."""
        t, u = np.asarray(t, dtype=np.float32), np.asarray(u, dtype=np.float32)
        x, y = self.geom.to_image(t, u)
        ok = ((self.anat.skin_margin(t, u) >= skin) & (self.anat.bone_clearance(t, u) >= bone)
              & self.field_ok(x, y))
        for x_lo, x_hi, y_lo, y_hi in self.taken:
            ok &= ~((x > x_lo - 15) & (x < x_hi + 15) & (y > y_lo - 15) & (y < y_hi + 15))
        return ok

    def take(self, cluster: "Cluster") -> None:
        """Keep later lesions away from ``cluster``."""
        for shape in cluster.shapes + cluster.masses:
            self.taken.append(shape.extent())

    def disc_free(self, t, u, radius, **kw):
        """True if a disc of ``radius`` mm about ``(t, u)`` is entirely free soft tissue."""
        ang = np.linspace(0, 2 * np.pi, 20, endpoint=False)
        rs = np.array([0.0, 0.35, 0.7, 1.0]) * radius
        tt = t + (rs[:, None] * np.cos(ang)[None, :]).ravel()
        uu = u + (rs[:, None] * np.sin(ang)[None, :]).ravel()
        return bool(np.all(self.free(tt, uu, **kw)))

    def find_spot(self, radius, tries=400, **kw):
        """A random free ``(t, u)`` centre for a disc of ``radius`` mm, or None."""
        lo, hi = self.t_window
        for _ in range(tries):
            t = self.rng.uniform(lo, hi)
            w_pos = float(self.anat.at(self.anat.half_width[1], t))
            w_neg = float(self.anat.at(self.anat.half_width[-1], t))
            u = self.rng.uniform(-w_neg, w_pos)
            if self.disc_free(t, u, radius, **kw):
                return t, u
        return None

    def xy(self, t, u):
        x, y = self.geom.to_image(t, u)
        return float(x), float(y)


@dataclass
class Cluster:
    pattern: str
    shapes: list[Shape]
    masses: list[Shape] = field(default_factory=list)


def _ring_positions(rng, n, spread, min_gap, sizes):
    """Offsets (mm) within ``spread`` mm of the centre for items of radii ``sizes``.

    Items keep ``min_gap`` mm apart (negative: they may overlap); an item that finds no room
    is dropped, so fewer than ``n`` offsets may come back, paired with the first radii.
    """
    out, kept = [], []
    for i in range(n):
        for _ in range(200):
            r = spread * math.sqrt(rng.uniform(0, 1))
            a = rng.uniform(0, 2 * np.pi)
            p = (r * math.cos(a), r * math.sin(a))
            if all(math.hypot(p[0] - q[0], p[1] - q[1]) >= sizes[i] + sizes[j] + min_gap
                   for q, j in zip(out, kept)):
                out.append(p)
                kept.append(i)
                break
    return [(p, sizes[i]) for p, i in zip(out, kept)]


def _wobble(rng, amount, orders=(2, 3, 4, 5)):
    return tuple((k, rng.uniform(0, amount) / k ** 0.5, rng.uniform(0, 2 * np.pi)) for k in orders)


def _place(scene, radius, shrink_to=0.5, **kw):
    """A free spot for a lesion of footprint ``radius`` (mm), shrinking it if the leg is tight."""
    scale = 1.0
    while scale >= shrink_to:
        spot = scene.find_spot(radius * scale, **kw)
        if spot is not None:
            return spot, scale
        scale *= 0.85
    raise RuntimeError("no room for the lesion in this leg")


def build_arterial(scene: Scene) -> Cluster:
    """Tram-track or beaded linear calcification along a vessel parallel to the leg axis."""
    rng = scene.rng
    length = rng.uniform(30, 160)
    gap = rng.uniform(2.0, 6.0)
    tram = rng.uniform() < 0.65
    wall = rng.uniform(0.25, 0.7)   # tube radius: lines 0.5-1.4 mm wide
    lo, hi = scene.t_window
    for _ in range(600):
        t0 = rng.uniform(lo, max(lo + 1, hi - length))
        t1 = min(t0 + length, hi)
        if t1 - t0 < 22:
            continue
        w = float(scene.anat.at(scene.anat.half_width[-1], (t0 + t1) / 2))
        u0 = rng.uniform(-w, float(scene.anat.at(scene.anat.half_width[1], (t0 + t1) / 2)))
        amp, period, phase = rng.uniform(0, 3), rng.uniform(60, 220), rng.uniform(0, 6.3)
        ts = np.arange(t0, t1, 0.5)
        uc = u0 + amp * np.sin(2 * np.pi * ts / period + phase)
        offsets = (-gap / 2, gap / 2) if tram else (0.0,)
        if all(scene.free(ts, uc + o, skin=4.0, bone=2.0).all() for o in offsets):
            break
    else:
        raise RuntimeError("no room for an arterial course")
    beaded = rng.uniform() < 0.7
    shapes = []
    for o in offsets:
        pos = ts[0]
        while pos < ts[-1] - 1:
            seg = rng.uniform(2, 12) if beaded else ts[-1] - pos
            seg_end = min(pos + seg, ts[-1])
            sel = (ts >= pos) & (ts <= seg_end)
            if sel.sum() >= 2:
                xs, ys = scene.geom.to_image(ts[sel], uc[sel] + o + rng.normal(0, 0.15))
                shapes.append(Shape("tube", points=np.column_stack([xs, ys]).astype(np.float32),
                                    radius=wall * rng.uniform(0.8, 1.2), peak=rng.uniform(0.7, 1.3),
                                    min_size_mm=2 * wall))
            pos = seg_end + (rng.uniform(0.7, 4.0) if beaded else 0)
    return Cluster("arterial", shapes)


def build_phlebolith(scene: Scene) -> Cluster:
    """One to five round or oval nodules of 2-10 mm, mostly with a central lucency."""
    rng = scene.rng
    n = int(rng.choice([1, 2, 3, 4, 5], p=[0.25, 0.25, 0.22, 0.16, 0.12]))
    radii = np.clip(rng.lognormal(math.log(2.3), 0.3, n), 1.0, 5.0)
    spread = 0 if n == 1 else rng.uniform(6, 22)
    (t, u), scale = _place(scene, spread + radii.max() + 1)
    radii = radii * max(scale, 0.7)
    placed = _ring_positions(rng, n, spread * scale, 1.0, radii) if n > 1 else [((0.0, 0.0), radii[0])]
    shapes = []
    for (dt, du), r in placed:
        x, y = scene.xy(t + dt, u + du)
        ring = rng.uniform() < 0.7
        shapes.append(Shape("shell" if ring else "sphere", x=x, y=y, a=r, b=r * rng.uniform(0.8, 1.0),
                            angle=rng.uniform(0, np.pi), inner=rng.uniform(0.35, 0.6),
                            core=rng.uniform(0.0, 0.45), wobble=_wobble(rng, 0.03),
                            peak=rng.uniform(0.8, 1.2), min_size_mm=r))
    return Cluster("phlebolith", shapes)


def _mass(scene, t, u, radius, elong=1.0, angle=None):
    rng = scene.rng
    x, y = scene.xy(t, u)
    return Shape("sphere", x=x, y=y, a=radius * elong, b=radius * rng.uniform(0.8, 1.0),
                 angle=rng.uniform(0, np.pi) if angle is None else angle,
                 wobble=_wobble(rng, 0.05), peak=2 * radius, density=rng.uniform(0.0025, 0.007))


def _clump(scene, x, y, size, style):
    """A calcified clump of about ``size`` mm: solid, several foci, or a mottled cloud."""
    rng = scene.rng
    if style == "solid":
        return [Shape("sphere", x=x, y=y, a=size / 2, b=size / 2 * rng.uniform(0.6, 1.0),
                      angle=rng.uniform(0, np.pi), wobble=_wobble(rng, 0.18), peak=1.0,
                      min_size_mm=size / 2)]
    if style == "foci":
        n = int(rng.integers(3, 8))
        radii = rng.uniform(0.5, 1.5, n)
        return [Shape("sphere", x=x + dx, y=y + dy, a=r, b=r * rng.uniform(0.7, 1), peak=1.0,
                      angle=rng.uniform(0, np.pi), wobble=_wobble(rng, 0.1), min_size_mm=r)
                for (dx, dy), r in _ring_positions(rng, n, size / 2, 0.2, radii * 0.7)]
    return [Shape("cloud", x=x, y=y, a=size / 2, b=size / 2 * rng.uniform(0.6, 1.0),
                  angle=rng.uniform(0, np.pi), wobble=_wobble(rng, 0.25), peak=1.0,
                  seed=int(rng.integers(2 ** 31)), min_size_mm=1.0)]


def build_central(scene: Scene) -> Cluster:
    """A calcified core at the centre of a subtle soft-tissue mass."""
    rng = scene.rng
    radius = rng.uniform(12, 26)
    core = rng.uniform(4, 11)
    (t, u), _ = _place(scene, core / 2 + 1.5, shrink_to=0.9)
    # the mass must stay mostly within the leg: shrink it to the room across the leg
    room = float(scene.anat.skin_margin(t, u)) + 6
    radius = max(min(radius, room), core * 1.4)
    mass = _mass(scene, t, u, radius)
    x, y = scene.xy(t + rng.normal(0, 0.06 * radius), u + rng.normal(0, 0.06 * radius))
    shapes = _clump(scene, x, y, core, rng.choice(["solid", "foci", "cloud"], p=[0.4, 0.35, 0.25]))
    return Cluster("central", shapes, [mass])


def build_eccentric(scene: Scene) -> Cluster:
    """Calcification off-centre, to one side, within a subtle soft-tissue mass."""
    rng = scene.rng
    core = rng.uniform(4, 10)
    for _ in range(300):
        (t, u), _ = _place(scene, core / 2 + 1.5, shrink_to=0.9)
        radius = rng.uniform(14, 30)
        frac = rng.uniform(0.5, 0.8)
        ang = rng.uniform(0, 2 * np.pi)
        tm, um = t - frac * radius * math.cos(ang), u - frac * radius * math.sin(ang)
        # mass centre inside the leg, mass not sticking out more than ~8 mm
        if scene.anat.skin_margin(tm, um) >= radius - 8 and core / 2 < radius * (1 - frac):
            break
    mass = _mass(scene, tm, um, radius, elong=1.0)
    x, y = scene.xy(t, u)
    shapes = _clump(scene, x, y, core, rng.choice(["solid", "foci", "cloud"], p=[0.35, 0.35, 0.3]))
    return Cluster("eccentric", shapes, [mass])


def build_diffuse(scene: Scene) -> Cluster:
    """One compact lesion, densely and uniformly calcified throughout."""
    rng = scene.rng
    r = rng.uniform(4, 14)
    (t, u), scale = _place(scene, r + 1)
    r *= scale
    x, y = scene.xy(t, u)
    return Cluster("diffuse", [Shape("plateau", x=x, y=y, a=r, b=r * rng.uniform(0.65, 1.0),
                                     angle=rng.uniform(0, np.pi), wobble=_wobble(rng, 0.08),
                                     peak=rng.uniform(1.2, 1.8), min_size_mm=2 * r)])


def build_laminated(scene: Scene) -> Cluster:
    """Two to four concentric rings about one centre ("onion skin")."""
    rng = scene.rng
    n = int(rng.integers(2, 5))
    outer = rng.uniform(4.5, 12)
    (t, u), scale = _place(scene, outer + 1)
    outer *= scale
    x, y = scene.xy(t, u)
    ratio, angle = rng.uniform(0.8, 1.0), rng.uniform(0, np.pi)
    radii = np.linspace(outer, outer * rng.uniform(0.3, 0.45), n)
    shapes = []
    for r in radii:
        thick = min(rng.uniform(0.5, 1.2), 0.3 * r)
        shapes.append(Shape("shell", x=x + rng.normal(0, 0.15), y=y + rng.normal(0, 0.15), a=r,
                            b=r * ratio, angle=angle, inner=1 - thick / r, core=0.0,
                            peak=rng.uniform(0.8, 1.1), min_size_mm=thick))
    if rng.uniform() < 0.5:
        shapes.append(Shape("sphere", x=x, y=y, a=radii[-1] * 0.35, b=radii[-1] * 0.35 * ratio,
                            peak=1.0, min_size_mm=radii[-1] * 0.35))
    return Cluster("laminated", shapes)


def build_popcorn(scene: Scene) -> Cluster:
    """Several 2-6 mm irregular arcs, rings and blobs packed into one cluster."""
    rng = scene.rng
    n = int(rng.integers(4, 12))
    sizes = rng.uniform(1.2, 3.0, n)   # radii: 2.4-6 mm elements
    spread = rng.uniform(2.5, 4.5) + 1.1 * math.sqrt(n)    # packed: elements touch or overlap
    (t, u), scale = _place(scene, spread + 3.5)
    shapes = []
    for (dt, du), r in _ring_positions(rng, n, spread * scale, -0.8, sizes * 0.9):
        x, y = scene.xy(t + dt, u + du)
        kind = rng.choice(["arc", "ring", "blob"], p=[0.45, 0.3, 0.25])
        thick = min(rng.uniform(0.5, 1.1), 0.4 * r)
        if kind == "blob":
            shapes.append(Shape("sphere", x=x, y=y, a=r * 0.8, b=r * rng.uniform(0.5, 0.8),
                                angle=rng.uniform(0, np.pi), wobble=_wobble(rng, 0.25), peak=1.0,
                                min_size_mm=r))
        else:
            arc = (rng.uniform(0, 2 * np.pi), rng.uniform(1.0, 2.6)) if kind == "arc" else ()
            shapes.append(Shape("shell", x=x, y=y, a=r, b=r * rng.uniform(0.65, 1.0),
                                angle=rng.uniform(0, np.pi), inner=1 - thick / r, core=0.1,
                                wobble=_wobble(rng, 0.2), arc=arc, peak=1.0, min_size_mm=thick))
    return Cluster("popcorn", shapes)


def build_stippled(scene: Scene) -> Cluster:
    """Ten to sixty fine punctate dots (<= 1 mm) scattered over an area."""
    rng = scene.rng
    n = int(rng.integers(12, 60))
    spread = rng.uniform(7, 18)
    (t, u), scale = _place(scene, spread + 1)
    radii = rng.uniform(0.15, 0.5, n)
    shapes = []
    for (dt, du), r in _ring_positions(rng, n, spread * scale, 0.6, radii):
        x, y = scene.xy(t + dt * rng.uniform(0.9, 1.1), u + du)
        shapes.append(Shape("sphere", x=x, y=y, a=r, b=r * rng.uniform(0.8, 1.0),
                            peak=rng.uniform(0.75, 1.25), min_size_mm=2 * r))
    if len(shapes) < 10:
        raise RuntimeError("not enough room for a stippled cluster")
    masses = []
    if rng.uniform() < 0.4:
        masses.append(_mass(scene, t, u, max(spread * scale * 1.2, 10)))
    return Cluster("stippled", shapes, masses)


def build_peripheral_plaque(scene: Scene) -> Cluster:
    """Curvilinear plaque-like calcification along the rim of a fusiform mass along the leg."""
    rng = scene.rng
    lo, hi = scene.t_window
    for _ in range(800):
        half_len = rng.uniform(25, 70)
        half_w = rng.uniform(8, 18)
        if half_len < 2 * half_w:
            continue
        t = rng.uniform(lo + half_len, max(lo + half_len + 1, hi - half_len))
        u = rng.uniform(-float(scene.anat.at(scene.anat.half_width[-1], t)),
                        float(scene.anat.at(scene.anat.half_width[1], t)))
        s = np.linspace(-1, 1, 61)
        hw = half_w * np.clip(1 - s ** 2, 0, None) ** 0.9
        if all(scene.free(t + half_len * s, u + sign * hw, skin=3.0, bone=2.0).all()
               for sign in (-1, 1)):
            break
    else:
        raise RuntimeError("no room for a fusiform mass")
    axis = scene.geom.leg_axis_angle()
    x, y = scene.xy(t, u)
    mass = Shape("spindle", x=x, y=y, a=half_len, b=half_w, angle=axis,
                 peak=2 * half_w, density=rng.uniform(0.0025, 0.007))
    shapes = []
    sides = [1, -1] if rng.uniform() < 0.6 else [int(rng.choice([-1, 1]))]
    for sign in sides:
        cover = rng.uniform(0.35, 0.85)
        start = rng.uniform(-0.95, 0.95 - 2 * cover * 0.95)
        pos = start
        end = start + 2 * cover * 0.95
        while pos < end:
            seg = rng.uniform(0.15, 0.5)
            ss = np.linspace(pos, min(pos + seg, end), 14)
            hw = half_w * np.clip(1 - ss ** 2, 0, None) ** 0.9 * rng.uniform(0.93, 1.0)
            xs, ys = scene.geom.to_image(t + half_len * ss, u + sign * hw)
            thick = rng.uniform(0.4, 1.1)
            shapes.append(Shape("tube", points=np.column_stack([xs, ys]).astype(np.float32),
                                radius=thick, peak=rng.uniform(0.7, 1.2), min_size_mm=2 * thick))
            pos += seg + rng.uniform(0.0, 0.08)
    return Cluster("peripheral_plaque", shapes, [mass])


def build_nonspecific(scene: Scene) -> Cluster:
    """An amorphous, irregular, mottled clump fitting none of the other patterns."""
    rng = scene.rng
    size = rng.uniform(6, 20)
    (t, u), scale = _place(scene, size / 2 + 2)
    size *= scale
    shapes = []
    for _ in range(int(rng.integers(1, 4))):
        x, y = scene.xy(t + rng.normal(0, size / 5), u + rng.normal(0, size / 5))
        part = size * rng.uniform(0.4, 0.7)
        shapes.append(Shape("cloud", x=x, y=y, a=part / 2, b=part / 2 * rng.uniform(0.4, 0.9),
                            angle=rng.uniform(0, np.pi), wobble=_wobble(rng, 0.35),
                            peak=rng.uniform(0.7, 1.1), seed=int(rng.integers(2 ** 31)),
                            min_size_mm=1.0))
    return Cluster("nonspecific", shapes)


def build_none_mass(scene: Scene) -> Cluster:
    """A soft-tissue mass without calcification."""
    rng = scene.rng
    (t, u), _ = _place(scene, 6, shrink_to=0.9, bone=0.0)
    room = float(scene.anat.skin_margin(t, u)) + 6
    return Cluster("none", [], [_mass(scene, t, u, max(8.0, min(rng.uniform(12, 30), room)))])


BUILDERS = {
    "arterial": build_arterial, "phlebolith": build_phlebolith, "central": build_central,
    "diffuse": build_diffuse, "laminated": build_laminated, "popcorn": build_popcorn,
    "stippled": build_stippled, "eccentric": build_eccentric,
    "peripheral_plaque": build_peripheral_plaque, "nonspecific": build_nonspecific,
}

#: Contract order of significance (result-contract.md): a secondary cluster must rank lower.
SIGNIFICANCE = ("eccentric", "stippled", "peripheral_plaque", "nonspecific", "popcorn",
                "laminated", "central", "diffuse", "phlebolith", "arterial")


# --------------------------------------------------------------------------------------------
# distractors: markers, collimation, burned-in text
# --------------------------------------------------------------------------------------------

def _text_mask(text: str, height_px: float, mirror=False, angle=0.0) -> np.ndarray:
    """Anti-aliased mask (0..1) of ``text`` about ``height_px`` pixels tall."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=max(6, int(round(height_px * 1.35))))
    left, top, right, bottom = font.getbbox(text)
    img = Image.new("L", (right - left + 8, bottom - top + 8), 0)
    ImageDraw.Draw(img).text((4 - left, 4 - top), text, fill=255, font=font)
    if mirror:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if angle:
        img = img.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True)
    return np.asarray(img, dtype=np.float32) / 255.0


def collimation(geom: Geometry, rng: np.random.Generator):
    """Collimated borders as a soft 0..1 map and a field test ``(x, y) -> bool``.

    Each side is collimated with some probability, by a slightly tilted straight edge with a
    blurred penumbra.
    """
    edges = []
    for side, prob in (("left", 0.6), ("right", 0.6), ("top", 0.35), ("bottom", 0.35)):
        if rng.uniform() < prob:
            frac = rng.uniform(0.02, 0.12)
            edges.append((side, frac, rng.uniform(-0.035, 0.035), rng.uniform(0.6, 4.0)))

    def signed(side, frac, tilt, x, y):
        # distance (mm) into the collimated area, positive inside it
        W, H = geom.width_mm, geom.height_mm
        if side == "left":
            return frac * W - x + (y - H / 2) * tilt
        if side == "right":
            return x - (1 - frac) * W + (y - H / 2) * tilt
        if side == "top":
            return frac * H - y + (x - W / 2) * tilt
        return y - (1 - frac) * H + (x - W / 2) * tilt

    def field_ok(x, y, margin=6.0):
        x, y = np.asarray(x), np.asarray(y)
        ok = (x > margin) & (x < geom.width_mm - margin) & (y > margin) & (y < geom.height_mm - margin)
        for side, frac, tilt, pen in edges:
            ok &= signed(side, frac, tilt, x, y) < -(margin + 2 * pen)
        return ok

    def mask(x, y):
        out = np.zeros(np.shape(x), dtype=np.float32)
        for side, frac, tilt, pen in edges:
            out = np.maximum(out, ndtr(signed(side, frac, tilt, x, y) / pen).astype(np.float32))
        return out

    return mask, field_ok, edges


def place_marker(attenuation, geom, anat, rng, letter, busy_boxes):
    """Add a lead letter (with a faint plastic holder) beside the leg, in air where possible."""
    height_mm = rng.uniform(8, 15)
    m = _text_mask(letter, height_mm / geom.spacing, mirror=rng.uniform() < 0.3,
                   angle=rng.uniform(-12, 12))
    h, w = m.shape
    box = np.zeros_like(m)
    if rng.uniform() < 0.6:
        pad = int(0.12 * h)
        box[pad: h - pad, pad: w - pad] = 1.0
        box = ndi.gaussian_filter(box, 0.6)
    for _ in range(200):
        side = int(rng.choice([-1, 1]))
        t = rng.uniform(*geom.t_range())
        skin = float(anat.at(anat.half_width[side], t))
        u = side * (skin + rng.uniform(-3, 25) + 0.6 * max(h, w) * geom.spacing)
        x, y = geom.to_image(t, u)
        r0, c0 = int(y / geom.spacing) - h // 2, int(x / geom.spacing) - w // 2
        if r0 < 0 or c0 < 0 or r0 + h > geom.rows or c0 + w > geom.columns:
            continue
        if any(r0 < b[2] + 20 and b[0] - 20 < r0 + h and c0 < b[3] + 20 and b[1] - 20 < c0 + w
               for b in busy_boxes):
            continue
        attenuation[r0:r0 + h, c0:c0 + w] += 5.0 * m + rng.uniform(0.03, 0.15) * box
        return (r0, c0, r0 + h, c0 + w)
    return None


# --------------------------------------------------------------------------------------------
# image formation and storage
# --------------------------------------------------------------------------------------------

@dataclass
class Exposure:
    photons: float          # mean quanta per pixel in unattenuated air
    scatter: float          # scatter-to-primary scale of the low-frequency glow
    blur_mm: tuple          # detector blur sigma (rows, cols), mm
    electronic: float       # electronic noise, quanta per pixel
    unsharp: tuple | None   # (gain, sigma mm) of the vendor edge enhancement, or None
    range_compression: tuple | None  # (strength, sigma mm): large-area density equalisation
    gamma: float
    heel: float             # linear attenuation ramp top-to-bottom (heel effect)


def sample_exposure(rng, spacing) -> Exposure:
    blur = rng.uniform(0.1, 0.4)
    return Exposure(
        photons=float(np.exp(rng.uniform(np.log(400), np.log(6000))) * (spacing / 0.15) ** 2),
        scatter=rng.uniform(0.05, 0.35),
        blur_mm=(blur * rng.uniform(0.9, 1.25), blur),
        electronic=rng.uniform(0.2, 1.5),
        unsharp=(rng.uniform(0.3, 1.5), rng.uniform(1.5, 6.0)) if rng.uniform() < 0.45 else None,
        range_compression=((rng.uniform(0.25, 0.6), rng.uniform(8.0, 25.0))
                           if rng.uniform() < 0.5 else None),
        gamma=rng.uniform(0.75, 1.35) if rng.uniform() < 0.5 else 1.0,
        heel=rng.uniform(-0.08, 0.08),
    )


def noise_sigma(exposure: Exposure, attenuation: float, scatter: float, spacing: float) -> float:
    """Expected pixel noise of the log-signal where the attenuation is ``attenuation``."""
    primary = exposure.photons * math.exp(-attenuation)
    sig = [b / spacing for b in exposure.blur_mm]
    # white noise through a gaussian blur keeps 1 / (2 sqrt(pi) sigma) of its std per axis
    gain = math.prod(min(1.0, 1.0 / (2 * math.sqrt(math.pi) * s) ** 0.5) for s in sig)
    quantum = math.sqrt(primary + scatter) * gain
    sharpen = 1.0 + (exposure.unsharp[0] if exposure.unsharp else 0.0)
    return math.hypot(quantum, exposure.electronic) / primary * sharpen


def scatter_field(attenuation, exposure: Exposure, spacing):
    """Low-frequency scatter quanta per pixel, from a coarse blur of the primary fluence."""
    k = max(1, int(round(4.0 / spacing)))
    rows, cols = attenuation.shape
    coarse = attenuation[: rows - rows % k, : cols - cols % k]
    coarse = coarse.reshape(coarse.shape[0] // k, k, coarse.shape[1] // k, k).mean(axis=(1, 3))
    primary = exposure.photons * np.exp(-coarse)
    glow = ndi.gaussian_filter(primary, 30.0 / (k * spacing), mode="nearest") * exposure.scatter
    full = ndi.zoom(glow, (rows / glow.shape[0], cols / glow.shape[1]), order=1)
    return full[:rows, :cols].astype(np.float32)


def form_image(attenuation, scatter, exposure: Exposure, spacing, rng):
    """Detected log-signal (dense = high) from the attenuation map."""
    primary = exposure.photons * np.exp(-attenuation)
    quanta = primary + scatter
    quanta += np.sqrt(quanta) * rng.standard_normal(quanta.shape, dtype=np.float32)
    sig = (exposure.blur_mm[0] / spacing, exposure.blur_mm[1] / spacing)
    quanta = ndi.gaussian_filter(quanta, sig)
    quanta += exposure.electronic * rng.standard_normal(quanta.shape, dtype=np.float32)
    log_signal = -np.log(np.clip(quanta, 0.5, None) / exposure.photons)
    # vendor processing: equalise large areas (thick vs thin soft tissue), then sharpen edges
    if exposure.range_compression is not None:
        strength, sigma_mm = exposure.range_compression
        low = _smooth(log_signal, sigma_mm / spacing)
        log_signal = log_signal - strength * (low - float(np.median(low[::8, ::8])))
    if exposure.unsharp is not None:
        gain, sigma_mm = exposure.unsharp
        log_signal = log_signal + gain * (log_signal - _smooth(log_signal, sigma_mm / spacing))
    return log_signal.astype(np.float32)


def _smooth(image, sigma_px):
    """Gaussian smoothing, done on a decimated copy when the kernel is wide (same shape out)."""
    k = max(1, int(sigma_px // 4))
    low = ndi.gaussian_filter(image[::k, ::k], sigma_px / k, mode="nearest")
    if k > 1:
        low = ndi.zoom(low, k, order=1)
    rows, cols = image.shape
    low = low[:rows, :cols]
    if low.shape != image.shape:
        low = np.pad(low, ((0, rows - low.shape[0]), (0, cols - low.shape[1])), mode="edge")
    return low


def to_stored(log_signal, exposure, bits, rng, saturate_collimation):
    """Map the log-signal to unsigned stored values (dense = high) of ``bits`` bits."""
    sample = log_signal[::7, ::7].ravel()
    lo = float(np.quantile(sample, 0.005)) - rng.uniform(0.02, 0.2)
    top = float(np.quantile(sample, 0.999))
    anatomy_top = float(np.quantile(sample[sample < min(top, 3.8)], 0.995))
    hi = anatomy_top + rng.uniform(0.3, 0.9) if saturate_collimation else top + 0.05
    v = np.clip((log_signal - lo) / (hi - lo), 0, 1)
    if exposure.gamma != 1.0:
        v = v ** exposure.gamma
    return np.round(v * (2 ** bits - 1)).astype(np.uint16)


def burn_in_text(stored, geom, rng, bits):
    """Burn a short annotation into a corner, as some consoles do."""
    text = str(rng.choice(["AP", "TIB/FIB AP", "STANDING", "AP 1", "PORTABLE", "WB"]))
    m = _text_mask(text, rng.uniform(3.5, 6) / geom.spacing)
    h, w = m.shape
    if h >= geom.rows // 4 or w >= geom.columns // 2:
        return None
    r0 = int(rng.choice([int(0.02 * geom.rows), geom.rows - h - int(0.02 * geom.rows)]))
    c0 = int(rng.choice([int(0.02 * geom.columns), geom.columns - w - int(0.02 * geom.columns)]))
    level = (2 ** bits - 1) * rng.uniform(0.85, 1.0)
    region = stored[r0:r0 + h, c0:c0 + w]
    region[...] = np.maximum(region, (m * level).astype(np.uint16))
    return (r0, c0, r0 + h, c0 + w)


def write_dicom(path: Path, dense_bright: np.ndarray, meta: dict) -> None:
    """Write an uncompressed Explicit VR Little Endian CR or DX file."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    bits = meta["bits"]
    pixels = dense_bright
    if meta["photometric"] == "MONOCHROME1":
        pixels = (2 ** bits - 1) - dense_bright
    sop_class = ("1.2.840.10008.5.1.4.1.1.1" if meta["modality"] == "CR"
                 else "1.2.840.10008.5.1.4.1.1.1.1")
    uid = lambda what: generate_uid(entropy_srcs=[meta["uid_seed"], what])  # noqa: E731
    fm = FileMetaDataset()
    fm.MediaStorageSOPClassUID = sop_class
    fm.MediaStorageSOPInstanceUID = uid("sop")
    fm.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=fm, preamble=b"\0" * 128)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = fm.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = uid("study"), uid("series")
    ds.PatientName = "ALT^PHANTOM"
    ds.PatientID = meta["patient_id"]
    ds.PatientSex = meta["sex"]
    ds.StudyDate = ds.SeriesDate = meta["date"]
    ds.StudyTime = "101500"
    ds.AccessionNumber = meta["patient_id"][-8:]
    ds.Modality = meta["modality"]
    ds.Manufacturer = "ALT PHANTOM WORKS"
    ds.SeriesDescription = "TIB/FIB AP"
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    if meta["body_part"]:
        ds.BodyPartExamined = meta["body_part"]
    ds.ViewPosition = "AP"
    if meta["modality"] == "DX":
        ds.ImageLaterality = meta["laterality"]
        ds.PresentationIntentType = "FOR PRESENTATION"
        ds.PixelIntensityRelationship = "LOG"
        ds.PixelIntensityRelationshipSign = 1
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
    else:
        ds.Laterality = meta["laterality"]
    ds.SeriesNumber, ds.InstanceNumber = 1, 1
    s = meta["spacing"]
    tags = meta["spacing_tags"]
    if "PixelSpacing" in tags:
        ds.PixelSpacing = [f"{s:.6g}", f"{s:.6g}"]
    if "ImagerPixelSpacing" in tags:
        m = meta["magnification"]
        ds.ImagerPixelSpacing = [f"{s * m:.6g}", f"{s * m:.6g}"]
        if m != 1.0:
            ds.EstimatedRadiographicMagnificationFactor = f"{m:.6g}"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = meta["photometric"]
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, bits, bits - 1, 0
    if meta["window"]:
        ds.WindowCenter, ds.WindowWidth = meta["window"]
    ds.PixelData = np.ascontiguousarray(pixels, dtype="<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)


# --------------------------------------------------------------------------------------------
# one case
# --------------------------------------------------------------------------------------------

INDICATIONS = (
    "", "", "Hx: {age}{sx}, {side} calf swelling x{d}d, r/o DVT.",
    "{side} calf pain.", "Pain {side} lower leg after fall {d} days ago.",
    "Known PAD, claudication {side} leg.", "T2DM. {side} leg pain, evaluate.",
    "Varicose veins {side} leg, aching.", "{side} tib/fib.",
    "Chronic {side} calf ache, no trauma.",
)
MASS_INDICATIONS = (
    "Palpable lump {side} calf.", "Hx: {age}{sx}, firm mass {side} calf, slowly growing.",
    "{side} calf swelling, ?lump.", "",
)


def _indication(rng, side_word, has_mass):
    templates = MASS_INDICATIONS if has_mass and rng.uniform() < 0.7 else INDICATIONS
    text = str(rng.choice(templates))
    return text.format(age=int(rng.integers(25, 88)), sx=str(rng.choice(["M", "F"])),
                       side=side_word, d=int(rng.integers(2, 21)))


def _sample_size(rng, rows, columns):
    """Rows, columns and object spacing (mm) giving a plausible lower-leg field of view."""
    if rows is None:
        rows = int(rng.integers(1400, 2601))
    if columns is None:
        columns = int(np.clip(rows * rng.uniform(0.55, 0.75), 900, 1800))
    s_lo = max(0.1, 230.0 / rows, 150.0 / columns)
    s_hi = min(0.2, 470.0 / rows)
    spacing = rng.uniform(s_lo, s_hi) if s_hi > s_lo else float(np.clip(s_lo, 0.1, 0.2))
    return rows, columns, round(float(spacing), 4)


def frame_leg(rng, rows=None, columns=None) -> Geometry:
    """Image size, spacing and where the leg lies: mostly knee up, sometimes rotated or flipped."""
    rows, columns, spacing = _sample_size(rng, rows, columns)
    theta = math.radians(rng.uniform(-8, 8) if rng.uniform() < 0.5 else rng.uniform(-2, 2))
    fov = rows * spacing
    # the leg length is drawn later: frame the view on a typical 370 mm leg so that it shows
    # mid-calf, from the knee or down to the ankle
    t_top_lo, t_top_hi = max(-100.0, 150.0 - fov), min(80.0, 370.0 + 60 - fov)
    t_top = rng.uniform(t_top_lo, t_top_hi) if t_top_hi > t_top_lo else (t_top_lo + t_top_hi) / 2
    return Geometry(rows, columns, spacing, theta,
                    t_sign=1 if rng.uniform() < 0.85 else -1, u_sign=int(rng.choice([-1, 1])),
                    x_axis=columns * spacing * (0.5 + rng.uniform(-0.08, 0.08)),
                    t_mid=t_top + fov / 2)


def build_clusters(scene: Scene, pattern: str) -> list[Cluster]:
    """The case's lesions: one cluster of ``pattern``, sometimes a lower-ranked second one."""
    rng = scene.rng
    if pattern == "none":
        return [build_none_mass(scene)] if rng.uniform() < 0.4 else []
    clusters = [BUILDERS[pattern](scene)]
    scene.take(clusters[0])
    if rng.uniform() < 0.12:
        # only a pattern ranked below the primary one, so the label stays the primary pattern
        lower = SIGNIFICANCE[SIGNIFICANCE.index(pattern) + 1:]
        second = str(rng.choice([p for p in ("arterial", "phlebolith") if p in lower] or ["arterial"]))
        try:
            clusters.append(BUILDERS[second](scene))
        except RuntimeError:
            pass
    return clusters


def paint_clusters(attenuation, soft_path, scatter, geom, exposure, clusters, rng) -> list[dict]:
    """Add masses and calcifications to ``attenuation``; the label of each calcified cluster."""
    spacing = geom.spacing
    supersample = max(2, int(math.ceil(spacing / 0.05)))
    blur = math.sqrt(exposure.blur_mm[0] * exposure.blur_mm[1])
    calc = np.zeros_like(attenuation)
    labels = []
    for cluster in clusters:
        for mass in cluster.masses:
            add_mass(attenuation, soft_path, geom, mass, supersample)
        if not cluster.shapes:
            continue
        cx = float(np.mean([s.extent()[0] + s.extent()[1] for s in cluster.shapes])) / 2
        cy = float(np.mean([s.extent()[2] + s.extent()[3] for s in cluster.shapes])) / 2
        r, c = int(cy / spacing), int(cx / spacing)
        sigma_a = noise_sigma(exposure, float(attenuation[r, c]), float(scatter[r, c]), spacing)
        # density: from faint (a few % of the tibial cortex) to as dense as cortex, and never
        # below about seven noise sigmas once blurred
        density = math.exp(rng.uniform(math.log(0.06), math.log(1.1)))
        boxes = []
        for shape in cluster.shapes:
            half = shape.min_size_mm / 2
            blur_loss = 1 - math.exp(-(half ** 2) / (2 * blur ** 2)) if half < 3 * blur else 1.0
            shape.peak = min(shape.peak * max(density, 7 * sigma_a) / max(blur_loss, 0.05), 1.6)
            box = paint(calc, geom, shape, supersample)
            if box:
                boxes.append(box)
        if boxes:
            b = np.array(boxes)
            labels.append({"pattern": cluster.pattern,
                           "bbox_px": [int(b[:, 0].min()), int(b[:, 1].min()),
                                       int(b[:, 2].max()), int(b[:, 3].max())]})
    attenuation += calc
    return labels


def dicom_choices(rng, dense_bright, bits, spacing, laterality, seed, index) -> dict:
    """Header variety: CR or DX, polarity, spacing tags, magnification, body part, window."""
    modality = str(rng.choice(["CR", "DX"]))
    tag_choice = rng.uniform()
    if modality == "CR":
        spacing_tags = ["PixelSpacing"] if tag_choice < 0.7 else ["PixelSpacing", "ImagerPixelSpacing"]
    else:
        spacing_tags = (["ImagerPixelSpacing"] if tag_choice < 0.6 else
                        ["PixelSpacing", "ImagerPixelSpacing"] if tag_choice < 0.8 else ["PixelSpacing"])
    magnification = 1.0
    if "ImagerPixelSpacing" in spacing_tags and rng.uniform() < 0.5:
        magnification = round(float(rng.uniform(1.03, 1.15)), 4)
    photometric = str(rng.choice(["MONOCHROME1", "MONOCHROME2"]))
    maxv = 2 ** bits - 1
    window = None
    if rng.uniform() < 0.7:
        lo_w, hi_w = np.quantile(dense_bright[::9, ::9], [0.3, 0.995])
        centre = (lo_w + hi_w) / 2
        if photometric == "MONOCHROME1":
            centre = maxv - centre
        window = (f"{centre:.0f}", f"{max(hi_w - lo_w, 0.05 * maxv) * 1.2:.0f}")
    return {
        "bits": bits, "photometric": photometric,
        "modality": modality, "spacing": spacing, "spacing_tags": spacing_tags,
        "magnification": magnification,
        "body_part": str(rng.choice(["LEG", "LOWER LEG", "TIBIA", "EXTREMITY", ""],
                                    p=[0.35, 0.25, 0.15, 0.1, 0.15])),
        "laterality": laterality, "sex": str(rng.choice(["M", "F"])),
        "patient_id": f"ALT{seed:03d}{index:05d}", "date": f"2025{int(rng.integers(1, 13)):02d}15",
        "uid_seed": f"alt-phantom-{seed}-{index}", "window": window,
    }


def make_case(seed: int, index: int, pattern: str, rows=None, columns=None):
    """One labelled case, fully determined by ``(seed, index, pattern, rows, columns)``.

    Returns
    -------
    dense_bright : ndarray of uint16, stored values before any MONOCHROME1 inversion
    meta : dict, DICOM header choices
    label : dict, the ``labels.jsonl`` entry (without file names)
    indication : str

    Raises
    ------
    RuntimeError
        If this leg has no room for the lesion (the caller retries with another seed).
    """
    rng = np.random.default_rng([seed, index, 0xA17])
    geom = frame_leg(rng, rows, columns)
    t_lo, t_hi = geom.t_range()
    anat = build_anatomy(rng, t_lo, t_hi)

    attenuation, soft_path = render_anatomy(geom, anat, rng)
    coll_mask, field_ok, _ = collimation(geom, rng)
    x, y = geom.pixel_grid(0, geom.rows, 0, geom.columns)
    exposure = sample_exposure(rng, geom.spacing)
    attenuation += rng.uniform(4.0, 7.0) * coll_mask(x, y)
    attenuation += exposure.heel * (y / geom.height_mm - 0.5)
    del x, y

    scene = Scene(geom, anat, field_ok, (max(t_lo + 15, 25.0), min(t_hi - 15, anat.length - 10)), rng)
    clusters = build_clusters(scene, pattern)
    scatter = scatter_field(attenuation, exposure, geom.spacing)
    labels = paint_clusters(attenuation, soft_path, scatter, geom, exposure, clusters, rng)
    if pattern != "none" and not labels:
        raise RuntimeError(f"case {index}: the {pattern} lesion fell outside the image")

    laterality = str(rng.choice(["L", "R"]))
    place_marker(attenuation, geom, anat, rng, laterality, [tuple(lab["bbox_px"]) for lab in labels])

    log_signal = form_image(attenuation, scatter, exposure, geom.spacing, rng)
    bits = int(rng.choice([10, 12, 14, 16], p=[0.25, 0.35, 0.2, 0.2]))
    dense_bright = to_stored(log_signal, exposure, bits, rng, rng.uniform() < 0.6)
    if rng.uniform() < 0.3:
        burn_in_text(dense_bright, geom, rng, bits)

    meta = dicom_choices(rng, dense_bright, bits, geom.spacing, laterality, seed, index)
    has_mass = any(cl.masses for cl in clusters)
    label = {"primary_pattern": pattern, "clusters": labels, "mass": bool(has_mass),
             "spacing_mm": geom.spacing}
    side_word = laterality if rng.uniform() < 0.5 else {"L": "left", "R": "right"}[laterality]
    return dense_bright, meta, label, _indication(rng, side_word, has_mass)


def _write_case(args):
    out_dir, seed, index, pattern, rows, columns = args
    for attempt in range(5):
        try:
            dense_bright, meta, label, text = make_case(seed + 1000 * attempt, index, pattern,
                                                        rows, columns)
            break
        except RuntimeError:
            continue
    else:
        raise RuntimeError(f"case {index}: could not place a {pattern} lesion")
    name = f"case_{index:04d}"
    write_dicom(Path(out_dir) / f"{name}.dcm", dense_bright, meta)
    (Path(out_dir) / f"{name}.txt").write_text(text + ("\n" if text else ""), encoding="utf-8")
    return {"file": f"{name}.dcm", "report_file": f"{name}.txt", **label}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", metavar="OUT_DIR")
    parser.add_argument("--n", type=int, default=110, help="number of cases (default 110)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rows", type=int, help="image rows (default: random 1400-2600)")
    parser.add_argument("--columns", type=int, help="image columns (default: from rows)")
    parser.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--patterns", help="comma-separated subset of patterns to cycle through")
    args = parser.parse_args(argv)
    patterns = PATTERNS if not args.patterns else tuple(args.patterns.split(","))
    unknown = set(patterns) - set(PATTERNS)
    if unknown:
        parser.error(f"unknown pattern(s): {', '.join(sorted(unknown))}")
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(str(out), args.seed, i, patterns[i % len(patterns)], args.rows, args.columns)
            for i in range(args.n)]
    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            labels = list(pool.map(_write_case, jobs))
    else:
        labels = [_write_case(j) for j in jobs]
    with open(out / "labels.jsonl", "w", encoding="utf-8") as fh:
        for label in labels:
            fh.write(json.dumps(label) + "\n")
    print(f"wrote {len(labels)} cases to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
