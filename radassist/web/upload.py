"""Multipart uploads streamed straight into a private temp file.

Starlette's form parser spools a file part into a ``SpooledTemporaryFile``
(one thread hop per 64 kB chunk once past 1 MB) that the app then had to copy
to a file the analysis process can open: two passes over a 12 MB study before
the analysis starts. Here the request body is parsed chunk by chunk as it
arrives and the file part's bytes are appended to the temp file in batches,
written from a worker thread so the event loop never waits on the disk. The
upload size limit is enforced while the body streams in, by
:class:`radassist.web.security.BodySizeLimit` around the app.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ..errors import InputTooLargeError, RadassistError

#: The form field that carries the DICOM file.
FILE_FIELD = "file"
#: Largest text field (the report) accepted, in bytes.
MAX_FIELD_BYTES = 1_000_000
#: File bytes gathered before one write to disk (fewer, larger writes; fewer thread hops).
WRITE_BATCH_BYTES = 1 << 20

#: OpenAPI description of the body :func:`receive_upload` reads (the route declares no form parameters).
UPLOAD_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object",
            "required": [FILE_FIELD],
            "properties": {
                FILE_FIELD: {"type": "string", "format": "binary", "description": "the DICOM file"},
                "report": {"type": "string", "description": "report or clinical indication"},
            },
        }}},
    }
}


class InvalidFormError(RadassistError):
    """The request is not the multipart form the analysis expects."""

    code = "invalid_request"
    http_status = 422


@dataclass(frozen=True)
class Upload:
    """One received upload: the file part on disk and the text fields.

    The caller owns ``path`` and must delete it.
    """

    path: Path
    size_bytes: int
    fields: dict[str, str]


async def receive_upload(request: Request, directory: Path) -> Upload:
    """Stream a ``multipart/form-data`` request body into a new temp file in ``directory``.

    Raises
    ------
    InvalidFormError
        Not multipart, malformed, no ``file`` field, or more than one.
    InputTooLargeError
        A text field longer than :data:`MAX_FIELD_BYTES`.
    """
    kind, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise InvalidFormError(f"send the study as multipart/form-data with a '{FILE_FIELD}' field")
    fd, name = tempfile.mkstemp(dir=directory, suffix=".upload")
    path = Path(name)
    parts = _Parts()
    try:
        with os.fdopen(fd, "wb") as out:
            parser = MultipartParser(boundary, parts.callbacks())
            try:
                async for chunk in request.stream():
                    parser.write(chunk)
                    if parts.pending_bytes >= WRITE_BATCH_BYTES:
                        await run_in_threadpool(out.writelines, parts.take_pending())
                parser.finalize()
            except FormParserError:
                raise InvalidFormError("the upload is not valid multipart/form-data") from None
            await run_in_threadpool(out.writelines, parts.take_pending())
        if parts.files == 0:
            raise InvalidFormError(f"the form has no '{FILE_FIELD}' field: attach the DICOM file")
    except BaseException:
        path.unlink(missing_ok=True)  # also on cancellation, so no await here
        raise
    return Upload(path=path, size_bytes=parts.file_bytes, fields=parts.fields)


class _Parts:
    """python-multipart callbacks: file bytes are queued for writing, text fields kept (bounded)."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.files = 0
        self.file_bytes = 0
        self.pending_bytes = 0
        self._pending: list[memoryview] = []
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._disposition = b""
        self._name: Optional[str] = None
        self._in_file = False
        self._text = bytearray()

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._part_begin, "on_header_field": self._header_field,
            "on_header_value": self._header_value_data, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def take_pending(self) -> list[memoryview]:
        pending, self._pending, self.pending_bytes = self._pending, [], 0
        return pending

    def _part_begin(self) -> None:
        self._disposition, self._name, self._in_file = b"", None, False
        self._text = bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if bytes(self._header_name).lower() == b"content-disposition":
            self._disposition = bytes(self._header_value)
        self._header_name, self._header_value = bytearray(), bytearray()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"name" not in options:
            raise InvalidFormError("a form part has no name (Content-Disposition: form-data; name=…)")
        self._name = options[b"name"].decode("utf-8", "replace")
        self._in_file = self._name == FILE_FIELD
        if self._in_file:
            self.files += 1
            if self.files > 1:
                raise InvalidFormError(f"send one '{FILE_FIELD}' per analysis")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            # A view, not a copy: the chunk stays alive until the view is written.
            self._pending.append(memoryview(data)[start:end])
            self.pending_bytes += end - start
            self.file_bytes += end - start
        else:
            if len(self._text) + (end - start) > MAX_FIELD_BYTES:
                raise InputTooLargeError(f"the form field '{self._name}' is longer than "
                                         f"{MAX_FIELD_BYTES / 1e6:g} MB")
            self._text += data[start:end]

    def _part_end(self) -> None:
        if not self._in_file and self._name is not None:
            self.fields[self._name] = self._text.decode("utf-8", "replace")
