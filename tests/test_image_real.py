"""analyze_image on the real radiographs in ../shared (skipped when that folder is absent)."""

from __future__ import annotations

import pytest

from radassist.dicom import read_dicom
from radassist.image import analyze_image


def _analyse(shared, name):
    path = shared / "data" / "real_images" / name
    if not path.exists():
        pytest.skip(f"{name} is not in the shared data")
    image = read_dicom(path)
    return analyze_image(image.pixels, image.spacing_mm)


@pytest.mark.parametrize("name", ["RG3_J2KR.dcm", "RG3_J2KI.dcm"])
def test_real_lower_leg_is_analysed_without_calcification(shared, name):
    # Distal tibia with a bone lesion (not a calcification), an "R" lead marker
    # and collimation on both sides; no spacing in the file.
    result = _analyse(shared, name)
    assert result.status == "analysed"
    assert result.clusters == []
    assert result.primary_pattern == "none"
    assert any("collimation border on 2 sides" in n for n in result.notes)
    assert any("marker" in n for n in result.notes)
    assert any("no pixel spacing" in n for n in result.notes)


@pytest.mark.parametrize(
    "name",
    [
        "RG1_J2KI.dcm",  # chest PA
        "966_fixed.dcm",  # chest PA
        "RG2_JPLL.dcm",  # hip / pelvis
        "GH133.dcm",  # mammogram
        "mlut_18.dcm",  # test pattern
        "vlut_04.dcm",  # test pattern
    ],
)
def test_other_body_parts_and_test_patterns_are_not_analysed_as_a_leg(shared, name):
    result = _analyse(shared, name)
    assert result.status == "insufficient_information"
    assert result.missing
    assert result.clusters == []
