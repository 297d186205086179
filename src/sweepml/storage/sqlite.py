"""SQLite storage (stdlib sqlite3, WAL): many studies per file, crash-safe, shared by drivers.

One transaction per trial state change, with ``synchronous=NORMAL``: in WAL mode every committed
record survives a kill of the process (only a power cut can lose the last ones). Every write that
depends on what is stored (a trial number, the ``max_trials`` count, a retry claim, the schema of
a new file) runs in a ``BEGIN IMMEDIATE`` transaction, which takes SQLite's one write lock first:
so any number of processes on this machine can open the same file, create the same study and run
it together, and each waits its turn (up to ``timeout`` seconds) instead of failing.

The file is marked with SQLite's ``application_id`` so that a foreign database is refused, not
altered; ``schema_version`` lets an older file be migrated in place (version 1 -> 2 added trial
numbering by the storage, change tracking and driver heartbeats).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sweepml.exceptions import StorageError, StudyExistsError
from sweepml.storage._rows import COLUMNS, FINISHED, from_row, to_row
from sweepml.storage.base import DriverInfo, DriverStatus, Storage, StudyInfo
from sweepml.trial import TrialRecord, TrialStatus

__all__ = ["SqliteStorage"]

APPLICATION_ID = 0x53574D4C  # "SWML"
SCHEMA_VERSION = 2
_HEADER = b"SQLite format 3\x00"

_STUDIES = """
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
# version 2, also the migration from version 1
_VERSION_2 = """
ALTER TABLE studies ADD COLUMN next_number INTEGER NOT NULL DEFAULT 0;
ALTER TABLE studies ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE studies ADD COLUMN counted INTEGER NOT NULL DEFAULT 0;
UPDATE studies SET next_number =
    (SELECT COALESCE(MAX(number) + 1, 0) FROM trials WHERE trials.study = studies.name);
UPDATE studies SET counted = (SELECT COUNT(*) FROM trials
    WHERE trials.study = studies.name AND status != 'INTERRUPTED');
ALTER TABLE trials ADD COLUMN driver TEXT;
ALTER TABLE trials ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
CREATE INDEX trials_by_revision ON trials (study, revision);
CREATE INDEX trials_by_retry ON trials (study, retry_of);
CREATE TABLE drivers (
    study TEXT NOT NULL REFERENCES studies(name),
    id TEXT NOT NULL,
    host TEXT NOT NULL,
    machine TEXT NOT NULL,
    pid INTEGER NOT NULL,
    pid_start INTEGER,
    started_at REAL NOT NULL,
    last_seen REAL NOT NULL,
    ended INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (study, id)
);
UPDATE schema_version SET version = 2;
"""


def _is_lock_error(exc: sqlite3.Error) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


class SqliteStorage(Storage):
    """A study record in one SQLite file.

    Args:
        path: the database file; created (with its schema) if missing, when ``create`` is True.
        create: False to refuse a missing file (reading an existing study).
        timeout: seconds a write waits for another process holding the file's write lock.

    Example:
        >>> storage = SqliteStorage("search.db")  # doctest: +SKIP
    """

    def __init__(
        self, path: str | os.PathLike[str], *, create: bool = True, timeout: float = 60.0
    ) -> None:
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
        if exists:
            self._check_file(shown)
        self._lock = threading.RLock()  # the heartbeat thread shares the connection
        try:
            self._conn = sqlite3.connect(
                shown, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StorageError(f"Cannot open storage {shown!r}: {exc}.") from exc
        try:
            self._use_write_ahead_log(timeout)
            self._prepare()
        except sqlite3.OperationalError as exc:
            self._conn.close()
            raise self._error(exc) from exc
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise StorageError(
                f"Storage {shown!r} is not a sweepml database (SQLite said: {exc})."
            ) from exc
        except BaseException:
            self._conn.close()
            raise

    def _check_file(self, shown: str) -> None:
        if not self.path.stat().st_mode & 0o222:
            raise StorageError(
                f"Storage {shown!r} is read-only; sweepml writes every trial to it. Make it "
                f"writable or copy it (to read a study, copy the file first)."
            )
        size = self.path.stat().st_size
        if size == 0:  # a file another process has just created, or `touch`: made a store
            return
        with open(self.path, "rb") as file:
            header = file.read(len(_HEADER))
        if header != _HEADER:
            raise StorageError(
                f"Storage {shown!r} is not a sweepml database: it is not a SQLite file at all "
                f"({size} byte{'s' if size != 1 else ''}, not starting with SQLite's header). "
                f"Choose another file name, or delete this one if it is a leftover."
            )

    def _use_write_ahead_log(self, timeout: float) -> None:
        """Switch the file to WAL (a property of the file, so only its first opener does it).

        The switch upgrades a read lock to an exclusive one, and SQLite answers "database is
        locked" at once, without waiting, when several processes open a new file together and
        all try it: waiting could deadlock. So each retries after a short random pause until
        one has switched the file (the others then find it in WAL) or ``timeout`` has passed.
        """
        deadline = time.monotonic() + timeout
        pause = random.Random(os.getpid())
        while True:
            try:
                if self._conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    self._conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if not _is_lock_error(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(pause.uniform(0.005, 0.05))

    def _prepare(self) -> None:
        conn = self._conn
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        with self._transaction():
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            if not tables and app_id in (0, APPLICATION_ID):  # a new (empty) file: ours now
                conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
                conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                conn.execute("INSERT INTO schema_version VALUES (1)")
                for statement in _statements(_STUDIES):
                    conn.execute(statement)
                version = 1
            elif app_id != APPLICATION_ID:
                raise StorageError(
                    f"Storage {str(self.path)!r} is a SQLite database but not a sweepml one "
                    f"(its tables: {tables}); choose another file."
                )
            else:
                version = conn.execute("SELECT version FROM schema_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"Storage {str(self.path)!r} has schema version {version}, newer than this "
                    f"sweepml reads ({SCHEMA_VERSION}); upgrade sweepml."
                )
            if version == 1:
                for statement in _statements(_VERSION_2):
                    conn.execute(statement)

    # -- transactions ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction that holds SQLite's write lock from its first statement."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._error(exc) from exc
            try:
                yield self._conn
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise self._error(exc) from exc

    def _error(self, exc: sqlite3.Error) -> StorageError:
        hint = ""
        if _is_lock_error(exc):
            hint = " (another process held the file's write lock for too long)"
        elif "disk" in str(exc) and "full" in str(exc):
            hint = " (free some space; every trial recorded so far is kept)"
        return StorageError(f"Storage {str(self.path)!r}: {exc}{hint}.")

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._conn.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

    def _bump(self, conn: sqlite3.Connection, study: str, counted: int = 0) -> int:
        """The next change number of ``study`` (inside a write transaction); ``counted`` changes
        the study's count of trials that are not INTERRUPTED (what ``max_trials`` limits)."""
        conn.execute(
            "UPDATE studies SET revision = revision + 1, counted = counted + ? WHERE name = ?",
            (counted, study),
        )
        row = conn.execute("SELECT revision FROM studies WHERE name = ?", (study,)).fetchone()
        if row is None:
            raise StorageError(f"No study named {study!r} in {str(self.path)!r}.")
        return int(row[0])

    # -- studies --------------------------------------------------------------------------------
    def create_study(self, info: StudyInfo) -> None:
        try:
            with self._transaction() as conn:
                conn.execute(
                    "INSERT INTO studies (name, direction, space, meta, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (
                        info.name,
                        info.direction,
                        json.dumps(info.space),
                        json.dumps(info.meta),
                        info.created_at,
                    ),
                )
        except sqlite3.IntegrityError:
            raise StudyExistsError(
                f"A study named {info.name!r} already exists in {str(self.path)!r}."
            ) from None

    def get_study(self, name: str) -> StudyInfo | None:
        rows = self._read(
            "SELECT name, direction, space, meta, created_at FROM studies WHERE name = ?", (name,)
        )
        if not rows:
            return None
        row = rows[0]
        return StudyInfo(row[0], row[1], json.loads(row[2]), row[4], json.loads(row[3]))

    def study_names(self) -> list[str]:
        rows = self._read("SELECT name FROM studies ORDER BY created_at, rowid")
        return [row[0] for row in rows]

    # -- trials ---------------------------------------------------------------------------------
    def reserve_number(self, study: str, count: int = 1) -> int:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE studies SET next_number = next_number + ? WHERE name = ?", (count, study)
            )
            row = conn.execute(
                "SELECT next_number - ? FROM studies WHERE name = ?", (count, study)
            ).fetchone()
            if row is None:
                raise StorageError(f"No study named {study!r} in {str(self.path)!r}.")
            return int(row[0])

    def release_numbers(self, study: str, first: int, stop: int) -> None:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE studies SET next_number = ? WHERE name = ? AND next_number = ?",
                (first, study, stop),
            )

    def add_trial(self, study: str, record: TrialRecord, *, max_trials: int | None = None) -> bool:
        with self._transaction() as conn:
            if max_trials is not None:
                row = conn.execute(
                    "SELECT counted FROM studies WHERE name = ?", (study,)
                ).fetchone()
                if row is not None and row[0] >= max_trials:
                    return False
            if (
                record.retry_of is not None
                and conn.execute(
                    "SELECT 1 FROM trials WHERE study = ? AND retry_of = ?",
                    (study, record.retry_of),
                ).fetchone()
            ):
                return False
            revision = self._bump(conn, study, _counts(record.status.value))
            try:
                conn.execute(
                    f"INSERT INTO trials (study, revision, {COLUMNS}) "
                    f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (study, revision, *to_row(record)),
                )
            except sqlite3.IntegrityError:
                raise StorageError(
                    f"Trial {record.number} of study {study!r} already exists; numbers come from "
                    f"reserve_number."
                ) from None
            return True

    def save_trial(self, study: str, record: TrialRecord) -> bool:
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT status FROM trials WHERE study = ? AND number = ?", (study, record.number)
            ).fetchone()
            if row is None:
                raise StorageError(f"Study {study!r} has no trial {record.number} to update.")
            if row[0] in FINISHED:
                return False
            revision = self._bump(conn, study, _counts(record.status.value) - _counts(row[0]))
            values = to_row(record)
            conn.execute(
                "UPDATE trials SET status = ?, config = ?, value = ?, metrics = ?, "
                "intermediate = ?, error = ?, budget = ?, info = ?, retry_of = ?, "
                "started_at = ?, finished_at = ?, driver = ?, revision = ? "
                "WHERE study = ? AND number = ?",
                (*values[1:], revision, study, record.number),
            )
            return True

    def trials(self, study: str) -> list[TrialRecord]:
        rows = self._read(f"SELECT {COLUMNS} FROM trials WHERE study = ? ORDER BY number", (study,))
        return [from_row(row) for row in rows]

    def changes(self, study: str, cursor: int = -1) -> tuple[list[TrialRecord], int]:
        rows = self._read(
            f"SELECT revision, {COLUMNS} FROM trials WHERE study = ? AND revision > ? "
            f"ORDER BY revision",
            (study, cursor),
        )
        if not rows:
            return [], cursor
        return [from_row(row[1:]) for row in rows], max(cursor, rows[-1][0])

    # -- drivers --------------------------------------------------------------------------------
    def beat(self, study: str, driver: DriverInfo, *, ended: bool = False) -> list[DriverStatus]:
        now = time.time()
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO drivers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    study,
                    driver.id,
                    driver.host,
                    driver.machine,
                    driver.pid,
                    driver.pid_start,
                    driver.started_at,
                    now,
                    int(ended),
                ),
            )
            rows = conn.execute(
                "SELECT id, host, machine, pid, pid_start, started_at, last_seen, ended "
                "FROM drivers WHERE study = ?",
                (study,),
            ).fetchall()
        return [
            DriverStatus(DriverInfo(*row[:6]), max(now - row[6], 0.0), bool(row[7])) for row in rows
        ]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _counts(status: str) -> int:
    """1 for a status that ``max_trials`` counts (all but INTERRUPTED)."""
    return int(status != TrialStatus.INTERRUPTED.value)


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
