"""SQLite storage (stdlib sqlite3, WAL): many studies per file, crash-safe, versioned schema.

One autocommitted statement per trial state change, with ``synchronous=NORMAL``: in WAL mode every
committed record survives a kill of the process (only a power cut can lose the last ones). The file
is marked with SQLite's ``application_id`` so that a foreign database is refused, not altered.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from pathlib import Path
from typing import Any

from sweepml.exceptions import StorageError
from sweepml.storage.base import Storage, StudyInfo
from sweepml.trial import TrialRecord, TrialStatus

__all__ = ["SqliteStorage"]

APPLICATION_ID = 0x53574D4C  # "SWML"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE studies (
    name TEXT PRIMARY KEY,
    direction TEXT NOT NULL,
    space TEXT NOT NULL,
    meta TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE trials (
    study TEXT NOT NULL REFERENCES studies(name),
    number INTEGER NOT NULL,
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    value REAL,
    metrics TEXT NOT NULL,
    intermediate TEXT NOT NULL,
    error TEXT,
    budget REAL,
    info TEXT NOT NULL,
    retry_of INTEGER,
    started_at REAL,
    finished_at REAL,
    PRIMARY KEY (study, number)
);
"""


class SqliteStorage(Storage):
    """A study record in one SQLite file.

    Args:
        path: the database file; created (with its schema) if missing, when ``create`` is True.
        create: False to refuse a missing file (reading an existing study).

    Example:
        >>> storage = SqliteStorage("search.db")  # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True) -> None:
        self.path = Path(path)
        shown = str(self.path)
        if self.path.is_dir():
            raise StorageError(
                f"Storage path {shown!r} is a folder; give a file name such as "
                f"'{shown.rstrip('/')}/study.db'."
            )
        if not self.path.parent.is_dir():
            raise StorageError(
                f"Cannot create storage {shown!r}: the folder {str(self.path.parent)!r} does not "
                f"exist."
            )
        exists = self.path.exists()
        if not exists and not create:
            raise StorageError(f"No storage at {shown!r}: the file does not exist.")
        if exists and not self.path.stat().st_mode & 0o222:
            raise StorageError(
                f"Storage {shown!r} is read-only; sweepml writes every trial to it. Make it "
                f"writable or copy it (to read a study, copy the file first)."
            )
        try:
            self._conn = sqlite3.connect(shown, timeout=30.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise StorageError(f"Cannot open storage {shown!r}: {exc}.") from exc
        try:
            self._prepare(fresh=not exists or self.path.stat().st_size == 0)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise StorageError(
                f"Storage {shown!r} is not a sweepml database (SQLite said: {exc})."
            ) from exc

    def _prepare(self, *, fresh: bool) -> None:
        conn = self._conn
        if not fresh:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            if app_id != APPLICATION_ID:
                tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
                raise StorageError(
                    f"Storage {str(self.path)!r} is a SQLite database but not a sweepml one "
                    f"(its tables: {tables}); choose another file."
                )
            version = conn.execute("SELECT version FROM schema_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"Storage {str(self.path)!r} has schema version {version}, newer than this "
                    f"sweepml reads ({SCHEMA_VERSION}); upgrade sweepml."
                )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        if fresh:
            conn.executescript(
                f"PRAGMA application_id={APPLICATION_ID};"
                + "BEGIN;"
                + _SCHEMA
                + f"INSERT INTO schema_version VALUES ({SCHEMA_VERSION});COMMIT;"
            )

    def _execute(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, args)
        except sqlite3.Error as exc:
            raise StorageError(f"Storage {str(self.path)!r}: {exc}.") from exc

    def create_study(self, info: StudyInfo) -> None:
        if self.get_study(info.name) is not None:
            raise StorageError(f"A study named {info.name!r} already exists in {str(self.path)!r}.")
        self._execute(
            "INSERT INTO studies VALUES (?, ?, ?, ?, ?)",
            (
                info.name,
                info.direction,
                json.dumps(info.space),
                json.dumps(info.meta),
                info.created_at,
            ),
        )

    def get_study(self, name: str) -> StudyInfo | None:
        row = self._execute(
            "SELECT name, direction, space, meta, created_at FROM studies WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            return None
        return StudyInfo(row[0], row[1], json.loads(row[2]), row[4], json.loads(row[3]))

    def study_names(self) -> list[str]:
        rows = self._execute("SELECT name FROM studies ORDER BY created_at, rowid").fetchall()
        return [row[0] for row in rows]

    def save_trial(self, study: str, record: TrialRecord) -> None:
        value = record.value
        if value is not None and not math.isfinite(value):
            value = None
        self._execute(
            "INSERT OR REPLACE INTO trials VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                study,
                record.number,
                record.status.value,
                json.dumps(record.config),
                value,
                json.dumps(record.metrics, default=str),
                json.dumps(record.intermediate),
                record.error,
                record.budget,
                json.dumps(record.info),
                record.retry_of,
                record.started_at,
                record.finished_at,
            ),
        )

    def trials(self, study: str) -> list[TrialRecord]:
        rows = self._execute(
            "SELECT number, status, config, value, metrics, intermediate, error, budget, info, "
            "retry_of, started_at, finished_at FROM trials WHERE study = ? ORDER BY number",
            (study,),
        ).fetchall()
        return [
            TrialRecord(
                number=row[0],
                status=TrialStatus(row[1]),
                config=json.loads(row[2]),
                value=row[3],
                metrics=json.loads(row[4]),
                intermediate=tuple((int(s), float(v)) for s, v in json.loads(row[5])),
                error=row[6],
                budget=row[7],
                info=json.loads(row[8]),
                retry_of=row[9],
                started_at=row[10],
                finished_at=row[11],
            )
            for row in rows
        ]

    def close(self) -> None:
        self._conn.close()
