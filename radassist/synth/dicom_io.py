"""Wrap synthetic pixels in a CR or DX DICOM data set with varied, plausible headers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)

CR_STORAGE = "1.2.840.10008.5.1.4.1.1.1"
DX_PRESENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"

#: Short names accepted for ``transfer_syntax`` and the UID each stands for.
TRANSFER_SYNTAXES = {
    "explicit": ExplicitVRLittleEndian,
    "rle": RLELossless,
    "jpegls": JPEGLSLossless,
    "j2k": JPEG2000Lossless,
    "deflate": DeflatedExplicitVRLittleEndian,
}
_ENCODER = {RLELossless: "pylibjpeg", JPEGLSLossless: "pyjpegls", JPEG2000Lossless: "pylibjpeg"}


def resolve_transfer_syntax(name: str | None, rng: np.random.Generator) -> str:
    """UID for a short name or UID; ``None`` means uncompressed, ``"random"`` draws one."""
    if name is None:
        return ExplicitVRLittleEndian
    if name == "random":
        return str(rng.choice(list(TRANSFER_SYNTAXES.values()), p=[0.5, 0.15, 0.1, 0.15, 0.1]))
    if name in TRANSFER_SYNTAXES:
        return TRANSFER_SYNTAXES[name]
    if name in TRANSFER_SYNTAXES.values():
        return name
    raise ValueError(f"unsupported transfer syntax {name!r}; use one of {', '.join(TRANSFER_SYNTAXES)} or its UID")


@dataclass(frozen=True)
class Header:
    """Header choices that do not change the pixels."""

    modality: str
    body_part: str | None
    spacing_mode: str  # "PixelSpacing", "ImagerPixelSpacing", "ImagerPixelSpacing+ERMF", "none"
    magnification: float
    rescale: tuple[float, float] | None  # (slope, intercept)
    window: str  # "plausible", "misleading", "absent"
    transfer_syntax: str


def sample_header(rng: np.random.Generator, transfer_syntax: str | None) -> Header:
    """Draw header conventions (modality, spacing tags, rescale, window)."""
    roll = rng.random()
    if roll < 0.03:
        spacing_mode = "none"
    elif roll < 0.45:
        spacing_mode = "PixelSpacing"
    elif roll < 0.7:
        spacing_mode = "ImagerPixelSpacing"
    else:
        spacing_mode = "ImagerPixelSpacing+ERMF"
    rescale = None
    if rng.random() < 0.3:
        rescale = ((1.0, 0.0), (1.0, 0.0), (0.5, 0.0), (2.0, -1024.0), (1.0, 100.0))[int(rng.integers(0, 5))]
    return Header(
        modality=str(rng.choice(["CR", "DX"])),
        body_part=[None, "LEG", "LEG", "LEG", "LEG", "LOWER LEG", "EXTREMITY"][int(rng.integers(0, 7))],
        spacing_mode=spacing_mode,
        magnification=float(rng.uniform(1.05, 1.2)),
        rescale=rescale,
        window=str(rng.choice(["plausible", "plausible", "plausible", "misleading", "absent"])),
        transfer_syntax=resolve_transfer_syntax(transfer_syntax, rng),
    )


def spacing_source(mode: str) -> str:
    """Name of the spacing source as in the result contract's ``spacing_source``."""
    return {"ImagerPixelSpacing+ERMF": "ImagerPixelSpacing/EstimatedRadiographicMagnificationFactor"}.get(mode, mode)


def _ds(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")[:16]


def build_dataset(
    pixels: np.ndarray,
    *,
    seed: int,
    header: Header,
    spacing_mm: float,
    bits_stored: int,
    monochrome1: bool,
    view: str,
    laterality: str,
    burned_in: bool,
    rng: np.random.Generator,
    case_name: str | None = None,
) -> FileDataset:
    """A complete data set for ``pixels`` (uint16, stored values), compressed as asked."""
    sop_class = CR_STORAGE if header.modality == "CR" else DX_PRESENTATION_STORAGE
    uid = lambda what: generate_uid(entropy_srcs=["radassist-synth", str(seed), what])  # noqa: E731
    sop_uid = uid("sop")

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)

    when = dt.datetime(2015, 1, 1) + dt.timedelta(days=int(rng.integers(0, 3650)), seconds=int(rng.integers(7 * 3600, 19 * 3600)))
    age = int(rng.integers(18, 90))
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = uid("study")
    ds.SeriesInstanceUID = uid("series")
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = when.strftime("%Y%m%d")
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = when.strftime("%H%M%S")
    ds.AccessionNumber = f"SYN{seed % 10**9:09d}"
    ds.Modality = header.modality
    ds.Manufacturer = "RADASSIST PHANTOM"
    ds.InstitutionName = "PHANTOM GENERAL"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = f"XR TIBIA FIBULA {'LEFT' if laterality == 'L' else 'RIGHT'}"
    ds.SeriesDescription = f"{view} {'LEFT' if laterality == 'L' else 'RIGHT'} LEG"
    ds.PatientName = case_name or f"PHANTOM^CASE{seed % 10000:04d}"
    ds.PatientID = f"PH{seed % 10**8:08d}"
    ds.PatientBirthDate = f"{when.year - age}0101"
    ds.PatientSex = str(rng.choice(["F", "M"]))
    ds.PatientAge = f"{age:03d}Y"
    ds.StudyID = str(seed % 100000)
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    if header.body_part:
        ds.BodyPartExamined = header.body_part
    ds.ViewPosition = "AP" if view == "AP" else "LL"
    ds.ImageLaterality = laterality
    ds.Laterality = laterality
    ds.PatientOrientation = ["L", "F"] if view == "AP" else ["A", "F"]
    ds.KVP = _ds(float(rng.uniform(52, 70)))
    ds.ExposureTime = int(rng.integers(5, 40))
    ds.XRayTubeCurrent = int(rng.integers(100, 400))
    ds.DistanceSourceToDetector = _ds(float(rng.choice([1000.0, 1100.0, 1150.0, 1800.0])))
    ds.BurnedInAnnotation = "YES" if burned_in else "NO"
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    if header.modality == "DX":
        ds.PresentationIntentType = "FOR PRESENTATION"
        ds.PresentationLUTShape = "INVERSE" if monochrome1 else "IDENTITY"

    if header.spacing_mode == "PixelSpacing":
        ds.PixelSpacing = [_ds(spacing_mm), _ds(spacing_mm)]
    elif header.spacing_mode == "ImagerPixelSpacing":
        ds.ImagerPixelSpacing = [_ds(spacing_mm), _ds(spacing_mm)]
    elif header.spacing_mode == "ImagerPixelSpacing+ERMF":
        detector = spacing_mm * header.magnification
        ds.ImagerPixelSpacing = [_ds(detector), _ds(detector)]
        ds.EstimatedRadiographicMagnificationFactor = _ds(header.magnification)

    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME1" if monochrome1 else "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 0
    if header.rescale is not None:
        ds.RescaleSlope = _ds(header.rescale[0])
        ds.RescaleIntercept = _ds(header.rescale[1])
        ds.RescaleType = "US"
    if header.window != "absent":
        lo, hi = np.percentile(pixels[:: 4, :: 4], [2, 98])
        if header.window == "misleading":
            centre, width = float(2 ** (bits_stored - 1)), float(2 ** bits_stored)
            if rng.random() < 0.5:
                centre, width = float(rng.uniform(0, 2**bits_stored)), float(rng.uniform(50, 2 ** (bits_stored - 2)))
        else:
            centre, width = (lo + hi) / 2, max(hi - lo, 2.0) * float(rng.uniform(0.9, 1.2))
        if header.rescale is not None:
            centre = centre * header.rescale[0] + header.rescale[1]
            width = width * header.rescale[0]
        ds.WindowCenter = _ds(round(centre, 1))
        ds.WindowWidth = _ds(round(width, 1))
    ds.PixelData = np.ascontiguousarray(pixels, dtype="<u2").tobytes()

    ts = header.transfer_syntax
    if ts in _ENCODER:
        ds.compress(ts, encoding_plugin=_ENCODER[ts], generate_instance_uid=False)
    elif ts == DeflatedExplicitVRLittleEndian:
        ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    return ds


__all__ = ["build_dataset", "sample_header", "Header", "TRANSFER_SYNTAXES", "spacing_source"]
