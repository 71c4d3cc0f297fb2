"""Helpers for the PACS-hook tests: free ports, real peers started and stopped by PID, studies."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pydicom
import pytest

STORESCU = "/usr/bin/storescu"
STORESCP = "/usr/bin/storescp"
DCMSEND = "/usr/bin/dcmsend"
ECHOSCU = "/usr/bin/echoscu"
DCIODVFY = "/usr/bin/dciodvfy"
ORTHANC = "/usr/sbin/Orthanc"


def require(*binaries: str) -> None:
    """Skip the test when a Debian peer is not installed (CI installs them)."""
    missing = [b for b in binaries if not os.access(b, os.X_OK)]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (Debian packages dcmtk, orthanc, dicom3tools)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start(args, log_path: Path, **kwargs) -> subprocess.Popen:
    """Start a peer in its own process group, output to ``log_path``."""
    log = open(log_path, "ab")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen([str(a) for a in args], stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True, **kwargs)
    process._radassist_log = log  # type: ignore[attr-defined]
    return process


def stop(process: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 20.0) -> None:
    """Stop a started process by its PID (its group too: the listener's workers)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    log = getattr(process, "_radassist_log", None)
    if log:
        log.close()


def start_listener(tmp: Path, port: int, *, destination: str | None = None, workers: int = 2,
                   extra=()) -> subprocess.Popen:
    args = [sys.executable, "-m", "radassist", "listen", "--host", "127.0.0.1", "--port", port,
            "--spool", tmp / "spool", "--workers", workers, "--send-backoff", "0.5", *extra]
    if destination:
        args += ["--destination", destination]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = start(args, tmp / "listen.log", env=env)
    wait_for(lambda: port_open(port) or process.poll() is not None, 60, "radassist listen to open its port")
    assert process.poll() is None, (tmp / "listen.log").read_text()
    return process


def start_storescp(out_dir: Path, port: int, log_path: Path) -> subprocess.Popen:
    out_dir.mkdir(parents=True, exist_ok=True)
    process = start([STORESCP, "-aet", "DEST", "-od", out_dir, "-uf", port], log_path)
    wait_for(lambda: port_open(port), 20, "storescp to open its port")
    return process


def jobs(db_path: Path) -> list[dict]:
    """The job rows as dicts (read with a separate connection, like an operator would)."""
    if not db_path.exists():
        return []
    db = sqlite3.connect(db_path, timeout=30)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM jobs ORDER BY id")]
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


def sends(db_path: Path) -> list[dict]:
    db = sqlite3.connect(db_path, timeout=30)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM sends ORDER BY id")]
    finally:
        db.close()


def dciodvfy_errors(path: Path) -> list[str]:
    """The error lines dciodvfy prints for a file (warnings are not errors)."""
    run = subprocess.run([DCIODVFY, str(path)], capture_output=True, text=True, timeout=60)
    lines = (run.stdout + run.stderr).splitlines()
    return [line for line in lines if line.lstrip().startswith("Error")]


def write_case(path: Path, seed: int, pattern: str, transfer_syntax: str = "explicit", **header) -> pydicom.Dataset:
    """A small synthetic study written to ``path``; header attributes overridden by keyword."""
    from radassist.synth import make_case

    case = make_case(seed, pattern, rows=600, columns=400, transfer_syntax=transfer_syntax)
    for keyword, value in header.items():
        setattr(case.dataset, keyword, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    case.dataset.save_as(path, enforce_file_format=True)
    return case.dataset


def received_srs(folder: Path) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(p) for p in sorted(folder.glob("*")) if p.is_file()]


def sr_source_uid(sr: pydicom.Dataset) -> str:
    """The SOP Instance UID of the image an SR reports on (its evidence)."""
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0]
    return evidence.ReferencedSeriesSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID
