"""Render a :class:`~radassist.synth.scene.Scene` to stored pixel values and ground truth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .anatomy import render_anatomy
from .detector import expose, process, quantise, upsample
from .frame import LegFrame, block_mean
from .overlays import add_marker, burn_text, field_transmission
from .scene import Scene
from .solids import extent_of

# A cluster's box covers pixels whose calcification line integral reaches this
# fraction of the cluster's peak: the visible extent, not numerical tails.
SUPPORT_FRACTION = 0.03


@dataclass
class ClusterTruth:
    pattern: str
    bbox_px: tuple[int, int, int, int]
    centroid_px: tuple[float, float]
    lesion_count: int
    size_mm: tuple[float, float]


@dataclass
class Rendered:
    """Stored pixels and what is truly in them."""

    pixels: np.ndarray  # uint16, as stored (inverted for MONOCHROME1)
    display: np.ndarray  # float32 0-1, 1 = white (bone)
    signal: np.ndarray  # float32 detected intensity before log and processing
    clusters: list[ClusterTruth]
    mass_boxes: list[tuple[int, int, int, int]]
    tibia_mask: np.ndarray  # bool


def supersampling(solid, spacing_mm):
    """Sub-samples per pixel side needed to render a solid's finest detail without aliasing."""
    detail_px = solid.finest_detail() / spacing_mm
    return 1 if detail_px >= 4 else (2 if detail_px >= 1.5 else 3)


def rasterise(solids, frame: LegFrame, value="mu_path"):
    """Sum the solids' projections on their joint pixel crop.

    Each solid is evaluated on its own sub-crop, supersampled as its finest
    detail requires, and averaged back to pixels.

    Returns
    -------
    tuple or None
        ``(box, image)`` with ``box = (r0, c0, r1, c1)`` (end-exclusive) and
        ``image`` the per-pixel mean value, or None when outside the image.
    """
    box = frame.crop_for(*extent_of(solids))
    if box is None:
        return None
    r0, c0, r1, c1 = box
    canvas = np.zeros((r1 - r0, c1 - c0), dtype=np.float32)
    for solid in solids:
        sub = frame.crop_for(*solid.extent())
        if sub is None:
            continue
        k = supersampling(solid, frame.spacing_mm)
        u, v = frame.crop_grid(sub, k)
        values = block_mean(getattr(solid, value)(u, v), k)
        canvas[sub[0] - r0 : sub[2] - r0, sub[1] - c0 : sub[3] - c0] += values
    return box, canvas


def _truth(pattern, box, image, spacing):
    support = image >= SUPPORT_FRACTION * float(image.max())
    rows = np.flatnonzero(support.any(axis=1))
    cols = np.flatnonzero(support.any(axis=0))
    r0, c0 = box[0], box[1]
    bbox = (int(r0 + rows[0]), int(c0 + cols[0]), int(r0 + rows[-1] + 1), int(c0 + cols[-1] + 1))
    weights = np.where(support, image, 0.0)
    rr, cc = np.indices(image.shape)
    total = float(weights.sum())
    centroid = (float(r0 + (rr * weights).sum() / total), float(c0 + (cc * weights).sum() / total))
    _, count = ndimage.label(support, structure=np.ones((3, 3)))
    size = ((bbox[2] - bbox[0]) * spacing, (bbox[3] - bbox[1]) * spacing)
    return ClusterTruth(pattern, bbox, centroid, int(count), (round(size[0], 2), round(size[1], 2)))


def _box(box, image, fraction):
    support = image >= fraction * float(image.max())
    rows = np.flatnonzero(support.any(axis=1))
    cols = np.flatnonzero(support.any(axis=0))
    return (int(box[0] + rows[0]), int(box[1] + cols[0]), int(box[0] + rows[-1] + 1), int(box[1] + cols[-1] + 1))


def _bone_box(scene: Scene):
    """Pixel box enclosing every bone (where trabecular texture is needed)."""
    boxes = []
    for bone in scene.anatomy.long_bones:
        boxes.append(scene.frame.crop_for(bone.u_start, bone.u_end, *bone.v_range()))
    for bone in scene.anatomy.ovoid_bones:
        boxes.append(scene.frame.crop_for(*bone.extent()))
    boxes = [b for b in boxes if b is not None]
    if not boxes:
        return (0, 0, 1, 1)
    b = np.array(boxes)
    return (int(b[:, 0].min()), int(b[:, 1].min()), int(b[:, 2].max()), int(b[:, 3].max()))


def _trabecular_texture(seed, box, spacing):
    """Zero-mean, about ±7 % density texture: coarse streaks along the bone plus fine grain."""
    rng = np.random.default_rng(seed)
    h, w = box[2] - box[0], box[3] - box[1]
    f = 4
    coarse = rng.standard_normal((h // f + 2, w // f + 2)).astype(np.float32)
    coarse = ndimage.gaussian_filter(coarse, (max(2.0 / (spacing * f), 0.6), max(0.7 / (spacing * f), 0.4)))
    coarse *= 0.04 / max(float(coarse.std()), 1e-6)
    texture = upsample(coarse, (h, w), f)
    fine = ndimage.gaussian_filter(rng.standard_normal((h, w)).astype(np.float32), 0.15 / spacing + 0.3)
    return np.clip(texture + fine * (0.05 / max(float(fine.std()), 1e-6)), -0.2, 0.2)


def render(scene: Scene) -> Rendered:
    """Project, expose, detect, process and quantise one scene."""
    frame = scene.frame
    acq = scene.acquisition
    s = frame.spacing_mm
    shape = (frame.rows, frame.columns)
    texture_box = _bone_box(scene)
    texture = _trabecular_texture(scene.anatomy.texture_seed, texture_box, s)
    paths = render_anatomy(scene.anatomy, frame, texture, texture_box)
    leg_chord = paths.soft + paths.fat
    attenuation = (
        acq.mu_soft * paths.soft
        + acq.mu_fat * paths.fat
        + acq.mu_cortical * paths.cortical
        + acq.mu_trabecular * paths.trabecular
    )

    mass_boxes = []
    for mass in tuple(scene.masses) + tuple(scene.skin_folds):
        done = rasterise((mass,), frame, value="chord")
        if done is None:
            continue
        (r0, c0, r1, c1), chord = done
        local_leg = leg_chord[r0:r1, c0:c1]
        inside = np.minimum(chord, local_leg)
        attenuation[r0:r1, c0:c1] += mass.delta_mu * inside + mass.mu * (chord - inside)
        if mass in scene.masses:
            mass_boxes.append(_box((r0, c0), chord, 0.03))

    truths = []
    for cluster in scene.clusters:
        done = rasterise(cluster.solids, frame)
        if done is None:
            continue
        box, image = done
        attenuation[box[0] : box[2], box[1] : box[3]] += acq.calc_scale * image
        truths.append(_truth(cluster.pattern, box, image, s))

    lead = np.zeros(shape, dtype=np.float32)
    for marker in scene.markers:
        add_marker(lead, marker)
    field = field_transmission(shape, scene.collimation)
    signal = expose(attenuation.astype(np.float32), acq, s, field, lead)

    r0, c0, r1, c1 = scene.collimation.field
    in_field = np.zeros(shape, dtype=bool)
    in_field[r0 + 5 : r1 - 5, c0 + 5 : c1 - 5] = True
    air = in_field & (leg_chord <= 0) & (lead < 0.01)
    body = in_field & (leg_chord > 5)
    display = process(signal, acq, s, air, body)
    for text in scene.texts:
        burn_text(display, text)
    pixels = quantise(display, acq, scene.monochrome1)
    return Rendered(pixels, display, signal, truths, mass_boxes, paths.tibia_mask)


__all__ = ["render", "rasterise", "Rendered", "ClusterTruth"]
