"""The executor interface: run trials somewhere, hand back every result, lose none.

An executor is started with an ``ObjectiveRunner`` (the objective plus the rules for judging a
call), takes tasks with ``submit`` and returns finished ``TrialResult`` objects from ``wait``.
It contains failures: a trial that hangs, eats memory or kills its process becomes a result with
status TIMEOUT, MEMOUT or CRASHED, never an exception in the driver.
"""

from __future__ import annotations

import abc

from sweepml.objective import ObjectiveRunner, TrialResult, TrialTask

__all__ = ["Executor"]


class Executor(abc.ABC):
    """Runs trials for a study. Implementations: ``SerialExecutor``, ``LocalExecutor``."""

    name: str = ""
    #: Whether trial_timeout and trial_memory_mb are enforced (they need a separate process).
    enforces_limits: bool = False
    #: Whether trials run inside the driver's own thread (the search loop is blocked meanwhile)
    runs_in_driver: bool = False

    def __init__(self, n_workers: int = 1) -> None:
        self.n_workers = n_workers
        #: monotonic time at which running trials are cancelled (set by the study for time budgets)
        self.deadline: float | None = None

    @abc.abstractmethod
    def start(self, runner: ObjectiveRunner) -> None:
        """Prepare to run tasks with ``runner``."""

    @abc.abstractmethod
    def submit(self, task: TrialTask) -> None:
        """Start ``task``; at most ``n_workers`` tasks run at once (the study keeps to that)."""

    @abc.abstractmethod
    def wait(self, timeout: float | None) -> list[TrialResult]:
        """Results finished since the last call; returns early on the first, or after timeout."""

    @property
    @abc.abstractmethod
    def n_running(self) -> int:
        """Tasks submitted and not yet returned by ``wait``."""

    @abc.abstractmethod
    def cancel(self, reason: str) -> list[TrialResult]:
        """Stop every running task. Tasks that finished meanwhile keep their result; the others
        come back INTERRUPTED with ``reason``."""

    def shutdown(self) -> None:
        """Release workers; cancel anything still running first."""
        self.cancel("the executor was shut down")
