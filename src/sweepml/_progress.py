"""The progress line a search shows on a terminal: done/total (or elapsed/budget), best, failures.

Rich's own refresh thread is off on purpose: the local executor forks worker processes, and
forking while another thread holds a lock can deadlock the child. The loop refreshes instead.
"""

from __future__ import annotations

import sys
import time

__all__ = ["ProgressDisplay"]

_REFRESH_SECONDS = 0.1


class ProgressDisplay:
    """A rich progress bar when enabled, otherwise nothing."""

    def __init__(
        self, *, enabled: bool | None, n_trials: int | None, time_budget: float | None, label: str
    ) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._n_trials = n_trials
        self._time_budget = time_budget
        self._started = time.monotonic()
        self._last = 0.0
        if not self.enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[count]}"),
            TimeElapsedColumn(),
            TextColumn("best {task.fields[best]}  failed {task.fields[failed]}"),
            console=Console(stderr=True),
            auto_refresh=False,
            transient=False,
        )
        total = float(n_trials) if n_trials is not None else time_budget
        self._task = self._bar.add_task(label, total=total, count="", best="-", failed=0)
        self._bar.start()

    def update(
        self, *, done: int, best: float | str | None, failed: int, force: bool = False
    ) -> None:
        """Redraw (at most every 0.1 s unless ``force``); ``best`` as a number or ready text."""
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < _REFRESH_SECONDS:
            return
        self._last = now
        elapsed = now - self._started
        if self._n_trials is not None:
            completed: float | None = done
            count = f"{done}/{self._n_trials} trials"
        else:
            completed = min(elapsed, self._time_budget) if self._time_budget else None
            count = f"{done} trials"
        self._bar.update(
            self._task,
            completed=completed,
            count=count,
            best="-" if best is None else best if isinstance(best, str) else f"{best:.6g}",
            failed=failed,
        )
        self._bar.refresh()

    def close(self) -> None:
        if self.enabled:
            self._bar.stop()
