"""``radassist listen``: a DICOM Storage SCP that queues every image it receives.

The C-STORE handler writes the instance atomically to the spool, records the
job in the queue, and only then answers success, so an acknowledged image is
never lost. :func:`serve` runs the receiver, the worker processes and the SR
sender together, and recovers jobs interrupted by a crash when it starts.
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from typing import Optional, Sequence

from pydicom.uid import AllTransferSyntaxes

from .queue import JobQueue
from .spool import spool_path, write_atomically
from .workers import HookSettings, WorkerPool, load_settings_algorithm

log = logging.getLogger("radassist.pacs")

#: Storage SOP classes the receiver accepts: projection radiographs and Secondary Capture.
IMAGE_STORAGE_CLASSES = (
    "1.2.840.10008.5.1.4.1.1.1",  # Computed Radiography Image Storage
    "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray Image Storage - For Presentation
    "1.2.840.10008.5.1.4.1.1.1.1.1",  # Digital X-Ray Image Storage - For Processing
    "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture Image Storage
)
_VERIFICATION = "1.2.840.10008.1.1"
# C-STORE statuses (PS3.4 B.2.3)
_SUCCESS, _OUT_OF_RESOURCES, _CANNOT_UNDERSTAND = 0x0000, 0xA700, 0xC000


@dataclass(frozen=True)
class ListenConfig:
    """Network settings of the receiver."""

    ae_title: str = "RADASSIST"
    host: str = "0.0.0.0"
    port: int = 11112
    allowed_calling_aes: tuple[str, ...] = ()
    workers: Optional[int] = None
    send_backoff_s: float = 5.0


def supported_transfer_syntaxes() -> list[str]:
    """Every transfer syntax whose pixel data the installed decoders can read."""
    from pydicom.pixels import get_decoder

    supported = []
    for syntax in AllTransferSyntaxes:
        try:
            if get_decoder(syntax).is_available:
                supported.append(str(syntax))
        except NotImplementedError:
            continue
    return supported


def build_ae(config: ListenConfig):
    """The pynetdicom Application Entity: Verification plus the image storage contexts."""
    from pynetdicom import AE

    ae = AE(ae_title=config.ae_title)
    syntaxes = supported_transfer_syntaxes()
    ae.add_supported_context(_VERIFICATION)
    for sop_class in IMAGE_STORAGE_CLASSES:
        ae.add_supported_context(sop_class, syntaxes)
    if config.allowed_calling_aes:
        ae.require_calling_aet = list(config.allowed_calling_aes)
    ae.maximum_pdu_size = 0  # no limit: large radiographs arrive in fewer PDUs
    return ae


def store_handler(spool_dir, queue: JobQueue):
    """A C-STORE handler: spool atomically, record the job, then acknowledge."""

    def handle_store(event):
        sop_uid = str(event.request.AffectedSOPInstanceUID or "").strip()
        if not sop_uid:
            return _CANNOT_UNDERSTAND
        try:
            data = event.encoded_dataset(include_meta=True)
            study_uid = _study_uid(data)
            path = write_atomically(spool_path(spool_dir, study_uid, sop_uid), data)
            state = queue.add(sop_uid, study_uid, path)
        except Exception:  # noqa: BLE001 - the sender must hear a failure, not a dropped association
            log.exception("could not spool instance %s", _short(sop_uid))
            return _OUT_OF_RESOURCES
        log.info("received %s (%s)", _short(sop_uid), state)
        return _SUCCESS

    return handle_store


def serve(config: ListenConfig, settings: HookSettings, spool_dir, *, ready: Optional[threading.Event] = None,
          stop: Optional[threading.Event] = None) -> None:
    """Run the receiver, the workers and the SR sender until SIGTERM/SIGINT (or ``stop``)."""
    from pynetdicom import evt

    from .sender import SenderThread

    algorithm = load_settings_algorithm(settings)
    queue = JobQueue(settings.db_path, algorithm.version)
    recovered = queue.recover_interrupted()
    if recovered:
        log.warning("%d job(s) interrupted by a previous stop are queued again", recovered)
    stop = stop or threading.Event()
    stop_on_signals(stop)

    pool = WorkerPool(settings, algorithm.version, config.workers)
    pool.start()
    sender = SenderThread(queue, config.ae_title, config.send_backoff_s)
    sender.start()
    ae = build_ae(config)
    handlers = [(evt.EVT_C_STORE, store_handler(spool_dir, queue)), (evt.EVT_C_ECHO, lambda event: _SUCCESS)]
    server = ae.start_server((config.host, config.port), block=False, evt_handlers=handlers)
    log.info("listening as %s on %s:%d with %d worker(s)", config.ae_title, config.host, config.port, pool.n)
    print(f"radassist listen: {config.ae_title} on {config.host}:{config.port}, {pool.n} worker(s)", flush=True)
    if ready is not None:
        ready.set()
    try:
        while not stop.wait(0.25):
            pool.check(queue)
    finally:
        server.shutdown()
        sender.stop()
        pool.stop()
        queue.close()


def stop_on_signals(stop: threading.Event) -> None:
    """Set ``stop`` on SIGTERM or SIGINT (when called from the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return
    # Set the event from another thread: a handler runs between two bytecodes
    # of the main thread, which may hold the event's own lock (a deadlock).
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: threading.Thread(target=stop.set).start())


def _study_uid(encoded: bytes) -> Optional[str]:
    """The Study Instance UID, read from the header bytes only (decoding the whole data set would copy the pixels)."""
    import io

    import pydicom

    try:
        header = pydicom.dcmread(io.BytesIO(encoded), stop_before_pixels=True, specific_tags=["StudyInstanceUID"])
        value = header.get("StudyInstanceUID")
    except Exception:  # noqa: BLE001 - an undecodable data set is still spooled; the worker reports it
        return None
    return str(value).strip() if value else None


def _short(uid: str) -> str:
    """A UID shortened for the log (enough to find it in the queue)."""
    return uid if len(uid) <= 24 else "…" + uid[-20:]


def parse_calling_aes(values: Sequence[str]) -> tuple[str, ...]:
    """``["A,B", "C"]`` → ``("A", "B", "C")``."""
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())
