"""radassist.dicom on synthetic data sets: values, polarity, spacing, codecs, refusals."""

from __future__ import annotations

import io
import logging
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    BasicTextSRStorage,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)

from dicom_fixtures import (
    PATIENT_ID,
    PATIENT_NAME,
    background_columns,
    dense_columns,
    make_dx_dataset,
    phantom_stored_values,
    set_raw_value,
    to_bytes,
    to_raw_dataset_bytes,
)
from radassist.dicom import object_pixel_spacing, read_dicom, read_header
from radassist.errors import InputTooLargeError, UnreadableInputError, UnsupportedInputError

SHAPE = (96, 64)
BITS = 12
TOP = 2**BITS - 1


def _phantom_ds(**kwargs) -> FileDataset:
    """The phantom as MONOCHROME2 12-bit, unless told otherwise."""
    dense_is_high = kwargs.get("photometric", "MONOCHROME2") == "MONOCHROME2"
    stored = phantom_stored_values(SHAPE, bits_stored=BITS, dense_is_high=dense_is_high)
    kwargs.setdefault("bits_stored", BITS)
    return make_dx_dataset(stored, **kwargs)


def _bone_minus_background(pixels: np.ndarray) -> float:
    columns = pixels.shape[1]
    bone = np.median(pixels[:, dense_columns(columns)])
    background = np.median(pixels[:, background_columns(columns)])
    return float(bone - background)


def _assert_same_up_to_affine(a: np.ndarray, b: np.ndarray) -> None:
    """`a` is a positive affine function of `b` (same image, same polarity)."""
    slope, intercept = np.polyfit(b.ravel().astype(np.float64), a.ravel().astype(np.float64), 1)
    assert slope > 0
    np.testing.assert_allclose(a, slope * b + intercept, atol=1e-3 * max(1.0, float(np.ptp(a))))


def _assert_clean_message(error: Exception) -> None:
    message = str(error)
    assert message and "\n" not in message
    assert "Traceback" not in message
    assert PATIENT_NAME.split("^")[0] not in message and PATIENT_ID not in message


# --- values and polarity -------------------------------------------------------


def test_output_is_float32_2d_with_header_shape():
    image = read_dicom(_phantom_ds())
    assert image.pixels.dtype == np.float32
    assert image.pixels.shape == SHAPE
    assert (image.study.rows, image.study.columns) == SHAPE
    assert np.isfinite(image.pixels).all()


def test_monochrome1_and_monochrome2_of_one_object_give_the_same_dense_bright_image():
    mono2 = read_dicom(_phantom_ds(photometric="MONOCHROME2")).pixels
    mono1 = read_dicom(_phantom_ds(photometric="MONOCHROME1")).pixels
    _assert_same_up_to_affine(mono1, mono2)
    assert _bone_minus_background(mono2) > 0.5 * TOP
    assert _bone_minus_background(mono1) > 0.5 * TOP


def test_monochrome1_is_reflected_within_the_stored_range():
    ds = _phantom_ds(photometric="MONOCHROME1")
    stored = ds.pixel_array.astype(np.float32)
    np.testing.assert_array_equal(read_dicom(ds).pixels, TOP - stored)


def test_rescale_slope_and_intercept_are_applied():
    ds = _phantom_ds(rescale=(2.5, -1000.0))
    stored = ds.pixel_array.astype(np.float64)
    np.testing.assert_allclose(read_dicom(ds).pixels, 2.5 * stored - 1000.0, rtol=0, atol=1e-3)


def test_zero_rescale_slope_is_unreadable():
    with pytest.raises(UnreadableInputError, match="Rescale Slope"):
        read_dicom(_phantom_ds(rescale=(0.0, 100.0)))


def test_signed_stored_values_with_rescale():
    stored = (phantom_stored_values(SHAPE, bits_stored=BITS).astype(np.int16) - 2048).astype(np.int16)
    ds = make_dx_dataset(stored, bits_stored=BITS, rescale=(1.0, 1024.0))
    np.testing.assert_array_equal(read_dicom(ds).pixels, stored.astype(np.float32) + 1024.0)


def test_monochrome1_applies_to_modality_values_after_a_negative_rescale_slope():
    # MONOCHROME1 means low *modality* values are dense; with slope -1 those
    # are the high stored values.
    stored = phantom_stored_values(SHAPE, bits_stored=BITS, dense_is_high=True)
    ds = make_dx_dataset(stored, bits_stored=BITS, photometric="MONOCHROME1", rescale=(-1.0, 5000.0))
    pixels = read_dicom(ds).pixels
    assert _bone_minus_background(pixels) > 0.5 * TOP
    _assert_same_up_to_affine(pixels, stored.astype(np.float32))


def test_modality_lut_sequence_is_applied_and_preferred_to_rescale():
    lut = np.round(np.sqrt(np.arange(TOP + 1) / TOP) * 60000).astype(np.uint16)  # non-linear
    ds = _phantom_ds(modality_lut=lut, rescale=(7.0, 3.0))
    stored = ds.pixel_array
    np.testing.assert_array_equal(read_dicom(ds).pixels, lut[stored].astype(np.float32))


def test_modality_lut_with_signed_first_mapped_value():
    lut = np.arange(4096, dtype=np.uint16) * 16
    stored = (phantom_stored_values(SHAPE, bits_stored=BITS).astype(np.int16) - 2048).astype(np.int16)
    ds = make_dx_dataset(stored, bits_stored=BITS, modality_lut=lut, modality_lut_first_mapped=-2048)
    np.testing.assert_array_equal(read_dicom(ds).pixels, lut[stored + 2048].astype(np.float32))


def test_modality_lut_then_monochrome1_inverts_within_the_lut_output_range():
    lut = (np.arange(TOP + 1, dtype=np.uint16) // 4 + 100).astype(np.uint16)
    ds = _phantom_ds(photometric="MONOCHROME1", modality_lut=lut)
    pixels = read_dicom(ds).pixels
    mapped = lut[ds.pixel_array].astype(np.float32)
    np.testing.assert_array_equal(pixels, float(lut.min() + lut.max()) - mapped)
    assert _bone_minus_background(pixels) > 0


@pytest.mark.parametrize(
    ("photometric", "shape", "inverted"),
    [
        ("MONOCHROME2", None, False),
        ("MONOCHROME2", "IDENTITY", False),
        ("MONOCHROME2", "INVERSE", True),
        ("MONOCHROME1", None, True),
        ("MONOCHROME1", "INVERSE", True),  # DX pairs them: one inversion, not two
        ("MONOCHROME1", "IDENTITY", True),
    ],
)
def test_presentation_lut_shape_and_photometric_invert_exactly_once(photometric, shape, inverted):
    stored = phantom_stored_values(SHAPE, bits_stored=BITS)
    ds = make_dx_dataset(stored, bits_stored=BITS, photometric=photometric, presentation_lut_shape=shape)
    expected = TOP - stored.astype(np.float32) if inverted else stored.astype(np.float32)
    np.testing.assert_array_equal(read_dicom(ds).pixels, expected)


def test_display_window_and_voi_lut_are_ignored():
    plain = read_dicom(_phantom_ds()).pixels
    windowed_ds = _phantom_ds(window=(300.0, 200.0))
    voi = Dataset()
    voi.LUTDescriptor = [256, 0, 16]
    voi.LUTData = list(range(255, -1, -1))
    windowed_ds.VOILUTSequence = [voi]
    windowed_ds.VOILUTFunction = "SIGMOID"
    np.testing.assert_array_equal(read_dicom(windowed_ds).pixels, plain)
    np.testing.assert_array_equal(read_dicom(_phantom_ds(window=(4000.0, 10.0))).pixels, plain)


# --- pixel spacing ---------------------------------------------------------------


def _codes(image) -> list[str]:
    return [w.code for w in image.warnings]


def test_pixel_spacing_wins_over_imager_spacing():
    image = read_dicom(_phantom_ds(spacing=(0.1, 0.12), imager_spacing=(0.2, 0.2), ermf=1.25))
    assert image.spacing_mm == pytest.approx((0.1, 0.12))
    assert image.study.pixel_spacing_mm == pytest.approx((0.1, 0.12))
    assert image.study.spacing_source == "PixelSpacing"
    assert not {"no_pixel_spacing", "spacing_from_imager"} & set(_codes(image))


def test_imager_spacing_is_divided_by_the_magnification_factor():
    image = read_dicom(_phantom_ds(imager_spacing=(0.2, 0.15), ermf=1.25))
    assert image.spacing_mm == pytest.approx((0.16, 0.12))
    assert image.study.spacing_source == "ImagerPixelSpacing/EstimatedRadiographicMagnificationFactor"


def test_imager_spacing_without_magnification_factor_is_used_with_a_warning():
    image = read_dicom(_phantom_ds(imager_spacing=(0.2, 0.2)))
    assert image.spacing_mm == pytest.approx((0.2, 0.2))
    assert image.study.spacing_source == "ImagerPixelSpacing"
    assert "spacing_from_imager" in _codes(image)


def test_no_spacing_gives_none_and_a_pixels_only_warning():
    image = read_dicom(_phantom_ds())
    assert image.spacing_mm is None and image.study.pixel_spacing_mm is None
    assert image.study.spacing_source == "none"
    warning = next(w for w in image.warnings if w.code == "no_pixel_spacing")
    assert "pixels" in warning.message


@pytest.mark.parametrize(
    "bad",
    ["0.000\\0.000", "-0.1\\-0.1", "abc\\def", "7.5\\7.5", "0.1", "0.1\\0.1\\0.1", "nan\\nan", "0.1\\0"],
)
def test_implausible_pixel_spacing_is_treated_as_absent_and_named(bad):
    image = read_dicom(to_bytes(_phantom_ds(spacing=bad)))
    assert image.spacing_mm is None
    assert image.study.spacing_source == "none"
    invalid = next(w for w in image.warnings if w.code == "invalid_pixel_spacing")
    assert bad in invalid.message
    assert "no_pixel_spacing" in _codes(image)


def test_bad_pixel_spacing_falls_back_to_imager_spacing():
    image = read_dicom(to_bytes(_phantom_ds(spacing="0.000\\0.000", imager_spacing=(0.14, 0.14), ermf=1.12)))
    assert image.spacing_mm == pytest.approx((0.125, 0.125))
    assert image.study.spacing_source == "ImagerPixelSpacing/EstimatedRadiographicMagnificationFactor"
    assert "invalid_pixel_spacing" in _codes(image)


@pytest.mark.parametrize("bad_ermf", ["0", "-1.2", "abc", "50"])
def test_implausible_magnification_factor_is_ignored_with_a_warning(bad_ermf):
    image = read_dicom(to_bytes(_phantom_ds(imager_spacing=(0.2, 0.2), ermf=bad_ermf)))
    assert image.spacing_mm == pytest.approx((0.2, 0.2))
    assert image.study.spacing_source == "ImagerPixelSpacing"
    invalid = next(w for w in image.warnings if w.code == "invalid_magnification_factor")
    assert bad_ermf in invalid.message


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="0123456789.-+eE\\ abnNiI\0", max_size=24))
def test_any_pixel_spacing_text_gives_plausible_spacing_or_none_with_a_warning(text):
    ds = Dataset()
    set_raw_value(ds, "PixelSpacing", "DS", text)
    spacing, source, notes = object_pixel_spacing(ds)
    if spacing is None:
        assert source == "none" and "no_pixel_spacing" in [w.code for w in notes]
    else:
        assert source == "PixelSpacing"
        assert all(0.01 <= v <= 5.0 for v in spacing)


# --- transfer syntaxes -------------------------------------------------------------


def _reference_pixels() -> np.ndarray:
    return read_dicom(_phantom_ds(photometric="MONOCHROME1", rescale=(1.0, -50.0))).pixels


@pytest.mark.parametrize(
    ("transfer_syntax", "plugin"),
    [
        (RLELossless, "pydicom"),
        (JPEGLSLossless, "pyjpegls"),
        (JPEG2000Lossless, "pylibjpeg"),
    ],
)
def test_lossless_compression_round_trips_to_the_same_pixels(transfer_syntax, plugin):
    ds = _phantom_ds(photometric="MONOCHROME1", rescale=(1.0, -50.0))
    ds.compress(transfer_syntax, encoding_plugin=plugin)
    image = read_dicom(to_bytes(ds))
    np.testing.assert_array_equal(image.pixels, _reference_pixels())
    assert image.study.transfer_syntax_uid == transfer_syntax
    assert "lossy_compression" not in _codes(image)


@pytest.mark.parametrize(
    "transfer_syntax", [DeflatedExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian]
)
def test_uncompressed_encodings_round_trip_to_the_same_pixels(transfer_syntax):
    ds = _phantom_ds(photometric="MONOCHROME1", rescale=(1.0, -50.0), transfer_syntax=transfer_syntax)
    image = read_dicom(to_bytes(ds))
    np.testing.assert_array_equal(image.pixels, _reference_pixels())
    assert image.study.transfer_syntax_uid == transfer_syntax


def test_lossy_jpeg2000_decodes_close_to_the_original_and_is_flagged():
    ds = _phantom_ds()
    original = read_dicom(ds).pixels
    ds.compress(JPEG2000, encoding_plugin="pylibjpeg", j2k_cr=[20])
    image = read_dicom(to_bytes(ds))
    assert "lossy_compression" in _codes(image)
    assert np.corrcoef(image.pixels.ravel(), original.ravel())[0, 1] > 0.95


def test_lossy_image_compression_attribute_is_reported():
    image = read_dicom(_phantom_ds(LossyImageCompression="01"))
    assert "lossy_compression" in _codes(image)
    assert "lossy_compression" not in _codes(read_dicom(_phantom_ds(LossyImageCompression="00")))


def test_raw_data_set_without_preamble_or_file_meta_is_read():
    ds = _phantom_ds(photometric="MONOCHROME1", rescale=(1.0, -50.0))
    for implicit_vr, expected_syntax in ((True, ImplicitVRLittleEndian), (False, ExplicitVRLittleEndian)):
        raw = to_raw_dataset_bytes(ds, implicit_vr=implicit_vr)
        assert raw[128:132] != b"DICM"
        image = read_dicom(raw)
        np.testing.assert_array_equal(image.pixels, _reference_pixels())
        assert image.study.transfer_syntax_uid == expected_syntax
        assert read_header(raw).file_meta.TransferSyntaxUID == expected_syntax


def test_dataset_without_file_meta_in_memory_is_read():
    ds = Dataset()
    ds.update(_phantom_ds())
    assert not hasattr(ds, "file_meta")
    np.testing.assert_array_equal(read_dicom(ds).pixels, read_dicom(_phantom_ds()).pixels)


# --- inputs, header, study ------------------------------------------------------------


def test_every_source_type_gives_the_same_pixels(tmp_path: Path):
    ds = _phantom_ds()
    data = to_bytes(ds)
    path = tmp_path / "image.dcm"
    path.write_bytes(data)

    class Unseekable(io.RawIOBase):
        def __init__(self, payload: bytes):
            self._inner = io.BytesIO(payload)

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def readinto(self, buffer) -> int:
            return self._inner.readinto(buffer)

    expected = read_dicom(ds).pixels
    with path.open("rb") as handle:
        from_handle = read_dicom(handle).pixels
    results = [
        read_dicom(str(path)).pixels,
        read_dicom(path).pixels,
        read_dicom(data).pixels,
        read_dicom(io.BytesIO(data)).pixels,
        read_dicom(Unseekable(data)).pixels,
        from_handle,
    ]
    for result in results:
        np.testing.assert_array_equal(result, expected)


def test_input_dataset_is_not_modified_and_header_has_no_pixel_data():
    ds = Dataset()
    ds.update(_phantom_ds())
    image = read_dicom(ds)
    assert "PixelData" in ds and not hasattr(ds, "file_meta")
    assert "PixelData" not in image.header
    assert image.header.SOPInstanceUID == ds.SOPInstanceUID
    assert image.header.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian


def test_read_header_stops_before_pixels():
    header = read_header(to_bytes(_phantom_ds()))
    assert "PixelData" not in header
    assert header.Rows == SHAPE[0] and header.PatientID == PATIENT_ID


def test_study_info_comes_from_the_header():
    ds = _phantom_ds(photometric="MONOCHROME1", Laterality="R", ImageLaterality="L")
    study = read_dicom(ds).study
    assert study.laterality == "L"
    assert study.sop_instance_uid == ds.SOPInstanceUID
    assert study.study_instance_uid == ds.StudyInstanceUID
    assert study.series_instance_uid == ds.SeriesInstanceUID
    assert study.accession_number == "ACC123"
    assert (study.modality, study.body_part, study.view_position) == ("DX", "LEG", "AP")
    assert study.photometric_interpretation == "MONOCHROME1"
    assert study.bits_stored == BITS
    assert study.transfer_syntax_uid == ExplicitVRLittleEndian
    assert read_dicom(_phantom_ds(Laterality="R")).study.laterality == "R"
    assert read_dicom(_phantom_ds()).study.laterality is None


def test_missing_photometric_is_assumed_monochrome2_with_a_warning():
    ds = _phantom_ds()
    del ds.PhotometricInterpretation
    image = read_dicom(ds)
    np.testing.assert_array_equal(image.pixels, read_dicom(_phantom_ds()).pixels)
    assert "photometric_assumed" in _codes(image)


# --- refusals ---------------------------------------------------------------------------


def test_multi_frame_is_unsupported():
    frames = np.stack([phantom_stored_values(SHAPE, bits_stored=BITS, seed=i) for i in range(3)])
    ds = make_dx_dataset(frames, bits_stored=BITS, number_of_frames=3)
    with pytest.raises(UnsupportedInputError, match="multi-frame.*3 frames") as caught:
        read_dicom(ds)
    _assert_clean_message(caught.value)


@pytest.mark.parametrize(("photometric", "samples"), [("RGB", 3), ("YBR_FULL", 3), ("PALETTE COLOR", 1)])
def test_colour_is_unsupported(photometric, samples):
    if samples == 3:
        pixels = np.zeros(SHAPE + (3,), dtype=np.uint8)
    else:
        pixels = np.zeros(SHAPE, dtype=np.uint8)
    ds = make_dx_dataset(pixels, photometric=photometric, samples_per_pixel=samples)
    with pytest.raises(UnsupportedInputError, match="colour") as caught:
        read_dicom(ds)
    assert photometric in str(caught.value)
    _assert_clean_message(caught.value)


def test_object_without_pixel_data_is_unsupported_and_named():
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = BasicTextSRStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    sr = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    sr.SOPClassUID = BasicTextSRStorage
    sr.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    sr.Modality = "SR"
    sr.PatientName = PATIENT_NAME
    with pytest.raises(UnsupportedInputError, match="no pixel data.*Basic Text SR") as caught:
        read_dicom(to_bytes(sr))
    assert type(caught.value) is UnsupportedInputError
    _assert_clean_message(caught.value)


def test_huge_image_is_refused_from_the_header_before_decoding():
    ds = make_dx_dataset(np.zeros((4, 4), dtype=np.uint16))
    ds.Rows, ds.Columns = 60000, 60000  # 7.2 GB if anyone tried to decode it
    with pytest.raises(InputTooLargeError, match="60000 x 60000") as caught:
        read_dicom(to_bytes(ds))
    _assert_clean_message(caught.value)


def test_max_pixels_is_configurable():
    with pytest.raises(InputTooLargeError):
        read_dicom(_phantom_ds(), max_pixels=SHAPE[0] * SHAPE[1] - 1)
    assert read_dicom(_phantom_ds(), max_pixels=SHAPE[0] * SHAPE[1]).pixels.shape == SHAPE


def test_zero_size_image_is_unsupported():
    ds = make_dx_dataset(np.zeros((4, 4), dtype=np.uint16))
    ds.Rows = 0
    with pytest.raises(UnsupportedInputError, match="empty") as caught:
        read_dicom(ds)
    assert type(caught.value) is UnsupportedInputError


@pytest.mark.parametrize("compressed", [False, True])
@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_file_is_unreadable(compressed, keep):
    ds = _phantom_ds()
    if compressed:
        ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
    data = to_bytes(ds)
    with pytest.raises(UnreadableInputError, match="truncated") as caught:
        read_dicom(data[: int(len(data) * keep)])
    _assert_clean_message(caught.value)


def test_file_cut_inside_the_header_is_unreadable():
    data = to_bytes(_phantom_ds())
    # Also exactly between two elements, before the image's size: what is left
    # parses as a whole dataset, but an X-ray image object without its pixels.
    boundary = data.index(b"\x28\x00\x02\x00")  # (0028,0002) Samples per Pixel, little endian
    for cut in (140, 300, 500, boundary):
        with pytest.raises(UnreadableInputError, match="truncated") as caught:
            read_dicom(data[:cut])
        _assert_clean_message(caught.value)


def _png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        (_png_bytes(), "PNG"),
        (b"Patient has calf pain.\nNo calcification seen.\n" * 5, "text"),
        (b"", "empty"),
        (bytes(range(7, 200)) * 3, "DICOM"),
    ],
)
def test_non_dicom_input_is_unreadable(payload, named):
    with pytest.raises(UnreadableInputError, match=named) as caught:
        read_dicom(payload)
    _assert_clean_message(caught.value)
    with pytest.raises(UnreadableInputError):
        read_header(payload)


def test_missing_file_is_unreadable(tmp_path: Path):
    with pytest.raises(UnreadableInputError, match="Cannot open"):
        read_dicom(tmp_path / "DOE_JANE_scan.dcm")


def test_undecodable_compressed_pixel_data_is_unreadable():
    ds = _phantom_ds()
    ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
    ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + bytes(200)])  # a J2K start marker, then garbage
    with pytest.raises(UnreadableInputError, match="JPEG 2000.*cannot be decoded") as caught:
        read_dicom(to_bytes(ds))
    _assert_clean_message(caught.value)


def test_transfer_syntax_without_any_decoder_is_named():
    ds = _phantom_ds()
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2 video
    ds.PixelData = encapsulate([bytes(64)])
    with pytest.raises(UnsupportedInputError, match=r"1\.2\.840\.10008\.1\.2\.4\.100") as caught:
        read_dicom(to_bytes(ds))
    _assert_clean_message(caught.value)


def test_compressed_syntax_whose_plugin_is_missing_names_the_plugin(monkeypatch):
    class DecoderWithoutPlugins:
        is_available = False
        is_native = False
        missing_dependencies = ["pylibjpeg - requires pylibjpeg>=2.0 and pylibjpeg-openjpeg>=2.0"]

    monkeypatch.setattr("radassist.dicom.get_decoder", lambda uid: DecoderWithoutPlugins())
    ds = _phantom_ds()
    ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
    with pytest.raises(UnsupportedInputError, match="pylibjpeg-openjpeg") as caught:
        read_dicom(ds)
    assert JPEG2000Lossless in str(caught.value)
    _assert_clean_message(caught.value)


def test_pydicom_warnings_and_logs_do_not_escape(caplog, capsys):
    ds = _phantom_ds(imager_spacing=(0.2, 0.2))
    set_raw_value(ds, "PatientBirthDate", "DA", "not-a-date-" + PATIENT_ID)
    set_raw_value(ds, "WindowCenter", "DS", "abc")
    data = to_bytes(ds)
    level_before = logging.getLogger("pydicom").level
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_dicom(data)
        with pytest.raises(UnreadableInputError):
            read_dicom(b"\x08\x00" + bytes(range(50, 250)))
    assert not [r for r in caplog.records if r.name.split(".")[0] in ("pydicom", "pylibjpeg", "openjpeg")]
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert logging.getLogger("pydicom").level == level_before


@pytest.mark.parametrize(
    "payload",
    [
        b"\x08\x00" + bytes(range(50, 250)),  # parses as one over-long element
        b"\x08\x00\x99\x99\x04\x00\x00\x00abcd\x09\x00\x10\x00\x02\x00\x00\x00xy",  # two well-formed nonsense elements
    ],
)
def test_bytes_that_merely_start_like_a_raw_data_set_are_not_dicom(payload):
    with pytest.raises(UnreadableInputError) as caught:
        read_dicom(payload)
    _assert_clean_message(caught.value)


def test_uncompressed_pixel_data_shorter_than_the_header_is_unreadable():
    ds = _phantom_ds()
    ds.PixelData = ds.PixelData[: len(ds.PixelData) // 3]
    with pytest.raises(UnreadableInputError, match="truncated"):
        read_dicom(ds)
