"""Analyses off the event loop, with a bounded queue.

The analysis is CPU-bound (NumPy, scikit-image), so it runs in a process pool
(or, for tests, a thread pool). :class:`AnalysisPool` counts the analyses
queued or running; when ``queue_size`` are already in flight a new one is
refused at once with :class:`BusyError` (HTTP 503 with ``Retry-After``)
rather than piling up behind the others.
"""

from __future__ import annotations

import asyncio
import logging
import math
import multiprocessing
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from ..errors import RadassistError
from ..processes import one_numeric_thread_per_process, warm_up_analysis
from .store import SR_PENDING, SR_READY, SR_UNAVAILABLE, StoredSR


class BusyError(RadassistError):
    """Every analysis slot is taken; the client should retry after ``retry_after_s`` seconds."""

    code = "busy"
    exit_code = 1
    http_status = 503

    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Analysed:
    """What one analysis hands back to the web process."""

    result_json: str
    result_id: str
    status: str
    primary_action: Optional[str]
    pipeline_ms: float
    #: The DICOM SR's state for the web process to record (pending: being built in the background); None: no SR.
    sr: Optional[StoredSR] = None


class _DisplayWriter:
    """One thread per analysis process that stores display images and DICOM SRs after their result has been
    handed back."""

    def __init__(self, database: str):
        from .store import Store

        self.database = database
        self.store = Store(database)
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="radassist-display")

    def submit(self, result_id: str, study) -> None:
        self.thread.submit(self._store, result_id, study)

    def _store(self, result_id: str, study) -> None:
        from .images import display_image

        try:
            self.store.set_display_pixels(result_id, display_image(study.image.pixels, study.result.image))
        except Exception as exc:  # noqa: BLE001 - the result stands without its picture
            logging.getLogger("radassist.web").error("display image of result_id=%s not stored: %s",
                                                     result_id, type(exc).__name__)

    def submit_sr(self, result_id: str, study, created_at: float) -> None:
        self.thread.submit(self._store_sr, result_id, study, created_at)

    def _store_sr(self, result_id: str, study, created_at: float) -> None:
        from .dicom_sr import SRUnavailable, sr_file

        try:
            sr = StoredSR(SR_READY, created_at, sr=sr_file(study.image.header, study.result))
        except SRUnavailable as exc:
            sr = StoredSR(SR_UNAVAILABLE, created_at, reason=str(exc))
        except Exception as exc:  # noqa: BLE001 - the result stands without its SR
            # The type only: messages from the DICOM stack can quote header values.
            logging.getLogger("radassist.web").error("DICOM SR of result_id=%s not built: %s",
                                                     result_id, type(exc).__name__)
            sr = StoredSR(SR_UNAVAILABLE, created_at, reason="building the DICOM SR failed on this image "
                                                             "(a bug; it has been logged)")
        try:
            self.store.set_sr(result_id, sr)
        except Exception as exc:  # noqa: BLE001 - the download will say the SR is still pending, then expire
            logging.getLogger("radassist.web").error("DICOM SR of result_id=%s not stored: %s",
                                                     result_id, type(exc).__name__)


#: This process's display writer, made on its first analysis (one per database).
_display_writer: Optional[_DisplayWriter] = None
_display_writer_lock = threading.Lock()  # a thread pool (tests) runs analyses side by side


def _display_writer_for(database: str) -> _DisplayWriter:
    global _display_writer
    with _display_writer_lock:
        if _display_writer is None or _display_writer.database != database:
            if _display_writer is not None:
                _display_writer.thread.shutdown(wait=False)  # its queued images are still stored
            _display_writer = _DisplayWriter(database)
        return _display_writer


def analyse_file(path: str, report_text: Optional[str], report_source: Optional[str],
                 database: Optional[str] = None, build_sr: bool = False) -> Analysed:
    """Analyse one uploaded DICOM file (runs in a pool process).

    Only the path comes in and only the result JSON (and a few small fields)
    goes back, so nothing large is pickled between processes. When
    ``database`` is given, the windowed 8-bit display image is stored there in
    the background, so the answer does not wait for it; its PNG is encoded
    only when someone asks for it. With ``build_sr`` too, the DICOM SR is
    built from the header (kept in memory: the upload is deleted once this
    returns) and stored after the display image; an analysis that cannot
    have one says so at once. Raises the pipeline's
    :class:`~radassist.errors.RadassistError` for inputs it refuses; they
    pickle, so the web process sees the same error.
    """
    from ..pipeline import analyze_study

    study = analyze_study(Path(path), report_text, report_source=report_source)
    result = study.result
    sr = None
    if database:
        writer = _display_writer_for(database)
        writer.submit(result.result_id, study)
        if build_sr:
            from .dicom_sr import why_no_sr

            # Known now when there can be none, so the page never offers a download that cannot succeed.
            reason = why_no_sr(result)
            sr = StoredSR(SR_UNAVAILABLE if reason else SR_PENDING, time.time(), reason=reason)
            if not reason:
                writer.submit_sr(result.result_id, study, sr.created_at)
    return Analysed(
        result_json=result.model_dump_json(),
        result_id=result.result_id,
        status=result.status,
        primary_action=result.primary_action,
        pipeline_ms=result.timing_ms.get("total", 0.0),
        sr=sr,
    )


def _warm_up() -> None:
    """Warm each pool process with one small analysis, so the first upload does not pay for it."""
    from .dicom_sr import sr_file, why_no_sr
    from .images import display_image

    study = warm_up_analysis()
    display_image(study.image.pixels, study.result.image)
    if why_no_sr(study.result) is None:  # highdicom and its code tables
        sr_file(study.image.header, study.result)


class AnalysisPool:
    """A pool of ``processes`` analysis workers that accepts at most ``queue_size`` jobs in flight.

    Parameters
    ----------
    processes : int
        Analyses that run at the same time.
    queue_size : int
        Analyses queued or running; one more is refused with :class:`BusyError`.
    kind : {"process", "thread"}
        Process pool (real service) or thread pool (tests, small machines).
    analyse : callable
        ``analyse(path, report_text, report_source, database, build_sr) -> Analysed``;
        must be a module-level function for a process pool.
    database : path, optional
        Where the analyses store their display images (and DICOM SRs).
    build_sr : bool
        Whether the analyses build and store each result's DICOM SR.
    """

    def __init__(self, processes: int, queue_size: int, kind: str = "process",
                 analyse: Callable[..., Analysed] = analyse_file, database: Optional[str] = None,
                 build_sr: bool = False):
        self.processes = processes
        self.queue_size = max(queue_size, 1)
        self.kind = kind
        self._analyse = analyse
        self.database = str(database) if database else None
        self.build_sr = build_sr
        self._executor: Optional[Executor] = None
        self._in_flight = 0
        self._mean_job_s = 2.0  # until measured

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def start(self) -> None:
        if self.kind == "process":
            # spawn, not fork: the web process has threads (uvicorn, anyio) that fork would copy half-way.
            one_numeric_thread_per_process()
            ctx = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(self.processes, mp_context=ctx, initializer=_warm_up)
            # Start and warm every process now (the service is ready when this returns), not on the first uploads.
            warming = [self._executor.submit(time.sleep, 0.2) for _ in range(self.processes)]
            for future in warming:
                future.result()
        else:
            self._executor = ThreadPoolExecutor(self.processes, thread_name_prefix="radassist-analysis")

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def retry_after_s(self) -> int:
        """Seconds until a slot is likely free: the queue ahead divided among the processes."""
        return max(1, math.ceil(self._mean_job_s * self._in_flight / self.processes))

    async def run(self, path: str, report_text: Optional[str], report_source: Optional[str]) -> Analysed:
        """Analyse one file without blocking the event loop; :class:`BusyError` when the queue is full."""
        if self._executor is None:
            raise RuntimeError("AnalysisPool.start() was not called")
        # The event loop is single-threaded, so this check-and-increment cannot race.
        if self._in_flight >= self.queue_size:
            raise BusyError(f"the service is busy ({self._in_flight} analyses queued or running); "
                            "please retry shortly", self.retry_after_s())
        self._in_flight += 1
        started = time.perf_counter()
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, self._analyse, path, report_text, report_source,
                                              self.database, self.build_sr)
        finally:
            self._in_flight -= 1
            elapsed = time.perf_counter() - started
            self._mean_job_s = 0.8 * self._mean_job_s + 0.2 * elapsed
