"""The cluster outlines as a Grayscale Softcopy Presentation State (GSPS, highdicom).

A viewer that applies the presentation state draws each calcification cluster
(and soft-tissue mass) as a closed outline on the radiograph itself, with a
short label ("1 phlebolith"), in a graphic layer named RADASSIST. Like the SR
it is derived deterministically from the source SOP Instance UID and the
algorithm version, and it lives in the source study, in a series of its own.
"""

from __future__ import annotations

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from radassist import __version__
from radassist.model import AnalysisResult

from .sr import MANUFACTURER, sanitised_source

PR_SERIES_NUMBER = 9902
LAYER = "RADASSIST"


def pr_uids(source_sop_instance_uid: str, study_instance_uid: str, algorithm_version: str) -> tuple[str, str]:
    """``(sop_instance_uid, series_instance_uid)`` of the presentation state of a source image."""
    sop = generate_uid(entropy_srcs=["radassist-gsps", source_sop_instance_uid, algorithm_version])
    series = generate_uid(entropy_srcs=["radassist-gsps-series", study_instance_uid, algorithm_version])
    return sop, series


def build_gsps(dataset: Dataset, result: AnalysisResult) -> Dataset:
    """A GSPS that outlines every cluster and mass of ``result`` on the source image.

    Parameters
    ----------
    dataset : pydicom.dataset.Dataset
        The source image's header (no pixel data needed).
    result : radassist.model.AnalysisResult

    Returns
    -------
    pydicom.dataset.Dataset
        With File Meta (Explicit VR Little Endian), ready to save or send.
    """
    source = _reference_image(dataset)
    alg = result.algorithm
    sop_uid, series_uid = pr_uids(source.SOPInstanceUID, source.StudyInstanceUID, alg.version)
    layer = hd.pr.GraphicLayer(layer_name=LAYER, order=1, description="radassist findings (UNVERIFIED)")
    graphics, texts = [], []
    outlines = [(f"{c.id} {c.pattern.replace('_', ' ')}", c.contour_px, c.bbox_px) for c in result.image.clusters]
    outlines += [(f"mass {m.id}", m.contour_px, m.bbox_px) for m in result.image.masses]
    for label, contour, bbox in outlines:
        graphics.append(hd.pr.GraphicObject(graphic_type=hd.pr.GraphicTypeValues.POLYLINE,
                                            graphic_data=_closed_outline(contour, bbox), units="PIXEL"))
        r0, c0, _, _ = bbox
        texts.append(hd.pr.TextObject(text_value=label, units="PIXEL",
                                      anchor_point=(float(c0), float(max(r0 - 4, 1))), anchor_point_visible=False))
    annotations = []
    if graphics:
        annotations.append(hd.pr.GraphicAnnotation(referenced_images=[source], graphic_layer=layer,
                                                   graphic_objects=graphics, text_objects=texts))
    gsps = hd.pr.GrayscaleSoftcopyPresentationState(
        referenced_images=[source],
        series_instance_uid=series_uid,
        series_number=PR_SERIES_NUMBER,
        sop_instance_uid=sop_uid,
        instance_number=1,
        manufacturer=MANUFACTURER,
        manufacturer_model_name="radassist",
        software_versions=f"radassist {__version__}",
        device_serial_number="none",
        content_label="RADASSIST",
        content_description="calcification outlines (UNVERIFIED)",
        graphic_annotations=annotations or None,
        graphic_layers=[layer] if annotations else None,
        presentation_lut_transformation=_presentation_lut(source),
    )
    gsps.SoftwareVersions = [f"radassist {__version__}", f"{alg.id} {alg.version}"]
    # General Series: Laterality is type 2C for paired body parts (a leg is one).
    gsps.Laterality = (result.study.laterality or "") if result.study.laterality in ("R", "L") else ""
    gsps.file_meta = FileMetaDataset()
    gsps.file_meta.MediaStorageSOPClassUID = gsps.SOPClassUID
    gsps.file_meta.MediaStorageSOPInstanceUID = gsps.SOPInstanceUID
    gsps.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return gsps


def _reference_image(dataset: Dataset) -> Dataset:
    """The sanitised source plus the pixel description a presentation state needs."""
    source = sanitised_source(dataset)
    for keyword in ("PhotometricInterpretation", "BitsStored", "BitsAllocated", "PixelRepresentation",
                    "SamplesPerPixel", "RescaleSlope", "RescaleIntercept", "WindowCenter", "WindowWidth",
                    "PresentationLUTShape"):
        if keyword in dataset:
            source[keyword] = dataset[keyword]
    return source


def _presentation_lut(source: Dataset):
    """INVERSE for MONOCHROME1 images, so the presentation state shows them as their modality intended."""
    inverse = source.get("PhotometricInterpretation") == "MONOCHROME1"
    shape = hd.PresentationLUTShapeValues.INVERSE if inverse else hd.PresentationLUTShapeValues.IDENTITY
    return hd.PresentationLUTTransformation(presentation_lut_shape=shape)


def _closed_outline(contour_px, bbox_px) -> np.ndarray:
    """Closed polyline in (column, row) pixel coordinates, 1-based pixel centres as PS3.3 C.10.5 wants."""
    if len(contour_px) >= 3:
        points = [(c + 1.0, r + 1.0) for r, c in contour_px]
    else:
        r0, c0, r1, c1 = bbox_px
        points = [(c0 + 1.0, r0 + 1.0), (c1, r0 + 1.0), (c1, r1), (c0 + 1.0, r1)]
    points.append(points[0])
    return np.asarray(points, dtype=float)
