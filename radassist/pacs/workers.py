"""Workers: processes that take jobs from the queue and analyse them.

Each job: read the header, find the report text, run
:func:`radassist.pipeline.analyze_study`, write the JSON result and the SR
(and an outbox copy), and close the job with the SR sends it owes, in one
transaction. :class:`WorkerPool` keeps one process per core alive: a worker
that dies (crash, ``kill -9``) is replaced, and its job goes back to the queue.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..processes import one_numeric_thread_per_process, warm_up_analysis
from .queue import Job, JobQueue

log = logging.getLogger("radassist.pacs")

#: Seconds an idle worker waits before looking at the queue again.
IDLE_POLL_S = 0.05


@dataclass(frozen=True)
class HookSettings:
    """Where the hook keeps things and where results go (picklable for worker processes).

    Attributes
    ----------
    db_path : Path
        The job-queue database.
    results_dir : Path
        JSON results (``<SOP UID>.json``) and SRs (``sr/<SR UID>.dcm``).
    reports_dir : Path or None
        Sidecar report texts named by Accession Number or Study Instance UID.
    outbox_dir : Path or None
        A copy of every SR is written here (for a PACS that imports a folder).
    destinations : tuple of str
        C-STORE destinations of the SRs, ``AE@host:port``.
    rules_path : Path or None
        A rules file other than the default algorithm.
    write_sr : bool
        Build the Structured Report (``batch`` without ``--sr`` does not).
    write_gsps : bool
        Also build a presentation state with the cluster outlines.
    spool_dir : Path or None
        Where received copies live; a copy is deleted once its job is done or
        skipped (a failed one is kept for inspection), so the spool does not
        grow over months. Files elsewhere (a batch archive) are never touched.
    """

    db_path: Path
    results_dir: Path
    reports_dir: Optional[Path] = None
    outbox_dir: Optional[Path] = None
    destinations: tuple[str, ...] = field(default_factory=tuple)
    rules_path: Optional[Path] = None
    write_sr: bool = True
    write_gsps: bool = False
    spool_dir: Optional[Path] = None


@dataclass(frozen=True)
class Outcome:
    """How a job ended: state, error text, result and SR paths."""

    state: str
    error: Optional[str] = None
    result_path: Optional[Path] = None
    sr_uid: Optional[str] = None
    sr_path: Optional[Path] = None
    result: Optional[dict] = None
    #: ``(sop_instance_uid, path)`` of every DICOM object to deliver (the SR, the GSPS).
    outputs: tuple[tuple[str, Path], ...] = ()


def load_settings_algorithm(settings: HookSettings):
    from radassist.rules import load_algorithm

    return load_algorithm(settings.rules_path) if settings.rules_path else load_algorithm()


def process_file(path, settings: HookSettings, algorithm) -> Outcome:
    """Analyse one DICOM file and write its result and SR; never raises for bad input.

    Returns
    -------
    Outcome
        ``done`` with the result and SR paths; ``skipped`` (not an image, not a
        lower leg, not analysable) or ``failed`` (unreadable or unsupported) with
        the reason.
    """
    from radassist.dicom import read_header
    from radassist.errors import RadassistError
    from radassist.pipeline import analyze_study

    from .report_text import find_report_text
    from .spool import safe_name, write_atomically

    try:
        header = read_header(path)
    except RadassistError as exc:
        return Outcome("failed", exc.message)
    if "Rows" not in header:
        return Outcome("skipped", f"not an image ({_sop_class_name(header)})")
    if _is_own_report(header):
        return Outcome("skipped", "an object radassist made itself")
    text, source = find_report_text(header, settings.reports_dir)
    try:
        study = analyze_study(path, text, report_source=source, algorithm=algorithm)
    except RadassistError as exc:
        return Outcome("failed", exc.message)
    result = study.result
    sop_uid = safe_name(result.study.sop_instance_uid or Path(path).stem)
    payload = result.model_dump(mode="json")
    result_path = write_atomically(Path(settings.results_dir) / f"{sop_uid}.json",
                                   result.model_dump_json(indent=1).encode())
    if result.status != "complete":
        reason = "; ".join(result.image.missing) or "the image could not be analysed"
        return Outcome("skipped", reason, result_path=result_path, result=payload)
    if not settings.write_sr:
        return Outcome("done", result_path=result_path, result=payload)

    from .sr import build_sr

    outputs = [_write_object(build_sr(study.image.header, result), "sr", settings)]
    if settings.write_gsps:
        from .pr import build_gsps

        outputs.append(_write_object(build_gsps(study.image.header, result), "pr", settings))
    sr_uid, sr_path = outputs[0]
    return Outcome("done", result_path=result_path, sr_uid=sr_uid, sr_path=sr_path, result=payload,
                   outputs=tuple(outputs))


def _write_object(dataset, folder: str, settings: HookSettings) -> tuple[str, Path]:
    """Save a DICOM object into the results (and the outbox); returns its UID and path."""
    from pydicom.filebase import DicomBytesIO

    from .spool import write_atomically

    buffer = DicomBytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    uid = str(dataset.SOPInstanceUID)
    path = write_atomically(Path(settings.results_dir) / folder / f"{uid}.dcm", data)
    if settings.outbox_dir:
        write_atomically(Path(settings.outbox_dir) / f"{uid}.dcm", data)
    return uid, path


def run_job(job: Job, queue: JobQueue, settings: HookSettings, algorithm) -> Outcome:
    """Process one claimed job and close it in the queue."""
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        outcome = process_file(job.path, settings, algorithm)
    except Exception as exc:  # noqa: BLE001 - a bug must fail one job, not the service
        log.exception("job %s: internal error", job.id)
        outcome = Outcome("failed", f"internal error ({type(exc).__name__}); see the service log")
    sends = [(uid, str(path), d) for uid, path in outcome.outputs for d in settings.destinations]
    queue.finish(job.id, outcome.state, error=outcome.error, result_path=outcome.result_path,
                 sr_uid=outcome.sr_uid, sends=sends)
    if outcome.state != "failed":
        remove_spooled_copy(job.path, settings.spool_dir)
    log.info("job %s %s in %.0f ms (CPU %.0f ms)%s", job.id, outcome.state, (time.perf_counter() - wall) * 1e3,
             (time.process_time() - cpu) * 1e3, f": {outcome.error}" if outcome.error else "")
    return outcome


def worker_main(settings: HookSettings, algorithm_version: str, log_level: int = logging.INFO) -> None:
    """The loop of one worker process: claim, process, repeat until SIGTERM.

    SIGTERM lets the job in hand finish first. The stop request is a plain
    flag, not a shared lock: a worker killed while holding a shared lock would
    leave it held for ever.
    """
    _die_with_parent()
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s")
    # highdicom narrates every attribute it copies at INFO/DEBUG: noise, and CPU, per SR.
    logging.getLogger("highdicom").setLevel(max(log_level, logging.WARNING))
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor decides when to stop
    algorithm = load_settings_algorithm(settings)
    _warm_up(settings, algorithm)
    queue = JobQueue(settings.db_path, algorithm_version)
    parent = os.getppid()
    pid = os.getpid()
    while not stopping and os.getppid() == parent:
        job = queue.claim(pid)
        if job is None:
            time.sleep(IDLE_POLL_S)
            continue
        run_job(job, queue, settings, algorithm)
    queue.close()


def _warm_up(settings: HookSettings, algorithm) -> None:
    """Run a small synthetic study through a job's code, in memory, before claiming a real one."""
    try:
        study = warm_up_analysis(algorithm)
        if settings.write_sr:
            from .sr import build_sr

            build_sr(study.image.header, study.result)
        if settings.write_gsps:
            from .pr import build_gsps

            build_gsps(study.image.header, study.result)
    except Exception:  # noqa: BLE001 - a failed warm-up only makes the first job slower
        log.debug("worker warm-up failed", exc_info=True)


class WorkerPool:
    """``n`` worker processes kept alive; the jobs of a dead one go back to the queue.

    Parameters
    ----------
    settings : HookSettings
    algorithm_version : str
    n : int
        Number of processes (default: the number of cores).
    """

    def __init__(self, settings: HookSettings, algorithm_version: str, n: Optional[int] = None):
        self.settings = settings
        self.algorithm_version = algorithm_version
        self.n = max(1, n or os.cpu_count() or 1)
        # spawn, not fork: the supervisor runs network threads, and forking a
        # threaded process can copy a held lock into the child.
        self._context = multiprocessing.get_context("spawn")
        self._stopping = False
        self._processes: list = []
        self._log_level = logging.getLogger().getEffectiveLevel()

    def start(self) -> None:
        one_numeric_thread_per_process()
        self._processes = [self._spawn() for _ in range(self.n)]

    def pids(self) -> list[int]:
        return [p.pid for p in self._processes if p.is_alive()]

    def check(self, queue: JobQueue) -> int:
        """Replace dead workers and requeue their jobs; returns how many were replaced."""
        replaced = 0
        for i, process in enumerate(self._processes):
            if process.is_alive() or self._stopping:
                continue
            released = queue.release_worker(process.pid)
            log.warning("worker %s stopped (exit code %s); %d job(s) back in the queue",
                        process.pid, process.exitcode, released)
            self._processes[i] = self._spawn()
            replaced += 1
        return replaced

    def stop(self, timeout: float = 60.0) -> None:
        """Ask every worker to finish its job and exit; kill those that do not within ``timeout``."""
        self._stopping = True
        for process in self._processes:
            if process.is_alive():
                try:
                    os.kill(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        for process in self._processes:
            process.join(max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()

    def _spawn(self):
        process = self._context.Process(target=worker_main, args=(self.settings, self.algorithm_version, self._log_level),
                                        name="radassist-worker", daemon=True)
        process.start()
        return process


def remove_spooled_copy(path, spool_dir: Optional[Path]) -> None:
    """Delete a received copy after its job closed; only inside the spool folder."""
    if spool_dir is None:
        return
    path, spool_dir = Path(path).resolve(), Path(spool_dir).resolve()
    if spool_dir in path.parents:
        path.unlink(missing_ok=True)


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when its supervisor dies (no orphans after a kill -9)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass  # not Linux: the getppid() check in the loop still ends the worker


def _is_own_report(header) -> bool:
    manufacturer = str(header.get("Manufacturer", "") or "").lower()
    return manufacturer == "radassist"


def _sop_class_name(header) -> str:
    uid = header.get("SOPClassUID")
    if not uid:
        return "no SOP Class UID"
    name = uid.name if hasattr(uid, "name") else str(uid)
    return name
