"""Analytic path lengths of simple 3-D solids along the X-ray beam.

Every function takes in-plane offsets from the solid's centre (mm, any array
shape) and returns the length (mm) of the beam's path through the solid at
those points. The beam runs along the third axis ``w``; ``u`` runs along the
leg and ``v`` across it, both in the detector plane. Parallel-beam geometry is
assumed (magnification is handled by the pixel spacing, not here).
"""

from __future__ import annotations

import numpy as np


def ellipse_chord(d, half_width, half_depth):
    """Path length through an elliptic cylinder whose axis lies in the image plane.

    Parameters
    ----------
    d : array_like
        In-plane distance (mm) from the cylinder axis, perpendicular to it.
    half_width : array_like
        In-plane semi-axis (mm) of the cross-section.
    half_depth : array_like
        Semi-axis (mm) of the cross-section along the beam.

    Returns
    -------
    ndarray
        Chord length (mm); zero outside the cylinder.
    """
    hw = np.maximum(half_width, 1e-6)
    q = 1.0 - np.square(d / hw)
    return 2.0 * half_depth * np.sqrt(np.maximum(q, 0.0))


def tube_wall_chord(d, r_outer, r_inner):
    """Path length through the wall of a circular tube lying in the image plane.

    Projects as two parallel bright lines ("tram track") where the beam runs
    tangentially through the wall.

    Parameters
    ----------
    d : array_like
        Perpendicular in-plane distance (mm) from the tube's centreline.
    r_outer, r_inner : float or array_like
        Outer and inner (lumen) radius (mm).

    Returns
    -------
    ndarray
        Chord length (mm) through the wall only.
    """
    return ellipse_chord(d, r_outer, r_outer) - ellipse_chord(d, r_inner, r_inner)


def rotation_matrix(yaw, pitch=0.0, roll=0.0):
    """Rotation (3×3, body → world axes ``u, v, w``) from three angles in radians.

    ``yaw`` turns the body about the beam axis (in-plane orientation),
    ``pitch`` tilts it out of the image plane, ``roll`` spins it about its long axis.
    """
    cy, sy = np.cos(yaw), np.sin(yaw)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cr, sr = np.cos(roll), np.sin(roll)
    about_w = np.array([[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]])
    about_v = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])
    about_u = np.array([[1.0, 0.0, 0.0], [0.0, cr, -sr], [0.0, sr, cr]])
    return about_w @ about_v @ about_u


def ellipsoid_chord(du, dv, semi_axes, rotation):
    """Path length along the beam through an arbitrarily oriented ellipsoid.

    Solves the quadratic for the ray ``(du, dv, t)`` against the ellipsoid
    ``x^T A x <= 1`` with ``A = R diag(1/a^2) R^T``.

    Parameters
    ----------
    du, dv : ndarray
        In-plane offsets (mm) from the ellipsoid's centre, along and across the leg.
    semi_axes : sequence of 3 float
        Semi-axes (mm) in the ellipsoid's own frame.
    rotation : array_like, shape (3, 3)
        Body-to-world rotation (see :func:`rotation_matrix`).

    Returns
    -------
    ndarray
        Chord length (mm), zero where the ray misses.
    """
    rot = np.asarray(rotation, dtype=float)
    form = rot @ np.diag(1.0 / np.square(np.asarray(semi_axes, dtype=float))) @ rot.T
    a = form[2, 2]
    b = form[2, 0] * du + form[2, 1] * dv
    c = form[0, 0] * du * du + 2.0 * form[0, 1] * du * dv + form[1, 1] * dv * dv - 1.0
    disc = b * b - a * c
    return (2.0 / a) * np.sqrt(np.maximum(disc, 0.0))


def sector_mask(du, dv, sectors, soft=0.0):
    """Weight (0–1) of the in-plane angular sectors kept around a centre.

    A solid cut by planes through the beam axis projects exactly as its
    chord map multiplied by this mask, so interrupted rims and arcs stay
    physically consistent 3-D objects. With ``soft > 0`` the density fades
    out over ``soft`` radians at each cut instead of stopping square.

    Parameters
    ----------
    du, dv : ndarray
        In-plane offsets (mm) from the centre.
    sectors : sequence of (start, extent)
        Kept angular ranges in radians, angle measured ``atan2(du, dv)``.
    soft : float
        Width (radians) of the fade at each end of a sector.

    Returns
    -------
    ndarray of float32
    """
    angle = np.arctan2(du, dv)
    keep = np.zeros(np.shape(du), dtype=np.float32)
    for start, extent in sectors:
        a = np.mod(angle - start, 2.0 * np.pi)
        if soft > 0:
            inside = np.clip(np.minimum(a, extent - a) / soft, 0.0, 1.0) * (a <= extent)
        else:
            inside = a <= extent
        keep = np.maximum(keep, inside)
    return keep
