"""The ensemble phase of a tabular fit, around ensemble selection (Caruana et al. 2004): greedily
add, with replacement, the model whose validation predictions most improve the averaged
ensemble's metric; bag the chosen pipelines when the search scored on a holdout; refit the
members on all rows while they fit in time; keep a stack layer when it beats the average."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sweepml.tabular.bagging import BAG_FOLDS, bag
from sweepml.tabular.context import FitContext
from sweepml.tabular.evaluation import PipelineObjective
from sweepml.tabular.metrics import Metric
from sweepml.tabular.predictions import saved_predictions
from sweepml.tabular.refit import Refit, refit_members
from sweepml.tabular.stacking import fit_stacker
from sweepml.trial import TrialRecord

__all__ = ["EnsembleResult", "build_ensemble", "ensemble_selection"]

ENSEMBLE_CANDIDATES = 20  # best trials whose validation predictions enter ensemble selection
#: share of the time budget kept from a cross-validated search for the members' refit and the
#: stack layer (a holdout search keeps ``BAG_RESERVE``, for bagging too)
ENSEMBLE_RESERVE = 0.1
STACK_MIN_SECONDS = 3.0  # time that must be left to try the stack layer


def ensemble_selection(
    predictions: Sequence[np.ndarray], y: np.ndarray, metric: Metric, *, size: int = 25
) -> np.ndarray:
    """Weights (summing to 1) over ``predictions`` from ``size`` greedy rounds with replacement.

    Rounds stop early once adding any model makes the ensemble worse, so a single strong model
    keeps weight 1.
    """
    counts = np.zeros(len(predictions))
    current: np.ndarray | None = None
    best_loss = np.inf
    for step in range(size):
        losses = [
            metric.loss(y, p if current is None else (current * step + p) / (step + 1))
            for p in predictions
        ]
        choice = int(np.argmin(losses))
        if losses[choice] > best_loss:
            break
        best_loss = losses[choice]
        counts[choice] += 1
        p = predictions[choice]
        current = p.copy() if current is None else (current * step + p) / (step + 1)
    return counts / counts.sum()


@dataclass(frozen=True)
class EnsembleResult:
    """The ensemble phase's outcome. ``members`` are (weight, fitted pipeline, config), heaviest
    first; ``loss`` is the validation loss of their weighted average, or of the stack layer when
    it is kept (None with fewer than two members); ``evaluation`` says which predictions chose
    the weights."""

    members: list[tuple[float, Any, dict[str, Any]]]
    loss: float | None
    evaluation: str
    stacker: Any = None


def build_ensemble(
    context: FitContext,
    trials: list[TrialRecord],
    objective: PipelineObjective,
    frame: pd.DataFrame,
    target: np.ndarray,
    best: Refit,
) -> EnsembleResult:
    """Ensemble selection over the best trials' validation predictions (after a holdout
    search, again over the bagged out-of-fold predictions when at least two pipelines could
    be bagged in time, ``best``'s among them), then the refit of the chosen members on all rows
    (in order of weight, each only if its refit fits in the time left; ``best``, the pipeline
    already refit after the search, is reused), then the stack layer when the predictions cover
    every row and it beats the weighted average.

    Empty ``members`` (the caller keeps ``best`` alone) when ``ensemble_size`` < 2, when no
    trial left predictions, or when time ran out before every member was refit and the ones
    that were do not beat ``best`` on the same predictions: on a busy machine the members that
    fit in time are the cheap, weak ones.
    """
    assert objective.prediction_dir is not None
    nothing = EnsembleResult([], None, objective.plan.kind)
    if context.ensemble_size < 2:  # 0 or 1 round: the best pipeline alone
        return nothing
    metric, size = context.metric, context.ensemble_size
    y_valid = objective.y[objective.validation_rows]
    candidates, predictions = saved_predictions(
        trials, objective.prediction_dir, y_valid, limit=ENSEMBLE_CANDIDATES
    )
    if not candidates:
        return nothing
    weights = ensemble_selection(predictions, y_valid, metric, size=size)
    evaluation = objective.plan.kind
    out_of_fold = len(objective.plan.folds) > 1  # predictions cover every row
    if not out_of_fold:
        bagged = bag(context, candidates, weights, objective, target)
        if len(bagged) >= 2 and (best.trial is None or best.trial in {t.number for t, _ in bagged}):
            candidates = [t for t, _ in bagged]
            predictions = [oof for _, oof in bagged]
            y_valid = objective.y
            weights = ensemble_selection(predictions, y_valid, metric, size=size)
            evaluation = f"{BAG_FOLDS}-fold out-of-fold (bagged)"
            out_of_fold = True
    train_fraction = objective.plan.train_fraction
    kept = refit_members(context, candidates, weights, frame, target, train_fraction, best)
    if not kept:
        return EnsembleResult([], None, evaluation)
    total = sum(weights[i] for i, _, _ in kept)
    members = [(weights[i] / total, pipeline, config) for i, pipeline, config in kept]
    blend = sum(weights[i] / total * predictions[i] for i, _, _ in kept)
    blend_loss = metric.loss(y_valid, blend)
    if len(kept) < np.count_nonzero(weights) and not _beats(
        blend_loss, best, candidates, predictions, y_valid, metric
    ):
        return EnsembleResult([], None, evaluation)
    if len(members) < 2:
        return EnsembleResult(members, None, evaluation)
    if out_of_fold and context.clock.left() > STACK_MIN_SECONDS:
        stacked = fit_stacker(
            [predictions[i] for i, _, _ in kept],
            y_valid,
            task=context.task,
            metric=metric,
            n_classes=objective.n_classes,
            seed=context.seed,
        )
        if stacked is not None and stacked[1] < blend_loss:
            return EnsembleResult(members, stacked[1], evaluation, stacker=stacked[0])
    return EnsembleResult(members, blend_loss, evaluation)


def _beats(
    loss: float,
    best: Refit,
    candidates: Sequence[TrialRecord],
    predictions: Sequence[np.ndarray],
    y_valid: np.ndarray,
    metric: Metric,
) -> bool:
    """Whether ``loss`` beats ``best``'s pipeline on the same validation predictions (False
    when ``best`` has none among them: nothing to compare it with)."""
    for record, prediction in zip(candidates, predictions):
        if best.trial is not None and record.number == best.trial:
            return loss < metric.loss(y_valid, prediction)
    return False
