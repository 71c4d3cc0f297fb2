"""Atomic files: a received instance is whole on disk, or not there at all.

The order that makes a C-STORE safe to acknowledge: write a temporary file in
the target folder, fsync it, ``os.replace`` it onto its name, fsync the folder;
only then record the job (:mod:`.queue`), and only then answer success.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def write_atomically(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one.

    Parameters
    ----------
    path : path-like
        Target file; its folder is created if needed.
    data : bytes

    Returns
    -------
    pathlib.Path
        ``path``, now durable (file and folder entry fsynced).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".incoming-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        try:
            os.unlink(temp_name)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(path.parent)
    return path


def spool_path(spool_dir, study_uid: str | None, sop_instance_uid: str) -> Path:
    """Where a received instance lives: ``SPOOL/<study key>/<SOP Instance UID>.dcm``.

    The study folder is a short hash of the Study Instance UID, so folder names
    stay short and carry nothing but a UID digest.
    """
    study_key = hashlib.sha256((study_uid or "no-study").encode()).hexdigest()[:16]
    return Path(spool_dir) / study_key / f"{safe_name(sop_instance_uid)}.dcm"


def safe_name(uid: str) -> str:
    """A UID as a file name (UIDs are digits and dots; anything else is replaced, so no path escapes)."""
    name = "".join(ch if ch.isdigit() or ch == "." else "_" for ch in uid.strip())
    return name[:128] or "unnamed"


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
