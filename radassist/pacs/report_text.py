"""The report text of a study: a sidecar file, else the indication in the DICOM header.

Order (first one that has text wins):

1. ``REPORTS/<AccessionNumber>.txt``, then ``REPORTS/<StudyInstanceUID>.txt``
   in the configured reports folder;
2. the DICOM attributes that carry the indication, all that are present, in
   this order: Reason for the Requested Procedure, Requested Procedure
   Description, Additional Patient History, Study Comments, Image Comments
   (top level or in the Request Attributes Sequence).

The source is returned with the text so the result can say which one it used:
``file:<name>``, ``dicom:<Keyword>[,<Keyword>...]`` or None.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from pydicom.dataset import Dataset

INDICATION_ATTRIBUTES = (
    "ReasonForTheRequestedProcedure",
    "RequestedProcedureDescription",
    "AdditionalPatientHistory",
    "StudyComments",
    "ImageComments",
)


def find_report_text(header: Dataset, reports_dir=None) -> tuple[Optional[str], Optional[str]]:
    """The report text of the study ``header`` belongs to, and where it came from.

    Parameters
    ----------
    header : pydicom.dataset.Dataset
        The image's header.
    reports_dir : path-like, optional
        Folder of sidecar files named by Accession Number or Study Instance UID.

    Returns
    -------
    text : str or None
    source : str or None
        ``"file:<name>"``, ``"dicom:<Keyword>,..."``, or None when there is no text.
    """
    if reports_dir:
        for key in ("AccessionNumber", "StudyInstanceUID"):
            sidecar = _sidecar(Path(reports_dir), _text(header, key))
            if sidecar is not None:
                text = sidecar.read_text(encoding="utf-8", errors="replace")
                if text.strip():
                    return text, f"file:{sidecar.name}"
    parts, used = [], []
    for keyword in INDICATION_ATTRIBUTES:
        value = _text(header, keyword) or _in_request_attributes(header, keyword)
        if value:
            parts.append(value)
            used.append(keyword)
    if parts:
        return "\n".join(parts), "dicom:" + ",".join(used)
    return None, None


def _sidecar(folder: Path, key: Optional[str]) -> Optional[Path]:
    # The key names a file inside the folder, never a path elsewhere.
    if not key or "/" in key or "\\" in key or key in (".", ".."):
        return None
    candidate = folder / f"{key}.txt"
    return candidate if candidate.is_file() else None


def _in_request_attributes(header: Dataset, keyword: str) -> Optional[str]:
    for item in header.get("RequestAttributesSequence", None) or []:
        value = _text(item, keyword)
        if value:
            return value
    return None


def _text(ds: Dataset, keyword: str) -> Optional[str]:
    try:
        value = ds.get(keyword)
    except Exception:  # a malformed value counts as absent
        return None
    if value is None:
        return None
    text = str(value).replace("\0", "").strip()
    return text or None
