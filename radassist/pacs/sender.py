"""Send the SRs back to the PACS by C-STORE, retrying with back-off until they arrive.

What is owed lives in the queue's ``sends`` table, so a send that fails (PACS
down, association rejected) waits ``base · 2^attempts`` seconds (at most
:data:`MAX_BACKOFF_S`) and is tried again, across restarts; it is never dropped.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Optional

import pydicom
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from .queue import JobQueue

log = logging.getLogger("radassist.pacs")

MAX_BACKOFF_S = 600.0
#: C-STORE statuses that mean the PACS kept the object (success and the warnings).
_STORED = {0x0000, 0xB000, 0xB006, 0xB007}


class SendError(Exception):
    """The destination did not store the object; the message says why."""


@dataclass(frozen=True)
class Destination:
    """A DICOM peer: ``AE@host:port``."""

    ae_title: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> "Destination":
        try:
            ae_title, address = text.split("@", 1)
            host, port = address.rsplit(":", 1)
            destination = cls(ae_title.strip(), host.strip().strip("[]"), int(port))
        except ValueError:
            raise ValueError(f"a destination is AE@host:port, not {text!r}") from None
        if not destination.ae_title or len(destination.ae_title) > 16:
            raise ValueError(f"the AE title of {text!r} must have 1 to 16 characters")
        return destination

    def __str__(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"


def send_file(path, destination: Destination, calling_ae_title: str = "RADASSIST", timeout: float = 30.0) -> None:
    """C-STORE one DICOM file to ``destination``; raises :class:`SendError` on failure."""
    error = send_files([path], destination, calling_ae_title, timeout)[0]
    if error:
        raise SendError(error)


def send_files(paths, destination: Destination, calling_ae_title: str = "RADASSIST",
               timeout: float = 30.0) -> list[Optional[str]]:
    """C-STORE DICOM files to ``destination`` in one association.

    One presentation context is proposed per SOP class and transfer syntax
    (each file's own, then Explicit and Implicit VR Little Endian), so a peer
    that accepts any one of them can take the object.

    Returns
    -------
    list of str or None
        Per file: None when the destination stored it, else why not.
    """
    from pynetdicom import AE

    datasets = [pydicom.dcmread(path) for path in paths]
    ae = AE(ae_title=calling_ae_title)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    contexts = dict.fromkeys(
        (str(ds.SOPClassUID), syntax)
        for ds in datasets
        for syntax in (str(ds.file_meta.TransferSyntaxUID), ExplicitVRLittleEndian, ImplicitVRLittleEndian)
    )
    for sop_class, syntax in contexts:
        ae.add_requested_context(sop_class, syntax)
    assoc = ae.associate(destination.host, destination.port, ae_title=destination.ae_title)
    if not assoc.is_established:
        return [f"no association with {destination} (refused, rejected or unreachable)"] * len(datasets)
    errors: list[Optional[str]] = []
    try:
        for dataset in datasets:
            errors.append(_store(assoc, dataset, destination))
    finally:
        if assoc.is_established:
            assoc.release()
    return errors + [f"the association with {destination} ended early"] * (len(datasets) - len(errors))


def _store(assoc, dataset, destination: Destination) -> Optional[str]:
    if not assoc.is_established:
        return f"the association with {destination} ended early"
    status = assoc.send_c_store(dataset)
    code = getattr(status, "Status", None)
    if code is None:
        return f"{destination} sent no C-STORE response (timeout or aborted association)"
    if code not in _STORED:
        return f"{destination} answered C-STORE status 0x{code:04X}"
    return None


def backoff_s(attempts: int, base_s: float) -> float:
    """Seconds to wait after ``attempts`` failed sends: ``base · 2^(attempts-1)``, capped."""
    return min(MAX_BACKOFF_S, base_s * 2 ** max(0, attempts - 1))


def send_due(queue: JobQueue, calling_ae_title: str, base_backoff_s: float, uploaders=None) -> int:
    """Try every send that is due once, one association per destination; returns how many succeeded.

    ``uploaders`` maps a destination name to a function that uploads a file
    (e.g. ``orthanc:URL`` → the REST upload); other destinations are
    ``AE@host:port`` and get a C-STORE.
    """
    by_destination: dict[str, list] = {}
    for item in queue.due_sends():
        by_destination.setdefault(item.destination, []).append(item)
    sent = 0
    for destination, items in by_destination.items():
        for item, error in zip(items, _deliver(items, destination, calling_ae_title, uploaders or {})):
            if error is None:
                queue.mark_sent(item.id)
                sent += 1
            else:
                wait = backoff_s(item.attempts + 1, base_backoff_s)
                queue.mark_send_failed(item.id, error, wait)
                log.warning("SR send to %s failed (%s); retry in %.0f s", destination, error, wait)
    return sent


def _deliver(items, destination: str, calling_ae_title: str, uploaders) -> list[Optional[str]]:
    """Per item: None when delivered, else the reason (any failure means: retry later)."""
    upload = uploaders.get(destination)
    if upload is None:
        try:
            return send_files([i.sr_path for i in items], Destination.parse(destination), calling_ae_title)
        except Exception as exc:  # noqa: BLE001 - unreadable file, bad address, network error
            return [f"{type(exc).__name__}: {exc}"] * len(items)
    errors = []
    for item in items:
        try:
            upload(item.sr_path)
            errors.append(None)
        except Exception as exc:  # noqa: BLE001
            errors.append(str(exc) or type(exc).__name__)
    return errors


class SenderThread(threading.Thread):
    """Sends owed SRs in the background until :meth:`stop`."""

    def __init__(self, queue: JobQueue, calling_ae_title: str = "RADASSIST", base_backoff_s: float = 5.0,
                 poll_s: float = 0.05, uploaders=None):
        super().__init__(name="radassist-sender", daemon=True)
        self.queue, self.calling_ae_title, self.uploaders = queue, calling_ae_title, uploaders
        self.base_backoff_s, self.poll_s = base_backoff_s, poll_s
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                send_due(self.queue, self.calling_ae_title, self.base_backoff_s, self.uploaders)
            except Exception:  # noqa: BLE001 - the sender must outlive any one bad send
                log.exception("SR sender: unexpected error")
            self._stop_event.wait(self.poll_s)

    def stop(self) -> None:
        self._stop_event.set()
