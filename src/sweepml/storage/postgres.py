"""PostgreSQL storage: one study record shared by drivers on many machines.

The same protocol and rules as SQLite, for a server every machine can reach. Writes that depend
on what is stored take the study's row lock first (``UPDATE ... RETURNING`` on its row), so
trial numbers, the ``max_trials`` count, retry claims and the change counter stay consistent
however many drivers write at once, and a change becomes visible only after every earlier one.
Driver heartbeats are stamped with the server's clock, so the drivers' own clocks may disagree.

Tables are prefixed ``sweepml_`` so that the record can share a database with other things.
psycopg 3 is imported only here (the optional extra ``postgres``).

Example:
    >>> storage = PostgresStorage("postgresql://user@dbhost/research")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any

from sweepml.exceptions import StorageError, StudyExistsError
from sweepml.storage._rows import COLUMNS, FINISHED, from_row, to_row
from sweepml.storage.base import DriverInfo, DriverStatus, Storage, StudyInfo
from sweepml.trial import TrialRecord, TrialStatus

__all__ = ["PostgresStorage"]

SCHEMA_VERSION = 1
_SCHEMA_LOCK = 0x53574D4C  # advisory lock id: one process creates the tables
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sweepml_schema (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sweepml_studies (
    name TEXT PRIMARY KEY,
    direction TEXT NOT NULL,
    space TEXT NOT NULL,
    meta TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    next_number BIGINT NOT NULL DEFAULT 0,
    revision BIGINT NOT NULL DEFAULT 0,
    counted BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sweepml_trials (
    study TEXT NOT NULL REFERENCES sweepml_studies(name),
    number BIGINT NOT NULL,
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    value DOUBLE PRECISION,
    metrics TEXT NOT NULL,
    intermediate TEXT NOT NULL,
    error TEXT,
    budget DOUBLE PRECISION,
    info TEXT NOT NULL,
    retry_of BIGINT,
    started_at DOUBLE PRECISION,
    finished_at DOUBLE PRECISION,
    driver TEXT,
    revision BIGINT NOT NULL,
    PRIMARY KEY (study, number)
);
CREATE INDEX IF NOT EXISTS sweepml_trials_by_revision ON sweepml_trials (study, revision);
CREATE INDEX IF NOT EXISTS sweepml_trials_by_retry ON sweepml_trials (study, retry_of);
CREATE TABLE IF NOT EXISTS sweepml_drivers (
    study TEXT NOT NULL REFERENCES sweepml_studies(name),
    id TEXT NOT NULL,
    host TEXT NOT NULL,
    machine TEXT NOT NULL,
    pid BIGINT NOT NULL,
    pid_start BIGINT,
    started_at DOUBLE PRECISION NOT NULL,
    last_seen DOUBLE PRECISION NOT NULL,
    ended BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (study, id)
)
"""
_NOW = "EXTRACT(EPOCH FROM clock_timestamp())::DOUBLE PRECISION"


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise StorageError(
            "A PostgreSQL storage needs psycopg, which is not installed: "
            "pip install 'sweepml[postgres]'."
        ) from None
    return psycopg


class PostgresStorage(Storage):
    """A study record in a PostgreSQL database.

    Args:
        dsn: a libpq connection string or URL, ``postgresql://user:password@host:5432/dbname``
            (with ``?host=/path/to/socket/dir`` for a Unix socket).
        connect_timeout: seconds to wait for the server when connecting.
    """

    def __init__(self, dsn: str, *, connect_timeout: float = 10.0) -> None:
        psycopg = _psycopg()
        self._errors = psycopg.Error
        self.dsn = dsn
        self._lock = threading.RLock()  # the heartbeat thread shares the connection
        try:
            self._conn = psycopg.connect(dsn, connect_timeout=max(int(connect_timeout), 1))
        except psycopg.Error as exc:
            raise StorageError(
                f"Cannot connect to the PostgreSQL storage {self._shown()}: {str(exc).strip()}"
            ) from None
        try:
            self._prepare()
        except BaseException:
            self._conn.close()
            raise

    def _shown(self) -> str:
        """The DSN without its password, for messages."""
        try:
            from psycopg.conninfo import conninfo_to_dict

            parts = {k: v for k, v in conninfo_to_dict(self.dsn).items() if k != "password"}
            return " ".join(f"{k}={v}" for k, v in parts.items()) or repr(self.dsn)
        except Exception:  # noqa: BLE001 - a malformed DSN is shown as the error says
            return "(the given connection string)"

    def _prepare(self) -> None:
        with self._transaction() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    cur.execute(statement)
            cur.execute("SELECT version FROM sweepml_schema")
            row = cur.fetchone()
            if row is None:
                cur.execute("INSERT INTO sweepml_schema VALUES (%s)", (SCHEMA_VERSION,))
            elif row[0] > SCHEMA_VERSION:
                raise StorageError(
                    f"The PostgreSQL storage {self._shown()} has schema version {row[0]}, newer "
                    f"than this sweepml reads ({SCHEMA_VERSION}); upgrade sweepml."
                )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._lock:
            try:
                with self._conn.transaction(), self._conn.cursor() as cur:
                    yield cur
            except self._errors as exc:
                raise self._error(exc) from exc

    def _error(self, exc: Exception) -> StorageError:
        if isinstance(exc, self._integrity()):
            return StorageError(f"PostgreSQL storage {self._shown()}: {str(exc).strip()}")
        return StorageError(
            f"PostgreSQL storage {self._shown()}: {str(exc).strip()} (every trial recorded so "
            f"far is kept; resume once the server answers again)"
        )

    def _integrity(self) -> type[Exception]:
        return _psycopg().errors.IntegrityError  # type: ignore[no-any-return]

    @staticmethod
    def _bump(cur: Any, study: str, counted: int = 0) -> tuple[int, int]:
        """The next change number of ``study``, and its count of trials that are not
        INTERRUPTED before ``counted`` is added; takes the study's row lock until commit."""
        cur.execute(
            "UPDATE sweepml_studies SET revision = revision + 1, counted = counted + %s "
            "WHERE name = %s RETURNING revision, counted - %s",
            (counted, study, counted),
        )
        row = cur.fetchone()
        if row is None:
            raise StorageError(f"No study named {study!r} in this storage.")
        return int(row[0]), int(row[1])

    # -- studies --------------------------------------------------------------------------------
    def create_study(self, info: StudyInfo) -> None:
        with self._transaction() as cur:
            cur.execute(
                "INSERT INTO sweepml_studies (name, direction, space, meta, created_at) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING",
                (
                    info.name,
                    info.direction,
                    json.dumps(info.space),
                    json.dumps(info.meta),
                    info.created_at,
                ),
            )
            created = cur.rowcount == 1
        if not created:
            raise StudyExistsError(f"A study named {info.name!r} already exists in this storage.")

    def get_study(self, name: str) -> StudyInfo | None:
        with self._transaction() as cur:
            cur.execute(
                "SELECT name, direction, space, meta, created_at FROM sweepml_studies "
                "WHERE name = %s",
                (name,),
            )
            row = cur.fetchone()
        if row is None:
            return None
        return StudyInfo(row[0], row[1], json.loads(row[2]), row[4], json.loads(row[3]))

    def study_names(self) -> list[str]:
        with self._transaction() as cur:
            cur.execute("SELECT name FROM sweepml_studies ORDER BY created_at, name")
            return [row[0] for row in cur.fetchall()]

    # -- trials ---------------------------------------------------------------------------------
    def reserve_number(self, study: str, count: int = 1) -> int:
        with self._transaction() as cur:
            cur.execute(
                "UPDATE sweepml_studies SET next_number = next_number + %s WHERE name = %s "
                "RETURNING next_number - %s",
                (count, study, count),
            )
            row = cur.fetchone()
        if row is None:
            raise StorageError(f"No study named {study!r} in this storage.")
        return int(row[0])

    def release_numbers(self, study: str, first: int, stop: int) -> None:
        with self._transaction() as cur:
            cur.execute(
                "UPDATE sweepml_studies SET next_number = %s WHERE name = %s AND next_number = %s",
                (first, study, stop),
            )

    def add_trial(self, study: str, record: TrialRecord, *, max_trials: int | None = None) -> bool:
        try:
            self._add(study, record, max_trials)
        except _Refused:
            return False
        return True

    def _add(self, study: str, record: TrialRecord, max_trials: int | None) -> None:
        with self._transaction() as cur:
            # from here on this study's writes wait for us (the row lock); refusing rolls back
            revision, counted = self._bump(cur, study, _counts(record.status.value))
            if max_trials is not None and counted >= max_trials:
                raise _Refused
            if record.retry_of is not None:
                cur.execute(
                    "SELECT 1 FROM sweepml_trials WHERE study = %s AND retry_of = %s",
                    (study, record.retry_of),
                )
                if cur.fetchone() is not None:
                    raise _Refused
            cur.execute(
                f"INSERT INTO sweepml_trials (study, revision, {COLUMNS}) VALUES "
                f"(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (study, revision, *to_row(record)),
            )

    def save_trial(self, study: str, record: TrialRecord) -> bool:
        try:
            self._save(study, record)
        except _Refused:
            return False
        return True

    def _save(self, study: str, record: TrialRecord) -> None:
        with self._transaction() as cur:
            cur.execute(
                "SELECT status FROM sweepml_trials WHERE study = %s AND number = %s FOR UPDATE",
                (study, record.number),
            )
            row = cur.fetchone()
            if row is None:
                raise StorageError(f"Study {study!r} has no trial {record.number} to update.")
            if row[0] in FINISHED:
                raise _Refused
            change = _counts(record.status.value) - _counts(row[0])
            revision, _ = self._bump(cur, study, change)
            cur.execute(
                "UPDATE sweepml_trials SET status = %s, config = %s, value = %s, metrics = %s, "
                "intermediate = %s, error = %s, budget = %s, info = %s, retry_of = %s, "
                "started_at = %s, finished_at = %s, driver = %s, revision = %s "
                "WHERE study = %s AND number = %s",
                (*to_row(record)[1:], revision, study, record.number),
            )

    def trials(self, study: str) -> list[TrialRecord]:
        with self._transaction() as cur:
            cur.execute(
                f"SELECT {COLUMNS} FROM sweepml_trials WHERE study = %s ORDER BY number", (study,)
            )
            return [from_row(row) for row in cur.fetchall()]

    def changes(self, study: str, cursor: int = -1) -> tuple[list[TrialRecord], int]:
        with self._transaction() as cur:
            cur.execute(
                f"SELECT revision, {COLUMNS} FROM sweepml_trials "
                f"WHERE study = %s AND revision > %s ORDER BY revision",
                (study, cursor),
            )
            rows = cur.fetchall()
        if not rows:
            return [], cursor
        return [from_row(row[1:]) for row in rows], max(cursor, int(rows[-1][0]))

    # -- drivers --------------------------------------------------------------------------------
    def beat(self, study: str, driver: DriverInfo, *, ended: bool = False) -> list[DriverStatus]:
        with self._transaction() as cur:
            cur.execute(
                f"INSERT INTO sweepml_drivers VALUES (%s, %s, %s, %s, %s, %s, %s, {_NOW}, %s) "
                f"ON CONFLICT (study, id) DO UPDATE SET last_seen = EXCLUDED.last_seen, "
                f"ended = EXCLUDED.ended",
                (
                    study,
                    driver.id,
                    driver.host,
                    driver.machine,
                    driver.pid,
                    driver.pid_start,
                    driver.started_at,
                    ended,
                ),
            )
            cur.execute(
                f"SELECT id, host, machine, pid, pid_start, started_at, "
                f"GREATEST({_NOW} - last_seen, 0), ended FROM sweepml_drivers WHERE study = %s",
                (study,),
            )
            rows = cur.fetchall()
        return [DriverStatus(DriverInfo(*row[:6]), float(row[6]), bool(row[7])) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _counts(status: str) -> int:
    """1 for a status that ``max_trials`` counts (all but INTERRUPTED)."""
    return int(status != TrialStatus.INTERRUPTED.value)


class _Refused(Exception):
    """Rolls a write transaction back when the storage's rules refuse it."""
