"""In-memory storage: the default when no path is given, and the twin of SQLite in tests."""

from __future__ import annotations

from sweepml.exceptions import StorageError
from sweepml.storage.base import Storage, StudyInfo
from sweepml.trial import TrialRecord

__all__ = ["MemoryStorage"]


class MemoryStorage(Storage):
    """Keeps studies in dicts; lost when the process ends."""

    def __init__(self) -> None:
        self._studies: dict[str, StudyInfo] = {}
        self._trials: dict[str, dict[int, TrialRecord]] = {}

    def create_study(self, info: StudyInfo) -> None:
        if info.name in self._studies:
            raise StorageError(f"A study named {info.name!r} already exists in this storage.")
        self._studies[info.name] = info
        self._trials[info.name] = {}

    def get_study(self, name: str) -> StudyInfo | None:
        return self._studies.get(name)

    def study_names(self) -> list[str]:
        return list(self._studies)

    def save_trial(self, study: str, record: TrialRecord) -> None:
        if study not in self._trials:
            raise StorageError(f"No study named {study!r} in this storage.")
        self._trials[study][record.number] = record

    def trials(self, study: str) -> list[TrialRecord]:
        if study not in self._trials:
            return []
        return [self._trials[study][n] for n in sorted(self._trials[study])]
