"""``radassist serve`` and ``radassist feedback export``: registered on the main CLI parser."""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    """Add the web commands to ``radassist``'s sub-command parser."""
    s = subparsers.add_parser(
        "serve", help="start the web form and JSON API",
        description="Start the radiologist's web form and the JSON API (uvicorn). Every option also has an "
                    "environment variable RADASSIST_<OPTION> (e.g. RADASSIST_PORT); RADASSIST_API_TOKEN, when "
                    "set, protects the API and the page.")
    s.add_argument("--host", help="interface to listen on (default 127.0.0.1; 0.0.0.0 for the network)")
    s.add_argument("--port", type=int, help="port (default 8000)")
    s.add_argument("--workers", type=int, help="uvicorn worker processes (default 1)")
    s.add_argument("--analysis-processes", type=int, metavar="N",
                   help="analyses run at once per worker (default: the number of CPUs)")
    s.add_argument("--queue-size", type=int, metavar="N",
                   help="analyses queued or running before the service answers 503 (default 16)")
    s.add_argument("--max-upload-mb", type=float, metavar="MB", help="largest upload (default 100)")
    s.add_argument("--data-dir", metavar="DIR", help="database and temporary uploads "
                                                      "(default ~/.local/share/radassist)")
    s.add_argument("--database", metavar="FILE", help="SQLite file (default DATA_DIR/radassist.sqlite3)")
    s.add_argument("--sr-retention-hours", type=float, metavar="H",
                   help="hours each analysis's DICOM SR is kept for download; it carries the patient's "
                        "name and IDs, so it is deleted then (default 24; 0: build no SR)")
    s.add_argument("--log-level", choices=("critical", "error", "warning", "info", "debug"))
    s.set_defaults(func=cmd_serve)

    f = subparsers.add_parser("feedback", help="radiologists' agree/disagree feedback (QA)")
    fsub = f.add_subparsers(dest="feedback_command", metavar="ACTION")
    e = fsub.add_parser("export", help="write every feedback row as CSV")
    e.add_argument("--output", "-o", metavar="FILE", help="CSV file (default: stdout)")
    e.add_argument("--data-dir", metavar="DIR")
    e.add_argument("--database", metavar="FILE")
    e.set_defaults(func=cmd_feedback_export)
    f.set_defaults(func=lambda args: (f.print_help(sys.stderr), 2)[1])


def _settings(args, **extra):
    from pydantic import ValidationError

    from ..cli import UsageError
    from .settings import Settings

    try:
        return Settings.from_env(data_dir=getattr(args, "data_dir", None),
                                 database=getattr(args, "database", None), **extra)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UsageError(f"invalid setting {'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def cmd_serve(args) -> int:
    import logging
    import os

    import uvicorn

    settings = _settings(args, host=args.host, port=args.port, workers=args.workers,
                         analysis_processes=args.analysis_processes, queue_size=args.queue_size,
                         max_upload_mb=args.max_upload_mb, sr_retention_hours=args.sr_retention_hours,
                         log_level=args.log_level)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.workers > 1:
        # Each uvicorn worker process builds its own app from the environment.
        os.environ.update(settings.to_env())
        app = "radassist.web.app:create_app_from_env"
        factory = True
    else:
        from .app import create_app

        app, factory = create_app(settings), False
    auth = "token required" if settings.api_token else "no token (set RADASSIST_API_TOKEN to require one)"
    print(f"radassist: serving on http://{settings.host}:{settings.port}/ ({auth}); "
          f"database {settings.database_path}", file=sys.stderr)
    uvicorn.run(app, factory=factory, host=settings.host, port=settings.port, workers=settings.workers,
                log_level=settings.log_level, server_header=False, proxy_headers=False)
    return 0


def cmd_feedback_export(args) -> int:
    from .store import Store

    settings = _settings(args)
    if not settings.database_path.is_file():
        from ..cli import UsageError

        raise UsageError(f"no database at {settings.database_path} (has the web service run?)")
    store = Store(settings.database_path)
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            n = store.export_feedback_csv(out)
        print(f"radassist: {n} feedback row(s) written to {args.output}", file=sys.stderr)
    else:
        store.export_feedback_csv(sys.stdout)
    return 0
