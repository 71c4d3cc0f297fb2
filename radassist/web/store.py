"""The embedded SQLite database: analysed results (for the page) and radiologists' feedback.

What is kept, and what never is
-------------------------------
- ``results``: the result JSON, the report text the radiologist typed (so the
  page can show its highlighted evidence again).
- ``display_pixels``: the windowed 8-bit display image of each result, raw,
  written by the analysis process just after it has handed back the result;
  ``displays``: its PNG, encoded the first time someone asks for it (the row
  in ``display_pixels`` is then deleted). Most API clients never look at the
  picture, so no analysis pays for the PNG encoding (~50 ms for 3000 × 2000).
  Never the DICOM file, never the patient's name or ID (the result contract
  carries neither).
- ``dicom_srs``: the DICOM SR of each result, built by the analysis process
  from the upload's header while it still had it. The SR is meant for the
  PACS, so it carries the source's patient and study identifiers: its bytes
  are kept only for the service's ``sr_retention_hours`` after the analysis
  and then deleted, leaving a row that says the SR has expired.
  The database runs with ``secure_delete`` and the purge truncates the WAL,
  so deleted SRs leave no identifiers in the file.
- ``feedback``: one row per agree/disagree click, with the result id, the
  algorithm id and version, the primary action shown, the verdict, the
  optional comment and the radiologist's corrections (JSON) — what a QA team
  reviews.

A :class:`Store` keeps one connection open for its lifetime, shared by the
threads that use it under a lock (every statement is short). Opening and
closing a connection per call cost ~20 ms per write: closing the last
connection to a WAL database checkpoints it and syncs to disk. Several
processes (uvicorn workers, analysis processes) each have their own Store on
the same file; WAL mode lets them read while one writes.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Iterator, Optional

import numpy as np

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    result_id   TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL,
    result_json TEXT NOT NULL,
    report_text TEXT
);
CREATE TABLE IF NOT EXISTS display_pixels (
    result_id   TEXT PRIMARY KEY,
    rows        INTEGER NOT NULL,
    columns     INTEGER NOT NULL,
    pixels      BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS displays (
    result_id   TEXT PRIMARY KEY,
    display_png BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS dicom_srs (
    result_id   TEXT PRIMARY KEY,
    created_at  REAL NOT NULL,  -- Unix time, s, of the analysis; the SR expires a retention later
    state       TEXT NOT NULL CHECK (state IN ('pending', 'ready', 'unavailable', 'expired')),
    sr          BLOB,           -- the SR file while state = 'ready' (it names the patient)
    reason      TEXT            -- why state = 'unavailable' (never a header value)
);
CREATE TABLE IF NOT EXISTS feedback (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at        TEXT NOT NULL,
    result_id         TEXT NOT NULL,
    algorithm_id      TEXT NOT NULL,
    algorithm_version TEXT NOT NULL,
    primary_action    TEXT,
    corrected_primary_action TEXT,
    verdict           TEXT NOT NULL CHECK (verdict IN ('agree', 'disagree')),
    comment           TEXT,
    corrections_json  TEXT
);
CREATE INDEX IF NOT EXISTS feedback_result ON feedback (result_id);
"""

#: Columns of ``radassist feedback export``, in order.
FEEDBACK_COLUMNS = (
    "id", "created_at", "result_id", "algorithm_id", "algorithm_version", "primary_action",
    "corrected_primary_action", "verdict", "comment", "corrections_json",
)


#: States of a result's DICOM SR (``dicom_srs.state``).
SR_PENDING, SR_READY, SR_UNAVAILABLE, SR_EXPIRED = "pending", "ready", "unavailable", "expired"


@dataclass(frozen=True)
class StoredSR:
    """A result's DICOM SR, or why there is none.

    ``state`` is one of ``pending`` (the analysis process is still building
    it), ``ready`` (``sr`` holds the file), ``unavailable`` (it could not be
    built; ``reason`` says why) or ``expired`` (its retention has passed).
    """

    state: str
    created_at: float
    sr: Optional[bytes] = None
    reason: Optional[str] = None


@dataclass(frozen=True)
class StoredResult:
    result_id: str
    created_at: str
    result_json: str
    report_text: Optional[str]

    @property
    def result(self) -> dict:
        return json.loads(self.result_json)


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Store:
    """Results and feedback in one SQLite file.

    Parameters
    ----------
    path : path
        The database file; its folder is created if missing.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._wal_holds_purged = False  # a purge's checkpoint was blocked: the WAL may still hold SR bytes
        self._db = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False)
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            # Deleted rows are overwritten with zeros: an expired SR leaves no patient name in the file.
            self._db.execute("PRAGMA secure_delete=ON")
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, sql: str, params: tuple) -> sqlite3.Cursor:
        with self._lock, self._db:
            return self._db.execute(sql, params)

    def _read_one(self, sql: str, params: tuple) -> Optional[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchone()

    # --- results -------------------------------------------------------

    def save_result(self, result_id: str, result_json: str, report_text: Optional[str],
                    sr: Optional[StoredSR] = None) -> None:
        """Store a result and, when given, its SR's state (an SR the analysis process has already stored stays)."""
        with self._lock, self._db:
            self._db.execute("INSERT INTO results (result_id, created_at, result_json, report_text)"
                             " VALUES (?, ?, ?, ?)", (result_id, utc_now(), result_json, report_text))
            if sr is not None:
                self._db.execute("INSERT OR IGNORE INTO dicom_srs (result_id, created_at, state, sr, reason)"
                                 " VALUES (?, ?, ?, ?, ?)", (result_id, sr.created_at, sr.state, sr.sr, sr.reason))

    def result(self, result_id: str) -> Optional[StoredResult]:
        row = self._read_one("SELECT result_id, created_at, result_json, report_text FROM results"
                             " WHERE result_id = ?", (result_id,))
        return StoredResult(*row) if row else None

    # --- display images ----------------------------------------------------

    def set_display_pixels(self, result_id: str, grey: np.ndarray) -> None:
        """Keep the 8-bit display image (rows × columns, uint8) until its PNG is first asked for."""
        grey = np.ascontiguousarray(grey, dtype=np.uint8)
        self._write("INSERT OR REPLACE INTO display_pixels (result_id, rows, columns, pixels) VALUES (?, ?, ?, ?)",
                    (result_id, grey.shape[0], grey.shape[1], grey.tobytes()))

    def display_pixels(self, result_id: str) -> Optional[np.ndarray]:
        row = self._read_one("SELECT rows, columns, pixels FROM display_pixels WHERE result_id = ?", (result_id,))
        if row is None:
            return None
        rows, columns, pixels = row
        return np.frombuffer(pixels, dtype=np.uint8).reshape(rows, columns)

    def set_display_png(self, result_id: str, display_png: bytes) -> None:
        """Store the display PNG; the raw pixels it was made from are no longer needed."""
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO displays (result_id, display_png) VALUES (?, ?)",
                             (result_id, display_png))
            self._db.execute("DELETE FROM display_pixels WHERE result_id = ?", (result_id,))

    def display_png(self, result_id: str) -> Optional[bytes]:
        row = self._read_one("SELECT display_png FROM displays WHERE result_id = ?", (result_id,))
        return row[0] if row else None

    # --- DICOM SRs ------------------------------------------------------

    def set_sr(self, result_id: str, sr: StoredSR) -> None:
        """Record a result's SR: pending, ready (with the file) or unavailable (with the reason).

        Only a pending row is overwritten: the analysis process's finished SR
        wins over the web process's "pending", whichever is written first,
        and an expired SR is never revived.
        """
        self._write("INSERT INTO dicom_srs (result_id, created_at, state, sr, reason) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (result_id) DO UPDATE SET state = excluded.state, sr = excluded.sr,"
                    " reason = excluded.reason WHERE dicom_srs.state = ? AND excluded.state != ?",
                    (result_id, sr.created_at, sr.state, sr.sr, sr.reason, SR_PENDING, SR_PENDING))

    def sr(self, result_id: str, retention_s: float) -> Optional[StoredSR]:
        """The result's SR, expired when older than ``retention_s`` (then purged); None when none was made."""
        row = self._read_one("SELECT state, created_at, sr, reason FROM dicom_srs WHERE result_id = ?",
                             (result_id,))
        if row is None:
            return None
        item = StoredSR(*row)
        if item.state in (SR_PENDING, SR_READY) and item.created_at + retention_s <= time.time():
            self.purge_expired_srs(retention_s)
            return StoredSR(SR_EXPIRED, item.created_at)
        return item

    def purge_expired_srs(self, retention_s: float) -> int:
        """Delete the SR files older than ``retention_s`` seconds; returns how many.

        Their rows stay (state ``expired``) so a download can say the SR has
        expired rather than that it never existed. The WAL is then truncated:
        it would otherwise still hold the deleted pages.
        """
        with self._lock:
            with self._db:
                n = self._db.execute("UPDATE dicom_srs SET state = ?, sr = NULL WHERE state IN (?, ?)"
                                     " AND created_at <= ?",
                                     (SR_EXPIRED, SR_PENDING, SR_READY, time.time() - retention_s)).rowcount
            if n or self._wal_holds_purged:
                # A reader in another process can keep the checkpoint from finishing; the next purge retries.
                busy = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                self._wal_holds_purged = bool(busy)
        return n

    # --- feedback ------------------------------------------------------

    def add_feedback(self, *, result_id: str, algorithm_id: str, algorithm_version: str,
                     primary_action: Optional[str], verdict: str, comment: Optional[str] = None,
                     corrections: Optional[dict] = None, corrected_primary_action: Optional[str] = None) -> int:
        """Record one agree/disagree; returns the feedback row id."""
        cur = self._write(
            "INSERT INTO feedback (created_at, result_id, algorithm_id, algorithm_version, primary_action,"
            " corrected_primary_action, verdict, comment, corrections_json)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (utc_now(), result_id, algorithm_id, algorithm_version, primary_action, corrected_primary_action,
             verdict, comment or None, json.dumps(corrections, sort_keys=True) if corrections else None),
        )
        return int(cur.lastrowid)

    def feedback(self) -> Iterator[tuple]:
        """Every feedback row, oldest first, as tuples in :data:`FEEDBACK_COLUMNS` order."""
        with self._lock:
            rows = self._db.execute(f"SELECT {', '.join(FEEDBACK_COLUMNS)} FROM feedback ORDER BY id").fetchall()
        yield from rows

    def export_feedback_csv(self, out: IO[str]) -> int:
        """Write the feedback as CSV with a header row; returns the number of rows."""
        writer = csv.writer(out)
        writer.writerow(FEEDBACK_COLUMNS)
        n = 0
        for row in self.feedback():
            writer.writerow(["" if v is None else v for v in row])
            n += 1
        return n
