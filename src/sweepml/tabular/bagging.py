"""k-fold bagging of the strongest pipelines for ensemble selection.

A search that scores pipelines on a holdout leaves each trial with predictions for a third of the
rows, so ensemble weights chosen on them are noisy. After the search, the pipelines worth keeping
(those the holdout ensemble chose, then the next best) are refit with ``BAG_FOLDS``-fold
cross-validation on the search's rows, in rank order while their estimated cost fits the time set
aside; ensemble selection then runs again on their out-of-fold predictions, which cover every row.
Under cross-validation the trials' predictions are out-of-fold already and nothing is bagged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sweepml.tabular.evaluation import fit_seconds_on
from sweepml.trial import TrialRecord

__all__ = ["BAG_FOLDS", "BAG_RESERVE", "MAX_BAGGED", "bag_cost", "choose_for_bagging"]

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
    the rest in rank order, each only while the estimated cost, spread over ``n_jobs`` workers
    (one pipeline per worker), fits in ``seconds`` (None: no limit)."""
    members = sorted((i for i in range(len(ranked)) if weights[i] > 0), key=lambda i: -weights[i])
    order = members + [i for i in range(len(ranked)) if weights[i] <= 0]
    chosen: list[TrialRecord] = []
    work = 0.0  # worker-seconds
    for i in order:
        if len(chosen) == MAX_BAGGED:
            break
        cost = bag_cost(ranked[i], holdout_train_share)
        if seconds is None or (cost <= seconds and (work + cost) / n_jobs <= seconds):
            chosen.append(ranked[i])
            work += cost
    return chosen
