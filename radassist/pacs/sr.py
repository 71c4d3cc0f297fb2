"""The result as a DICOM Comprehensive Structured Report (highdicom).

The report follows TID 1500 (Measurement Report): one planar ROI group per
calcification cluster (and per soft-tissue mass) with its pattern, size and
image region on the source image; then a "Qualitative Evaluations" container
with the report-text concepts used, each recommendation with its rule ids and
rationale, the warnings and the impression. It is stored in the source study
(same Study Instance UID), in a series of its own, and marked UNVERIFIED: it is
decision support for a radiologist, never a diagnosis.

UIDs are derived from the source SOP Instance UID and the algorithm version,
so analysing the same image twice with the same algorithm gives the same SR
instance (a PACS keeps one copy), never a second report.
"""

from __future__ import annotations

import copy
import datetime
from typing import Optional

import highdicom as hd
import numpy as np
import pydicom
from pydicom import config
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sr.codedict import codes as dicom_codes
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pydicom.valuerep import validate_value

from radassist import __version__
from radassist.model import AnalysisResult, Cluster, Mass

from . import codes

#: Series Number of radassist's SR series (high, so viewers list it after the images).
SR_SERIES_NUMBER = 9901
SR_SERIES_DESCRIPTION = "radassist decision support (UNVERIFIED)"
MANUFACTURER = "radassist"

#: What the SR copies from the source header (Patient, General Study and the
#: references); everything else of the source stays out of the report.
_COPIED_ATTRIBUTES = (
    "SpecificCharacterSet", "PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex",
    "StudyInstanceUID", "StudyDate", "StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName",
    "StudyDescription", "SeriesInstanceUID", "SOPClassUID", "SOPInstanceUID", "Modality", "Rows", "Columns",
    "InstanceNumber",
)
#: Type 2 in the SR: present, empty when the source has no valid value.
_TYPE_2_ATTRIBUTES = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                      "StudyID", "AccessionNumber", "ReferringPhysicianName")
_REQUIRED_REFERENCES = ("StudyInstanceUID", "SeriesInstanceUID", "SOPClassUID", "SOPInstanceUID")
_NO_UNITS = dicom_codes.UCUM.NoUnits
_MILLIMETRE = dicom_codes.UCUM.Millimeter
_LATERALITY = {"R": dicom_codes.SCT.Right, "L": dicom_codes.SCT.Left}


def sr_uids(source_sop_instance_uid: str, study_instance_uid: str, algorithm_version: str) -> tuple[str, str]:
    """``(sop_instance_uid, series_instance_uid)`` of the SR for a source image.

    Deterministic: the same image and algorithm version always give the same
    SR instance; every SR of one study and algorithm version shares a series.
    """
    sop = generate_uid(entropy_srcs=["radassist-sr", source_sop_instance_uid, algorithm_version])
    series = generate_uid(entropy_srcs=["radassist-sr-series", study_instance_uid, algorithm_version])
    return sop, series


def build_sr(dataset: Dataset, result: AnalysisResult) -> Dataset:
    """Build the Comprehensive SR of one analysis.

    Parameters
    ----------
    dataset : pydicom.dataset.Dataset
        The source image's header (pixel data are not needed and not copied).
    result : radassist.model.AnalysisResult
        The analysis of that image.

    Returns
    -------
    pydicom.dataset.Dataset
        A Comprehensive SR with File Meta (Explicit VR Little Endian), in the
        source study, ready to be saved or sent.

    Raises
    ------
    ValueError
        The source header lacks one of the UIDs the report must reference.
    """
    source = sanitised_source(dataset)
    alg = result.algorithm
    sop_uid, series_uid = sr_uids(source.SOPInstanceUID, source.StudyInstanceUID, alg.version)
    algorithm_id = hd.sr.AlgorithmIdentification(name=f"radassist {alg.id}", version=alg.version,
                                                 manufacturer=MANUFACTURER)
    laterality = _LATERALITY.get((result.study.laterality or "").upper())
    site = hd.sr.FindingSite(anatomic_location=codes.concept("finding_site"), laterality=laterality)
    region_source = hd.sr.SourceImageForRegion.from_source_image(source)

    groups = [_image_group(result, source, algorithm_id, site, sop_uid)]
    groups += [_cluster_group(c, region_source, algorithm_id, site, sop_uid) for c in result.image.clusters]
    groups += [_mass_group(m, region_source, algorithm_id, site, sop_uid) for m in result.image.masses]

    observer = hd.sr.ObserverContext(
        observer_type=dicom_codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=generate_uid(entropy_srcs=["radassist-device", alg.id]),
            name="radassist",
            manufacturer_name=MANUFACTURER,
            model_name=f"{alg.id} {alg.version}",
        ),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=codes.concept("procedure_reported"),
        imaging_measurements=groups,
        title=codes.concept("report_title"),
    )
    root = report[0]
    items = root.ContentSequence
    items.append(_qualitative_evaluations(result))
    # highdicom's document constructor deep-copies the tree it is given, parses
    # the copy back into content items and walks it three times (evidence,
    # SCOORD3D): ~80 % of the SR's cost, for checks this tree passes by
    # construction (its only image reference is ``source``, the evidence). So
    # it gets the root container alone, and the tree is attached after.
    root.ContentSequence = []

    now = datetime.datetime.now()
    sr = hd.sr.ComprehensiveSR(
        evidence=[source],
        content=root,
        series_instance_uid=series_uid,
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=sop_uid,
        instance_number=1,
        manufacturer=MANUFACTURER,
        is_complete=True,
        is_final=False,
        is_verified=False,
        series_description=SR_SERIES_DESCRIPTION,
        content_date=now.date(),
        content_time=now.time(),
    )
    sr.ContentSequence = items
    # A plain Dataset: the ComprehensiveSR object's ``content`` would describe the root alone.
    sr = Dataset(sr)
    sr.ManufacturerModelName = "radassist"
    sr.SoftwareVersions = [f"radassist {__version__}", f"{alg.id} {alg.version}"]
    sr.CodingSchemeIdentificationSequence = _coding_schemes()
    sr.file_meta = FileMetaDataset()
    sr.file_meta.MediaStorageSOPClassUID = sr.SOPClassUID
    sr.file_meta.MediaStorageSOPInstanceUID = sr.SOPInstanceUID
    sr.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return sr


def sanitised_source(dataset: Dataset) -> Dataset:
    """The attributes the SR copies from the source, each valid for its VR.

    Modalities write headers highdicom (rightly) refuses: values too long for
    their VR, stray control characters, malformed dates. A value that cannot
    be made valid by trimming is left out (these attributes are type 2 in the
    SR, so empty is allowed); the UIDs the report references are required.
    """
    source = Dataset()
    for keyword in _COPIED_ATTRIBUTES:
        if keyword not in dataset:
            continue
        element = copy.deepcopy(dataset[keyword])
        value = _valid_value(element.VR, element.value)
        if value is not None:
            element.value = value
            source.add(element)
        elif keyword in _TYPE_2_ATTRIBUTES:
            setattr(source, keyword, "")
    for keyword in _TYPE_2_ATTRIBUTES:
        source.setdefault(keyword, "")
    missing = [k for k in _REQUIRED_REFERENCES if not source.get(k)]
    if missing:
        raise ValueError(f"the source header lacks {', '.join(missing)}, which the report must reference")
    source.setdefault("Rows", dataset.get("Rows", 0))
    source.setdefault("Columns", dataset.get("Columns", 0))
    return source


def _valid_value(vr: str, value):
    """``value`` if valid for ``vr``, else a trimmed valid value, else None."""
    if value is None or value == "":
        return value
    if _is_valid(vr, value):
        return value
    if isinstance(value, str):
        cleaned = "".join(ch for ch in value if ch.isprintable() and ch != "\\").strip()
        for candidate in (cleaned, cleaned[: _max_length(vr)]):
            if candidate and _is_valid(vr, candidate):
                return candidate
    return None


def _is_valid(vr: str, value) -> bool:
    values = value if isinstance(value, (list, tuple, pydicom.multival.MultiValue)) else [value]
    try:
        for item in values:
            validate_value(vr, item, config.RAISE)
    except (ValueError, TypeError):
        return False
    return True


def _max_length(vr: str) -> int:
    return {"SH": 16, "LO": 64, "CS": 16, "AE": 16, "PN": 64, "DA": 8, "TM": 14, "UI": 64, "AS": 4}.get(vr, 64)


# --- content ---------------------------------------------------------------------


def _image_group(result: AnalysisResult, source: Dataset, algorithm_id, site, sr_uid: str):
    """The image as a whole: the primary pattern (``none`` when nothing was found)."""
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(entropy_srcs=[sr_uid, "image"]),
                                                     identifier="whole image"),
        finding_type=codes.finding_type(result.image.primary_pattern),
        algorithm_id=algorithm_id,
        finding_sites=[site],
        qualitative_evaluations=[hd.sr.QualitativeEvaluation(name=codes.concept("calcification_pattern"),
                                                             value=codes.pattern(result.image.primary_pattern))],
        source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(source)],
    )


def _cluster_group(cluster: Cluster, region_source, algorithm_id, site, sr_uid: str):
    measurements = [
        hd.sr.Measurement(name=codes.concept("pattern_confidence"), value=round(cluster.confidence, 3),
                          unit=_NO_UNITS),
        hd.sr.Measurement(name=codes.concept("lesion_count"), value=cluster.lesion_count, unit=_NO_UNITS),
    ]
    measurements += _size_measurements(cluster.size_mm)
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=generate_uid(entropy_srcs=[sr_uid, "cluster", str(cluster.id)]), identifier=f"cluster {cluster.id}"),
        referenced_region=_region(cluster.contour_px, cluster.bbox_px, region_source),
        finding_type=codes.finding_type(cluster.pattern),
        algorithm_id=algorithm_id,
        finding_sites=[site],
        measurements=measurements,
        qualitative_evaluations=[
            hd.sr.QualitativeEvaluation(name=codes.concept("calcification_pattern"), value=codes.pattern(cluster.pattern))
        ],
    )


def _mass_group(mass: Mass, region_source, algorithm_id, site, sr_uid: str):
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=generate_uid(entropy_srcs=[sr_uid, "mass", str(mass.id)]), identifier=f"mass {mass.id}"),
        referenced_region=_region(mass.contour_px, mass.bbox_px, region_source),
        finding_type=codes.concept("soft_tissue_mass"),
        algorithm_id=algorithm_id,
        finding_sites=[site],
        measurements=_size_measurements(mass.size_mm) or None,
    )


def _size_measurements(size_mm: Optional[tuple[float, float]]) -> list:
    # The group names the algorithm once; repeating it per measurement only adds content items.
    if not size_mm:
        return []  # no spacing: sizes in mm would be guesses; the warning says so
    height, width = size_mm
    return [
        hd.sr.Measurement(name=codes.concept("length"), value=round(float(height), 2), unit=_MILLIMETRE),
        hd.sr.Measurement(name=codes.concept("width"), value=round(float(width), 2), unit=_MILLIMETRE),
    ]


def _region(contour_px, bbox_px, region_source) -> hd.sr.ImageRegion:
    """A closed polyline in image coordinates (column, row), from the outline or the box."""
    if len(contour_px) >= 3:
        points = [(c + 0.5, r + 0.5) for r, c in contour_px]
    else:
        r0, c0, r1, c1 = bbox_px
        points = [(c0, r0), (c1, r0), (c1, r1), (c0, r1)]
    points.append(points[0])
    return hd.sr.ImageRegion(graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
                             graphic_data=np.asarray(points, dtype=float), source_image=region_source)


def _qualitative_evaluations(result: AnalysisResult) -> Dataset:
    container = hd.sr.ContainerContentItem(name=codes.concept("qualitative_evaluations"),
                                           relationship_type="CONTAINS")
    items = [
        _text("unverified_notice", "UNVERIFIED decision support generated by radassist "
              f"{result.radassist_version} (algorithm {result.algorithm.id} {result.algorithm.version}); "
              "not a diagnosis. A radiologist must review it."),
        _text("report_text_source", result.report_source or "none"),
        _text("impression", result.impression),
    ]
    for finding in result.text.concepts:
        item = hd.sr.CodeContentItem(name=codes.text_concept(finding.concept), value=codes.status(finding.status),
                                     relationship_type="CONTAINS")
        item.ContentSequence = [_text("evidence_span", e.text, "HAS PROPERTIES") for e in finding.evidence if e.text]
        if not item.ContentSequence:
            del item.ContentSequence
        items.append(item)
    for rec in result.recommendations:
        item = hd.sr.CodeContentItem(name=codes.concept("recommendation"), value=codes.action(rec.action),
                                     relationship_type="CONTAINS")
        item.ContentSequence = [
            hd.sr.CodeContentItem(name=codes.concept("urgency"), value=codes.urgency(rec.urgency),
                                  relationship_type="HAS PROPERTIES"),
            _text("rule_id", ", ".join(rec.rules) or "-", "HAS PROPERTIES"),
            _text("rationale", rec.rationale, "HAS PROPERTIES"),
            _text("source_passage", rec.source, "HAS PROPERTIES"),
        ]
        items.append(item)
    items += [_text("warning", f"{w.code}: {w.message}") for w in result.warnings]
    container.ContentSequence = items
    return container


def _text(concept_name: str, value: str, relationship: str = "CONTAINS"):
    return hd.sr.TextContentItem(name=codes.concept(concept_name), value=value or "-",
                                 relationship_type=relationship)


def _coding_schemes() -> list[Dataset]:
    out = []
    for designator, name in codes.schemes_used().items():
        item = Dataset()
        item.CodingSchemeDesignator = designator
        item.CodingSchemeName = name
        out.append(item)
    return out
