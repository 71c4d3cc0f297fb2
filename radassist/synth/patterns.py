"""Builders of the ten calcification patterns as 3-D solids (see ``spec/patterns.md``).

Each builder draws one cluster centred on the leg-frame origin and returns
``(solids, masses)``: calcified solids and soft-tissue masses, in mm, ready to
be moved to their place in the leg. ``scale`` (≤ 1) shrinks a cluster when it
does not fit beside the bones. Attenuation values are excess ``Δμ`` (1/mm)
over the muscle they replace, at roughly 60 kVp.
"""

from __future__ import annotations

import numpy as np

from .solids import Blob, Lump, MassSolid, VesselWall

MUSCLE_MU = 0.021


def _calc_mu(rng, lo=0.025, hi=0.085):
    """Excess attenuation of a calcification, log-uniform from faint to dense."""
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _angles(rng, tilt=0.6):
    return (float(rng.uniform(0, np.pi)), float(rng.normal(0, tilt)), float(rng.uniform(0, np.pi)))


def _mass(rng, semi_u, semi_v, semi_w=None, yaw=None):
    delta = float(rng.uniform(0.002, 0.006))
    if semi_w is None:
        semi_w = float(np.sqrt(semi_u * semi_v) * rng.uniform(0.8, 1.2))
    return MassSolid(
        centre=(0.0, 0.0),
        semi_axes=(float(semi_u), float(semi_v), float(semi_w)),
        yaw=float(rng.normal(0, 0.25)) if yaw is None else yaw,
        delta_mu=delta,
        mu=MUSCLE_MU + delta,
    )


def _irregular_lump(rng, radius, mu, n_parts=None, uneven=False):
    """An amorphous solid of about ``radius`` mm built from overlapping ellipsoids."""
    n = int(rng.integers(3, 8)) if n_parts is None else n_parts
    parts = []
    for i in range(n):
        r = radius * (1.0 if i == 0 else rng.uniform(0.35, 0.75))
        off = np.zeros(2) if i == 0 else rng.normal(0, radius * 0.3, 2)
        reach = float(np.hypot(*off))
        if reach > 0.6 * radius:  # keep the parts fused into one body
            off = off * (0.6 * radius / reach)
        axes = tuple(float(r * x) for x in rng.uniform(0.75 if i == 0 else 0.55, 1.0, 3))
        part_mu = mu * (rng.uniform(0.4, 1.3) if uneven else 1.0)
        parts.append(Blob((float(off[0]), float(off[1])), axes, _angles(rng), part_mu))
    if uneven:
        return tuple(parts)  # overlapping parts sum: density varies inside the clump
    return (Lump(tuple(p.__class__(p.centre, p.semi_axes, p.angles, 1.0) for p in parts), mu),)


def _patchy(rng, orders=(2, 3, 5, 7, 11)):
    """Angular density modulation making a calcified wall patchy."""
    return tuple((int(k), float(rng.uniform(0.1, 0.5)), float(rng.uniform(0, 2 * np.pi))) for k in orders)


def _scatter(rng, n, radii, spread_u, spread_v, gap=0.3, tries=60):
    """Centres of ``n`` non-overlapping discs of given radii within an ellipse (mm)."""
    placed = []
    for r in radii[:n]:
        for _ in range(tries):
            t, rho = rng.uniform(0, 2 * np.pi), np.sqrt(rng.uniform(0, 1))
            p = np.array([rho * spread_u * np.sin(t), rho * spread_v * np.cos(t)])
            if all(np.hypot(*(p - q)) >= r + rq + gap for q, rq in placed):
                placed.append((p, r))
                break
    return placed


# --- the patterns ---------------------------------------------------------------


def arterial(rng, scale=1.0):
    length = float(np.exp(rng.uniform(np.log(20), np.log(200)))) * scale
    r_outer = float(rng.uniform(1.5, 3.0))
    wall = float(rng.uniform(0.3, 0.8))
    mu = _calc_mu(rng, 0.03, 0.09)
    course = dict(
        v0=0.0,
        slope=float(rng.normal(0, 0.03)),
        amplitude=float(rng.uniform(0, 4.0)),
        wavelength=float(rng.uniform(80, 300)),
        phase=float(rng.uniform(0, 2 * np.pi)),
    )
    beaded = rng.random() < 0.4
    u, u_end = -length / 2, length / 2
    solids = []
    while u < u_end:
        seg = min(float(rng.uniform(2, 12) if beaded else rng.uniform(8, 70)), u_end - u)
        if seg > 1.0:
            roll = rng.random()
            sides = (1.0, 1.0) if roll < 0.6 else ((1.0, 0.0) if roll < 0.8 else (0.0, 1.0))
            solids.append(
                VesselWall(
                    u_range=(u, u + seg),
                    u_ref=0.0,
                    r_outer=r_outer * float(rng.uniform(0.92, 1.08)),
                    wall=wall,
                    mu=mu * float(rng.uniform(0.7, 1.2)),
                    sides=tuple(float(s * rng.uniform(0.6, 1.0)) for s in sides),
                    ripple=tuple(
                        (float(rng.uniform(2, 15)), float(rng.uniform(0.1, 0.5)), float(rng.uniform(0, 2 * np.pi)))
                        for _ in range(2)
                    ),
                    **course,
                )
            )
        u += seg + float(rng.uniform(1, 8) if beaded else rng.uniform(2, 25))
    return tuple(solids), ()


def phlebolith(rng, scale=1.0):
    n = int(rng.choice([1, 1, 2, 2, 3, 3, 4, 5, 6]))
    diam = np.clip(rng.lognormal(np.log(4.5), 0.3, n), 2.0, 10.0) * max(scale, 0.7)
    placed = _scatter(rng, n, list(diam / 2), spread_u=float(rng.uniform(4, 30)), spread_v=float(rng.uniform(3, 12)))
    mu = _calc_mu(rng, 0.035, 0.1)
    solids = []
    for p, r in placed:
        hollow = rng.random() < 0.8
        axes = (float(r), float(r * rng.uniform(0.8, 1.0)), float(r * rng.uniform(0.8, 1.0)))
        solids.append(
            Blob(
                (float(p[0]), float(p[1])),
                axes,
                _angles(rng),
                mu * float(rng.uniform(0.8, 1.2)),
                shell=float(rng.uniform(0.45, 0.75)) if hollow else 0.0,
                core_mu=mu * float(rng.uniform(0.0, 0.35)),
            )
        )
    return tuple(solids), ()


def central(rng, scale=1.0):
    semi = float(rng.uniform(10, 30)) * scale
    mass = _mass(rng, semi * rng.uniform(0.9, 1.4), semi * rng.uniform(0.75, 1.0))
    core_r = float(max(1.5, semi * rng.uniform(0.1, 0.28)))
    mu = _calc_mu(rng, 0.03, 0.09)
    core = _irregular_lump(rng, core_r, mu, n_parts=int(rng.integers(1, 5)))
    jitter = rng.normal(0, 0.05 * semi, 2)
    return tuple(s.moved(float(jitter[0]), float(jitter[1])) for s in core), (mass,)


def diffuse(rng, scale=1.0):
    radius = float(rng.uniform(4, 17.5)) * scale
    mu = _calc_mu(rng, 0.04, 0.1)
    return _irregular_lump(rng, radius, mu, n_parts=int(rng.integers(1, 5))), ()


def laminated(rng, scale=1.0):
    outer = float(rng.uniform(5, 15)) * scale
    n = int(rng.integers(2, 5))
    mu = _calc_mu(rng, 0.035, 0.1)
    angles = _angles(rng, tilt=0.3)
    squash = (1.0, float(rng.uniform(0.8, 1.0)), float(rng.uniform(0.8, 1.0)))
    gap = outer / (n + 0.6)
    solids = []
    for k in range(n):
        r = outer - k * gap
        thick = float(min(rng.uniform(0.5, 1.5), 0.45 * gap))
        shape = tuple(float(r * s * rng.uniform(0.95, 1.05)) for s in squash)
        off = rng.normal(0, 0.04 * r, 2)
        interrupted = rng.random() < 0.3
        solids.append(
            Blob(
                (float(off[0]), float(off[1])),
                shape,
                angles,
                mu * float(rng.uniform(0.75, 1.1)),
                shell=float((r - thick) / r),
                sectors=((float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(3.5, 5.8))),) if interrupted else None,
                sector_soft=0.4,
                modulation=_patchy(rng, (2, 3, 5)) if rng.random() < 0.6 else (),
            )
        )
    if rng.random() < 0.5:
        nidus = float(min(gap * 0.5, 2.0))
        solids.append(Blob((0.0, 0.0), (nidus, nidus, nidus), angles, mu))
    return tuple(solids), ()


def popcorn(rng, scale=1.0):
    n = int(rng.integers(4, 16))
    diam = np.clip(rng.uniform(2, 6, n), 2, 6)
    # Packed: the cluster's radius grows with the room its pieces need.
    spread = float(np.clip(np.sqrt(n) * diam.mean() / 2 * rng.uniform(1.1, 1.9), 5, 20)) * scale
    placed = _scatter(rng, n, list(diam / 2), spread_u=spread * float(rng.uniform(0.8, 1.3)), spread_v=spread, gap=-0.3)
    mu = _calc_mu(rng, 0.035, 0.1)
    solids = []
    for p, r in placed:
        kind = rng.random()
        centre = (float(p[0]), float(p[1]))
        axes = tuple(float(r * x) for x in rng.uniform(0.65, 1.0, 3))
        this_mu = mu * float(rng.uniform(0.7, 1.3))
        if kind < 0.5:  # open arc
            pieces = int(rng.integers(1, 3))
            sectors = tuple(
                (float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(1.6, 4.5) / pieces)) for _ in range(pieces)
            )
            shell = float(rng.uniform(0.45, 0.7))
            solids.append(
                Blob(
                    centre,
                    axes,
                    (float(rng.uniform(0, np.pi)), 0.0, 0.0),
                    this_mu * 1.5,  # denser than rings: only the rim is left
                    shell=shell,
                    # A curved rim seen edge-on, not a filled wedge.
                    belt=float(axes[2] * shell * np.sqrt(1 - rng.uniform(0.5, 0.85) ** 2)),
                    sectors=sectors,
                    sector_soft=float(rng.uniform(0.0, 0.4)),
                    modulation=_patchy(rng, (2, 3)),
                )
            )
        elif kind < 0.8:  # ring
            solids.append(Blob(centre, axes, _angles(rng), this_mu, shell=float(rng.uniform(0.45, 0.7)), core_mu=this_mu * 0.15))
        else:  # coarse blob
            solids.extend(s.moved(*centre) for s in _irregular_lump(rng, r, this_mu, n_parts=int(rng.integers(2, 4))))
    return tuple(solids), ()


def stippled(rng, scale=1.0):
    n = int(rng.integers(10, 61))
    spread_u = float(rng.uniform(5, 20)) * scale
    spread_v = spread_u * float(rng.uniform(0.6, 1.2))
    mu = _calc_mu(rng, 0.07, 0.18)
    diam = rng.uniform(0.45, 1.0, n)
    clumped = rng.random() < 0.4
    solids = []
    for d in diam:
        if clumped:
            p = rng.normal(0, 1, 2) * np.array([spread_u, spread_v]) * 0.45
        else:
            t, rho = rng.uniform(0, 2 * np.pi), np.sqrt(rng.uniform(0, 1))
            p = np.array([rho * spread_u * np.sin(t), rho * spread_v * np.cos(t)])
        r = float(d / 2)
        solids.append(Blob((float(p[0]), float(p[1])), (r, r, r), (0.0, 0.0, 0.0), mu * float(rng.uniform(0.7, 1.3))))
    return tuple(solids), ()


def eccentric(rng, scale=1.0):
    semi = float(rng.uniform(12, 30)) * scale
    mass = _mass(rng, semi * rng.uniform(0.9, 1.3), semi * rng.uniform(0.8, 1.0))
    a, b, _ = mass.semi_axes
    direction = float(rng.uniform(0, 2 * np.pi))
    reach = float(rng.uniform(0.45, 0.75))
    off = (reach * a * np.sin(direction), reach * b * np.cos(direction))
    size = float(min(a, b) * rng.uniform(0.12, 0.28))
    mu = _calc_mu(rng, 0.035, 0.1)
    style = rng.random()
    if style < 0.4:
        calc = _irregular_lump(rng, max(size, 1.5), mu, uneven=True)
    elif style < 0.7:
        calc = stippled(rng, scale=max(size, 3.0) / 12.0)[0]
    else:
        calc = tuple(
            s.moved(*rng.normal(0, size, 2)) for _ in range(int(rng.integers(2, 6)))
            for s in _irregular_lump(rng, max(size * 0.4, 1.0), mu, n_parts=2)
        )
    return tuple(s.moved(float(off[0]), float(off[1])) for s in calc), (mass,)


def peripheral_plaque(rng, scale=1.0):
    semi_u = float(rng.uniform(20, 75)) * scale**0.4  # shrink to fit mostly in width
    semi_v = float(min(rng.uniform(7.5, 25) * scale, semi_u * 0.6))
    semi_w = semi_v * float(rng.uniform(0.8, 1.2))
    mass = _mass(rng, semi_u, semi_v, semi_w, yaw=float(rng.normal(0, 0.06)))
    mu = _calc_mu(rng, 0.035, 0.09)
    thickness = float(min(rng.uniform(0.8, 2.5), 0.2 * min(semi_v, semi_w)))
    outer = tuple(float(x * 1.001) for x in mass.semi_axes)
    shell = tuple(float(1.0 - thickness / a) for a in outer)
    # Keep only a belt of the wall seen edge-on, so the calcification projects
    # as a rim band a few mm wide and the centre stays free.
    band_start = float(rng.uniform(0.75, 0.92))
    belt = float((outer[2] - thickness) * np.sqrt(1.0 - band_start**2))
    solids = []
    for _ in range(int(rng.integers(2, 5))):
        pieces = int(rng.integers(1, 4))
        kept = float(rng.uniform(0.3, 0.7)) * 2 * np.pi / pieces
        start = float(rng.uniform(0, 2 * np.pi))
        sectors = tuple((start + k * 2 * np.pi / pieces + float(rng.normal(0, 0.3)), kept) for k in range(pieces))
        wall = float(min(thickness * rng.uniform(0.6, 1.4), 0.25 * min(semi_v, semi_w)))
        axes = tuple(float(a * rng.uniform(0.97, 1.01)) for a in outer)
        solids.append(
            Blob(
                (float(rng.normal(0, 0.6)), float(rng.normal(0, 0.4))),
                axes,
                (mass.yaw + float(rng.normal(0, 0.03)), 0.0, 0.0),
                mu * float(rng.uniform(0.6, 1.1)),
                shell=tuple(float(max(1.0 - wall / a, 0.3)) for a in axes),
                sectors=sectors,
                belt=belt * float(rng.uniform(0.8, 1.2)),
                modulation=_patchy(rng),
                sector_soft=float(rng.uniform(0.1, 0.4)),
            )
        )
    return tuple(solids), (mass,)


def _amorphous(rng, radius, mu):
    """An irregular clump: a union of elongated ellipsoids, with a denser and a fainter part."""
    solids = []
    for density in (1.0, float(rng.uniform(0.35, 0.7))):
        parts = []
        for _ in range(int(rng.integers(4, 11))):
            off = rng.normal(0, radius * 0.25, 2)
            r = radius * float(rng.uniform(0.35, 0.7))
            axes = (float(r), float(r * rng.uniform(0.3, 0.9)), float(r * rng.uniform(0.3, 0.9)))
            parts.append(Blob((float(off[0]), float(off[1])), axes, _angles(rng, tilt=1.0), 1.0))
        solids.append(Lump(tuple(parts), mu * density))
    return tuple(solids)


def nonspecific(rng, scale=1.0):
    n = int(rng.choice([1, 1, 1, 2, 3, 4]))
    mu = _calc_mu(rng, 0.03, 0.09)
    solids = []
    spread = float(rng.uniform(3, 12)) * scale
    for i in range(n):
        radius = float(rng.uniform(2.5, 10) * scale) if i == 0 else float(rng.uniform(1.2, 4.0))
        off = np.zeros(2) if i == 0 else rng.normal(0, spread, 2)
        solids.extend(s.moved(float(off[0]), float(off[1])) for s in _amorphous(rng, radius, mu))
    return tuple(solids), ()


BUILDERS = {
    "arterial": arterial,
    "phlebolith": phlebolith,
    "central": central,
    "diffuse": diffuse,
    "laminated": laminated,
    "popcorn": popcorn,
    "stippled": stippled,
    "eccentric": eccentric,
    "peripheral_plaque": peripheral_plaque,
    "nonspecific": nonspecific,
}

#: Patterns whose definition needs a soft-tissue mass around the calcification.
MASS_PATTERNS = frozenset({"central", "eccentric", "peripheral_plaque"})


def lone_mass(rng, scale=1.0):
    """A soft-tissue mass without calcification (sometimes fat-density, lipoma-like)."""
    semi = float(rng.uniform(10, 30)) * scale
    mass = _mass(rng, semi * rng.uniform(0.9, 1.6), semi * rng.uniform(0.7, 1.0))
    if rng.random() < 0.2:
        delta = -float(rng.uniform(0.0015, 0.003))
        mass = MassSolid(mass.centre, mass.semi_axes, mass.yaw, delta, MUSCLE_MU + delta)
    return mass
