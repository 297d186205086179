"""The storage protocol: the durable record of studies, their trials and the drivers running them.

Several drivers (processes running a search) may share one study. The storage is what keeps them
from stepping on each other, so every write that depends on what is already there happens inside
one of its transactions:

- ``reserve_number`` hands out trial numbers no other caller gets (numbers grow, and may skip the
  ones a driver reserved and never used, when it could not give them back with
  ``release_numbers``);
- ``add_trial`` refuses a trial beyond the study's ``max_trials`` (counted over every driver) and a
  second retry of the same interrupted trial, so two drivers never re-run one trial twice;
- ``save_trial`` never overwrites a finished trial: a late INTERRUPTED mark cannot erase a result;
- ``beat`` records that a driver is alive and tells who else is; the search decides from it which
  RUNNING trials were abandoned by a driver that died.

Every write is committed before the call returns, so whatever a driver has acknowledged survives
its own crash. Everything else (leaderboards, resume) reads this record.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sweepml.trial import TrialRecord

__all__ = ["DriverInfo", "DriverStatus", "Storage", "StudyInfo"]


@dataclass(frozen=True)
class StudyInfo:
    """What a study is: its name, direction, space (as ``Space.to_dict``) and free-form metadata."""

    name: str
    direction: str
    space: Mapping[str, Any]
    created_at: float
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DriverInfo:
    """Who a driver is: an id unique to one run of a search, and where its process lives.

    ``machine`` names a kernel and process namespace (boot id + pid namespace): a driver on the
    same machine can ask the kernel whether ``pid`` still runs the process that started at
    ``pid_start`` (clock ticks after boot), instead of waiting for a heartbeat to go stale.
    """

    id: str
    host: str
    machine: str
    pid: int
    pid_start: int | None
    started_at: float


@dataclass(frozen=True)
class DriverStatus:
    """A driver as the storage last heard of it: ``idle`` seconds since its last beat, measured
    on the storage's own clock (a database server's, for a shared one), and whether it said its
    search had ended."""

    driver: DriverInfo
    idle: float
    ended: bool = False


class Storage(abc.ABC):
    """Where studies live. Implementations: ``MemoryStorage``, ``SqliteStorage`` and
    ``sweepml.storage.postgres.PostgresStorage`` (extra ``postgres``);
    ``sweepml.testing.StorageConformance`` is the suite they all pass."""

    # -- studies --------------------------------------------------------------------------------
    @abc.abstractmethod
    def create_study(self, info: StudyInfo) -> None:
        """Add a new study; raises ``StudyExistsError`` if the name is taken (another driver may
        have created it a moment ago: read it with ``get_study`` then)."""

    @abc.abstractmethod
    def get_study(self, name: str) -> StudyInfo | None:
        """The study called ``name``, or None."""

    @abc.abstractmethod
    def study_names(self) -> list[str]:
        """Names of all studies, oldest first."""

    # -- trials ---------------------------------------------------------------------------------
    @abc.abstractmethod
    def reserve_number(self, study: str, count: int = 1) -> int:
        """The first of ``count`` consecutive trial numbers that no other call, in any process,
        has been or will be given (unless they are released)."""

    @abc.abstractmethod
    def release_numbers(self, study: str, first: int, stop: int) -> None:
        """Give back the reserved numbers ``first`` to ``stop - 1``, unused, when nothing has
        been reserved after them (else keep them: the numbers then skip them)."""

    @abc.abstractmethod
    def add_trial(
        self,
        study: str,
        record: TrialRecord,
        *,
        max_trials: int | None = None,
    ) -> bool:
        """Insert ``record`` (its number from ``reserve_number``).

        Returns False, and stores nothing, when ``max_trials`` trials (INTERRUPTED ones aside)
        are already running or finished, or when ``record.retry_of`` has been retried already.
        """

    @abc.abstractmethod
    def save_trial(self, study: str, record: TrialRecord) -> bool:
        """Update the stored trial ``record.number`` to ``record``, durably.

        A finished trial (``TrialStatus.finished``) is never overwritten: the call returns False
        then. Raises ``StorageError`` when the trial does not exist.
        """

    @abc.abstractmethod
    def trials(self, study: str) -> list[TrialRecord]:
        """All trials of ``study``, by number."""

    @abc.abstractmethod
    def changes(self, study: str, cursor: int = -1) -> tuple[list[TrialRecord], int]:
        """Trials added or updated since ``cursor`` (all of them for -1), oldest change first,
        and the cursor to pass next time. A search polls this to learn other drivers' results."""

    # -- drivers --------------------------------------------------------------------------------
    @abc.abstractmethod
    def beat(self, study: str, driver: DriverInfo, *, ended: bool = False) -> list[DriverStatus]:
        """Record that ``driver`` is alive now (or, with ``ended``, that its search is over);
        return every driver the study has seen.

        May be called from another thread than the other methods (a heartbeat thread)."""

    def close(self) -> None:
        """Release files and connections; the storage is unusable afterwards."""

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
