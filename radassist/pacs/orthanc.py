"""``radassist orthanc``: follow an Orthanc server and put an SR into every calf study.

The watcher reads Orthanc's ``/changes`` feed from a cursor kept in the queue
database. For each ``StableStudy`` (or ``NewInstance``) it fetches the study's
CR/DX instances, spools and queues them like the DICOM receiver does, and only
then moves the cursor, so a restart resumes where it stopped and re-reads at
most the changes whose images were not yet queued. The queue makes a change
that fires twice harmless (the instance is a duplicate). The workers analyse
the images; the SR goes back by ``POST /instances`` through the same retried
``sends`` as C-STOREs. radassist's own SRs are never fetched (SOP class and
Manufacturer), so there is no loop.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Iterator, Optional

import httpx

from .queue import JobQueue
from .receiver import IMAGE_STORAGE_CLASSES, stop_on_signals
from .spool import spool_path, write_atomically
from .workers import HookSettings, WorkerPool, load_settings_algorithm

log = logging.getLogger("radassist.pacs")

CHANGES_PAGE = 100


class OrthancError(Exception):
    """Orthanc answered with an error or could not be reached."""


class OrthancClient:
    """The few calls of Orthanc's REST API radassist needs.

    Parameters
    ----------
    url : str
        E.g. ``http://127.0.0.1:8042``.
    user, password : str, optional
        HTTP basic authentication.
    """

    def __init__(self, url: str, *, user: Optional[str] = None, password: Optional[str] = None,
                 timeout: float = 60.0):
        self.url = url.rstrip("/")
        auth = (user, password or "") if user else None
        self._http = httpx.Client(base_url=self.url, auth=auth, timeout=timeout)

    @property
    def destination(self) -> str:
        """How SR uploads to this server are named in the queue's ``sends``."""
        return f"orthanc:{self.url}"

    def close(self) -> None:
        self._http.close()

    def _get(self, path: str, **params):
        try:
            response = self._http.get(path, params=params or None)
        except httpx.HTTPError as exc:
            raise OrthancError(f"Orthanc at {self.url} is unreachable ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise OrthancError(f"Orthanc answered {response.status_code} to GET {path}")
        return response

    def system(self) -> dict:
        return self._get("/system").json()

    def changes(self, since: int, limit: int = CHANGES_PAGE) -> dict:
        """One page of ``/changes``: ``{"Changes": [...], "Done": bool, "Last": int}``."""
        return self._get("/changes", since=since, limit=limit).json()

    def last_change(self) -> int:
        return int(self._get("/changes", last="").json().get("Last", 0))

    def study_instances(self, study_id: str) -> list[str]:
        return [item["ID"] for item in self._get(f"/studies/{study_id}/instances").json()]

    def all_instances(self) -> list[str]:
        return list(self._get("/instances").json())

    def sop_class(self, instance_id: str) -> Optional[str]:
        """The SOP Class UID of an instance (Orthanc's metadata, else its tags)."""
        try:
            return self._get(f"/instances/{instance_id}/metadata/SopClassUid").text.strip()
        except OrthancError:
            tags = self._get(f"/instances/{instance_id}/simplified-tags").json()
            return tags.get("SOPClassUID")

    def instance_tags(self, instance_id: str) -> dict:
        return self._get(f"/instances/{instance_id}/simplified-tags").json()

    def instance_file(self, instance_id: str) -> bytes:
        return self._get(f"/instances/{instance_id}/file").content

    def upload(self, data: bytes) -> dict:
        """``POST /instances``; returns Orthanc's answer (``ID``, ``ParentStudy``, ``Status``)."""
        try:
            response = self._http.post("/instances", content=data,
                                       headers={"Content-Type": "application/dicom"})
        except httpx.HTTPError as exc:
            raise OrthancError(f"Orthanc at {self.url} is unreachable ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise OrthancError(f"Orthanc refused the SR upload ({response.status_code})")
        return response.json()

    def upload_file(self, path) -> None:
        self.upload(Path(path).read_bytes())


def is_analysable(sop_class: Optional[str], tags: dict) -> bool:
    """CR, DX or Secondary Capture image, and not one radassist made itself."""
    if sop_class not in IMAGE_STORAGE_CLASSES:
        return False  # radassist's SRs are Comprehensive SR: never fetched again
    return str(tags.get("Manufacturer", "")).strip().lower() != "radassist"


def queue_instance(client: OrthancClient, queue: JobQueue, instance_id: str, spool_dir) -> Optional[str]:
    """Fetch one instance into the spool and queue it; returns the queue's answer or None if skipped."""
    sop_class = client.sop_class(instance_id)
    if sop_class not in IMAGE_STORAGE_CLASSES:
        return None  # checked first: no tag download for the study's other objects
    tags = client.instance_tags(instance_id)
    if not is_analysable(sop_class, tags):
        return None
    sop_uid, study_uid = tags.get("SOPInstanceUID"), tags.get("StudyInstanceUID")
    if not sop_uid:
        return None
    known = queue.job(sop_uid)
    if known is not None and known.state in ("done", "skipped"):
        return "duplicate"  # no need to download it again
    path = write_atomically(spool_path(spool_dir, study_uid, sop_uid), client.instance_file(instance_id))
    return queue.add(sop_uid, study_uid, path)


def changed_instances(client: OrthancClient, change: dict, event: str) -> Iterator[str]:
    """The instance ids a change stands for (none if it is another kind of change)."""
    if change.get("ChangeType") != event:
        return
    if event == "StableStudy":
        yield from client.study_instances(change["ID"])
    else:
        yield change["ID"]


def poll_once(client: OrthancClient, queue: JobQueue, spool_dir, event: str = "StableStudy") -> int:
    """Queue the images of every change after the cursor; returns how many changes were read.

    The cursor moves after each page, once its images are queued (durably).
    """
    cursor_name = f"orthanc-changes:{client.url}"
    since = int(queue.cursor(cursor_name, "0"))
    page = client.changes(since)
    for change in page.get("Changes", []):
        for instance_id in changed_instances(client, change, event):
            state = queue_instance(client, queue, instance_id, spool_dir)
            if state:
                log.info("orthanc instance %s: %s", instance_id[:8], state)
    last = int(page.get("Last", since))
    if last != since:
        queue.set_cursor(cursor_name, str(last))
    return len(page.get("Changes", []))


def watch(client: OrthancClient, settings: HookSettings, *, event: str = "StableStudy", poll_s: float = 2.0,
          once: bool = False, spool_dir=None, workers: Optional[int] = None,
          stop: Optional[threading.Event] = None, send_backoff_s: float = 5.0) -> None:
    """Follow Orthanc until SIGTERM (or, with ``once``, until every change so far is analysed and sent)."""
    from .sender import SenderThread

    client.system()  # fail early, with a clear message, if Orthanc is not there
    destination = client.destination
    settings = HookSettings(**{**settings.__dict__, "destinations": (*settings.destinations, destination)})
    algorithm = load_settings_algorithm(settings)
    queue = JobQueue(settings.db_path, algorithm.version)
    queue.recover_interrupted()
    spool_dir = spool_dir or settings.spool_dir or Path(settings.db_path).parent / "incoming"
    stop = stop or threading.Event()
    stop_on_signals(stop)
    pool = WorkerPool(settings, algorithm.version, workers)
    pool.start()
    sender = SenderThread(queue, base_backoff_s=send_backoff_s, uploaders={destination: client.upload_file})
    sender.start()
    print(f"radassist orthanc: following {client.url} ({event}), {pool.n} worker(s)", flush=True)
    try:
        while not stop.is_set():
            try:
                read = poll_once(client, queue, spool_dir, event)
            except OrthancError as exc:
                log.warning("%s; retrying", exc)
                read = 0
            pool.check(queue)
            if once and read == 0 and _settled(queue):
                break
            if read == 0:
                stop.wait(poll_s)
    finally:
        sender.stop()
        sender.join(timeout=30)
        pool.stop()
        queue.close()


def _settled(queue: JobQueue) -> bool:
    counts = queue.counts()
    return counts["received"] == 0 and counts["running"] == 0 and queue.send_counts()["pending"] == 0


def wait_for_orthanc(url: str, timeout: float = 60.0) -> None:
    """Wait until Orthanc answers ``/system`` (for scripts and tests)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url.rstrip('/')}/system", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise OrthancError(f"Orthanc at {url} did not answer within {timeout:.0f} s")
        time.sleep(0.2)
