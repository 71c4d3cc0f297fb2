"""Errors that the faces (CLI, web, PACS hook) turn into one clear line.

Every error carries a stable ``code`` (for JSON bodies and job records), a
distinct CLI ``exit_code`` and an ``http_status``. Messages say what is wrong
and what to do; they never contain patient names or IDs.
"""

from __future__ import annotations


class RadassistError(Exception):
    """Base class: an input or configuration radassist refuses, with a reason."""

    code = "error"
    exit_code = 1
    http_status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def as_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


class UnreadableInputError(RadassistError):
    """The file is not DICOM, is truncated, or its pixel data cannot be decoded."""

    code = "unreadable_input"
    exit_code = 3
    http_status = 400


class UnsupportedInputError(RadassistError):
    """A valid DICOM object that radassist does not analyse (multi-frame, colour,
    no pixel data, an unknown compression)."""

    code = "unsupported_input"
    exit_code = 4
    http_status = 422


class InputTooLargeError(UnsupportedInputError):
    """The image is larger than any radiograph radassist accepts."""

    code = "input_too_large"
    http_status = 413


class RulesFileError(RadassistError):
    """The management-rules file is malformed; nothing is recommended from it."""

    code = "invalid_rules"
    exit_code = 5
    http_status = 500
