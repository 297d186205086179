"""What every phase of a tabular fit shares: one frozen object, built once when ``fit`` starts.

The user's ``time_budget`` is converted once, at the edge, into absolute deadlines on the
monotonic clock (``FitClock``); phases ask the clock how much time is left and never turn it back
into a relative budget of their own. ``FitContext`` carries the rest of what the phases read: the
task, metric, column kinds, seed, threads and limits.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

from sweepml.storage import Storage
from sweepml.tabular.data import ColumnTypes
from sweepml.tabular.metrics import Metric

__all__ = ["FitClock", "FitContext", "REFIT_SAFETY", "SEARCH_MARGIN"]

SEARCH_MARGIN = 1.0  # seconds kept free at the end for bookkeeping (leaderboard, cleanup)
REFIT_SAFETY = 1.2  # a refit's estimated seconds are multiplied by this before it is chosen


@dataclass(frozen=True)
class FitClock:
    """The fit's deadlines on ``time.monotonic()``; both None when the fit is bounded by a number
    of trials instead of time (``max_trials``).

    ``search_deadline`` comes before ``deadline`` by the share of the budget kept for the
    ensemble's steps (bagging, the members' refit, the stack layer).
    """

    start: float
    deadline: float | None
    search_deadline: float | None

    @classmethod
    def starting(
        cls, start: float, time_budget: float | None, *, reserve_share: float = 0.0
    ) -> FitClock:
        """The clock of a fit that began at ``start`` (``time_budget`` None: no deadline)."""
        if time_budget is None:
            return cls(start, None, None)
        deadline = start + time_budget
        return cls(start, deadline, deadline - reserve_share * time_budget)

    @property
    def timed(self) -> bool:
        return self.deadline is not None

    def left(self) -> float:
        """Seconds to the deadline (infinite without one)."""
        return math.inf if self.deadline is None else self.deadline - time.monotonic()

    def search_left(self) -> float:
        """Seconds the search may still run, less the bookkeeping margin (infinite without a
        deadline)."""
        if self.search_deadline is None:
            return math.inf
        return self.search_deadline - time.monotonic() - SEARCH_MARGIN

    def allows(self, seconds: float) -> bool:
        """Whether work of ``seconds`` ends before the deadline."""
        return seconds <= self.left()


@dataclass(frozen=True)
class FitContext:
    """Settings checked by ``fit`` and facts learned from the data, read by every phase."""

    task: str
    metric: Metric
    columns: ColumnTypes
    seed: int
    n_jobs: int
    clock: FitClock
    time_budget: float  # the user's figure, for messages
    strategy: str = "tpe"
    max_trials: int | None = None
    ensemble_size: int = 25
    trial_timeout: float | None = None
    memory_limit_mb: float | None = None
    storage: Storage | str | os.PathLike[str] | None = None
    show_progress: bool | None = None
