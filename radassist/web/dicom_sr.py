"""The DICOM SR download: the PACS hook's Comprehensive SR, as file bytes, built in memory.

The web service never keeps the uploaded file, so the SR is built in the
analysis process while the header is still at hand (see
:mod:`radassist.web.worker`) and kept in the database for a short while
(:mod:`radassist.web.store`).
"""

from __future__ import annotations

from typing import Optional

from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO

from ..model import AnalysisResult


class SRUnavailable(Exception):
    """No SR can be made for this analysis; the message says why and quotes no header value."""


def sr_file(header: Dataset, result: AnalysisResult) -> bytes:
    """The Comprehensive SR of one analysis as a DICOM file (Part 10, with File Meta).

    Parameters
    ----------
    header : pydicom.dataset.Dataset
        The source image's header (no pixel data needed).
    result : radassist.model.AnalysisResult
        Its analysis.

    Raises
    ------
    SRUnavailable
        The analysis is not complete (like the PACS hook, radassist reports
        only images it analysed), or the header lacks a UID the report must
        reference.
    """
    reason = why_no_sr(result)
    if reason:
        raise SRUnavailable(reason)
    from ..pacs.sr import build_sr

    try:
        dataset = build_sr(header, result)
    except ValueError as exc:  # its message names the missing attributes, never their values
        raise SRUnavailable(f"no DICOM SR can be made for this image: {exc}") from None
    buffer = DicomBytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def why_no_sr(result: AnalysisResult) -> Optional[str]:
    """Why no SR is made of this analysis, known from the result alone (None: one is made)."""
    if result.status == "complete":
        return None
    # Like the PACS hook: a report of "insufficient information" belongs on the page, not in the PACS.
    missing = "; ".join(result.image.missing) or "insufficient information"
    return f"radassist makes a DICOM SR only of an image it analysed, and this one could not be analysed ({missing})"
