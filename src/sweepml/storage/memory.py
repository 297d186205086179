"""In-memory storage: the default when no path is given, and the twin of SQLite in tests.

It keeps the same rules as the durable backends (numbers reserved once, the ``max_trials`` limit,
one retry per interrupted trial, finished trials never overwritten), so a search behaves the same
whichever backend it writes to. A lock makes it safe for the driver's heartbeat thread.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from dataclasses import dataclass, field

from sweepml.exceptions import StorageError, StudyExistsError
from sweepml.storage.base import DriverInfo, DriverStatus, Storage, StudyInfo
from sweepml.trial import TrialRecord, TrialStatus

__all__ = ["MemoryStorage"]


@dataclass
class _Study:
    info: StudyInfo
    trials: dict[int, TrialRecord] = field(default_factory=dict)
    next_number: int = 0
    counted: int = 0  # trials that are not INTERRUPTED: what max_trials limits
    retried: set[int] = field(default_factory=set)
    log: list[tuple[int, int]] = field(default_factory=list)  # (revision, number) of each write
    drivers: dict[str, tuple[DriverInfo, float, bool]] = field(default_factory=dict)


class MemoryStorage(Storage):
    """Keeps studies in dicts; lost when the process ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._studies: dict[str, _Study] = {}
        self._revision = 0

    def create_study(self, info: StudyInfo) -> None:
        with self._lock:
            if info.name in self._studies:
                raise StudyExistsError(
                    f"A study named {info.name!r} already exists in this storage."
                )
            self._studies[info.name] = _Study(info)

    def get_study(self, name: str) -> StudyInfo | None:
        study = self._studies.get(name)
        return None if study is None else study.info

    def study_names(self) -> list[str]:
        return list(self._studies)

    def _study(self, name: str) -> _Study:
        if name not in self._studies:
            raise StorageError(f"No study named {name!r} in this storage.")
        return self._studies[name]

    def reserve_number(self, study: str, count: int = 1) -> int:
        with self._lock:
            found = self._study(study)
            found.next_number += count
            return found.next_number - count

    def release_numbers(self, study: str, first: int, stop: int) -> None:
        with self._lock:
            found = self._study(study)
            if found.next_number == stop:
                found.next_number = first

    def add_trial(self, study: str, record: TrialRecord, *, max_trials: int | None = None) -> bool:
        with self._lock:
            found = self._study(study)
            if record.number in found.trials:
                raise StorageError(f"Trial {record.number} of study {study!r} already exists.")
            if max_trials is not None and found.counted >= max_trials:
                return False
            if record.retry_of is not None:
                if record.retry_of in found.retried:
                    return False
                found.retried.add(record.retry_of)
            self._write(found, record)
            return True

    def save_trial(self, study: str, record: TrialRecord) -> bool:
        with self._lock:
            found = self._study(study)
            old = found.trials.get(record.number)
            if old is None:
                raise StorageError(f"Study {study!r} has no trial {record.number} to update.")
            if old.status.finished:
                return False
            self._write(found, record)
            return True

    def _write(self, study: _Study, record: TrialRecord) -> None:
        old = study.trials.get(record.number)
        if old is not None:
            study.counted -= old.status is not TrialStatus.INTERRUPTED
        study.counted += record.status is not TrialStatus.INTERRUPTED
        study.trials[record.number] = record
        self._revision += 1
        study.log.append((self._revision, record.number))

    def trials(self, study: str) -> list[TrialRecord]:
        with self._lock:
            found = self._studies.get(study)
            return [] if found is None else [found.trials[n] for n in sorted(found.trials)]

    def changes(self, study: str, cursor: int = -1) -> tuple[list[TrialRecord], int]:
        with self._lock:
            found = self._studies.get(study)
            if found is None:
                return [], cursor
            fresh = found.log[bisect.bisect_right(found.log, (cursor, math.inf)) :]
            latest = {number: revision for revision, number in fresh}  # the last write of each
            changed = sorted((revision, number) for number, revision in latest.items())
            records = [found.trials[number] for _, number in changed]
            return records, (fresh[-1][0] if fresh else cursor)

    def beat(self, study: str, driver: DriverInfo, *, ended: bool = False) -> list[DriverStatus]:
        with self._lock:
            drivers = self._study(study).drivers
            now = time.time()
            drivers[driver.id] = (driver, now, ended)
            return [DriverStatus(info, now - seen, over) for info, seen, over in drivers.values()]
