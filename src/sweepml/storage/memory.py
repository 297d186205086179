"""In-memory storage: the default when no path is given, and the twin of SQLite in tests.

It keeps the same rules as the durable backends (numbers reserved once, the ``max_trials`` limit,
one retry per interrupted trial, finished trials never overwritten), so a search behaves the same
whichever backend it writes to. A lock makes it safe for the driver's heartbeat thread.
"""

from __future__ import annotations

import threading
import time

from sweepml.exceptions import StorageError, StudyExistsError
from sweepml.storage.base import DriverInfo, DriverStatus, Storage, StudyInfo
from sweepml.trial import TrialRecord, TrialStatus

__all__ = ["MemoryStorage"]


class MemoryStorage(Storage):
    """Keeps studies in dicts; lost when the process ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._studies: dict[str, StudyInfo] = {}
        self._trials: dict[str, dict[int, TrialRecord]] = {}
        self._next_number: dict[str, int] = {}
        self._revisions: dict[str, dict[int, int]] = {}  # study -> number -> revision
        self._revision = 0
        self._drivers: dict[str, dict[str, tuple[DriverInfo, float]]] = {}

    def create_study(self, info: StudyInfo) -> None:
        with self._lock:
            if info.name in self._studies:
                raise StudyExistsError(
                    f"A study named {info.name!r} already exists in this storage."
                )
            self._studies[info.name] = info
            self._trials[info.name] = {}
            self._next_number[info.name] = 0
            self._revisions[info.name] = {}
            self._drivers[info.name] = {}

    def get_study(self, name: str) -> StudyInfo | None:
        return self._studies.get(name)

    def study_names(self) -> list[str]:
        return list(self._studies)

    def _study(self, study: str) -> dict[int, TrialRecord]:
        if study not in self._trials:
            raise StorageError(f"No study named {study!r} in this storage.")
        return self._trials[study]

    def reserve_number(self, study: str) -> int:
        with self._lock:
            self._study(study)
            number = self._next_number[study]
            self._next_number[study] = number + 1
            return number

    def add_trial(self, study: str, record: TrialRecord, *, max_trials: int | None = None) -> bool:
        with self._lock:
            trials = self._study(study)
            if record.number in trials:
                raise StorageError(f"Trial {record.number} of study {study!r} already exists.")
            if max_trials is not None:
                counted = sum(t.status is not TrialStatus.INTERRUPTED for t in trials.values())
                if counted >= max_trials:
                    return False
            if record.retry_of is not None and any(
                t.retry_of == record.retry_of for t in trials.values()
            ):
                return False
            self._write(study, record)
            return True

    def save_trial(self, study: str, record: TrialRecord) -> bool:
        with self._lock:
            old = self._study(study).get(record.number)
            if old is None:
                raise StorageError(f"Study {study!r} has no trial {record.number} to update.")
            if old.status.finished:
                return False
            self._write(study, record)
            return True

    def _write(self, study: str, record: TrialRecord) -> None:
        self._trials[study][record.number] = record
        self._revision += 1
        self._revisions[study][record.number] = self._revision

    def trials(self, study: str) -> list[TrialRecord]:
        if study not in self._trials:
            return []
        with self._lock:
            return [self._trials[study][n] for n in sorted(self._trials[study])]

    def changes(self, study: str, cursor: int = -1) -> tuple[list[TrialRecord], int]:
        if study not in self._trials:
            return [], cursor
        with self._lock:
            changed = sorted(
                (rev, number) for number, rev in self._revisions[study].items() if rev > cursor
            )
            records = [self._trials[study][number] for _, number in changed]
            return records, (changed[-1][0] if changed else cursor)

    def beat(self, study: str, driver: DriverInfo) -> list[DriverStatus]:
        with self._lock:
            self._study(study)
            now = time.time()
            drivers = self._drivers[study]
            drivers[driver.id] = (driver, now)
            return [DriverStatus(info, now - seen) for info, seen in drivers.values()]
