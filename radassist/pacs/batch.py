"""``radassist batch``: analyse an archive (a folder or an Orthanc server), resumably.

Every image becomes a job in the queue database first; what the database says
is ``done`` or ``skipped`` is not analysed again, so an interrupted batch picks
up where it stopped. Jobs run in a local process pool, or on a Dask
distributed cluster (``--dask SCHEDULER``) for archives that outgrow one
machine. The outputs are rebuilt from the database at the end:

- ``results.jsonl``: one line per image (state, error, and the full result);
- ``summary.csv``: one row per study (UIDs, primary pattern, primary action,
  warnings, states). No patient names or IDs.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Optional

from radassist.model import ACTION_ORDER, PATTERN_SIGNIFICANCE

from .queue import Job, JobQueue
from .workers import HookSettings, Outcome, load_settings_algorithm, process_file, remove_spooled_copy

log = logging.getLogger("radassist.pacs")

DICOM_SUFFIXES = {".dcm", ".dicom", ".dic", ""}
SUMMARY_COLUMNS = ("study_instance_uid", "sop_instance_uids", "images", "states", "primary_pattern",
                   "patterns", "primary_action", "warnings", "errors")


@dataclass
class BatchSummary:
    """Counts of a batch run."""

    total: int
    analysed_now: int
    already_done: int
    done: int
    skipped: int
    failed: int
    jsonl_path: Path
    csv_path: Path

    def line(self) -> str:
        return (f"{self.total} image(s): {self.done} done, {self.skipped} skipped, {self.failed} failed "
                f"({self.analysed_now} analysed now, {self.already_done} already done); "
                f"{self.jsonl_path}, {self.csv_path}")


def run_batch(settings: HookSettings, *, folder: Optional[Path] = None, orthanc_url: Optional[str] = None,
              output_dir: Path, workers: Optional[int] = None, dask_scheduler: Optional[str] = None,
              write_sr: bool = False, progress: bool = True) -> BatchSummary:
    """Analyse every image of ``folder`` or of the Orthanc at ``orthanc_url``.

    Parameters
    ----------
    settings : HookSettings
        Queue database, results folder, reports folder, rules.
    folder, orthanc_url
        The archive (exactly one).
    output_dir : Path
        Receives ``results.jsonl`` and ``summary.csv``.
    workers : int, optional
        Local processes (default: one per core); ignored with ``dask_scheduler``.
    dask_scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:8786``). The
        workers must see the same file paths (shared storage).
    write_sr : bool
        Also write an SR per analysed image into the results folder.

    Returns
    -------
    BatchSummary
    """
    settings = HookSettings(**{**settings.__dict__, "write_sr": write_sr, "destinations": ()})
    algorithm = load_settings_algorithm(settings)
    queue = JobQueue(settings.db_path, algorithm.version)
    queue.recover_interrupted()
    if folder is not None:
        _enqueue_folder(queue, Path(folder))
    else:
        _enqueue_orthanc(queue, orthanc_url, settings.spool_dir or Path(settings.db_path).parent / "incoming")
    already = queue.counts()
    already_done = already["done"] + already["skipped"]

    pending = _claim_all(queue)
    if pending:
        runner = _run_dask if dask_scheduler else _run_local
        runner(pending, queue, settings, workers=workers, scheduler=dask_scheduler, progress=progress)

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    all_jobs = queue.jobs()
    jsonl_path = write_jsonl(all_jobs, output_dir / "results.jsonl")
    csv_path = write_summary_csv(all_jobs, output_dir / "summary.csv")
    counts = queue.counts()
    queue.close()
    return BatchSummary(total=len(all_jobs), analysed_now=len(pending), already_done=already_done,
                        done=counts["done"], skipped=counts["skipped"], failed=counts["failed"],
                        jsonl_path=jsonl_path, csv_path=csv_path)


# --- filling the queue -------------------------------------------------------------


def dicom_files(folder: Path) -> Iterable[Path]:
    """Files of ``folder`` (recursively) that may be DICOM, in a stable order."""
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix.lower() in DICOM_SUFFIXES and not path.name.startswith("."):
            yield path


def _enqueue_folder(queue: JobQueue, folder: Path) -> None:
    import pydicom

    for path in dicom_files(folder):
        sop_uid = study_uid = None
        try:
            header = pydicom.dcmread(path, stop_before_pixels=True, force=True,
                                     specific_tags=["SOPInstanceUID", "StudyInstanceUID"])
            sop_uid = str(header.get("SOPInstanceUID") or "").strip() or None
            study_uid = str(header.get("StudyInstanceUID") or "").strip() or None
        except Exception:  # noqa: BLE001 - not DICOM: the worker records why
            pass
        # A file without a SOP Instance UID is keyed by its path, so it is still recorded.
        queue.add(sop_uid or f"file:{path.resolve()}", study_uid, path.resolve())


def _enqueue_orthanc(queue: JobQueue, url: str, spool_dir: Path) -> None:
    from .orthanc import OrthancClient, queue_instance

    client = OrthancClient(url)
    try:
        for instance_id in client.all_instances():
            queue_instance(client, queue, instance_id, spool_dir)
    finally:
        client.close()


def _claim_all(queue: JobQueue) -> list[Job]:
    pid = os.getpid()
    claimed = []
    while (job := queue.claim(pid)) is not None:
        claimed.append(job)
    return claimed


# --- running ------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _algorithm(rules_path):
    from radassist.rules import load_algorithm

    return load_algorithm(rules_path) if rules_path else load_algorithm()


def analyse_task(path: str, settings: HookSettings) -> Outcome:
    """One image, in a worker process or on a Dask worker (picklable in and out)."""
    try:
        return process_file(path, settings, _algorithm(settings.rules_path))
    except Exception as exc:  # noqa: BLE001 - a bug fails one image, not the batch
        return Outcome("failed", f"internal error ({type(exc).__name__})")


def _close(queue: JobQueue, job: Job, outcome: Outcome, settings: HookSettings) -> None:
    queue.finish(job.id, outcome.state, error=outcome.error, result_path=outcome.result_path,
                 sr_uid=outcome.sr_uid)
    if outcome.state != "failed":
        remove_spooled_copy(job.path, settings.spool_dir)  # a downloaded copy, never an archive file


def _progress_bar(total: int, progress: bool):
    import sys

    from tqdm import tqdm

    return tqdm(total=total, unit="image", disable=not progress or None, file=sys.stderr, dynamic_ncols=True)


def _run_local(jobs: list[Job], queue: JobQueue, settings: HookSettings, *, workers, progress, **_) -> None:
    n = max(1, workers or os.cpu_count() or 1)
    with _progress_bar(len(jobs), progress) as bar, ProcessPoolExecutor(max_workers=n) as pool:
        futures = {pool.submit(analyse_task, job.path, settings): job for job in jobs}
        for future in as_completed(futures):
            _close(queue, futures[future], _outcome(future), settings)
            bar.update(1)


def _run_dask(jobs: list[Job], queue: JobQueue, settings: HookSettings, *, scheduler, progress, **_) -> None:
    from dask.distributed import Client
    from dask.distributed import as_completed as dask_as_completed

    with Client(scheduler) as client, _progress_bar(len(jobs), progress) as bar:
        futures = {client.submit(analyse_task, job.path, settings, pure=False, key=f"radassist-job-{job.id}"): job
                   for job in jobs}
        for future in dask_as_completed(list(futures)):
            _close(queue, futures[future], _outcome(future), settings)
            bar.update(1)


def _outcome(future) -> Outcome:
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - a worker that died takes one image with it
        return Outcome("failed", f"the worker stopped ({type(exc).__name__})")


# --- outputs --------------------------------------------------------------------------


def _result_of(job: Job) -> Optional[dict]:
    if not job.result_path:
        return None
    try:
        return json.loads(Path(job.result_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_jsonl(jobs: list[Job], path: Path) -> Path:
    """One line per image: ``sop_instance_uid``, ``study_uid``, ``state``, ``error``, ``result``."""
    tmp = path.with_suffix(".jsonl.part")
    with open(tmp, "w", encoding="utf-8") as out:
        for job in jobs:
            line = {"sop_instance_uid": job.sop_instance_uid, "study_uid": job.study_uid, "file": job.path,
                    "state": job.state, "error": job.error, "attempts": job.attempts, "result": _result_of(job)}
            out.write(json.dumps(line) + "\n")
    os.replace(tmp, path)
    return path


def write_summary_csv(jobs: list[Job], path: Path) -> Path:
    """One row per study: the most significant pattern and the first action over its images."""
    studies: dict[str, list[tuple[Job, Optional[dict]]]] = {}
    for job in jobs:
        studies.setdefault(job.study_uid or job.sop_instance_uid, []).append((job, _result_of(job)))
    tmp = path.with_suffix(".csv.part")
    with open(tmp, "w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=SUMMARY_COLUMNS)
        writer.writeheader()
        for study_uid, items in studies.items():
            results = [r for _, r in items if r]
            patterns = {p for r in results for p in r["image"]["patterns"]}
            actions = {r["primary_action"] for r in results if r.get("primary_action")}
            warnings = dict.fromkeys(w["code"] for r in results for w in r["warnings"])
            writer.writerow({
                "study_instance_uid": study_uid,
                "sop_instance_uids": ";".join(j.sop_instance_uid for j, _ in items),
                "images": len(items),
                "states": ";".join(j.state for j, _ in items),
                "primary_pattern": next((p for p in PATTERN_SIGNIFICANCE if p in patterns),
                                        "none" if results else ""),
                "patterns": ";".join(p for p in PATTERN_SIGNIFICANCE if p in patterns),
                "primary_action": next((a for a in ACTION_ORDER if a in actions), ""),
                "warnings": ";".join(warnings),
                "errors": " | ".join(j.error for j, _ in items if j.error),
            })
    os.replace(tmp, path)
    return path
