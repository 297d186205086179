"""k-fold bagging of the strongest pipelines for ensemble selection.

A search that scores pipelines on a holdout leaves each trial with predictions for a third of the
rows, so ensemble weights chosen on them are noisy. After the search, the pipelines worth keeping
(those the holdout ensemble chose, then the next best) are refit with ``BAG_FOLDS``-fold
cross-validation on the search's rows, in rank order while their estimated cost fits the time set
aside; ensemble selection then runs again on their out-of-fold predictions, which cover every row.
Under cross-validation the trials' predictions are out-of-fold already and nothing is bagged.

A boosted pipeline is bagged with the rounds its holdout trial's early stopping kept, the rounds
its refit on all rows trains (``refit.refit_config``), not the most it was allowed: the bagged
folds train without early stopping, and with the allowed rounds (1,000 for the families'
defaults) their out-of-fold predictions described an overfit model the fit never ships, and
their cost was estimated from a trial that had stopped far sooner.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sweepml.objective import Trial
from sweepml.search import minimize
from sweepml.space import Choice, Space
from sweepml.strategies import Warmstart
from sweepml.tabular.context import SEARCH_MARGIN, FitContext
from sweepml.tabular.evaluation import PipelineObjective, fit_seconds_on, plan_evaluation
from sweepml.tabular.predictions import read_prediction
from sweepml.tabular.refit import families_first, refit_config
from sweepml.tabular.search_phase import trial_executor
from sweepml.trial import TrialRecord, TrialStatus

__all__ = ["BAG_FOLDS", "BAG_RESERVE", "MAX_BAGGED", "bag", "bag_cost", "choose_for_bagging"]

logger = logging.getLogger(__name__)

BAG_FOLDS = 5
MAX_BAGGED = 8  # pipelines bagged at most
#: share of the time budget that a holdout search leaves for bagging and the final refit
BAG_RESERVE = 0.2
_COST_SAFETY = 1.3


def bag_cost(record: TrialRecord, holdout_train_share: float) -> float:
    """Estimated seconds to cross-validate ``record``'s pipeline in one worker: ``BAG_FOLDS``
    fits, each on (k-1)/k of the search's rows where the trial's fit saw ``holdout_train_share``
    of them."""
    per_fold = fit_seconds_on(record, holdout_train_share, (BAG_FOLDS - 1) / BAG_FOLDS)
    return per_fold * BAG_FOLDS * _COST_SAFETY


def choose_for_bagging(
    ranked: Sequence[TrialRecord],
    weights: np.ndarray,
    *,
    seconds: float | None,
    holdout_train_share: float,
    n_jobs: int,
) -> list[TrialRecord]:
    """Up to ``MAX_BAGGED`` trials to bag: the holdout ensemble's members (heaviest first), then
    the best of each model family not among them, then the rest in rank order, each only while
    the estimated cost, spread over ``n_jobs`` workers (one pipeline per worker), fits in
    ``seconds`` (None: no limit).

    A family's best comes before a second setting of a family already in: the bagged ensemble
    is chosen on out-of-fold predictions of every row, a sterner judge than the holdout, and it
    can only pick a model that was bagged (on a small table the holdout's winner is often
    noise, and the family that generalises, a linear model, ranked far down)."""
    members = sorted((i for i in range(len(ranked)) if weights[i] > 0), key=lambda i: -weights[i])
    first = [ranked[i] for i in members]
    others = [t for i, t in enumerate(ranked) if weights[i] <= 0]
    order = first + families_first(others, covered={t.config.get("model") for t in first})
    chosen: list[TrialRecord] = []
    work = 0.0  # worker-seconds
    for trial in order:
        if len(chosen) == MAX_BAGGED:
            break
        cost = bag_cost(trial, holdout_train_share)
        if seconds is None or (cost <= seconds and (work + cost) / n_jobs <= seconds):
            chosen.append(trial)
            work += cost
    return chosen


def bag(
    context: FitContext,
    ranked: list[TrialRecord],
    weights: np.ndarray,
    objective: PipelineObjective,
    target: np.ndarray,
) -> list[tuple[TrialRecord, np.ndarray]]:
    """Cross-validate the pipelines worth keeping on the search's rows (half the time left,
    the other half is the other members' refit: the best pipeline's came before); returns each
    finished one with its out-of-fold predictions, in the order of ``ranked``."""
    seconds = None
    if context.clock.timed:
        seconds = (context.clock.left() - SEARCH_MARGIN) / 2
        if seconds < 1.0:
            return []
    holdout_train_share = len(objective.plan.folds[0][0]) / len(objective.y)
    chosen = choose_for_bagging(
        ranked,
        weights,
        seconds=seconds,
        holdout_train_share=holdout_train_share,
        n_jobs=context.n_jobs,
    )
    if len(chosen) < 2:
        return []
    bagging = _ChosenPipelines(
        objective.refolded(plan_evaluation(target, context.task, context.seed, cv=BAG_FOLDS)),
        [refit_config(t) for t in chosen],
    )
    with tempfile.TemporaryDirectory(prefix="sweepml-bagged-") as folder:
        bagging.objective.prediction_dir = Path(folder)
        study = minimize(
            bagging,
            bagging.space(),
            strategy=Warmstart("random", [{"pipeline": i} for i in range(len(chosen))]),
            n_trials=len(chosen),
            time_budget=seconds,
            n_workers=context.n_jobs,
            executor=trial_executor(context.n_jobs),
            trial_timeout=seconds,
            trial_memory_mb=context.memory_limit_mb,
            seed=context.seed,
            show_progress=False,
        )
        done = {
            chosen[t.config["pipeline"]].number: Path(folder) / f"{t.number}.npy"
            for t in study.trials
            if t.status is TrialStatus.OK
        }
        bagged = []
        for trial in ranked:
            path = done.get(trial.number)
            prediction = None if path is None else read_prediction(path)
            if prediction is not None:
                bagged.append((trial, prediction))
    logger.info("bagged %d of %d chosen pipelines", len(bagged), len(chosen))
    return bagged


class _ChosenPipelines:
    """The bagging run's objective: its one parameter, ``pipeline``, picks one of the chosen
    pipelines, scored with its refit config (which may lie outside the search space: early
    stopping can keep fewer rounds than the space's least)."""

    def __init__(self, objective: PipelineObjective, configs: list[dict[str, Any]]) -> None:
        self.objective, self.configs = objective, configs

    def space(self) -> Space:
        return Space({"pipeline": Choice(list(range(len(self.configs))))})

    def __call__(
        self, config: Mapping[str, Any], trial: Trial | None = None, budget: float | None = None
    ) -> dict[str, Any]:
        return self.objective(self.configs[config["pipeline"]], trial, budget)
