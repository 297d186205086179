"""Metrics by name: what they need (labels or probabilities) and which way is better.

Defaults follow the benchmark protocol: ROC AUC for binary classification, log loss for
multiclass, RMSE for regression. scikit-learn's scorer names for the same metrics are accepted
(``neg_log_loss``, ``neg_root_mean_squared_error``, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm

from sweepml.exceptions import InvalidParameterError

__all__ = ["Metric", "default_metric", "get_metric"]


@dataclass(frozen=True)
class Metric:
    """A named metric. ``compute(y_true, prediction)`` where prediction is class probabilities
    (n x k) for ``needs_proba`` metrics, labels for other classification metrics, and numbers for
    regression."""

    name: str
    task: str
    needs_proba: bool
    greater_is_better: bool
    compute: Callable[[np.ndarray, np.ndarray], float]

    def loss(self, y_true: np.ndarray, prediction: np.ndarray) -> float:
        """The metric turned into a quantity to minimize. Class probabilities are accepted by
        label metrics too (the most probable class is the label)."""
        if self.task != "regression" and not self.needs_proba and np.ndim(prediction) == 2:
            prediction = np.argmax(prediction, axis=1)
        value = self.compute(y_true, prediction)
        return -value if self.greater_is_better else value


def _roc_auc(y: np.ndarray, proba: np.ndarray) -> float:
    if proba.shape[1] == 2:
        return float(skm.roc_auc_score(y, proba[:, 1]))
    return float(skm.roc_auc_score(y, proba, multi_class="ovr", labels=np.arange(proba.shape[1])))


def _log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    return float(skm.log_loss(y, np.clip(proba, 1e-15, 1.0), labels=np.arange(proba.shape[1])))


def _rmse(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.sqrt(skm.mean_squared_error(y, pred)))


_CLASSIFICATION = {
    "roc_auc": (True, True, _roc_auc),
    "log_loss": (True, False, _log_loss),
    "accuracy": (False, True, lambda y, p: float(skm.accuracy_score(y, p))),
    "balanced_accuracy": (False, True, lambda y, p: float(skm.balanced_accuracy_score(y, p))),
    "f1_macro": (False, True, lambda y, p: float(skm.f1_score(y, p, average="macro"))),
}
_REGRESSION = {
    "rmse": (False, False, _rmse),
    "mae": (False, False, lambda y, p: float(skm.mean_absolute_error(y, p))),
    "mse": (False, False, lambda y, p: float(skm.mean_squared_error(y, p))),
    "r2": (False, True, lambda y, p: float(skm.r2_score(y, p))),
}
_SKLEARN_NAMES = {
    "neg_log_loss": "log_loss",
    "roc_auc_ovr": "roc_auc",
    "neg_root_mean_squared_error": "rmse",
    "neg_mean_absolute_error": "mae",
    "neg_mean_squared_error": "mse",
}


def default_metric(task: str, n_classes: int) -> str:
    if task == "regression":
        return "rmse"
    return "roc_auc" if n_classes == 2 else "log_loss"


def get_metric(name: str, task: str, *, owner: str) -> Metric:
    """The metric called ``name`` for ``task``; the error lists the allowed names."""
    table = _REGRESSION if task == "regression" else _CLASSIFICATION
    key = _SKLEARN_NAMES.get(name, name) if isinstance(name, str) else name
    if key not in table:
        raise InvalidParameterError(
            f"The 'metric' parameter of {owner} must be one of {sorted(table)} for {task} (or "
            f"the scikit-learn names {sorted(k for k, v in _SKLEARN_NAMES.items() if v in table)}"
            f"); got {name!r}."
        )
    needs_proba, greater, compute = table[key]
    return Metric(key, task, needs_proba, greater, compute)
