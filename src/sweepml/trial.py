"""What a trial is once it has run: its status and its record.

Trial failures are data, not exceptions: every trial ends with a ``TrialStatus`` and, when it did
not succeed, the text of what went wrong.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["TrialRecord", "TrialStatus"]


class TrialStatus(enum.StrEnum):
    """How a trial ended (or that it is still running)."""

    RUNNING = "RUNNING"
    OK = "OK"  #: returned a finite objective value
    FAILED = "FAILED"  #: raised, or returned something that is not a finite number
    TIMEOUT = "TIMEOUT"  #: killed after its wall-clock limit
    MEMOUT = "MEMOUT"  #: over its memory limit, or raised MemoryError
    CRASHED = "CRASHED"  #: its worker process died (segfault, os._exit, a signal)
    LOST = "LOST"  #: its cluster worker died every time it was tried (see max_retries)
    PRUNED = "PRUNED"  #: stopped early on purpose from its intermediate values
    INTERRUPTED = "INTERRUPTED"  #: cancelled (Ctrl-C, end of the time budget, a driver crash)

    @property
    def finished(self) -> bool:
        """True for statuses that count toward ``n_trials`` (everything but RUNNING/INTERRUPTED)."""
        return self not in (TrialStatus.RUNNING, TrialStatus.INTERRUPTED)


@dataclass(frozen=True)
class TrialRecord:
    """One trial as the storage keeps it.

    ``value`` is the objective as the user's function returned it (not negated for maximize);
    ``metrics`` holds every other entry of a returned dict; ``intermediate`` the values reported
    through ``trial.report(step, value)``; ``info`` what the strategy needs to replay the trial;
    ``retry_of`` the number of the interrupted trial this one runs again; ``driver`` the id of the
    search process that ran it (see ``DriverInfo``), which tells a trial left RUNNING by a dead
    driver from one that another live driver is running.
    """

    number: int
    config: Mapping[str, Any]
    status: TrialStatus = TrialStatus.RUNNING
    value: float | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    intermediate: tuple[tuple[int, float], ...] = ()
    error: str | None = None
    budget: float | None = None
    info: Mapping[str, Any] = field(default_factory=dict)
    retry_of: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    driver: str | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, None while running."""
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    def finish(self, **changes: Any) -> TrialRecord:
        return replace(self, **changes)

    def loss(self, direction: str) -> float:
        """The value as a quantity to minimize; +inf when there is none."""
        if self.status is not TrialStatus.OK or self.value is None or math.isnan(self.value):
            return math.inf
        return self.value if direction == "minimize" else -self.value
