"""radassist.dicom on the real DICOM files in ../shared/data/real_images/ (see SOURCES.md there).

Every file either decodes to finite float32 pixels of the header's shape with
the documented spacing, or fails with one of radassist's errors. Skipped when
the shared folder is absent; ``RADASSIST_SHARED`` overrides its location.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.encaps import generate_frames

from radassist.dicom import read_dicom, read_header
from radassist.errors import RadassistError, UnreadableInputError, UnsupportedInputError


def _shared_dir() -> Path:
    override = os.environ.get("RADASSIST_SHARED")
    return Path(override) if override else Path(__file__).resolve().parents[2] / "shared"


REAL_IMAGES = _shared_dir() / "data" / "real_images"
pytestmark = pytest.mark.skipif(not REAL_IMAGES.is_dir(), reason=f"no real images at {REAL_IMAGES}")

ALL_FILES = (
    sorted(p for p in REAL_IMAGES.rglob("*") if p.is_file() and p.suffix.lower() != ".md")
    if REAL_IMAGES.is_dir()
    else []
)

#: Files that must be refused, and how (SOURCES.md).
EXPECTED_ERRORS: dict[str, type[RadassistError]] = {
    "966.dcm": UnreadableInputError,  # invalid J2K COM marker
    "RG2_JPLY.dcm": UnreadableInputError,  # invalid SOS Se value
    "HasFragmentSequence.dcm": UnsupportedInputError,  # 96 frames
}
NOT_DICOM_SUFFIXES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}

_IPS_ERMF = "ImagerPixelSpacing/EstimatedRadiographicMagnificationFactor"
_NO_SPACING = (None, "none")
_RG2 = ((0.2, 0.2), "PixelSpacing")

#: (row, column) spacing in mm and its source, as documented in SOURCES.md.
EXPECTED_SPACING: dict[str, tuple[tuple[float, float] | None, str]] = {
    "966_fixed.dcm": ((0.16, 0.16), "PixelSpacing"),
    "CR-MONO1-10-chest": _NO_SPACING,
    "CR-ModalitySequenceLUT.dcm": ((0.15, 0.15), "PixelSpacing"),
    "GH133.dcm": ((0.09409090909091, 0.09409090909091), _IPS_ERMF),  # ERMF 1
    "JPEG2KLossless_1s_1f_u_16_16.dcm": ((0.4, 0.4), "ImagerPixelSpacing"),
    "JPEGBaseline_1s_1f_u_08_08.dcm": ((1.0, 1.0), "PixelSpacing"),
    "OutOfBoundsOverlay.dcm": ((0.085 / 1.0433386837881,) * 2, _IPS_ERMF),
    "RG1_J2KI.dcm": _NO_SPACING,  # "0.000\0.000"
    "RG2_JLSL.dcm": _RG2,
    "RG2_JLSN.dcm": _RG2,
    "RG2_JPLL.dcm": _RG2,
    "RG2_JPLY_fixed.dcm": _RG2,
    "RG3_J2KI.dcm": _NO_SPACING,
    "RG3_J2KR.dcm": _NO_SPACING,
    "RG3_from_J2KR_Deflated.dcm": _NO_SPACING,
    "RG3_from_J2KR_ExplicitVRLE.dcm": _NO_SPACING,
    "RG3_from_J2KR_ImplicitVRLE_nometa_nopreamble.dcm": _NO_SPACING,
    "RG3_from_J2KR_JPEGLSLossless.dcm": _NO_SPACING,
    "RG3_from_J2KR_JPEGLosslessSV1.dcm": _NO_SPACING,
    "RG3_from_J2KR_RLE.dcm": _NO_SPACING,
    "highdicom_dx_image.dcm": ((1.2, 1.201199999999), "PixelSpacing"),
    "image_dfl.dcm": _NO_SPACING,
    "mlut_18.dcm": _NO_SPACING,
    "vlut_04.dcm": _NO_SPACING,
}

RG3_LOSSLESS_VARIANTS = [
    "derived/RG3_from_J2KR_ExplicitVRLE.dcm",
    "derived/RG3_from_J2KR_JPEGLosslessSV1.dcm",
    "derived/RG3_from_J2KR_JPEGLSLossless.dcm",
    "derived/RG3_from_J2KR_RLE.dcm",
    "derived/RG3_from_J2KR_Deflated.dcm",
    "derived/RG3_from_J2KR_ImplicitVRLE_nometa_nopreamble.dcm",
]


def _file(relative: str) -> Path:
    path = REAL_IMAGES / relative
    if not path.is_file():
        pytest.skip(f"{relative} is not in {REAL_IMAGES}")
    return path


@lru_cache(maxsize=2)
def _pixels(relative: str) -> np.ndarray:
    return read_dicom(_file(relative)).pixels


def _assert_one_line(error: Exception) -> None:
    message = str(error)
    assert message and "\n" not in message and "Traceback" not in message


# --- every file -------------------------------------------------------------------


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: str(p.relative_to(REAL_IMAGES)))
def test_every_real_file_decodes_or_is_refused_cleanly(path: Path):
    if path.suffix.lower() in NOT_DICOM_SUFFIXES:
        with pytest.raises(UnreadableInputError, match=NOT_DICOM_SUFFIXES[path.suffix.lower()]) as caught:
            read_dicom(path)
        _assert_one_line(caught.value)
        return
    if path.name in EXPECTED_ERRORS:
        with pytest.raises(EXPECTED_ERRORS[path.name]) as caught:
            read_dicom(path)
        assert type(caught.value) is EXPECTED_ERRORS[path.name]
        _assert_one_line(caught.value)
        return

    try:
        image = read_dicom(path)
    except (UnreadableInputError, UnsupportedInputError) as error:
        # A file added after SOURCES.md may be refused, but only cleanly.
        assert path.name not in EXPECTED_SPACING, f"documented file refused: {error}"
        _assert_one_line(error)
        return

    header = read_header(path)
    assert "PixelData" not in header and "PixelData" not in image.header
    assert image.pixels.dtype == np.float32
    assert image.pixels.shape == (int(header.Rows), int(header.Columns))
    assert (image.study.rows, image.study.columns) == image.pixels.shape
    assert np.isfinite(image.pixels).all()
    assert np.ptp(image.pixels) > 0

    if path.name in EXPECTED_SPACING:
        spacing, source = EXPECTED_SPACING[path.name]
        assert image.study.spacing_source == source
        if spacing is None:
            assert image.spacing_mm is None
            assert "no_pixel_spacing" in [w.code for w in image.warnings]
        else:
            assert image.spacing_mm == pytest.approx(spacing, rel=1e-6)
    elif image.spacing_mm is not None:
        assert all(0.01 <= v <= 5.0 for v in image.spacing_mm)


# --- specifics from SOURCES.md ----------------------------------------------------------


@pytest.mark.parametrize("variant", RG3_LOSSLESS_VARIANTS)
def test_rg3_lossless_variants_decode_to_the_same_array(variant):
    np.testing.assert_array_equal(_pixels(variant), _pixels("RG3_J2KR.dcm"))


def test_rg3_lossy_jpeg2000_is_close_to_the_lossless_image_and_flagged():
    image = read_dicom(_file("RG3_J2KI.dcm"))
    reference = _pixels("RG3_J2KR.dcm")
    assert "lossy_compression" in [w.code for w in image.warnings]
    assert not np.array_equal(image.pixels, reference)
    assert np.corrcoef(image.pixels.ravel(), reference.ravel())[0, 1] > 0.99


@pytest.mark.parametrize(
    "relative",
    [
        "RG3_J2KR.dcm",  # lower leg: the central band crosses the tibial shaft
        "966_fixed.dcm",  # chest, MONOCHROME1 with Presentation LUT Shape INVERSE: one inversion only
        "CR-MONO1-10-chest",  # chest, no File Meta
        "RG1_J2KI.dcm",  # chest
    ],
)
def test_monochrome1_radiographs_come_out_with_dense_bright(relative):
    """The mid-line band (tibia; spine and mediastinum) is brighter than the exposed field's median.

    Saturated pixels (collimation, burnt-out background) are left out so the
    comparison is between anatomy and the direct-exposure background; with
    inverted polarity the sign of the difference flips.
    """
    pixels = _pixels(relative)
    low, high = pixels.min(), pixels.max()
    columns = pixels.shape[1]
    band = pixels[:, int(0.45 * columns) : int(0.55 * columns)]
    exposed = pixels[(pixels > low) & (pixels < high)]
    band = band[(band > low) & (band < high)]
    spread = np.percentile(exposed, 99) - np.percentile(exposed, 1)
    assert np.median(band) - np.median(exposed) > 0.05 * spread


def test_rg3_has_no_spacing_and_says_sizes_are_in_pixels():
    image = read_dicom(_file("RG3_J2KR.dcm"))
    assert image.spacing_mm is None and image.study.pixel_spacing_mm is None
    assert image.study.spacing_source == "none"
    assert "pixels" in next(w.message for w in image.warnings if w.code == "no_pixel_spacing")
    assert (image.study.modality, image.study.body_part, image.study.laterality) == ("CR", "EXTREMITY", "R")


def test_rg1_zero_pixel_spacing_is_ignored_and_named():
    image = read_dicom(_file("RG1_J2KI.dcm"))
    assert image.spacing_mm is None
    codes = [w.code for w in image.warnings]
    assert "no_pixel_spacing" in codes and "lossy_compression" in codes
    invalid = next(w for w in image.warnings if w.code == "invalid_pixel_spacing")
    assert "0.000\\0.000" in invalid.message


def test_out_of_bounds_overlay_spacing_is_corrected_for_magnification():
    image = read_dicom(_file("OutOfBoundsOverlay.dcm"))
    assert image.study.spacing_source == _IPS_ERMF
    assert image.spacing_mm == pytest.approx((0.0815, 0.0815), abs=5e-5)


def _lut_of(ds: pydicom.Dataset) -> tuple[np.ndarray, int]:
    item = ds.ModalityLUTSequence[0]
    data = item.LUTData
    lut = np.frombuffer(data, dtype="<u2") if isinstance(data, bytes) else np.asarray(data, dtype=np.uint16)
    return lut.astype(np.float64), int(item.LUTDescriptor[1])


def test_cr_modality_sequence_lut_is_applied_before_the_monochrome1_inversion():
    path = _file("CR-ModalitySequenceLUT.dcm")
    ds = pydicom.dcmread(path)
    lut, first = _lut_of(ds)
    mapped = lut[np.clip(ds.pixel_array.astype(np.int64) - first, 0, len(lut) - 1)]
    assert not np.allclose(mapped, ds.pixel_array)  # the LUT is not the identity
    pixels = read_dicom(path).pixels.astype(np.float64)
    # MONOCHROME1: inverted modality values, i.e. pixels + LUT(stored) is constant.
    total = pixels + mapped
    assert np.ptp(total) == 0


def test_signed_12_bit_modality_lut_is_applied():
    path = _file("mlut_18.dcm")
    ds = pydicom.dcmread(path)
    lut, first = _lut_of(ds)
    expected = lut[np.clip(ds.pixel_array.astype(np.int64) - first, 0, len(lut) - 1)]
    np.testing.assert_array_equal(read_dicom(path).pixels, expected.astype(np.float32))


def test_jpeg_ls_lossless_equals_jpeg_lossless_of_the_same_image():
    np.testing.assert_array_equal(_pixels("RG2_JLSL.dcm"), _pixels("RG2_JPLL.dcm"))


def test_jpeg_ls_near_lossless_stays_within_its_near_bound():
    path = _file("RG2_JLSN.dcm")
    frame = next(generate_frames(pydicom.dcmread(path).PixelData, number_of_frames=1))
    start_of_scan = frame.index(b"\xff\xda")
    components = frame[start_of_scan + 4]
    near = frame[start_of_scan + 5 + 2 * components]  # JPEG-LS SOS: Ls, Ns, Ns x (Cs, Tm), NEAR
    difference = np.abs(read_dicom(path).pixels - _pixels("RG2_JPLL.dcm"))
    assert 0 < difference.max() <= near


def test_jpeg_extended_12_bit_decodes_close_to_the_lossless_image():
    image = read_dicom(_file("RG2_JPLY_fixed.dcm"))
    assert "lossy_compression" in [w.code for w in image.warnings]
    reference = _pixels("RG2_JPLL.dcm")
    assert np.corrcoef(image.pixels.ravel(), reference.ravel())[0, 1] > 0.99


def test_16_bit_jpeg2000_keeps_its_unsigned_stored_range():
    pixels = read_dicom(_file("JPEG2KLossless_1s_1f_u_16_16.dcm")).pixels
    # SOURCES.md: stored values 32744-65535, MONOCHROME2, identity rescale.
    assert (pixels.min(), pixels.max()) == (32744.0, 65535.0)


@pytest.mark.parametrize(("relative", "error"), sorted(EXPECTED_ERRORS.items()))
def test_broken_and_multi_frame_files_give_their_reason(relative, error):
    with pytest.raises(error) as caught:
        read_dicom(_file(relative))
    message = str(caught.value)
    expected_words = {"966.dcm": "cannot be decoded", "RG2_JPLY.dcm": "cannot be decoded",
                      "HasFragmentSequence.dcm": "multi-frame (96 frames)"}
    assert expected_words[relative] in message
