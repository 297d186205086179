"""Run each trial in the driver's own process: no isolation, no overhead, easy to debug.

A crash in the objective takes the driver down (its finished trials are safe in the storage), and
per-trial limits cannot be enforced; use the local executor for both. The end of a time budget
interrupts a running trial with SIGALRM when the study runs in the main thread, which stops
Python code but not a call stuck inside a C extension.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import deque
from types import FrameType

from sweepml.execution.base import Executor
from sweepml.objective import ObjectiveRunner, TrialResult, TrialTask
from sweepml.trial import TrialStatus

__all__ = ["SerialExecutor"]


class _DeadlineReached(BaseException):
    """Raised inside the objective at the end of the time budget (BaseException so that the
    objective's own ``except Exception`` does not swallow it)."""


def _raise_deadline(signum: int, frame: FrameType | None) -> None:
    raise _DeadlineReached


class SerialExecutor(Executor):
    """One trial at a time, in process."""

    name = "serial"
    runs_in_driver = True

    def __init__(self) -> None:
        super().__init__(1)
        self._queue: deque[TrialTask] = deque()
        self._runner: ObjectiveRunner | None = None

    def start(self, runner: ObjectiveRunner) -> None:
        self._runner = runner

    def submit(self, task: TrialTask) -> None:
        self._queue.append(task)

    @property
    def n_running(self) -> int:
        return len(self._queue)

    def wait(self, timeout: float | None) -> list[TrialResult]:
        if not self._queue:
            return []
        assert self._runner is not None, "start() must be called before wait()"
        task = self._queue[0]
        curve: list[tuple[int, float]] = []
        alarm = self._arm_deadline()
        result = TrialResult(
            task.number, TrialStatus.INTERRUPTED, error="Cancelled at the end of the time budget."
        )
        try:
            try:
                result = self._runner(
                    task, lambda step, value: curve.append((step, value)), in_driver=True
                )
            except _DeadlineReached:
                result = TrialResult(
                    task.number,
                    TrialStatus.INTERRUPTED,
                    intermediate=tuple(curve),
                    error=result.error,
                )
            finally:
                self._disarm(alarm)
        except _DeadlineReached:  # the alarm fired after the trial ended, before disarming
            pass
        self._queue.popleft()
        return [result]

    def _arm_deadline(self) -> object | None:
        if self.deadline is None or threading.current_thread() is not threading.main_thread():
            return None
        remaining = self.deadline - time.monotonic()
        previous = signal.signal(signal.SIGALRM, _raise_deadline)
        signal.setitimer(signal.ITIMER_REAL, max(remaining, 1e-3))
        return previous

    @staticmethod
    def _disarm(previous: object | None) -> None:
        if previous is None:
            return
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)  # type: ignore[arg-type]

    def cancel(self, reason: str) -> list[TrialResult]:
        results = [
            TrialResult(task.number, TrialStatus.INTERRUPTED, error=reason) for task in self._queue
        ]
        self._queue.clear()
        return results
