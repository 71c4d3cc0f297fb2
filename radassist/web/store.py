"""The embedded SQLite database: analysed results (for the page) and radiologists' feedback.

What is kept, and what never is
-------------------------------
- ``results``: the result JSON, the report text the radiologist typed (so the
  page can show its highlighted evidence again).
- ``displays``: the windowed display PNG of each result, written by the
  analysis process just after it has handed back the result.
  Never the DICOM file, never the patient's name or ID (the result contract
  carries neither).
- ``feedback``: one row per agree/disagree click, with the result id, the
  algorithm id and version, the primary action shown, the verdict, the
  optional comment and the radiologist's corrections (JSON) — what a QA team
  reviews.

Each call opens its own connection, so the store can be used from any thread
and from several uvicorn worker processes (the database is in WAL mode).
"""

from __future__ import annotations

import csv
import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Iterator, Optional

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    result_id   TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL,
    result_json TEXT NOT NULL,
    report_text TEXT
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
        with closing(self._connect()) as db, db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30.0)
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    # --- results -------------------------------------------------------

    def save_result(self, result_id: str, result_json: str, report_text: Optional[str]) -> None:
        with closing(self._connect()) as db, db:
            db.execute(
                "INSERT INTO results (result_id, created_at, result_json, report_text) VALUES (?, ?, ?, ?)",
                (result_id, utc_now(), result_json, report_text),
            )

    def result(self, result_id: str) -> Optional[StoredResult]:
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT result_id, created_at, result_json, report_text FROM results WHERE result_id = ?",
                (result_id,),
            ).fetchone()
        return StoredResult(*row) if row else None

    def set_display_png(self, result_id: str, display_png: bytes) -> None:
        with closing(self._connect()) as db, db:
            db.execute("INSERT OR REPLACE INTO displays (result_id, display_png) VALUES (?, ?)",
                       (result_id, display_png))

    def display_png(self, result_id: str) -> Optional[bytes]:
        with closing(self._connect()) as db:
            row = db.execute("SELECT display_png FROM displays WHERE result_id = ?", (result_id,)).fetchone()
        return row[0] if row else None

    # --- feedback ------------------------------------------------------

    def add_feedback(self, *, result_id: str, algorithm_id: str, algorithm_version: str,
                     primary_action: Optional[str], verdict: str, comment: Optional[str] = None,
                     corrections: Optional[dict] = None, corrected_primary_action: Optional[str] = None) -> int:
        """Record one agree/disagree; returns the feedback row id."""
        with closing(self._connect()) as db, db:
            cur = db.execute(
                "INSERT INTO feedback (created_at, result_id, algorithm_id, algorithm_version, primary_action,"
                " corrected_primary_action, verdict, comment, corrections_json)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (utc_now(), result_id, algorithm_id, algorithm_version, primary_action, corrected_primary_action,
                 verdict, comment or None, json.dumps(corrections, sort_keys=True) if corrections else None),
            )
            return int(cur.lastrowid)

    def feedback(self) -> Iterator[tuple]:
        """Every feedback row, oldest first, as tuples in :data:`FEEDBACK_COLUMNS` order."""
        with closing(self._connect()) as db:
            yield from db.execute(f"SELECT {', '.join(FEEDBACK_COLUMNS)} FROM feedback ORDER BY id")

    def export_feedback_csv(self, out: IO[str]) -> int:
        """Write the feedback as CSV with a header row; returns the number of rows."""
        writer = csv.writer(out)
        writer.writerow(FEEDBACK_COLUMNS)
        n = 0
        for row in self.feedback():
            writer.writerow(["" if v is None else v for v in row])
            n += 1
        return n
