"""Candidate dense foci in the soft tissue, on the detection grid (≈0.25 mm).

A focus is a small region that stands out above its local soft-tissue
background by much more than the local noise. The background is estimated on
the ≈1 mm segmentation grid and interpolated bilinearly to the detection grid,
in two passes:

1. a provisional background, the higher of a flat grey opening (a lower
   envelope: it removes anything narrower than :data:`FINE_BACKGROUND_MM` and
   follows ramps exactly) and a running median (which stays in the middle of
   soft-tissue texture, where the opening would sit under it);
2. whatever stands out against it is set aside, and under compact objects
   lying wholly in soft tissue the background is interpolated from the soft
   tissue around them, so that the full contrast of a large lesion is measured.

The residual is matched-filtered (3×3 box), centred locally, and divided by
its local noise, which is measured on its *dark side* only (noise and texture
are symmetric, the foci are all bright). Foci grow by hysteresis from seeds at
:data:`SEED_SNR`; large solid lesions also seed by their contrast (a fraction
of the soft-tissue contrast). Burned-in text and markers over the leg are
removed first. Every threshold is a multiple of the measured noise or a
fraction of the soft-tissue contrast, never an absolute grey level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from skimage.morphology import remove_small_holes

from .grids import block_mean, box_mean3, grown_block_any, median_square
from .legframe import straight_frame
from .morph import grow

#: Width of the background opening.
FINE_BACKGROUND_MM = 12.0
#: Window of the running median that keeps the background in the middle of soft-tissue texture.
MEDIAN_BACKGROUND_MM = 10.0
#: Burned-in text and markers: within this (normalised) distance of the image maximum ...
SATURATION_TOLERANCE = 0.01
#: ... with edges falling at least this fraction of the way to the background in one pixel ...
BURNED_IN_MIN_SHARPNESS = 0.5
#: ... and no larger than this; excluded with this margin.
BURNED_IN_MAX_AREA_MM2 = 2500.0
BURNED_IN_MARGIN_MM = 2.0
#: Pass-1 objects (set aside from the background) stand this many noise sigmas out ...
EXCLUDE_SNR = 5.0
#: ... and are set aside with this margin.
EXCLUDE_MARGIN_MM = 0.75
#: Objects interpolated under are at most this large ...
OBJECT_MAX_EXTENT_MM = 35.0
#: ... and, when they touch the edge of the zone (a bone margin, the skin
#: margin), no more elongated than this, with this much of the ring around
#: them in the zone.
EDGE_OBJECT_MAX_ASPECT = 1.6
EDGE_OBJECT_MIN_RING_IN_ZONE = 0.7
#: A round object with less of its ring in the zone (wedged between bone and
#: the skin) stands on the axial background when its mean rise above it is at
#: least this fraction of the tissue contrast: a calcified lesion, not a
#: muscle's bulge (on three synthetic sets, 0.15 let in half as many more
#: false clusters for two more studies named right).
EDGE_OBJECT_MIN_AXIAL_RISE = 0.25
#: Scale (Gaussian sigma) of the soft-tissue interpolation under the objects.
INTERPOLATION_MM = 3.0
#: Large solid lesions rise this fraction of the tissue contrast above the background.
LARGE_MIN_CONTRAST = 0.1
#: Lesions wider than the background filters are found as lumps shorter than
#: this along the leg (mm) ...
LUMP_ALONG_MM = 45.0
#: ... rising this fraction of the tissue contrast above it.
LUMP_MIN_CONTRAST = 0.2
#: Grid (mm) the lumps are looked for on (at most twice the segmentation grid).
LUMP_GRID_MM = 1.5
#: Holes in the set-aside objects up to this area are part of them.
FILL_HOLES_MM2 = 700.0
#: Seed threshold in units of the local noise of the smoothed residual.
SEED_SNR = 5.0
#: Growth (hysteresis) threshold in the same units.
GROW_SNR = 2.5
#: Seeds also need this fraction of the soft-tissue contrast (guards against
#: invisible texture on noise-free images).
FINE_MIN_CONTRAST = 0.004
#: Smallest region a large lesion seeds by contrast alone.
LARGE_MIN_AREA_MM2 = 20.0
#: Side of the square tiles over which the local noise is estimated.
NOISE_TILE_MM = 8.0
#: Foci smaller than this are noise.
MIN_FOCUS_AREA_MM2 = 0.08


@dataclass
class Detection:
    """Candidate foci on the detection grid, inside a crop around the leg.

    Attributes
    ----------
    offset : tuple of int
        ``(row, col)`` of the crop's first pixel on the detection grid.
    labels : ndarray of int32
        Focus labels (0 = background) on the crop.
    count : int
        Number of foci.
    residual : ndarray of float32
        Image minus its background (normalised units).
    smoothed : ndarray of float32
        The residual smoothed by a 3×3 box (the matched filter for small dots).
    noise : ndarray of float32
        Local noise (std) of ``smoothed``, per pixel.
    tissue_contrast : float
        Air-to-soft-tissue contrast (normalised units), the reference for contrast fractions.
    allowed : ndarray of bool
        Where foci may be (soft tissue away from bone, skin, markers and borders).
    background_slope : ndarray of float32
        Steepness of the background near each pixel, in tissue-contrast
        fractions per mm.
    burned_in_count : int
        Burned-in text or marker objects removed from the zone.
    """

    offset: tuple[int, int]
    labels: np.ndarray
    count: int
    residual: np.ndarray
    smoothed: np.ndarray
    noise: np.ndarray
    tissue_contrast: float
    allowed: np.ndarray
    background_slope: np.ndarray | None = None
    burned_in_count: int = 0


def upsample_linear(coarse: np.ndarray, factor: int, shape: tuple[int, int], origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Bilinear interpolation of a block-mean grid back onto the finer grid.

    Parameters
    ----------
    coarse : ndarray
        Grid whose pixel ``i`` averages fine pixels ``[i*factor, (i+1)*factor)``.
    factor : int
        Block size.
    shape : tuple of int
        Shape of the fine-grid window to produce.
    origin : tuple of int
        Fine-grid coordinates of the window's first pixel.

    Returns
    -------
    ndarray of float32
    """
    coarse = np.asarray(coarse, dtype=np.float32)

    def weights(n_out, start, n_in):
        x = (np.arange(start, start + n_out, dtype=np.float32) - (factor - 1) / 2.0) / factor
        x = np.clip(x, 0, n_in - 1)
        i0 = np.minimum(np.floor(x).astype(np.intp), n_in - 2) if n_in > 1 else np.zeros(n_out, np.intp)
        w = (x - i0).astype(np.float32) if n_in > 1 else np.zeros(n_out, np.float32)
        return i0, np.minimum(i0 + 1, n_in - 1), w

    r0, r1, wr = weights(shape[0], origin[0], coarse.shape[0])
    c0, c1, wc = weights(shape[1], origin[1], coarse.shape[1])
    # Along the columns on the coarse rows first: the gathers of the second
    # pass then copy whole rows.
    cols = coarse[:, c0] * (1 - wc)[None, :] + coarse[:, c1] * wc[None, :]
    out = np.take(cols, r0, axis=0)
    out *= (1 - wr)[:, None]
    lower = np.take(cols, r1, axis=0)
    lower *= wr[:, None]
    out += lower
    return out


def _tile_grid(values: np.ndarray, mask: np.ndarray, tile_px: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Every other pixel of ``values`` and ``mask``, and the tile size on that subsample.

    Tile statistics over ~8 mm tiles do not need every pixel; half the rows
    and columns carry the same information at a quarter of the cost.
    """
    step = 2 if tile_px >= 8 else 1
    return values[::step, ::step], mask[::step, ::step], max(1, tile_px // step)


def _to_full(tiles: np.ndarray, tile_px: int, shape: tuple[int, int]) -> np.ndarray:
    full = np.repeat(np.repeat(tiles, tile_px, axis=0), tile_px, axis=1)
    out = full[: shape[0], : shape[1]]
    if out.shape != shape:  # the subsampled tiling may fall a pixel short
        out = np.pad(out, ((0, shape[0] - out.shape[0]), (0, shape[1] - out.shape[1])), mode="edge")
    return out


def local_offset(values: np.ndarray, mask: np.ndarray, tile_px: int) -> np.ndarray:
    """Robust local mean of mostly-noise ``values`` inside ``mask`` (per tile, upsampled).

    The flat opening sits on the noise floor, so the residual of plain soft
    tissue is slightly positive, more so where the noise is stronger.
    """
    sub, sub_mask, sub_tile = _tile_grid(values, mask, tile_px)
    inside = sub[sub_mask]
    if inside.size < 16:
        return np.zeros(values.shape, dtype=np.float32)
    sample = inside[:: max(1, inside.size // 20_000)]
    centre = float(np.median(sample))
    spread = 1.4826 * float(np.median(np.abs(sample - centre))) + 1e-9
    clipped = np.clip(sub, centre - 3 * spread, centre + 3 * spread) * sub_mask
    total = ndi.uniform_filter(block_mean(clipped, sub_tile), 3, mode="nearest")
    weight = ndi.uniform_filter(block_mean(sub_mask.astype(np.float32), sub_tile), 3, mode="nearest")
    with np.errstate(invalid="ignore", divide="ignore"):
        offset = np.where(weight > 0.2, total / weight, centre).astype(np.float32)
    return _to_full(offset, sub_tile * (2 if sub_tile != tile_px else 1), values.shape)


def detect_foci(
    det_image: np.ndarray,
    seg_image: np.ndarray,
    ratio: int,
    allowed_seg: np.ndarray,
    det_mm: float,
    tissue_contrast: float,
    leg_seg: np.ndarray | None = None,
    bone_seg: np.ndarray | None = None,
    axis_angle: float | None = None,
    axial_background: np.ndarray | None = None,
) -> Detection:
    """Find candidate dense foci.

    Parameters
    ----------
    det_image : ndarray of float32
        Normalised detection-grid image (same scaling as ``seg_image``).
    seg_image : ndarray of float32
        Normalised segmentation-grid image, ``block_mean(det_image, ratio)``.
    ratio : int
        Detection-grid pixels per segmentation-grid pixel.
    allowed_seg : ndarray of bool
        Where foci may lie, on the segmentation grid.
    det_mm : float
        Detection-grid spacing (mm).
    tissue_contrast : float
        Air-to-soft-tissue contrast, normalised units.
    leg_seg, bone_seg : ndarray of bool, optional
        Leg outline and bone on the segmentation grid: the soft tissue from
        which the background under an object is interpolated.
    axis_angle : float, optional
        Leg-axis orientation (radians from rows towards columns); with
        ``leg_seg`` it lets lesions too large for the background filters be
        found as lumps short along the leg.
    axial_background : ndarray of float32, optional
        The leg's background along its axis on the segmentation grid
        (:func:`.axial.axial_opening`): the background under a round lump
        wedged against bone or the skin, where there is too little soft
        tissue around it to interpolate from.

    Returns
    -------
    Detection
    """
    seg_mm = det_mm * ratio
    rows, cols = np.nonzero(allowed_seg)
    if rows.size == 0:
        empty = np.zeros((0, 0), dtype=np.float32)
        return Detection(offset=(0, 0), labels=np.zeros((0, 0), np.int32), count=0, residual=empty,
                         smoothed=empty, noise=empty, tissue_contrast=tissue_contrast,
                         allowed=np.zeros((0, 0), bool), background_slope=empty)
    # Work on a crop around the allowed zone (plus a margin for the filters).
    pad = 2
    sr0, sr1 = max(rows.min() - pad, 0), min(rows.max() + pad + 1, allowed_seg.shape[0])
    sc0, sc1 = max(cols.min() - pad, 0), min(cols.max() + pad + 1, allowed_seg.shape[1])
    r0, c0 = sr0 * ratio, sc0 * ratio
    r1, c1 = min(sr1 * ratio, det_image.shape[0]), min(sc1 * ratio, det_image.shape[1])
    crop = det_image[r0:r1, c0:c1]
    shape = crop.shape

    allowed = np.repeat(np.repeat(allowed_seg[sr0:sr1, sc0:sc1], ratio, axis=0), ratio, axis=1)
    allowed = allowed[: shape[0], : shape[1]]
    # The background under an object is interpolated from the soft tissue around it.
    soft_seg = allowed_seg
    if leg_seg is not None:
        soft_seg = leg_seg & ~ndi.binary_dilation(bone_seg) if bone_seg is not None else leg_seg

    burned, burned_count = burned_in(crop, allowed, det_mm, top=float(det_image.max()))
    allowed = allowed & ~burned
    tile = max(2, int(round(NOISE_TILE_MM / det_mm)))
    floor = FINE_MIN_CONTRAST * tissue_contrast

    # Pass 1, a provisional background: the higher of a flat opening (a lower
    # envelope that removes anything narrower than it) and a running median
    # (which sits in the middle of soft-tissue texture, where the opening
    # would sit under it). Whatever stands out against it is set aside.
    provisional = np.maximum(_opened(seg_image, FINE_BACKGROUND_MM / seg_mm),
                             _local_median(seg_image, seg_mm, MEDIAN_BACKGROUND_MM))
    provisional_up = upsample_linear(provisional, ratio, shape, (r0, c0))
    residual = crop - provisional_up
    smoothed, offset, noise = _standardised(residual, allowed, tile)
    objects = (smoothed > EXCLUDE_SNR * noise) & allowed

    # Pass 2, the background proper: the soft tissue around the objects,
    # interpolated under them (normalised Gaussian smoothing on the
    # segmentation grid), so an object's full contrast is measured however
    # large it is.
    set_aside = np.zeros(seg_image.shape, dtype=bool)
    # The margin (0.75 mm) is less than a segmentation pixel: it reaches the neighbouring blocks only.
    margin = min(max(1, int(round(EXCLUDE_MARGIN_MM / det_mm))), ratio)
    set_aside[sr0:sr1, sc0:sc1] = grown_block_any(objects, margin, ratio)[: sr1 - sr0, : sc1 - sc0]
    if axis_angle is not None and leg_seg is not None:
        set_aside |= _short_lumps(seg_image, leg_seg, allowed_seg, axis_angle, seg_mm, tissue_contrast)
    # The inside of a ring or of a large lesion (whose flat interior the
    # median follows) belongs to the object too.
    set_aside = remove_small_holes(set_aside, max_size=int(FILL_HOLES_MM2 / seg_mm**2))
    # Only compact objects lying wholly in the soft tissue are interpolated
    # under: what touches bone, the skin margin or a border is an edge, whose
    # surroundings on one side say nothing about it.
    set_aside, wedged = _compact_inside(set_aside, allowed_seg, OBJECT_MAX_EXTENT_MM / seg_mm)
    # A round lesion wedged between bone and the skin has too little soft
    # tissue around it to interpolate from; the leg above and below it (the
    # axial background) says what lies under it, when it stands well above that.
    against_edge = None
    if axial_background is not None and wedged.any():
        against_edge = _raised(wedged, seg_image - axial_background, EDGE_OBJECT_MIN_AXIAL_RISE * tissue_contrast)
    # Outside the set-aside objects the provisional background stands (it
    # follows ramps and edges exactly, where smoothing would not).
    background = provisional
    if set_aside.any():
        interpolated = interpolated_background(seg_image, soft_seg & ~set_aside, provisional,
                                                INTERPOLATION_MM / seg_mm)
        background = np.where(set_aside, interpolated, background)
    if against_edge is not None and against_edge.any():
        background = np.where(against_edge, np.minimum(background, axial_background), background)
    if background is not provisional:
        residual = crop - upsample_linear(background, ratio, shape, (r0, c0))
        # The noise (measured on the dark side) and the local offset do not
        # depend on the bright objects: pass 1's serve.
        smoothed = box_mean3(residual) - offset

    seed = (smoothed > SEED_SNR * noise) & (smoothed > floor) & allowed
    candidate = (smoothed > GROW_SNR * noise) & allowed
    # Large solid lesions, judged on ≈1 mm blocks and only as sizeable regions,
    # so single-pixel noise never qualifies.
    block = block_mean(residual, ratio) > LARGE_MIN_CONTRAST * tissue_contrast
    block = _drop_small(block & (block_mean(allowed.astype(np.float32), ratio) > 0.5),
                        LARGE_MIN_AREA_MM2 / (seg_mm * seg_mm))
    large = np.repeat(np.repeat(block, ratio, axis=0), ratio, axis=1)[: shape[0], : shape[1]] & allowed
    seed |= large & candidate
    candidate |= large
    labels, n = ndi.label(candidate)
    if n:
        # Candidates are a few per cent of the crop: count and relabel only them.
        where = np.flatnonzero(candidate)
        flat = labels.reshape(-1)
        inside = flat[where]
        has_seed = np.zeros(n + 1, dtype=bool)
        has_seed[np.unique(labels[seed])] = True
        has_seed[0] = False
        area = np.bincount(inside, minlength=n + 1) * det_mm * det_mm
        keep = has_seed & (area >= MIN_FOCUS_AREA_MM2)
        relabel = np.zeros(n + 1, dtype=np.int32)
        relabel[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
        flat[where] = relabel[inside]
        n = int(keep.sum())
    # Steepness of the background (fraction of the tissue contrast per mm),
    # highest within ~1.5 mm: a thin bright line next to a steep step is an
    # edge overshoot (skin, fat plane, cortex), not a calcification.
    gr, gc = np.gradient(background)
    slope = ndi.maximum_filter(np.hypot(gr, gc) / (seg_mm * max(tissue_contrast, 1e-6)), size=3)
    slope = np.repeat(np.repeat(slope[sr0:sr1, sc0:sc1], ratio, axis=0), ratio, axis=1)[: shape[0], : shape[1]]
    return Detection(
        offset=(r0, c0),
        labels=labels.astype(np.int32),
        count=n,
        residual=residual.astype(np.float32),
        smoothed=smoothed.astype(np.float32),
        noise=noise,
        tissue_contrast=tissue_contrast,
        allowed=allowed,
        background_slope=slope.astype(np.float32),
        burned_in_count=burned_count,
    )


def dark_side_noise(values: np.ndarray, mask: np.ndarray, tile_px: int) -> np.ndarray:
    """Local noise of a zero-centred residual, measured on its dark side only.

    Noise and soft-tissue texture are symmetric about zero, while the foci are
    all bright: the RMS of the negative values, times sqrt(2), is the local
    standard deviation, unbiased by the very foci being looked for (however
    large they are). Tiles of ``tile_px`` are smoothed over their neighbours;
    tiles with little soft tissue take the global value.
    """
    sub, sub_mask, sub_tile = _tile_grid(values, mask, tile_px)
    dark = np.minimum(sub, 0.0)
    power = ndi.uniform_filter(block_mean(dark * dark * sub_mask, sub_tile), 3, mode="nearest")
    weight = ndi.uniform_filter(block_mean(sub_mask.astype(np.float32), sub_tile), 3, mode="nearest")
    inside = dark[sub_mask]
    global_sigma = max(float(np.sqrt(2.0 * np.mean(inside * inside))) if inside.size else 0.0, 1e-6)
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma = np.sqrt(2.0 * power / weight)
    sigma = np.where(weight > 0.2, sigma, global_sigma).astype(np.float32)
    sigma = np.clip(sigma, 0.3 * global_sigma, 5.0 * global_sigma)
    return _to_full(sigma, sub_tile * (2 if sub_tile != tile_px else 1), values.shape)


def _local_median(image: np.ndarray, mm_per_px: float, window_mm: float) -> np.ndarray:
    """Running median over ~``window_mm``, computed on a ≈2 mm grid for speed."""
    step = max(1, int(round(2.0 / mm_per_px)))
    coarse = block_mean(image, step)
    size = max(3, int(round(window_mm / (step * mm_per_px))) | 1)
    med = median_square(coarse, size)
    if step == 1:
        return med
    return upsample_linear(med, step, image.shape)


def burned_in(det_image: np.ndarray, region: np.ndarray, det_mm: float,
              top: float | None = None) -> tuple[np.ndarray, int]:
    """Burned-in text and lead markers: saturated objects with razor-sharp edges.

    They are at (or within 1 % of) the brightest value of the image, and
    their edges fall to the background within one pixel, unlike a dense
    calcification, which is a blurred dome that may saturate only at its top.

    Parameters
    ----------
    det_image : ndarray
        Normalised detection-grid image.
    region : ndarray of bool
        Where to look (the leg and its surroundings, on the detection grid).
    det_mm : float
        Detection-grid spacing.
    top : float, optional
        The whole image's brightest value (``det_image`` may be a crop, whose
        brightest object can be a dense lesion); defaults to ``det_image``'s.

    Returns
    -------
    mask : ndarray of bool
        The objects, grown by :data:`BURNED_IN_MARGIN_MM`.
    count : int
    """
    top = float(det_image.max()) if top is None else float(top)
    saturated = (det_image >= top - SATURATION_TOLERANCE) & region
    empty = np.zeros(det_image.shape, dtype=bool)
    if not saturated.any():
        return empty, 0
    labels, n = ndi.label(saturated)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    out = np.zeros(det_image.shape, dtype=bool)
    count = 0
    for i, sl in enumerate(ndi.find_objects(labels), start=1):
        if sl is None or sizes[i] < 4 or sizes[i] * det_mm * det_mm > BURNED_IN_MAX_AREA_MM2:
            continue
        # Each object in its own box, with room for the rings around it.
        box = (slice(max(sl[0].start - 5, 0), sl[0].stop + 5), slice(max(sl[1].start - 5, 0), sl[1].stop + 5))
        own = labels[box] == i
        others = saturated[box] & ~own
        ring1 = ndi.binary_dilation(own) & ~own & ~others
        far = grow(own, 4) & ~grow(own, 2) & ~others
        sub = det_image[box]
        near, bg = sub[ring1], sub[far]
        if near.size == 0 or bg.size == 0:
            continue
        step = top - float(np.median(bg))
        if step <= 0:
            continue
        sharpness = (top - float(np.mean(near))) / step
        if sharpness >= BURNED_IN_MIN_SHARPNESS:
            out[box] |= own
            count += 1
    if count:
        out = grow(out, max(1, int(round(BURNED_IN_MARGIN_MM / det_mm))))
    return out, count


def _standardised(residual: np.ndarray, allowed: np.ndarray, tile: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Matched-filtered residual (3×3 box) centred locally, the local offset removed, and its local noise."""
    smoothed = box_mean3(residual)
    offset = local_offset(smoothed, allowed, tile)
    smoothed -= offset
    return smoothed, offset, dark_side_noise(smoothed, allowed, tile)


def interpolated_background(image: np.ndarray, weights: np.ndarray, fallback: np.ndarray,
                            sigma_px: float, truncate: float = 6.0, min_weight: float = 1e-4) -> np.ndarray:
    """Normalised Gaussian smoothing of ``image`` over ``weights``; ``fallback`` where no weight reaches.

    ``truncate`` is the Gaussian's reach in sigmas; where the smoothed weight
    is ``min_weight`` or less, the surroundings say too little and
    ``fallback`` stands.
    """
    w = weights.astype(np.float32)
    num = ndi.gaussian_filter(image * w, sigma_px, mode="nearest", truncate=truncate)
    den = ndi.gaussian_filter(w, sigma_px, mode="nearest", truncate=truncate)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(den > min_weight, num / np.maximum(den, 1e-12), fallback)
    return out.astype(np.float32)


def _short_lumps(seg_image: np.ndarray, leg: np.ndarray, allowed: np.ndarray, axis_angle: float,
                 seg_mm: float, tissue_contrast: float) -> np.ndarray:
    """Dense lumps too wide for the background filters, found as bumps short along the leg.

    Soft tissue changes slowly along the leg, so an opening by a line
    :data:`LUMP_ALONG_MM` long along the axis follows it, bone shafts and
    fat planes included, while a lesion shorter than that stands out of it.
    Lumps rising :data:`LUMP_MIN_CONTRAST` of the tissue contrast, of at least
    :data:`LARGE_MIN_AREA_MM2`, lying in the allowed zone, are returned.
    """
    # Lumps are 5 mm or more across: a grid twice as coarse is plenty.
    step = 2 if seg_mm < LUMP_GRID_MM else 1
    coarse = block_mean(seg_image, step)
    coarse_leg = block_mean(leg.astype(np.float32), step) > 0.5
    frame = straight_frame(coarse_leg, axis_angle)
    straight = frame.sample(coarse, order=1, cval=0.0)
    length = max(3, int(round(LUMP_ALONG_MM / (seg_mm * step))) | 1)
    rise = straight - ndi.grey_opening(straight, size=(length, 1), mode="nearest")
    lumps = frame.back((rise > LUMP_MIN_CONTRAST * tissue_contrast) & frame.sample_mask(coarse_leg), coarse.shape)
    if step > 1:
        full = np.zeros(seg_image.shape, dtype=bool)
        big = np.repeat(np.repeat(lumps, step, axis=0), step, axis=1)
        h, w = min(full.shape[0], big.shape[0]), min(full.shape[1], big.shape[1])
        full[:h, :w] = big[:h, :w]
        lumps = full
    return _drop_small(lumps & allowed, LARGE_MIN_AREA_MM2 / (seg_mm * seg_mm))


def _raised(mask: np.ndarray, rise: np.ndarray, min_rise: float) -> np.ndarray:
    """The components of ``mask`` whose mean ``rise`` reaches ``min_rise``."""
    labels, n = ndi.label(mask)
    if n == 0:
        return mask
    means = np.asarray(ndi.mean(rise, labels, index=np.arange(1, n + 1)))
    return np.concatenate([[False], means >= min_rise])[labels]


def _compact_inside(mask: np.ndarray, zone: np.ndarray, max_extent_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Compact components of ``mask`` spanning at most ``max_extent_px``, mostly surrounded by ``zone``.

    A component that touches the zone's edge is kept when it is round enough
    (a dense lesion beside a bone or near the skin) and most of the ring
    around it is in the zone (there is soft tissue to interpolate from); a
    long piece along an edge is the edge. Also returns the round ones that
    touch the edge with too little of their ring in the zone: wedged between
    bone and the skin.
    """
    labels, n = ndi.label(mask)
    if n == 0:
        return mask, mask
    outside = ndi.binary_dilation(~zone)
    touching = np.zeros(n + 1, dtype=bool)
    touching[np.unique(labels[outside & mask])] = True
    keep = np.zeros(n + 1, dtype=bool)
    wedged = np.zeros(n + 1, dtype=bool)
    for i, sl in enumerate(ndi.find_objects(labels), start=1):
        height, width = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        if max(height, width) > max_extent_px:
            continue
        if not touching[i]:
            keep[i] = True
            continue
        if max(height, width) > EDGE_OBJECT_MAX_ASPECT * max(min(height, width), 1):
            continue
        pad = 3
        box = (slice(max(sl[0].start - pad, 0), sl[0].stop + pad), slice(max(sl[1].start - pad, 0), sl[1].stop + pad))
        own = labels[box] == i
        ring = ndi.binary_dilation(own, iterations=2) & ~own
        keep[i] = ring.any() and float(zone[box][ring].mean()) >= EDGE_OBJECT_MIN_RING_IN_ZONE
        wedged[i] = not keep[i]
    return keep[labels], wedged[labels]


def _drop_small(mask: np.ndarray, min_px: float) -> np.ndarray:
    labels, n = ndi.label(mask)
    if n == 0:
        return mask
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_px
    keep[0] = False
    return keep[labels]


def _opened(image: np.ndarray, size_px: float) -> np.ndarray:
    """Flat grey opening with a square of side ``size_px`` (at least 3 px)."""
    size = max(3, int(round(size_px)) | 1)
    return ndi.grey_opening(image, size=(size, size), mode="nearest")
