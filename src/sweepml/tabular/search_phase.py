"""The search phase of a tabular fit: LightGBM's defaults, the learned portfolio and every
family's default first, then the chosen strategy, one process per trial, until the search's
deadline.

Two rules keep the fit on time. No trial may take more than ``DEFAULT_TRIAL_SHARE`` of the
search by default (one slow config, an SVM with a huge C, must not hold a worker for the whole
budget), and the search stops early when the refit of the best pipeline so far would no longer
fit before the fit's deadline (``RefitGuard``). On large data (a subsampled search) successive
halving on the number of rows (``ASHA``) discards weak configs on small samples first.

The share is half, not a quarter: on a wide table (Fashion-MNIST, 10,000 rows x 784 pixels, 10
classes) one thread trains LightGBM's 100 default rounds in ~36 s, and a quarter of a 60 s fit's
search stopped every boosting trial at a third of its rounds (log loss 0.449, worse than
LightGBM's defaults alone, 0.414); half gave 0.369, and no other of the 8 largest meta-test
tables changed by more than noise (``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import logging
import time
import warnings
from typing import Any

from sweepml.callbacks import SearchCallback
from sweepml.execution import LocalExecutor
from sweepml.search import minimize
from sweepml.space import Space
from sweepml.strategies import ASHA, Warmstart
from sweepml.tabular.context import SEARCH_MARGIN, FitClock, FitContext
from sweepml.tabular.evaluation import PipelineObjective, is_partial
from sweepml.tabular.pipeline_space import pipeline_space, with_most_rounds
from sweepml.tabular.portfolio import family_default, portfolio_configs
from sweepml.tabular.progress import FitProgress
from sweepml.tabular.refit import rank_key, refit_seconds
from sweepml.trial import TrialRecord, TrialStatus

__all__ = ["RefitGuard", "run_search", "trial_executor", "warm_start_configs"]

logger = logging.getLogger(__name__)

DEFAULT_TRIAL_SHARE = 0.5  # trial_timeout=None: a trial gets at most this share of the search
MIN_TRIAL_SECONDS = 5.0
HALVING_MIN_SHARE = 1 / 9  # successive halving on large data: 1/9, 1/3, then all search rows
HALVING_ETA = 3
_TRIAL_MODULES = ("sweepml.tabular.evaluation", "lightgbm")


class RefitGuard(SearchCallback):
    """Ends the search when the refit of the best pipeline so far (among those scored on all the
    search's rows) would no longer fit before the fit's deadline."""

    def __init__(self, clock: FitClock, train_fraction: float) -> None:
        self.clock, self.train_fraction = clock, train_fraction
        self.best: TrialRecord | None = None

    def on_trial_end(self, study: Any, record: TrialRecord) -> None:
        if (
            record.status is TrialStatus.OK
            and not is_partial(record)
            and (self.best is None or rank_key(record) < rank_key(self.best))
        ):
            self.best = record

    def should_stop(self, study: Any) -> bool:
        if self.best is None:
            return False
        needed = refit_seconds(self.best, self.train_fraction) + SEARCH_MARGIN
        if needed >= self.clock.left():
            logger.info("search stopped: the best pipeline's refit needs ~%.1f s", needed)
            return True
        return False


def warm_start_configs(
    task: str,
    space: Space,
    *,
    n_rows: int,
    n_features: int,
    fit_rows: int | None = None,
    trial_seconds: float | None = None,
    stops_early: bool = False,
) -> list[dict]:
    """The configs a fit tries before its strategy proposes any, in this order:

    1. LightGBM's hand-set default (LightGBM's own defaults): the floor. It is cheap and strong
       on most tables, so a fit with little time (a busy machine, a large table) still ends
       with it; the learned portfolio alone let a table fall below it (issue 15).
    2. The learned portfolio (members that would not finish in ``trial_seconds`` on
       ``fit_rows`` rows last).
    3. Every family's hand-set default, then its re-learned default where the portfolio file
       has one: the defaults carry a table the portfolio has not seen.

    With ``stops_early`` (boosting trains with early stopping on a holdout) the boosted
    families' defaults may train up to their space's most rounds: early stopping, not the
    default's round count, then decides how many; a cap of 200 stopped a table still improving.
    """

    def defaults(name: str) -> list[dict[str, Any]]:
        hand_set = pipeline_space(task, n_rows=n_rows, n_features=n_features, models=[name])
        configs = [hand_set.default(), family_default(task, name, space)]
        return [with_most_rounds(c, space) if stops_early else c for c in configs if c is not None]

    families: list[str] = list(space["model"].options)  # type: ignore[union-attr]
    warm: list[dict[str, Any]] = defaults("lightgbm")[:1] if "lightgbm" in families else []
    candidates = portfolio_configs(task, space, fit_rows=fit_rows, trial_seconds=trial_seconds)
    for name in families:
        candidates += defaults(name)
    for config in candidates:
        if config not in warm:
            warm.append(config)
    return warm


def trial_executor(n_jobs: int) -> LocalExecutor:
    """One process per trial from a forkserver, not fork: the driver refits LightGBM and
    HistGradientBoosting (OpenMP), and a trial forked from a process that used GNU OpenMP can
    hang in it."""
    return LocalExecutor(n_jobs, start_method="forkserver", preload=_TRIAL_MODULES)


def run_search(
    context: FitContext,
    objective: PipelineObjective,
    space: Space,
    *,
    study_name: str,
    n_rows: int,
    n_features: int,
) -> Any:
    """The search proper, until the search's deadline (or earlier, when the best pipeline's
    refit would no longer fit before the fit's). Returns the study, or None (with a warning that
    reaches ``fit``'s caller) when the budget leaves no time to search."""
    clock = context.clock
    search_budget = None
    if clock.timed:
        search_budget = clock.search_left()
        if search_budget < 0.5:
            warnings.warn(
                f"time_budget={context.time_budget} leaves no time to search; the model is the "
                f"dummy baseline. Give a larger time_budget.",
                UserWarning,
                stacklevel=3,
            )
            return None
    trial_timeout = context.trial_timeout
    if search_budget is not None:
        share_limit = max(search_budget * DEFAULT_TRIAL_SHARE, MIN_TRIAL_SECONDS)
        trial_timeout = min(trial_timeout or share_limit, search_budget)
    warm = warm_start_configs(
        context.task,
        space,
        n_rows=n_rows,
        n_features=n_features,
        fit_rows=len(objective.plan.folds[0][0]),
        trial_seconds=trial_timeout,
        stops_early=len(objective.plan.folds) == 1,
    )
    strategy: Any = Warmstart(context.strategy, warm)
    if objective.plan.subsampled:  # large data: successive halving on the sample size
        strategy = ASHA(strategy, min_budget=HALVING_MIN_SHARE, eta=HALVING_ETA)
    progress = FitProgress(
        enabled=context.show_progress,
        n_trials=context.max_trials,
        time_budget=search_budget,
        metric=context.metric,
    )
    callbacks: list[SearchCallback] = [progress]
    if clock.timed:
        callbacks.append(RefitGuard(clock, objective.plan.train_fraction))
    started = time.monotonic()
    try:
        return minimize(
            objective,
            space,
            strategy=strategy,
            n_trials=context.max_trials,
            time_budget=search_budget,
            n_workers=context.n_jobs,
            executor=trial_executor(context.n_jobs),
            trial_timeout=trial_timeout,
            trial_memory_mb=context.memory_limit_mb,
            storage=context.storage,
            study_name=study_name,
            seed=context.seed,
            show_progress=False,
            callbacks=callbacks,
        )
    finally:
        progress.close()
        logger.info("search ran %.1f s", time.monotonic() - started)
