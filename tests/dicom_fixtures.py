"""Small synthetic DICOM data sets, built in memory, for the reader's tests.

Not a conftest: import what you need, e.g.
``from dicom_fixtures import make_dx_dataset, to_bytes`` (pytest puts tests/ on
sys.path because tests/ has no ``__init__.py``).
"""

from __future__ import annotations

import io

import numpy as np
import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import (
    DigitalXRayImageStorageForPresentation,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    generate_uid,
)

#: Patient identifiers planted in every fixture, so tests can assert that no
#: message ever repeats them.
PATIENT_NAME = "DOE^JANE^Q"
PATIENT_ID = "PID-0042-SECRET"


def phantom_stored_values(
    shape: tuple[int, int] = (96, 64),
    *,
    bits_stored: int = 12,
    dense_is_high: bool = True,
    seed: int = 0,
) -> np.ndarray:
    """A leg-like test object as MONOCHROME2 or MONOCHROME1 stored values.

    A soft-tissue band across the middle columns holds a brighter "bone" bar in
    its centre, on a low-attenuation background, plus mild noise.

    Parameters
    ----------
    shape : (rows, columns)
    bits_stored : int
        Values span ``0 .. 2**bits_stored - 1``.
    dense_is_high : bool
        True for MONOCHROME2 storage (dense = high value), False for MONOCHROME1.
    seed : int

    Returns
    -------
    numpy.ndarray
        uint16 (or uint8 for ``bits_stored <= 8``) stored values.
    """
    rows, columns = shape
    top = 2**bits_stored - 1
    density = np.full(shape, 0.10)
    density[:, columns // 4 : 3 * columns // 4] = 0.45  # soft tissue
    density[:, 7 * columns // 16 : 9 * columns // 16] = 0.85  # bone
    density += np.random.default_rng(seed).normal(0, 0.02, shape)
    density = np.clip(density, 0.0, 1.0)
    if not dense_is_high:
        density = 1.0 - density
    dtype = np.uint8 if bits_stored <= 8 else np.uint16
    return np.round(density * top).astype(dtype)


def dense_columns(columns: int) -> slice:
    """The columns of :func:`phantom_stored_values`' bone bar."""
    return slice(7 * columns // 16, 9 * columns // 16)


def background_columns(columns: int) -> slice:
    """Columns of :func:`phantom_stored_values`' background (left of the leg)."""
    return slice(0, columns // 4)


def make_dx_dataset(
    pixels: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    spacing: tuple[float, float] | str | None = None,
    imager_spacing: tuple[float, float] | str | None = None,
    ermf: float | str | None = None,
    rescale: tuple[float, float] | None = None,
    modality_lut: np.ndarray | None = None,
    modality_lut_first_mapped: int = 0,
    presentation_lut_shape: str | None = None,
    window: tuple[float, float] | None = None,
    transfer_syntax: str = ExplicitVRLittleEndian,
    samples_per_pixel: int = 1,
    number_of_frames: int | None = None,
    **attributes,
) -> FileDataset:
    """A valid single-image DX data set (File Meta, preamble) around `pixels`.

    Parameters
    ----------
    pixels : numpy.ndarray
        Stored values, ``(rows, columns)`` (or ``(rows, columns, samples)`` /
        ``(frames, rows, columns)`` for the refusal tests). Integer dtype; its
        size sets Bits Allocated and its signedness Pixel Representation.
    photometric : str
    bits_stored : int, optional
        Defaults to Bits Allocated.
    spacing, imager_spacing : (row, col) in mm, or a raw DS string such as
        ``"0.000\\\\0.000"`` written unvalidated into the header.
    ermf : Estimated Radiographic Magnification Factor, number or raw string.
    rescale : (slope, intercept), optional
    modality_lut : numpy.ndarray, optional
        uint16 LUT data for a Modality LUT Sequence.
    modality_lut_first_mapped : int
        First stored value the LUT maps.
    presentation_lut_shape : "IDENTITY" or "INVERSE", optional
    window : (center, width), optional
    transfer_syntax : str
        Uncompressed transfer syntax to declare; compress afterwards with
        ``ds.compress(...)``.
    **attributes
        Further header attributes by keyword (e.g. ``ImageLaterality="L"``).

    Returns
    -------
    pydicom.dataset.FileDataset
    """
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DigitalXRayImageStorageForPresentation
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = transfer_syntax
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)

    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.AccessionNumber = "ACC123"
    ds.PatientName = PATIENT_NAME
    ds.PatientID = PATIENT_ID
    ds.Modality = "DX"
    ds.BodyPartExamined = "LEG"
    ds.ViewPosition = "AP"

    if number_of_frames is not None:
        ds.NumberOfFrames = number_of_frames
        rows, columns = pixels.shape[1:3]
    else:
        rows, columns = pixels.shape[:2]
    bits_allocated = pixels.dtype.itemsize * 8
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = samples_per_pixel
    if samples_per_pixel > 1:
        ds.PlanarConfiguration = 0
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = bits_allocated
    ds.BitsStored = bits_stored or bits_allocated
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0

    if spacing is not None:
        _set_decimal(ds, "PixelSpacing", spacing)
    if imager_spacing is not None:
        _set_decimal(ds, "ImagerPixelSpacing", imager_spacing)
    if ermf is not None:
        _set_decimal(ds, "EstimatedRadiographicMagnificationFactor", ermf)
    if rescale is not None:
        ds.RescaleSlope, ds.RescaleIntercept = rescale
        ds.RescaleType = "US"
    if modality_lut is not None:
        item = Dataset()
        item.LUTDescriptor = [len(modality_lut), modality_lut_first_mapped, 16]
        item.ModalityLUTType = "US"
        item.LUTData = [int(v) for v in modality_lut]
        ds.ModalityLUTSequence = Sequence([item])
    if presentation_lut_shape is not None:
        ds.PresentationLUTShape = presentation_lut_shape
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)

    big_endian = transfer_syntax == ExplicitVRBigEndian
    ds.PixelData = pixels.astype(pixels.dtype.newbyteorder(">" if big_endian else "<")).tobytes()
    return ds


def _set_decimal(ds: Dataset, keyword: str, value) -> None:
    """Set a DS value; strings go in raw so malformed values survive."""
    if isinstance(value, str):
        set_raw_value(ds, keyword, "DS", value)
    elif isinstance(value, (int, float)):
        setattr(ds, keyword, value)
    else:
        setattr(ds, keyword, list(value))


def set_raw_value(ds: Dataset, keyword: str, vr: str, text: str) -> None:
    """Put `text` into `ds` as an unconverted element, bypassing validation."""
    raw = text.encode("latin-1")
    if len(raw) % 2:
        raw += b" "
    tag = Tag(keyword)
    ds[tag] = RawDataElement(tag, vr, len(raw), raw, 0, False, True)


def to_bytes(ds: Dataset) -> bytes:
    """Encode `ds` as a DICOM file (preamble, File Meta) in its transfer syntax."""
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def to_raw_dataset_bytes(ds: Dataset, *, implicit_vr: bool = True) -> bytes:
    """Encode `ds` ACR-NEMA style: no preamble, no 'DICM', no File Meta (little endian)."""
    buffer = DicomBytesIO()
    buffer.is_little_endian = True
    buffer.is_implicit_VR = implicit_vr
    write_dataset(buffer, ds)
    return buffer.getvalue()
