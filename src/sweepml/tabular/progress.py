"""The progress bar of a tabular fit: trials done, time, and the best validation score so far in
the metric's own terms (``roc_auc 0.9912``, not the loss the search minimizes)."""

from __future__ import annotations

from typing import Any

from sweepml._progress import ProgressDisplay
from sweepml.callbacks import SearchCallback
from sweepml.tabular.metrics import Metric
from sweepml.trial import TrialRecord, TrialStatus

__all__ = ["FitProgress"]


class FitProgress(SearchCallback):
    """A search callback that draws the bar; ``close()`` when the search is over."""

    def __init__(
        self, *, enabled: bool | None, n_trials: int | None, time_budget: float | None,
        metric: Metric,
    ) -> None:  # fmt: skip
        self.metric = metric
        self.display = ProgressDisplay(
            enabled=enabled, n_trials=n_trials, time_budget=time_budget, label="search"
        )
        self.done = self.failed = 0
        self.best: TrialRecord | None = None

    def on_trial_end(self, study: Any, record: TrialRecord) -> None:
        self.done += 1
        if record.status is not TrialStatus.OK:
            self.failed += 1
        elif record.value is not None and (
            self.best is None or self.best.value is None or record.value < self.best.value
        ):
            self.best = record
        self.display.update(done=self.done, best=self._best_text(), failed=self.failed)

    def _best_text(self) -> str | None:
        if self.best is None or self.best.value is None:
            return None
        score = -self.best.value if self.metric.greater_is_better else self.best.value
        return f"{self.metric.name} {score:.6g} ({self.best.config['model']})"

    def close(self) -> None:
        self.display.update(done=self.done, best=self._best_text(), failed=self.failed, force=True)
        self.display.close()
