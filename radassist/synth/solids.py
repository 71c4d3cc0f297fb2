"""Lesion solids: small 3-D objects in the leg frame and their projected attenuation.

Each solid knows its in-plane extent (for cropping) and returns, for given
leg coordinates ``(u, v)`` (mm), the line integral of its *excess*
attenuation ``Δμ · L`` over the soft tissue it displaces (dimensionless).
Solids are frozen dataclasses so a scene is plain, comparable data.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Union

import numpy as np

from .projection import ellipsoid_chord, rotation_matrix, sector_mask, tube_wall_chord


@dataclass(frozen=True)
class Blob:
    """An ellipsoid, optionally hollow, cut into angular sectors, or limited to a belt.

    Attributes
    ----------
    centre : (u, v)
        Centre in the leg frame (mm).
    semi_axes : (a, b, c)
        Semi-axes (mm) in the blob's own frame before rotation.
    angles : (yaw, pitch, roll)
        Orientation (radians), see :func:`projection.rotation_matrix`.
    mu : float
        Excess linear attenuation (1/mm) of the solid (or of its wall when hollow).
    shell : float or (float, float, float)
        0 for a solid; otherwise the inner/outer size ratio of a hollow shell
        (one per semi-axis for a wall of uniform thickness).
    core_mu : float
        Excess attenuation (1/mm) of the hollow's core (lucent centre when small).
    sectors : tuple of (start, extent) or None
        Kept in-plane angular sectors (radians) about the centre; None keeps all.
    sector_soft : float
        Fade (radians) at the sectors' cut ends.
    belt : float or None
        Keep only the part with ``|w| <= belt`` mm (a belt seen edge-on,
        which projects onto the outline only). Requires pitch = roll = 0.
    modulation : tuple of (order, amplitude, phase)
        Density varying with the in-plane angle about the centre,
        ``1 + Σ amplitude cos(order θ + phase)`` (clipped at 0, fading towards
        the centre): patchy walls.
    """

    centre: tuple[float, float]
    semi_axes: tuple[float, float, float]
    angles: tuple[float, float, float]
    mu: float
    shell: float | tuple[float, float, float] = 0.0
    core_mu: float = 0.0
    sectors: tuple[tuple[float, float], ...] | None = None
    belt: float | None = None
    modulation: tuple[tuple[int, float, float], ...] = ()
    sector_soft: float = 0.0

    def extent(self):
        r = max(self.semi_axes)
        u, v = self.centre
        return (u - r, u + r, v - r, v + r)

    def moved(self, du, dv):
        return replace(self, centre=(self.centre[0] + du, self.centre[1] + dv))

    def finest_detail(self):
        """Smallest structure (mm) the projection shows: wall thickness or diameter."""
        if self.shell:
            ratios = self.shell if isinstance(self.shell, tuple) else (self.shell,) * 3
            return min(a * (1 - k) for a, k in zip(self.semi_axes, ratios))
        return 2 * min(self.semi_axes)

    def mu_path(self, u, v):
        du, dv = u - self.centre[0], v - self.centre[1]
        rot = rotation_matrix(*self.angles)
        outer = ellipsoid_chord(du, dv, self.semi_axes, rot)
        if self.shell:
            ratios = self.shell if isinstance(self.shell, tuple) else (self.shell,) * 3
            inner = ellipsoid_chord(du, dv, tuple(a * k for a, k in zip(self.semi_axes, ratios)), rot)
            if self.belt is not None:
                outer = 2.0 * np.minimum(outer / 2.0, self.belt)
                inner = 2.0 * np.minimum(inner / 2.0, self.belt)
            out = self.mu * (outer - inner) + self.core_mu * inner
        else:
            if self.belt is not None:
                outer = 2.0 * np.minimum(outer / 2.0, self.belt)
            out = self.mu * outer
        if self.sectors is not None:
            out = out * sector_mask(du, dv, self.sectors, self.sector_soft)
        if self.modulation:
            theta = np.arctan2(du, dv)
            # Fade the modulation towards the centre so the faces seen
            # en face do not show spokes; it acts on the rim.
            rim = np.minimum((du * du + dv * dv) / max(self.semi_axes) ** 2, 1.0) ** 2
            factor = 1.0 + rim * sum(a * np.cos(k * theta + p) for k, a, p in self.modulation)
            out = out * np.maximum(factor, 0.0)
        return out


@dataclass(frozen=True)
class Lump:
    """An irregular solid: the union of overlapping ellipsoids (uniform density).

    The union's path length is approximated by the largest chord among the
    parts, exact where one part encloses the others along the ray and close
    for heavily overlapping convex parts.
    """

    parts: tuple[Blob, ...]
    mu: float

    def extent(self):
        ext = np.array([p.extent() for p in self.parts])
        return (ext[:, 0].min(), ext[:, 1].max(), ext[:, 2].min(), ext[:, 3].max())

    def moved(self, du, dv):
        return replace(self, parts=tuple(p.moved(du, dv) for p in self.parts))

    def finest_detail(self):
        return min(p.finest_detail() for p in self.parts)

    def mu_path(self, u, v):
        chords = [replace(p, mu=1.0).mu_path(u, v) for p in self.parts]
        return self.mu * np.maximum.reduce(chords)


@dataclass(frozen=True)
class VesselWall:
    """A calcified stretch of an artery's wall: a circular tube along a gently curved course.

    The centreline is ``v(u) = v0 + slope (u - u_ref) + amplitude sin(2π (u - u_ref) / wavelength + phase)``
    for ``u0 <= u <= u1`` (``u_range``); segments of one artery share everything but ``u_range``.
    ``ripple`` terms ``(wavelength, amplitude, phase)`` vary the density along
    the vessel, ``1 + Σ amplitude sin(2π u / wavelength + phase)`` (clipped at 0). ``sides`` weights the wall on the ``-v`` and ``+v`` sides
    of the lumen (1, 1 gives tram tracks; 1, 0 a single line).
    """

    u_range: tuple[float, float]
    u_ref: float
    v0: float
    slope: float
    amplitude: float
    wavelength: float
    phase: float
    r_outer: float
    wall: float
    mu: float
    sides: tuple[float, float] = (1.0, 1.0)
    ripple: tuple[tuple[float, float, float], ...] = ()

    def _course(self, u):
        s = u - self.u_ref
        k = 2 * np.pi / self.wavelength
        centre = self.v0 + self.slope * s + self.amplitude * np.sin(k * s + self.phase)
        gradient = self.slope + self.amplitude * k * np.cos(k * s + self.phase)
        return centre, gradient

    def extent(self):
        u = np.linspace(self.u_range[0], self.u_range[1], 64)
        c, _ = self._course(u)
        pad = self.r_outer + 0.5
        return (self.u_range[0] - pad, self.u_range[1] + pad, c.min() - pad, c.max() + pad)

    def moved(self, du, dv):
        return replace(
            self, u_range=(self.u_range[0] + du, self.u_range[1] + du), u_ref=self.u_ref + du, v0=self.v0 + dv
        )

    def finest_detail(self):
        return self.wall

    def mu_path(self, u, v):
        centre, gradient = self._course(u)
        d = (v - centre) / np.sqrt(1.0 + gradient * gradient)
        chord = tube_wall_chord(d, self.r_outer, self.r_outer - self.wall)
        side = np.where(d < 0, self.sides[0], self.sides[1])
        # Round the segment's ends over one radius instead of cutting them square.
        u0, u1 = self.u_range
        taper = np.clip((u - u0) / self.r_outer, 0, 1) * np.clip((u1 - u) / self.r_outer, 0, 1)
        density = self.mu * chord * side * np.sqrt(taper)
        if self.ripple:
            along = 1.0 + sum(a * np.sin(2 * np.pi * u / w + p) for w, a, p in self.ripple)
            density = density * np.maximum(along, 0.0)
        return density


Solid = Union[Blob, Lump, VesselWall]


@dataclass(frozen=True)
class MassSolid:
    """A soft-tissue mass: an ellipsoid slightly denser (or, if fatty, lighter) than muscle.

    ``delta_mu`` is its excess over muscle where it displaces tissue; where it
    pokes out beyond the leg's outline its full attenuation ``mu`` applies, so
    a superficial mass bulges the skin contour.
    """

    centre: tuple[float, float]
    semi_axes: tuple[float, float, float]
    yaw: float
    delta_mu: float
    mu: float

    def extent(self):
        r = max(self.semi_axes)
        return (self.centre[0] - r, self.centre[0] + r, self.centre[1] - r, self.centre[1] + r)

    def moved(self, du, dv):
        return replace(self, centre=(self.centre[0] + du, self.centre[1] + dv))

    def chord(self, u, v):
        """Path length (mm) through the mass."""
        return ellipsoid_chord(u - self.centre[0], v - self.centre[1], self.semi_axes, rotation_matrix(self.yaw))

    def finest_detail(self):
        return 2 * min(self.semi_axes)

    def mu_path(self, u, v):
        """Excess line integral over the muscle it displaces (dimensionless)."""
        return self.delta_mu * self.chord(u, v)

    def half_width_in_plane(self):
        """Approximate in-plane half-extent across the leg (mm)."""
        a, b, _ = self.semi_axes
        return float(np.hypot(a * np.sin(self.yaw), b * np.cos(self.yaw)))


def extent_of(solids):
    """Union extent ``(u_lo, u_hi, v_lo, v_hi)`` of several solids (mm)."""
    ext = np.array([s.extent() for s in solids])
    return (float(ext[:, 0].min()), float(ext[:, 1].max()), float(ext[:, 2].min()), float(ext[:, 3].max()))


__all__ = ["Blob", "Lump", "VesselWall", "MassSolid", "Solid", "extent_of"]
