"""From attenuation line integrals to stored pixel values: exposure, detector and processing.

The chain follows a computed/digital radiography system: primary intensity
``I = I0 · heel · exp(-Σ μ L)``, scatter, focal-spot blur, quantum noise,
detector point-spread (with long-range glare), electronic noise, log
transform, vendor-style image processing (dynamic-range compression, unsharp
masking, a tone curve) and quantisation to ``BitsStored``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage, sparse


@dataclass(frozen=True)
class Acquisition:
    """Exposure, detector and processing settings of one radiograph (all lengths in mm)."""

    mu_soft: float
    mu_fat: float
    mu_cortical: float
    mu_trabecular: float
    calc_scale: float  # energy dependence of calcification contrast relative to nominal
    heel: float  # fractional intensity change across the image
    heel_axis: int  # 0: along rows, 1: along columns
    vignette: float
    scatter_fraction: float
    scatter_sigma: float
    focal_sigma: float
    detector_sigma: float
    glare_fraction: float
    glare_sigma: float
    photons: float  # quanta per pixel in unattenuated beam (sets quantum noise)
    electronic_noise: float  # std. dev. relative to the unattenuated signal
    drc_strength: float  # dynamic range compression, 0 = none
    drc_sigma: float
    usm_gain: float  # unsharp-mask (edge enhancement) gain
    usm_sigma: float
    tone: str  # "gamma" or "sigmoid"
    tone_param: float
    tone_centre: float  # sigmoid midpoint on the 0-1 density scale
    floor_blend: float  # black point from the air (0) towards the thinnest leg (1)
    black_level: float  # display value of the direct-exposure background (0-1)
    white_level: float  # display value reached by dense bone (0-1)
    bits_stored: int
    range_fraction: float  # fraction of the 2**bits range used
    noise_seed: int


def sample_acquisition(rng: np.random.Generator, bits_stored: int) -> Acquisition:
    """Draw a varied but plausible set of exposure/detector/processing settings."""
    energy = float(rng.uniform(0.85, 1.18))  # >1: softer beam, more contrast
    return Acquisition(
        mu_soft=0.021 * energy ** 0.6,
        mu_fat=0.018 * energy ** 0.6,
        mu_cortical=float(rng.uniform(0.06, 0.08)) * energy ** 1.6,
        mu_trabecular=float(rng.uniform(0.026, 0.034)) * energy ** 1.3,
        calc_scale=energy ** 1.6,
        heel=float(rng.uniform(0.0, 0.25)) * (1 if rng.random() < 0.5 else -1),
        heel_axis=int(rng.random() < 0.25),
        vignette=float(rng.uniform(0.0, 0.15)),
        scatter_fraction=float(rng.uniform(0.05, 0.45)),
        scatter_sigma=float(rng.uniform(15, 60)),
        focal_sigma=float(rng.uniform(0.03, 0.15)),
        detector_sigma=float(rng.uniform(0.05, 0.18)),
        glare_fraction=float(rng.uniform(0.0, 0.08)),
        glare_sigma=float(rng.uniform(1.0, 6.0)),
        photons=float(np.exp(rng.uniform(np.log(8000), np.log(120000)))),
        electronic_noise=float(np.exp(rng.uniform(np.log(2e-4), np.log(3e-3)))),
        drc_strength=float(rng.uniform(0.0, 0.5)),
        drc_sigma=float(rng.uniform(20, 60)),
        usm_gain=float(rng.uniform(0.0, 1.6)) if rng.random() < 0.8 else 0.0,
        usm_sigma=float(rng.uniform(0.5, 3.0)),
        tone=str(rng.choice(["gamma", "sigmoid"])),
        tone_param=float(rng.uniform(1.0, 1.8)),
        tone_centre=float(rng.uniform(0.4, 0.6)),
        floor_blend=float(rng.uniform(0.0, 0.75)) if rng.random() < 0.75 else 0.0,
        black_level=float(rng.uniform(0.0, 0.12)),
        white_level=float(rng.uniform(0.82, 0.98)),
        bits_stored=int(bits_stored),
        range_fraction=float(rng.uniform(0.7, 1.0)) if rng.random() < 0.6 else 1.0,
        noise_seed=int(rng.integers(0, 2**31)),
    )


def lowpass(image, sigma_px):
    """Gaussian low-pass; wide kernels run on a block-averaged copy for speed."""
    if sigma_px <= 0:
        return image
    if sigma_px < 3:
        return ndimage.gaussian_filter(image, sigma_px, mode="nearest", truncate=3.0)
    f = max(int(sigma_px // 2), 2)
    h, w = image.shape
    hp, wp = -(-h // f) * f, -(-w // f) * f
    padded = np.pad(image, ((0, hp - h), (0, wp - w)), mode="edge")
    small = padded.reshape(hp // f, f, wp // f, f).mean(axis=(1, 3))
    # Block averaging already blurs by about f / sqrt(12); remove that from the kernel.
    rest = np.sqrt(max(sigma_px**2 - f * f / 12.0, 0.25)) / f
    small = ndimage.gaussian_filter(small, rest, mode="nearest", truncate=3.0)
    # Separable linear interpolation as two sparse matrix products: O(1) per pixel.
    big = _interpolation_matrix(w, f, small.shape[1]) @ np.asarray(
        _interpolation_matrix(h, f, small.shape[0]) @ small
    ).T
    return np.ascontiguousarray(np.asarray(big).T, dtype=image.dtype)


def upsample(small, shape, f):
    """Linear interpolation of a grid of ``f``-pixel block centres to ``shape``."""
    h, w = shape
    big = _interpolation_matrix(w, f, small.shape[1]) @ np.asarray(_interpolation_matrix(h, f, small.shape[0]) @ small).T
    return np.ascontiguousarray(np.asarray(big).T, dtype=small.dtype)


@lru_cache(maxsize=32)
def _interpolation_matrix(n_big, f, n_small):
    """Sparse ``(n_big, n_small)`` matrix interpolating linearly from ``f``-fold block centres."""
    x = np.clip((np.arange(n_big) + 0.5) / f - 0.5, 0, n_small - 1)
    i0 = np.floor(x).astype(np.int64)
    i1 = np.minimum(i0 + 1, n_small - 1)
    w1 = (x - i0).astype(np.float32)
    rows = np.repeat(np.arange(n_big), 2)
    cols = np.stack([i0, i1], axis=1).ravel()
    weights = np.stack([1 - w1, w1], axis=1).ravel()
    return sparse.csr_matrix((weights, (rows, cols)), shape=(n_big, n_small))


def expose(attenuation, acq: Acquisition, spacing_mm: float, field_mask, lead_mask):
    """Detected signal (relative to the unattenuated beam) after noise and blur.

    Parameters
    ----------
    attenuation : ndarray, float32
        Line integral ``Σ μ L`` (dimensionless) per pixel.
    acq : Acquisition
    spacing_mm : float
        Pixel spacing (mm) at the object.
    field_mask : ndarray, float32
        Collimator transmission (1 inside the field, ~0 under the shutters).
    lead_mask : ndarray, float32
        Extra line integral of marker lead/plastic (dimensionless).

    Returns
    -------
    ndarray, float32
        Detected intensity, 1 ≈ unattenuated air.
    """
    rng = np.random.default_rng(acq.noise_seed)
    h, w = attenuation.shape
    axis_pos = np.linspace(-0.5, 0.5, h if acq.heel_axis == 0 else w, dtype=np.float32)
    heel = 1.0 + acq.heel * axis_pos
    heel = heel[:, None] if acq.heel_axis == 0 else heel[None, :]
    rr = np.linspace(-1, 1, h, dtype=np.float32)[:, None]
    cc = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    falloff = 1.0 - acq.vignette * 0.5 * (rr * rr + cc * cc)
    total = attenuation + lead_mask
    np.negative(total, out=total)
    primary = np.exp(total, out=total)
    primary *= heel * falloff
    primary *= field_mask
    scatter = lowpass(primary, acq.scatter_sigma / spacing_mm)
    scatter *= acq.scatter_fraction
    signal = primary
    signal += scatter
    quanta = acq.photons * (spacing_mm / 0.15) ** 2
    noise = rng.standard_normal(signal.shape, dtype=np.float32)
    noise *= np.sqrt(np.maximum(signal, 0) / quanta)
    signal += noise
    # Focal-spot and detector blur in one pass (both Gaussian); the quantum
    # noise, drawn just before, is correlated by the detector as it is.
    blur = np.hypot(acq.focal_sigma, acq.detector_sigma) / spacing_mm
    blurred = lowpass(signal, blur)
    if acq.glare_fraction > 0:
        glare = lowpass(blurred, acq.glare_sigma / spacing_mm)
        blurred = (1 - acq.glare_fraction) * blurred + acq.glare_fraction * glare
    electronic = rng.standard_normal(signal.shape, dtype=np.float32)
    electronic *= acq.electronic_noise
    blurred += electronic
    return blurred


def process(signal, acq: Acquisition, spacing_mm: float, air_mask, body_mask):
    """Log transform and vendor-like processing to display values in [0, 1] (1 = white, bone).

    ``air_mask`` / ``body_mask`` (bool) mark exposed background and exposed leg;
    they set the tone scale the way a CR reader's histogram analysis would.
    """
    density = -np.log(np.clip(signal, 1e-4, None)).astype(np.float32)
    # Histogram statistics on every 4th pixel: as good, much cheaper.
    body_mask = _thin(body_mask)
    air_mask = _thin(air_mask)
    if acq.drc_strength > 0:
        base = lowpass(density, acq.drc_sigma / spacing_mm)
        density = density - acq.drc_strength * (base - np.float32(np.median(base[body_mask]) if body_mask.any() else 0))
    if acq.usm_gain > 0:
        density = density + acq.usm_gain * (density - lowpass(density, acq.usm_sigma / spacing_mm))
    # Like a CR reader's histogram analysis: black at the air or at the thinnest
    # soft tissue (air then saturates), white near the densest bone.
    has_body = body_mask.sum() > 20
    lo = float(np.median(density[air_mask])) if air_mask.sum() > 20 else float(np.percentile(density[::4, ::4], 1))
    if has_body and acq.floor_blend > 0:
        lo += acq.floor_blend * (float(np.percentile(density[body_mask], 2)) - lo)
    hi = float(np.percentile(density[body_mask], 99.5)) if has_body else float(np.percentile(density[::4, ::4], 99))
    x = np.clip((density - lo) / max(hi - lo, 1e-3), 0.0, 1.6)
    if acq.tone == "gamma":
        y = x**acq.tone_param
    else:
        k = 2.0 + 2.5 * acq.tone_param

        def s(t):
            return 1.0 / (1.0 + np.exp(-k * (t - acq.tone_centre)))

        y = (s(x) - s(0.0)) / (s(1.0) - s(0.0))
    display = acq.black_level + (acq.white_level - acq.black_level) * y
    return np.clip(display, 0.0, 1.0).astype(np.float32)


def _thin(mask):
    """The mask with only every 4th row and column kept (for cheap statistics)."""
    thin = np.zeros_like(mask)
    thin[::4, ::4] = mask[::4, ::4]
    return thin


def quantise(display, acq: Acquisition, monochrome1: bool):
    """Stored values (uint16) for display values in [0, 1]; MONOCHROME1 stores them inverted."""
    top = (2 ** acq.bits_stored - 1) * acq.range_fraction
    values = np.rint(display * top).astype(np.int64)
    if monochrome1:
        values = int(round(top)) - values
    return np.clip(values, 0, 2 ** acq.bits_stored - 1).astype(np.uint16)
