"""Read one DICOM radiograph into an analysis-ready float32 array.

Conventions of the returned image
---------------------------------
- ``pixels`` are the output of the Modality LUT stage (Rescale Slope/Intercept
  or the Modality LUT Sequence), as float32, with one consistent polarity:
  **dense (bone, calcium) is bright**. MONOCHROME1 and a Presentation LUT Shape
  of INVERSE each call for the same single inversion (the General Image Module,
  PS3.3 C.7.6.1, asks for INVERSE exactly when the image is MONOCHROME1), so the
  image is inverted at most once, within the range the modality transform can
  output.
- The display window (VOI LUT, Window Center/Width) is never applied: it is a
  viewing choice, not a property of the object.
- ``spacing_mm`` is ``(row, column)`` spacing in millimetres at the object, or
  ``None`` when the file gives no usable spacing.

Errors are one line, say what is wrong and what to do, and never quote patient
data; pydicom's own messages are dropped because they can quote header values.
"""

from __future__ import annotations

import copy
import io
import logging
import math
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.datadict import dictionary_description
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_modality_lut, get_decoder
from pydicom.tag import Tag
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from radassist import model
from radassist.errors import InputTooLargeError, UnreadableInputError, UnsupportedInputError

__all__ = ["LoadedImage", "read_dicom", "read_header", "object_pixel_spacing", "dense_bright_values"]

DEFAULT_MAX_PIXELS = 60_000_000

#: Pixel spacings outside this range (mm) are treated as absent: no radiograph
#: detector is finer than 10 µm or coarser than 5 mm.
PLAUSIBLE_SPACING_MM = (0.01, 5.0)

#: Estimated Radiographic Magnification Factors outside this range are ignored:
#: projection magnification is never below 1 and rarely above 2.
PLAUSIBLE_MAGNIFICATION = (1.0, 4.0)

#: Transfer syntaxes whose pixel data are (or may be) lossy-compressed.
LOSSY_TRANSFER_SYNTAXES = frozenset(
    {
        "1.2.840.10008.1.2.4.50",  # JPEG Baseline
        "1.2.840.10008.1.2.4.51",  # JPEG Extended
        "1.2.840.10008.1.2.4.81",  # JPEG-LS near-lossless
        "1.2.840.10008.1.2.4.91",  # JPEG 2000
        "1.2.840.10008.1.2.4.93",  # JPEG 2000 Part 2 multi-component
        "1.2.840.10008.1.2.4.111",  # JPEG XL JPEG recompression (of a lossy JPEG)
        "1.2.840.10008.1.2.4.112",  # JPEG XL
        "1.2.840.10008.1.2.4.203",  # HTJ2K
    }
)

#: Leading bytes of common non-DICOM files, to name what was sent instead.
_OTHER_FORMATS = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"GIF8", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"),
)

#: A data set without preamble (ACR-NEMA style) starts with a group 0002 or
#: 0008 element; the first two bytes are that group, little or big endian.
_RAW_DATASET_GROUP_BYTES = (b"\x02\x00", b"\x08\x00", b"\x00\x02", b"\x00\x08")

_PIXEL_DATA_TAG = 0x7FE00010
_UNDEFINED_LENGTH = 0xFFFFFFFF
_ENCAPSULATION_ITEM_TAG = b"\xfe\xff\x00\xe0"
_DICOM_STACK_LOGGERS = ("pydicom", "pylibjpeg", "openjpeg", "libjpeg", "jpeg_ls", "rle")
#: The advice ending most messages: the usual cure is a fresh export.
_EXPORT_AGAIN = "export the image from the PACS or modality again"
_SEND_DICOM = "radassist reads DICOM radiographs only, so export the image from the PACS as DICOM"
_COPY_AGAIN = "copy or export the file again"


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """A decoded radiograph and what the header says about it.

    Attributes
    ----------
    pixels : numpy.ndarray
        float32, shape ``(rows, columns)``: modality-LUT output, dense bright.
    spacing_mm : tuple of float or None
        ``(row, column)`` pixel spacing at the object in mm, ``None`` if unknown.
    study : radassist.model.StudyInfo
        Identifiers and acquisition facts from the header.
    warnings : list of radassist.model.Warning
        What the caller should know about this image (no spacing, lossy, ...).
    header : pydicom.dataset.Dataset
        The data set without Pixel Data.
    """

    pixels: np.ndarray
    spacing_mm: tuple[float, float] | None
    study: model.StudyInfo
    warnings: list[model.Warning]
    header: Dataset


# --- public API ---------------------------------------------------------------


def read_dicom(
    source: str | os.PathLike | bytes | BinaryIO | Dataset,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> LoadedImage:
    """Decode a single-frame greyscale DICOM image into dense-bright float32.

    Parameters
    ----------
    source : path, bytes, binary file object or pydicom.dataset.Dataset
        The DICOM file. Files without preamble or File Meta header (raw
        implicit/explicit VR little endian data sets) are accepted. A Dataset
        is not modified.
    max_pixels : int, optional
        Largest ``Rows * Columns`` accepted; checked from the header before
        any pixel data are decoded.

    Returns
    -------
    LoadedImage

    Raises
    ------
    UnreadableInputError
        Not DICOM, truncated, undecodable pixel data, or a compression no
        installed plugin decodes.
    UnsupportedInputError
        Multi-frame, colour, zero-size, or no pixel data (SR, PR, ...).
    InputTooLargeError
        ``Rows * Columns > max_pixels``.
    """
    with _quiet_dicom_stack():
        ds = _read_dataset(source, header_only=False)
        transfer_syntax = _ensure_transfer_syntax(ds)
        photometric, notes = _check_single_greyscale_image(ds, max_pixels)
        stored = _decode_stored_values(ds, transfer_syntax, photometric)
        del ds.PixelData  # the header keeps no pixel bytes; frees them for files
        pixels = dense_bright_values(stored, ds, photometric)
        del stored
        spacing_mm, spacing_source, spacing_notes = object_pixel_spacing(ds)
        notes += spacing_notes + _lossy_compression_notes(ds, transfer_syntax)
        study = _study_info(ds, transfer_syntax, spacing_mm, spacing_source)
    return LoadedImage(pixels=pixels, spacing_mm=spacing_mm, study=study, warnings=notes, header=ds)


def read_header(source: str | os.PathLike | bytes | BinaryIO | Dataset) -> Dataset:
    """Read the header only (``stop_before_pixels``), with :func:`read_dicom`'s errors.

    Parameters
    ----------
    source : path, bytes, binary file object or pydicom.dataset.Dataset

    Returns
    -------
    pydicom.dataset.Dataset
        The data set without Pixel Data; a Transfer Syntax UID is filled in
        when the file had none.
    """
    with _quiet_dicom_stack():
        ds = _read_dataset(source, header_only=True)
        if _PIXEL_DATA_TAG in ds:
            del ds.PixelData
        _ensure_transfer_syntax(ds)
    return ds


def object_pixel_spacing(
    ds: Dataset,
) -> tuple[tuple[float, float] | None, str, list[model.Warning]]:
    """Pixel spacing at the object, in mm, and where it came from.

    Precedence: Pixel Spacing (0028,0030); else Imager Pixel Spacing
    (0018,1164) divided by Estimated Radiographic Magnification Factor
    (0018,1114); else Imager Pixel Spacing alone (detector plane, so sizes are
    overestimated by the geometric magnification); else none. A value that is
    not two numbers within :data:`PLAUSIBLE_SPACING_MM` is treated as absent.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset

    Returns
    -------
    spacing_mm : tuple of float or None
        ``(row, column)`` spacing in mm.
    spacing_source : str
        One of ``model.SpacingSource``.
    warnings : list of radassist.model.Warning
    """
    notes: list[model.Warning] = []
    pixel_spacing = _spacing_value(ds, "PixelSpacing", notes)
    if pixel_spacing is not None:
        return pixel_spacing, "PixelSpacing", notes

    imager_spacing = _spacing_value(ds, "ImagerPixelSpacing", notes)
    if imager_spacing is None:
        notes.append(
            model.Warning(
                code="no_pixel_spacing",
                message="The image has no usable pixel spacing; sizes are given in pixels only.",
            )
        )
        return None, "none", notes

    magnification = _magnification_value(ds, notes)
    if magnification is None:
        notes.append(
            model.Warning(
                code="spacing_from_imager",
                message=(
                    "Pixel spacing is the detector's Imager Pixel Spacing without a magnification "
                    "correction; sizes in mm are slightly overestimated."
                ),
            )
        )
        return imager_spacing, "ImagerPixelSpacing", notes
    row, col = imager_spacing
    corrected = (row / magnification, col / magnification)
    return corrected, "ImagerPixelSpacing/EstimatedRadiographicMagnificationFactor", notes


def dense_bright_values(stored: np.ndarray, ds: Dataset, photometric: str) -> np.ndarray:
    """Apply the Modality LUT and normalise polarity so that dense is bright.

    Parameters
    ----------
    stored : numpy.ndarray
        Stored pixel values as decoded, shape ``(rows, columns)``.
    ds : pydicom.dataset.Dataset
        Supplies the Modality LUT Sequence or Rescale Slope/Intercept,
        Bits Stored, Pixel Representation and Presentation LUT Shape.
    photometric : str
        ``"MONOCHROME1"`` or ``"MONOCHROME2"``.

    Returns
    -------
    numpy.ndarray
        float32, same shape. When the image is inverted, values are reflected
        within the range the modality transform can output, so they stay in
        that range.
    """
    low, high = _stored_value_range(ds)
    if ds.get("ModalityLUTSequence"):
        try:
            values = apply_modality_lut(stored, ds).astype(np.float32, copy=False)
            lut_outputs = apply_modality_lut(_lut_inputs(ds), ds)
        except Exception:
            raise UnreadableInputError(
                "The Modality LUT Sequence (0028,3000) is malformed, so stored values cannot be "
                f"turned into modality values; {_EXPORT_AGAIN}."
            ) from None
        low, high = float(lut_outputs.min()), float(lut_outputs.max())
    else:
        slope = _float_value(ds, "RescaleSlope", default=1.0)
        intercept = _float_value(ds, "RescaleIntercept", default=0.0)
        if slope == 0.0:
            raise UnreadableInputError(f"The Rescale Slope (0028,1053) is 0, which erases the image; {_EXPORT_AGAIN}.")
        # In place, in float32: a 16-bit value is exact in float32 and the
        # float64 route of apply_modality_lut would quadruple the memory.
        values = stored.astype(np.float32)
        if slope != 1.0:
            values *= np.float32(slope)
        if intercept != 0.0:
            values += np.float32(intercept)
        low, high = sorted((low * slope + intercept, high * slope + intercept))

    if _is_inverted(ds, photometric):
        np.subtract(np.float32(low + high), values, out=values)
    return values


# --- reading ------------------------------------------------------------------


@contextmanager
def _quiet_dicom_stack() -> Iterator[None]:
    """Silence warnings and log records from pydicom and its plugins.

    Their messages can quote header values (patient data) and are not one-line
    answers; ours replace them. Logger levels are restored on exit.
    """
    loggers = [logging.getLogger(name) for name in _DICOM_STACK_LOGGERS]
    saved_levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, saved_levels):
            logger.setLevel(level)


def _read_dataset(source, *, header_only: bool) -> Dataset:
    """Parse `source` into a data set radassist owns (a Dataset is deep-copied)."""
    if isinstance(source, Dataset):
        # Pixel Data is immutable bytes, so the deep copy shares it.
        return copy.deepcopy(source)
    with _binary_stream(source) as stream:
        has_preamble = _check_looks_like_dicom(stream)
        try:
            ds = pydicom.dcmread(stream, force=True, stop_before_pixels=header_only)
        except Exception:
            raise UnreadableInputError(
                "The file starts like DICOM but its data set cannot be parsed (corrupt or truncated); "
                f"{_EXPORT_AGAIN}."
            ) from None
    _check_not_truncated(ds)
    if not has_preamble:
        _check_recognisable(ds)
    return ds


@contextmanager
def _binary_stream(source) -> Iterator[BinaryIO]:
    """Yield a seekable binary stream over `source`; close only what we opened."""
    if isinstance(source, (str, os.PathLike)):
        try:
            stream = open(source, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise UnreadableInputError(f"Cannot open the input file ({reason}); check the path.") from None
        with stream:
            yield stream
    elif isinstance(source, (bytes, bytearray, memoryview)):
        yield io.BytesIO(source)
    elif hasattr(source, "read"):
        if hasattr(source, "seekable") and source.seekable():
            yield source
        else:
            yield io.BytesIO(source.read())
    else:
        raise TypeError(
            f"read_dicom needs a path, bytes, a binary file or a pydicom Dataset, not {type(source).__name__}"
        )


def _check_looks_like_dicom(stream: BinaryIO) -> bool:
    """Refuse input that is neither a DICOM file nor a raw DICOM data set.

    Returns whether the file has the 128-byte preamble and 'DICM' marker.
    """
    start = stream.tell()
    head = stream.read(132)
    stream.seek(start)
    if isinstance(head, str):
        raise TypeError("read_dicom needs a file opened in binary mode ('rb')")
    if not head:
        raise UnreadableInputError(f"The input is empty (0 bytes), not a DICOM file; {_SEND_DICOM}.")
    if head[128:132] == b"DICM":
        return True
    if head[:2] in _RAW_DATASET_GROUP_BYTES:
        return False
    what = next((name for magic, name in _OTHER_FORMATS if head.startswith(magic)), None)
    if what is None:
        what = "text" if _is_mostly_text(head) else "not recognisable as DICOM"
        raise UnreadableInputError(
            f"The input is {what}: it has no DICOM 'DICM' marker and does not start with a DICOM data set; "
            f"{_SEND_DICOM}."
        )
    raise UnreadableInputError(f"The input is {what}, not a DICOM file; {_SEND_DICOM}.")


def _is_mostly_text(head: bytes) -> bool:
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in head)
    return printable >= 0.95 * len(head)


def _check_not_truncated(ds: Dataset) -> None:
    """Refuse a data set whose file ended early.

    pydicom reads a short last value silently and drops the whole data set when
    the file ends inside an undefined-length item (encapsulated pixel data).
    """
    if len(ds) == 0:
        raise UnreadableInputError(
            f"The DICOM file holds no data elements after its header: it is truncated; {_COPY_AGAIN}."
        )
    last = ds.get_item(max(ds.keys()))
    if (
        isinstance(last, RawDataElement)
        and last.value is not None
        and last.length != _UNDEFINED_LENGTH
        and len(last.value) < last.length
    ):
        raise UnreadableInputError(
            f"The DICOM file is truncated: element {last.tag} should hold {last.length:,} bytes but "
            f"only {len(last.value):,} are present; {_COPY_AGAIN}."
        )


def _check_recognisable(ds: Dataset) -> None:
    """A data set read without 'DICM' marker must contain something DICOM-like."""
    if not any(keyword in ds for keyword in ("SOPClassUID", "Rows", "PixelData", "Modality")):
        raise UnreadableInputError(
            "The input does not contain a recognisable DICOM data set (no SOP Class, Rows or Pixel Data); "
            f"{_SEND_DICOM}."
        )


def _ensure_transfer_syntax(ds: Dataset) -> UID:
    """Return the transfer syntax, filling it in when the data set has none.

    Raw data sets (no File Meta) are read by pydicom with a guessed VR and
    byte order; that guess names the (uncompressed) transfer syntax. A data set
    built in memory is taken as explicit VR little endian, which decodes native
    little-endian pixel data the same way as implicit VR.
    """
    file_meta = getattr(ds, "file_meta", None)
    if file_meta is None:
        file_meta = FileMetaDataset()
    transfer_syntax = file_meta.get("TransferSyntaxUID")
    if transfer_syntax:
        return UID(str(transfer_syntax).strip("\0 "))

    if _PIXEL_DATA_TAG in ds:
        pixel_data = ds.PixelData
        if isinstance(pixel_data, (bytes, bytearray)) and bytes(pixel_data[:4]) == _ENCAPSULATION_ITEM_TAG:
            raise UnreadableInputError(
                "The pixel data are compressed but the file has no Transfer Syntax UID (0002,0010) to say how; "
                f"{_EXPORT_AGAIN}."
            )
    is_implicit, is_little_endian = ds.original_encoding
    if is_little_endian is False:
        transfer_syntax = ExplicitVRBigEndian
    elif is_implicit:
        transfer_syntax = ImplicitVRLittleEndian
    else:
        transfer_syntax = ExplicitVRLittleEndian
    file_meta.TransferSyntaxUID = transfer_syntax
    ds.file_meta = file_meta
    return transfer_syntax


def _check_single_greyscale_image(ds: Dataset, max_pixels: int) -> tuple[str, list[model.Warning]]:
    """Refuse what radassist does not analyse, from the header alone.

    Returns the photometric interpretation to decode with, and warnings.
    """
    if _PIXEL_DATA_TAG not in ds:
        if "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
            raise UnsupportedInputError(
                "The object holds floating-point pixel data (a parametric map), not a radiograph; "
                "send the radiograph itself."
            )
        # An image object (Rows and Columns, or an image storage SOP class)
        # must carry its pixels: without them the file was cut short, even
        # when the cut falls exactly between two header elements.
        if ("Rows" in ds and "Columns" in ds) or "Image Storage" in _sop_class_name(ds):
            raise UnreadableInputError(
                "The file has an image header but no Pixel Data (7FE0,0010): it is probably truncated; "
                f"{_COPY_AGAIN}."
            )
        raise UnsupportedInputError(
            f"The DICOM object has no pixel data ({_sop_class_name(ds)}), so there is no image to analyse; "
            "send the radiograph itself."
        )

    frames = _int_value(ds, "NumberOfFrames", default=1)
    if frames > 1:
        raise UnsupportedInputError(
            f"The image is multi-frame ({frames} frames); radassist analyses single-frame radiographs, "
            "send one frame as its own image."
        )

    notes: list[model.Warning] = []
    samples = _int_value(ds, "SamplesPerPixel", default=1)
    photometric = _text_value(ds, "PhotometricInterpretation")
    if samples != 1 or (photometric is not None and photometric not in ("MONOCHROME1", "MONOCHROME2")):
        raise UnsupportedInputError(
            f"The image is colour ({photometric or 'unknown'}, {samples} samples per pixel); "
            "radassist analyses greyscale radiographs only; send the original greyscale image."
        )
    if photometric is None:
        photometric = "MONOCHROME2"
        notes.append(
            model.Warning(
                code="photometric_assumed",
                message=(
                    "The header has no Photometric Interpretation; MONOCHROME2 (high values bright) was assumed."
                ),
            )
        )

    rows = _int_value(ds, "Rows", default=None)
    columns = _int_value(ds, "Columns", default=None)
    if rows is None or columns is None:
        raise UnreadableInputError(
            f"The image header lacks Rows or Columns, so the pixel data cannot be laid out; {_EXPORT_AGAIN}."
        )
    if rows == 0 or columns == 0:
        raise UnsupportedInputError(f"The image is empty ({rows} x {columns} pixels); {_EXPORT_AGAIN}.")
    if rows * columns > max_pixels:
        raise InputTooLargeError(
            f"The image is {rows} x {columns} pixels ({rows * columns:,}), more than the {max_pixels:,} "
            "radassist accepts; send a single radiograph at its acquired resolution."
        )
    return photometric, notes


def _decode_stored_values(ds: Dataset, transfer_syntax: UID, photometric: str) -> np.ndarray:
    """Decode Pixel Data into stored values, shape ``(rows, columns)``."""
    try:
        decoder = get_decoder(transfer_syntax)
    except NotImplementedError:
        raise UnsupportedInputError(
            f"The pixel data use transfer syntax {transfer_syntax} ({_uid_name(transfer_syntax)}), which no "
            "installed decoder handles; convert the file to Explicit VR Little Endian (e.g. 'dcmdjpeg' or "
            "'gdcmconv --raw') and send it again."
        ) from None
    if not decoder.is_available:
        needed = "; or ".join(dep.split(" - requires ")[-1] for dep in decoder.missing_dependencies)
        raise UnsupportedInputError(
            f"The pixel data are compressed with {_uid_name(transfer_syntax)} ({transfer_syntax}) but no "
            f"installed plugin decodes it; install {needed or 'a pydicom decoding plugin for it'}."
        )

    options = {"photometric_interpretation": photometric}
    if decoder.is_native:
        _check_native_length(ds)
        options["view_only"] = True  # the float32 conversion makes the one copy
    try:
        stored, _ = decoder.as_array(ds, **options)
    except Exception:
        kind = "pixel data" if decoder.is_native else f"{_uid_name(transfer_syntax)} compressed pixel data"
        raise UnreadableInputError(
            f"The {kind} cannot be decoded (corrupt data, or a header that does not match it); {_EXPORT_AGAIN}."
        ) from None
    if stored.ndim != 2:
        raise UnsupportedInputError(
            f"The pixel data decode to shape {stored.shape}, not one greyscale frame; {_EXPORT_AGAIN}."
        )
    return stored


def _check_native_length(ds: Dataset) -> None:
    """Name truncated uncompressed pixel data precisely, before decoding."""
    rows = _int_value(ds, "Rows", default=0)
    columns = _int_value(ds, "Columns", default=0)
    bits_allocated = _int_value(ds, "BitsAllocated", default=16)
    expected = math.ceil(rows * columns * bits_allocated / 8)
    present = len(ds.PixelData)
    if present < expected:
        raise UnreadableInputError(
            f"The pixel data are truncated: {present:,} of the {expected:,} bytes the header describes are "
            f"present; {_COPY_AGAIN}."
        )


# --- header values ----------------------------------------------------------


def _study_info(
    ds: Dataset,
    transfer_syntax: UID,
    spacing_mm: tuple[float, float] | None,
    spacing_source: str,
) -> model.StudyInfo:
    return model.StudyInfo(
        study_instance_uid=_text_value(ds, "StudyInstanceUID"),
        series_instance_uid=_text_value(ds, "SeriesInstanceUID"),
        sop_instance_uid=_text_value(ds, "SOPInstanceUID"),
        accession_number=_text_value(ds, "AccessionNumber"),
        modality=_text_value(ds, "Modality"),
        body_part=_text_value(ds, "BodyPartExamined"),
        view_position=_text_value(ds, "ViewPosition"),
        laterality=_text_value(ds, "ImageLaterality") or _text_value(ds, "Laterality"),
        rows=_int_value(ds, "Rows", default=0),
        columns=_int_value(ds, "Columns", default=0),
        pixel_spacing_mm=spacing_mm,
        spacing_source=spacing_source,
        photometric_interpretation=_text_value(ds, "PhotometricInterpretation"),
        transfer_syntax_uid=str(transfer_syntax),
        bits_stored=_int_value(ds, "BitsStored", default=None),
    )


def _lossy_compression_notes(ds: Dataset, transfer_syntax: UID) -> list[model.Warning]:
    """A warning when Lossy Image Compression is "01" or the transfer syntax is lossy."""
    lossy_syntax = str(transfer_syntax) in LOSSY_TRANSFER_SYNTAXES
    if not lossy_syntax and _text_value(ds, "LossyImageCompression") != "01":
        return []
    how = _uid_name(transfer_syntax) if lossy_syntax else "at an earlier step"
    return [
        model.Warning(
            code="lossy_compression",
            message=f"The image was lossy-compressed ({how}); faint or fine calcifications may be blurred or lost.",
        )
    ]


def _is_inverted(ds: Dataset, photometric: str) -> bool:
    """Whether low modality values are the dense (bright) ones.

    MONOCHROME1 and Presentation LUT Shape INVERSE describe the same single
    inversion (PS3.3 C.7.6.1 pairs them), so either one inverts, and both
    together still invert once.
    """
    return photometric == "MONOCHROME1" or _text_value(ds, "PresentationLUTShape") == "INVERSE"


def _stored_value_range(ds: Dataset) -> tuple[float, float]:
    """The range of stored values Bits Stored and Pixel Representation allow."""
    bits_stored = _int_value(ds, "BitsStored", default=None)
    if bits_stored is None:
        bits_stored = _int_value(ds, "BitsAllocated", default=16)
    if _int_value(ds, "PixelRepresentation", default=0) == 1:
        return float(-(2 ** (bits_stored - 1))), float(2 ** (bits_stored - 1) - 1)
    return 0.0, float(2**bits_stored - 1)


def _lut_inputs(ds: Dataset) -> np.ndarray:
    """Every input the Modality LUT maps, so its outputs give the value range."""
    number_of_entries, first_mapped = ds.ModalityLUTSequence[0].LUTDescriptor[:2]
    return np.arange(first_mapped, first_mapped + (number_of_entries or 2**16), dtype=np.int64)


def _spacing_value(ds: Dataset, keyword: str, notes: list[model.Warning]) -> tuple[float, float] | None:
    """Two plausible positive spacings from a DS pair, else None and a warning."""
    texts = _decimal_strings(ds, keyword)
    if texts is None:
        return None
    low, high = PLAUSIBLE_SPACING_MM
    values = [_parse_float(text) for text in texts]
    if len(values) == 2 and all(v is not None and low <= v <= high for v in values):
        return values[0], values[1]
    notes.append(
        model.Warning(
            code="invalid_pixel_spacing",
            message=(
                f"{_attribute_label(keyword)} is '{_shown(texts)}', not two spacings between {low} and {high} mm; "
                "it was ignored."
            ),
        )
    )
    return None


def _magnification_value(ds: Dataset, notes: list[model.Warning]) -> float | None:
    texts = _decimal_strings(ds, "EstimatedRadiographicMagnificationFactor")
    if texts is None:
        return None
    low, high = PLAUSIBLE_MAGNIFICATION
    value = _parse_float(texts[0]) if len(texts) == 1 else None
    if value is not None and low <= value <= high:
        return value
    notes.append(
        model.Warning(
            code="invalid_magnification_factor",
            message=(
                f"{_attribute_label('EstimatedRadiographicMagnificationFactor')} is '{_shown(texts)}', not a factor "
                f"between {low} and {high}; the detector spacing was used uncorrected."
            ),
        )
    )
    return None


def _decimal_strings(ds: Dataset, keyword: str) -> list[str] | None:
    """The backslash-separated text of a DS element, unconverted; None if absent or empty.

    Reading the raw bytes avoids pydicom's conversion, which raises on
    non-numeric values and which we want to report, not crash on.
    """
    if keyword not in ds:
        return None
    element = ds.get_item(keyword)
    value = element.value
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value).decode("ascii", errors="replace")
    elif isinstance(value, (list, tuple, MultiValue)):
        text = "\\".join(str(v) for v in value)
    else:
        text = str(value)
    text = text.strip(" \0")
    if not text:
        return None
    return [part.strip(" \0") for part in text.split("\\")]


def _parse_float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _shown(texts: list[str]) -> str:
    """Show a header value in a message: printable, short."""
    shown = "\\".join(texts)
    shown = "".join(ch if ch.isprintable() else "?" for ch in shown)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _text_value(ds: Dataset, keyword: str) -> str | None:
    """A single text value, stripped; None when absent, empty or unreadable."""
    try:
        value = ds.get(keyword)
    except Exception:  # a malformed value is as good as absent here
        return None
    if value is None:
        return None
    if isinstance(value, (list, tuple, MultiValue)):
        value = "\\".join(str(v) for v in value)
    text = str(value).strip(" \0")
    return text or None


def _int_value(ds: Dataset, keyword: str, *, default: int | None) -> int | None:
    """An integer (US or IS) value; a malformed one makes the file unreadable."""
    if keyword not in ds:
        return default
    try:
        value = ds.get(keyword)
        if value is None or value == "":
            return default
        return int(value)
    except Exception:
        raise UnreadableInputError(
            f"The header value {_attribute_label(keyword)} is not an integer; {_EXPORT_AGAIN}."
        ) from None


def _float_value(ds: Dataset, keyword: str, *, default: float) -> float:
    texts = _decimal_strings(ds, keyword)
    if texts is None:
        return default
    value = _parse_float(texts[0])
    if value is None:
        raise UnreadableInputError(f"The header value {_attribute_label(keyword)} is not a number; {_EXPORT_AGAIN}.")
    return value


def _attribute_label(keyword: str) -> str:
    """E.g. 'Number of Frames (0028,0008)'."""
    return f"{dictionary_description(keyword)} {Tag(keyword)}"


def _sop_class_name(ds: Dataset) -> str:
    sop_class = _text_value(ds, "SOPClassUID")
    return _uid_name(sop_class, unknown="unknown object type") if sop_class else "unknown object type"


def _uid_name(uid: str, *, unknown: str = "an unknown transfer syntax") -> str:
    """The standard's name for a UID, e.g. 'JPEG 2000 Image Compression'."""
    name = UID(str(uid)).name
    return name if name and name != str(uid) else unknown
