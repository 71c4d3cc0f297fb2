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
        self._db = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False)
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
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

    def save_result(self, result_id: str, result_json: str, report_text: Optional[str]) -> None:
        self._write("INSERT INTO results (result_id, created_at, result_json, report_text) VALUES (?, ?, ?, ?)",
                    (result_id, utc_now(), result_json, report_text))

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
