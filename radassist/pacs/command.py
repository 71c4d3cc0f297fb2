"""``radassist listen``, ``orthanc`` and ``batch``: registered on the main CLI parser.

Every option has an environment-variable fallback (named in its help), so a
service unit or container can be configured without a command line.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path


def register(subparsers) -> None:
    """Add the PACS commands to ``radassist``'s sub-command parser."""
    _add_listen(subparsers)
    _add_orthanc(subparsers)
    _add_batch(subparsers)


def _env(name: str, default=None):
    return os.environ.get(name, default)


def _add_common(p, *, destinations: bool = True) -> None:
    p.add_argument("--spool", metavar="DIR", default=_env("RADASSIST_SPOOL", "radassist-spool"),
                   help="working folder: received images, queue database, results (env RADASSIST_SPOOL)")
    p.add_argument("--db", metavar="FILE", default=_env("RADASSIST_DB"),
                   help="job-queue database (default SPOOL/queue.sqlite3; env RADASSIST_DB)")
    p.add_argument("--results", metavar="DIR", default=_env("RADASSIST_RESULTS"),
                   help="JSON results and SRs (default SPOOL/results; env RADASSIST_RESULTS)")
    p.add_argument("--reports", metavar="DIR", default=_env("RADASSIST_REPORTS"),
                   help="sidecar report texts named <AccessionNumber>.txt or <StudyInstanceUID>.txt "
                        "(env RADASSIST_REPORTS)")
    p.add_argument("--rules", metavar="FILE", default=_env("RADASSIST_RULES"),
                   help="a rules file other than the default algorithm (env RADASSIST_RULES)")
    p.add_argument("--workers", "-j", type=int, default=int(_env("RADASSIST_WORKERS", "0")) or None,
                   help="worker processes (default: one per core; env RADASSIST_WORKERS)")
    p.add_argument("--gsps", action="store_true", default=_env("RADASSIST_GSPS", "").lower() in ("1", "true", "yes"),
                   help="also make a Grayscale Softcopy Presentation State with the cluster outlines, so a viewer "
                        "draws them on the image (env RADASSIST_GSPS=1)")
    p.add_argument("--log-level", default=_env("RADASSIST_LOG_LEVEL", "INFO"),
                   help="DEBUG, INFO, WARNING (env RADASSIST_LOG_LEVEL)")
    if destinations:
        p.add_argument("--destination", action="append", metavar="AE@HOST:PORT",
                       default=[d for d in (_env("RADASSIST_DESTINATION") or "").split(",") if d],
                       help="send each SR here by C-STORE; repeatable (env RADASSIST_DESTINATION, comma-separated)")
        p.add_argument("--outbox", metavar="DIR", default=_env("RADASSIST_OUTBOX"),
                       help="also write each SR to this folder (env RADASSIST_OUTBOX)")


def _add_listen(subparsers) -> None:
    p = subparsers.add_parser("listen", help="DICOM receiver: analyse every calf radiograph sent to it",
                              description="A DICOM Storage SCP (C-ECHO, C-STORE of CR, DX and Secondary Capture). "
                                          "Each image is spooled and queued before it is acknowledged; workers "
                                          "analyse it and send a Structured Report back.")
    p.add_argument("--ae-title", default=_env("RADASSIST_AE_TITLE", "RADASSIST"),
                   help="this receiver's AE title (env RADASSIST_AE_TITLE)")
    p.add_argument("--host", default=_env("RADASSIST_HOST", "0.0.0.0"), help="address to listen on (env RADASSIST_HOST)")
    p.add_argument("--port", type=int, default=int(_env("RADASSIST_PORT", "11112")),
                   help="TCP port (env RADASSIST_PORT)")
    p.add_argument("--allow", action="append", metavar="AE[,AE...]",
                   default=[a for a in (_env("RADASSIST_ALLOWED_AES") or "").split(",") if a],
                   help="accept associations only from these calling AE titles; repeatable "
                        "(env RADASSIST_ALLOWED_AES, comma-separated; default: any)")
    p.add_argument("--send-backoff", type=float, default=float(_env("RADASSIST_SEND_BACKOFF", "5")),
                   metavar="SECONDS", help="first retry delay of a failed SR send; doubles each time "
                                           "(env RADASSIST_SEND_BACKOFF)")
    _add_common(p)
    p.set_defaults(func=cmd_listen)


def _add_orthanc(subparsers) -> None:
    p = subparsers.add_parser("orthanc", help="follow an Orthanc server and put an SR into every calf study",
                              description="Follows Orthanc's /changes feed (cursor kept in the queue database), "
                                          "analyses the CR/DX instances of each stable study and uploads the SR "
                                          "into the same study.")
    p.add_argument("--url", default=_env("RADASSIST_ORTHANC_URL", "http://127.0.0.1:8042"),
                   help="Orthanc's REST address (env RADASSIST_ORTHANC_URL)")
    p.add_argument("--user", default=_env("RADASSIST_ORTHANC_USER"), help="HTTP user (env RADASSIST_ORTHANC_USER)")
    p.add_argument("--password", default=_env("RADASSIST_ORTHANC_PASSWORD"),
                   help="HTTP password (env RADASSIST_ORTHANC_PASSWORD)")
    p.add_argument("--poll", type=float, default=float(_env("RADASSIST_ORTHANC_POLL", "2")), metavar="SECONDS",
                   help="wait between polls when there is no change (env RADASSIST_ORTHANC_POLL)")
    p.add_argument("--event", choices=("StableStudy", "NewInstance"), default=_env("RADASSIST_ORTHANC_EVENT",
                                                                                    "StableStudy"),
                   help="which change triggers the analysis (env RADASSIST_ORTHANC_EVENT)")
    p.add_argument("--once", action="store_true", help="process the changes there are, then exit")
    _add_common(p, destinations=False)
    p.set_defaults(func=cmd_orthanc)


def _add_batch(subparsers) -> None:
    p = subparsers.add_parser("batch", help="analyse an archive (folder or Orthanc), resumable, JSONL + CSV",
                              description="Analyses every DICOM file of a folder (or every CR/DX instance of an "
                                          "Orthanc server) in parallel; skips what the queue database says is done; "
                                          "writes one JSON line per image and a CSV summary per study.")
    p.add_argument("folder", nargs="?", metavar="DIR", help="folder of DICOM files")
    p.add_argument("--orthanc", metavar="URL", help="read the archive from this Orthanc server instead")
    p.add_argument("--output", "-o", metavar="DIR", default="radassist-batch",
                   help="writes results.jsonl and summary.csv here (default radassist-batch)")
    p.add_argument("--dask", metavar="SCHEDULER", default=_env("RADASSIST_DASK_SCHEDULER"),
                   help="run on a Dask distributed cluster at this address (env RADASSIST_DASK_SCHEDULER)")
    p.add_argument("--sr", action="store_true", help="also write an SR per image (into the results folder)")
    p.add_argument("--no-progress", action="store_true")
    _add_common(p, destinations=False)
    p.set_defaults(func=cmd_batch)


def _settings(args):
    from .workers import HookSettings

    spool = Path(args.spool)
    return HookSettings(
        db_path=Path(args.db) if args.db else spool / "queue.sqlite3",
        results_dir=Path(args.results) if args.results else spool / "results",
        reports_dir=Path(args.reports) if args.reports else None,
        outbox_dir=Path(args.outbox) if getattr(args, "outbox", None) else None,
        destinations=tuple(_destinations(getattr(args, "destination", None) or [])),
        rules_path=Path(args.rules) if args.rules else None,
        write_gsps=args.gsps,
        spool_dir=spool / "incoming",
    )


def _destinations(values) -> list[str]:
    from ..cli import UsageError
    from .sender import Destination

    out = []
    for value in values:
        try:
            out.append(str(Destination.parse(value)))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    return out


def _logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, str(level).upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)
    logging.getLogger("highdicom").setLevel(logging.WARNING)


def cmd_listen(args) -> int:
    from .receiver import ListenConfig, parse_calling_aes, serve

    _logging(args.log_level)
    config = ListenConfig(ae_title=args.ae_title, host=args.host, port=args.port,
                          allowed_calling_aes=parse_calling_aes(args.allow), workers=args.workers,
                          send_backoff_s=args.send_backoff)
    settings = _settings(args)
    serve(config, settings, settings.spool_dir)
    return 0


def cmd_orthanc(args) -> int:
    from .orthanc import OrthancClient, watch

    _logging(args.log_level)
    client = OrthancClient(args.url, user=args.user, password=args.password)
    settings = _settings(args)
    watch(client, settings, event=args.event, poll_s=args.poll, once=args.once, spool_dir=settings.spool_dir,
          workers=args.workers)
    return 0


def cmd_batch(args) -> int:
    from ..cli import UsageError
    from .batch import run_batch

    if bool(args.folder) == bool(args.orthanc):
        raise UsageError("batch takes a folder or --orthanc URL (one of them)")
    _logging(args.log_level if args.log_level.upper() != "INFO" else "WARNING")
    summary = run_batch(
        settings=_settings(args),
        folder=Path(args.folder) if args.folder else None,
        orthanc_url=args.orthanc,
        output_dir=Path(args.output),
        workers=args.workers,
        dask_scheduler=args.dask,
        write_sr=args.sr,
        progress=not args.no_progress,
    )
    print(summary.line())
    return 6 if summary.failed else 0
