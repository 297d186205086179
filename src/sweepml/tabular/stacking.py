"""The optional stack layer: a linear model over the ensemble members' out-of-fold predictions.

Ensemble selection averages the members with fixed weights; a stacker can also weigh them per
class and correct their calibration. It is fit only on out-of-fold predictions (every row scored
by models that never saw it), its own loss is measured by cross-validation on them, and a fit
keeps it only when that loss beats the weighted average's (measured in-sample, so the comparison
leans towards the simpler average). Classification: multinomial logistic regression on the
members' log-probabilities; regression: non-negative least squares with an intercept
(Breiman's stacked regressions).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict

from sweepml.tabular.components import CLASSIFICATION
from sweepml.tabular.metrics import Metric

__all__ = ["STACK_FOLDS", "fit_stacker", "stack_features"]

STACK_FOLDS = 5


PROBABILITY_FLOOR = 1e-6


def stack_features(outputs: Sequence[np.ndarray], task: str) -> np.ndarray:
    """The stacker's input: the members' outputs side by side; log-probabilities for
    classification (a logistic regression on them is a learned geometric blend, which measured
    better than one on raw probabilities), values for regression."""
    features = np.column_stack([np.asarray(o, dtype=float).reshape(len(o), -1) for o in outputs])
    if task == CLASSIFICATION:
        return np.log(np.clip(features, PROBABILITY_FLOOR, 1.0))
    return features


def fit_stacker(
    outputs: Sequence[np.ndarray],
    y: np.ndarray,
    *,
    task: str,
    metric: Metric,
    n_classes: int,
    seed: int,
) -> tuple[Any, float] | None:
    """A stacker fit on the members' out-of-fold ``outputs`` with its cross-validated loss, or
    None when the data cannot support one (a class with fewer rows than folds)."""
    features = stack_features(outputs, task)
    model: Any
    if task == CLASSIFICATION:
        counts = np.bincount(y.astype(int), minlength=n_classes)
        if counts.min() < STACK_FOLDS:
            return None
        model = LogisticRegression(C=1.0, max_iter=1000)
        splitter: Any = StratifiedKFold(STACK_FOLDS, shuffle=True, random_state=seed)
        predicted = cross_val_predict(model, features, y, cv=splitter, method="predict_proba")
    else:
        model = LinearRegression(positive=True)
        splitter = KFold(STACK_FOLDS, shuffle=True, random_state=seed)
        predicted = cross_val_predict(model, features, y, cv=splitter)
    loss = metric.loss(y, predicted)
    return model.fit(features, y), loss
