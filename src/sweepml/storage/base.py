"""The storage protocol: the durable record of studies and their trials.

Only the driver writes. Every ``save_trial`` is committed before it returns, so whatever the driver
has acknowledged survives its own crash. Everything else (leaderboards, resume) reads this record.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sweepml.trial import TrialRecord

__all__ = ["Storage", "StudyInfo"]


@dataclass(frozen=True)
class StudyInfo:
    """What a study is: its name, direction, space (as ``Space.to_dict``) and free-form metadata."""

    name: str
    direction: str
    space: Mapping[str, Any]
    created_at: float
    meta: Mapping[str, Any] = field(default_factory=dict)


class Storage(abc.ABC):
    """Where studies live. Implementations: ``MemoryStorage`` and ``SqliteStorage``."""

    @abc.abstractmethod
    def create_study(self, info: StudyInfo) -> None:
        """Add a new study; raises ``StorageError`` if the name is taken."""

    @abc.abstractmethod
    def get_study(self, name: str) -> StudyInfo | None:
        """The study called ``name``, or None."""

    @abc.abstractmethod
    def study_names(self) -> list[str]:
        """Names of all studies, oldest first."""

    @abc.abstractmethod
    def save_trial(self, study: str, record: TrialRecord) -> None:
        """Insert or replace the trial ``record.number`` of ``study``, durably."""

    @abc.abstractmethod
    def trials(self, study: str) -> list[TrialRecord]:
        """All trials of ``study``, by number."""

    def close(self) -> None:
        """Release files and connections; the storage is unusable afterwards."""

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
