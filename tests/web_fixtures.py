"""Helpers for the web tests: a real ``radassist serve`` on a free loopback port, sample studies."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator, Optional

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_data"


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(data_dir: Path, *, env: Optional[dict] = None, extra_args: tuple = (),
                   timeout_s: float = 60.0) -> Iterator[str]:
    """Start ``radassist serve`` in a subprocess; yield its base URL; stop it by PID.

    The server's output goes to ``data_dir/server.log`` (read it when a test fails).
    """
    port = free_port()
    log = open(data_dir / "server.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "radassist", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--data-dir", str(data_dir), "--analysis-processes", "1", *extra_args],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"radassist serve exited with {proc.returncode}: "
                                   + (data_dir / "server.log").read_text(errors="replace")[-2000:])
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("radassist serve did not answer /healthz in time")
            time.sleep(0.2)
        yield url
    finally:
        # Stop the server and its analysis processes (its own session) by the PID we started.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        log.close()


def sample_with_evidence() -> tuple[Path, str]:
    """A committed sample study whose report names several concepts and whose image shows calcification.

    Candidates (labelled with clusters, report naming two or more concepts) are
    tried most concepts first; the first in which the current image analysis
    finds a cluster is returned (else the first candidate), so the page has
    outlines to show whatever the heuristics' state.
    """
    from radassist.pipeline import analyze, read_report

    candidates = []
    for line in (SAMPLES / "labels.jsonl").read_text().splitlines():
        label = json.loads(line)
        report = (SAMPLES / label["report_file"]).read_text()
        n = len(read_report(report).concepts)
        if label["clusters"] and n >= 2:
            candidates.append((-n, label["file"], report))
    if not candidates:
        raise LookupError("no sample study with clusters and a report naming two concepts")
    candidates.sort()
    for _, name, report in candidates:
        if analyze(SAMPLES / name, report).image.clusters:
            return SAMPLES / name, report
    return SAMPLES / candidates[0][1], candidates[0][2]
