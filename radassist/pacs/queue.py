"""The durable job queue: one SQLite database in WAL mode.

Tables
------
``jobs``
    One row per (SOP Instance UID, algorithm version). ``state`` moves
    ``received`` → ``running`` → ``done`` | ``failed`` | ``skipped``; a job
    left ``running`` by a crash goes back to ``received`` when the service
    starts (or when its worker process is found dead), so it runs again.
``sends``
    One row per (object, destination): a C-STORE (or upload) of an SR or a
    presentation state still owed to the PACS (``sr_uid`` holds the object's
    SOP Instance UID). Rows stay
    ``pending`` with a growing back-off until the send succeeds; nothing is
    dropped.
``cursors``
    Named positions in external feeds (Orthanc's ``/changes``).

Every write is its own short transaction with ``synchronous=FULL``: when a
method returns, the row is on disk. Each process (and each thread, through
the lock) uses its own connection.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

STATES = ("received", "running", "done", "failed", "skipped")
FINAL_STATES = ("done", "failed", "skipped")

#: A job whose worker died this many times is failed instead of retried: it
#: probably crashes the decoder, and retrying forever would stall the queue.
MAX_ATTEMPTS = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    sop_instance_uid TEXT NOT NULL,
    study_uid TEXT,
    path TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'received'
        CHECK (state IN ('received', 'running', 'done', 'failed', 'skipped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    algorithm_version TEXT NOT NULL,
    result_path TEXT,
    sr_uid TEXT,
    worker_pid INTEGER,
    received_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    UNIQUE (sop_instance_uid, algorithm_version)
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, id);
CREATE TABLE IF NOT EXISTS sends (
    id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES jobs (id),
    sr_uid TEXT NOT NULL,
    sr_path TEXT NOT NULL,
    destination TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    error TEXT,
    sent_at REAL,
    UNIQUE (sr_uid, destination)
);
CREATE TABLE IF NOT EXISTS cursors (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Job:
    id: int
    sop_instance_uid: str
    study_uid: Optional[str]
    path: str
    state: str
    attempts: int
    error: Optional[str]
    algorithm_version: str
    result_path: Optional[str]
    sr_uid: Optional[str]


@dataclass(frozen=True)
class Send:
    id: int
    job_id: int
    sr_uid: str
    sr_path: str
    destination: str
    attempts: int


_JOB_COLUMNS = "id, sop_instance_uid, study_uid, path, state, attempts, error, algorithm_version, result_path, sr_uid"


class JobQueue:
    """The queue database at ``path`` for one algorithm version.

    Parameters
    ----------
    path : path-like
        SQLite file; created with its tables when absent.
    algorithm_version : str
        Jobs are unique per SOP Instance UID *and* algorithm version: a new
        algorithm version analyses an image again, the same one never does.
    """

    def __init__(self, path, algorithm_version: str):
        self.path = Path(path)
        self.algorithm_version = algorithm_version
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=60000")
        with self._lock:
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- jobs ----------------------------------------------------------------

    def add(self, sop_instance_uid: str, study_uid: Optional[str], path) -> str:
        """Record a received instance; returns ``"new"``, ``"requeued"`` or ``"duplicate"``.

        An instance already ``done`` or ``skipped`` with this algorithm version
        is a duplicate and is not analysed again; one that ``failed`` is
        queued again (the sender may have fixed it); one still waiting keeps
        its place with the newest file.
        """
        now = time.time()
        with self._transaction() as db:
            row = db.execute(
                "SELECT id, state FROM jobs WHERE sop_instance_uid = ? AND algorithm_version = ?",
                (sop_instance_uid, self.algorithm_version),
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO jobs (sop_instance_uid, study_uid, path, algorithm_version, received_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (sop_instance_uid, study_uid, str(path), self.algorithm_version, now),
                )
                return "new"
            job_id, state = row
            if state == "failed":
                db.execute(
                    "UPDATE jobs SET state = 'received', attempts = 0, error = NULL, path = ?, received_at = ? "
                    "WHERE id = ?", (str(path), now, job_id))
                return "requeued"
            if state == "received":
                db.execute("UPDATE jobs SET path = ? WHERE id = ?", (str(path), job_id))
            return "duplicate"

    def claim(self, worker_pid: int) -> Optional[Job]:
        """Take the oldest waiting job for ``worker_pid`` (``running``), or None."""
        with self._transaction() as db:
            row = db.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE state = 'received' AND algorithm_version = ? "
                "ORDER BY id LIMIT 1", (self.algorithm_version,)).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, worker_pid = ?, started_at = ? "
                "WHERE id = ?", (worker_pid, time.time(), row[0]))
        job = Job(*row)
        return Job(**{**job.__dict__, "state": "running", "attempts": job.attempts + 1})

    def finish(self, job_id: int, state: str, *, error: Optional[str] = None, result_path=None,
               sr_uid: Optional[str] = None, sends: Iterable[tuple[str, str, str]] = ()) -> None:
        """Close a job as ``done``, ``failed`` or ``skipped``; owed sends in the same transaction.

        ``sends`` holds ``(sop_instance_uid, path, destination)`` of each object
        to deliver (the SR, the presentation state); one already recorded (a
        re-run after a crash) is not added twice.
        """
        if state not in FINAL_STATES:
            raise ValueError(f"a job finishes as one of {FINAL_STATES}, not {state!r}")
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "UPDATE jobs SET state = ?, error = ?, result_path = ?, sr_uid = ?, finished_at = ?, "
                "worker_pid = NULL WHERE id = ?",
                (state, error, None if result_path is None else str(result_path), sr_uid, now, job_id))
            for object_uid, path, destination in sends:
                db.execute(
                    "INSERT OR IGNORE INTO sends (job_id, sr_uid, sr_path, destination, next_attempt_at) "
                    "VALUES (?, ?, ?, ?, ?)", (job_id, object_uid, str(path), destination, now))

    def recover_interrupted(self) -> int:
        """Put every ``running`` job back to ``received`` (call once at start-up); returns how many."""
        return self._release("state = 'running'", ())

    def release_worker(self, worker_pid: int) -> int:
        """Put the jobs of a dead worker back (or fail them after :data:`MAX_ATTEMPTS`)."""
        return self._release("state = 'running' AND worker_pid = ?", (worker_pid,))

    def _release(self, where: str, params: tuple) -> int:
        with self._transaction() as db:
            db.execute(
                f"UPDATE jobs SET state = 'failed', worker_pid = NULL, finished_at = ?, error = "
                f"'the analysis stopped the worker process ' || attempts || ' times (crash or out of memory)' "
                f"WHERE {where} AND attempts >= ?", (time.time(), *params, MAX_ATTEMPTS))
            return db.execute(
                f"UPDATE jobs SET state = 'received', worker_pid = NULL WHERE {where}", params).rowcount

    def counts(self) -> dict[str, int]:
        """Number of jobs in each state (this algorithm version)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT state, COUNT(*) FROM jobs WHERE algorithm_version = ? GROUP BY state",
                (self.algorithm_version,)).fetchall()
        return {state: 0 for state in STATES} | dict(rows)

    def jobs(self, state: Optional[str] = None) -> list[Job]:
        query = f"SELECT {_JOB_COLUMNS} FROM jobs WHERE algorithm_version = ?"
        params: tuple = (self.algorithm_version,)
        if state:
            query += " AND state = ?"
            params += (state,)
        with self._lock:
            return [Job(*row) for row in self._db.execute(query + " ORDER BY id", params)]

    def job(self, sop_instance_uid: str) -> Optional[Job]:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE sop_instance_uid = ? AND algorithm_version = ?",
                (sop_instance_uid, self.algorithm_version)).fetchone()
        return Job(*row) if row else None

    # --- sends -----------------------------------------------------------------

    def due_sends(self, limit: int = 20) -> list[Send]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, job_id, sr_uid, sr_path, destination, attempts FROM sends "
                "WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
                (time.time(), limit)).fetchall()
        return [Send(*row) for row in rows]

    def mark_sent(self, send_id: int) -> None:
        with self._transaction() as db:
            db.execute("UPDATE sends SET state = 'sent', sent_at = ?, error = NULL WHERE id = ?",
                       (time.time(), send_id))

    def mark_send_failed(self, send_id: int, error: str, retry_in_s: float) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE sends SET attempts = attempts + 1, error = ?, next_attempt_at = ? WHERE id = ?",
                (error, time.time() + retry_in_s, send_id))

    def send_counts(self) -> dict[str, int]:
        with self._lock:
            return {"pending": 0, "sent": 0} | dict(
                self._db.execute("SELECT state, COUNT(*) FROM sends GROUP BY state").fetchall())

    # --- cursors ---------------------------------------------------------------

    def cursor(self, name: str, default: str = "") -> str:
        with self._lock:
            row = self._db.execute("SELECT value FROM cursors WHERE name = ?", (name,)).fetchone()
        return row[0] if row else default

    def set_cursor(self, name: str, value: str) -> None:
        with self._transaction() as db:
            db.execute("INSERT INTO cursors (name, value) VALUES (?, ?) "
                       "ON CONFLICT (name) DO UPDATE SET value = excluded.value", (name, value))

    # --- helpers -----------------------------------------------------------------

    def _transaction(self):
        return _Transaction(self._db, self._lock)


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (or ``ROLLBACK``) under the connection's lock."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock):
        self._db, self._lock = db, lock

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        return self._db

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self._db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self._lock.release()
