"""Boosting with early stopping on the validation rows, inside the time a trial has left.

A boosted model's number of rounds is the parameter that matters most and costs most. During a
holdout search (1,000 rows and up) each trial of LightGBM, XGBoost or CatBoost trains with the
holdout rows as the evaluation set and stops when the validation loss has not improved for
``PATIENCE`` rounds (the config's round count is the most it may train), as AutoGluon does; it
also stops when the time the trial may still spend on this fold runs out, and keeps the rounds it
has, so a slow config ends with a usable model instead of being killed. The trial records the
rounds it used; the refit on all rows trains that many (``refit.refit_config``). Under
cross-validation (fewer rows) the validation folds are too small to stop on: measured on 16
meta-train tables, stopping early lost on the five cross-validated ones it changed and won on
the four holdout ones it changed (``benchmarks/RESULTS.md``).

Each ``fit_*`` function returns the number of rounds the fitted model uses.
"""

from __future__ import annotations

import inspect
import time
from typing import Any

import numpy as np

__all__ = ["PATIENCE", "fit_catboost", "fit_lightgbm", "fit_xgboost"]

PATIENCE = 50  # rounds without improvement on the validation rows before training stops


def fit_lightgbm(
    model: Any, X: Any, y: np.ndarray, X_valid: Any, y_valid: np.ndarray, *, seconds: float
) -> int:
    import lightgbm

    end = time.monotonic() + seconds

    def time_limit(env: Any) -> None:
        if time.monotonic() > end:
            raise lightgbm.callback.EarlyStopException(env.iteration, env.evaluation_result_list)

    time_limit.order = 40  # type: ignore[attr-defined]  # after the early-stopping check
    callbacks = [lightgbm.early_stopping(PATIENCE, verbose=False), time_limit]
    if "eval_X" in inspect.signature(model.fit).parameters:  # LightGBM >= 4.7
        model.fit(X, y, eval_X=(X_valid,), eval_y=(y_valid,), callbacks=callbacks)
    else:
        model.fit(X, y, eval_set=[(X_valid, y_valid)], callbacks=callbacks)
    best = getattr(model, "best_iteration_", 0) or model.n_estimators
    return int(best)


def fit_xgboost(
    model: Any, X: Any, y: np.ndarray, X_valid: Any, y_valid: np.ndarray, *, seconds: float
) -> int:
    import xgboost

    end = time.monotonic() + seconds

    class TimeLimit(xgboost.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            return time.monotonic() > end

    model.set_params(early_stopping_rounds=PATIENCE, callbacks=[TimeLimit()])
    model.fit(X, y, eval_set=[(X_valid, y_valid)], verbose=False)
    model.set_params(callbacks=None)  # the fitted model is pickled with its trial's result
    best = getattr(model, "best_iteration", None)
    return int(best) + 1 if best is not None else int(model.n_estimators)


def fit_catboost(
    model: Any, X: Any, y: np.ndarray, X_valid: Any, y_valid: np.ndarray, *, seconds: float
) -> int:
    end = time.monotonic() + seconds

    class TimeLimit:
        def after_iteration(self, info: Any) -> bool:
            return time.monotonic() <= end  # False stops training

    model.fit(
        X,
        y,
        eval_set=(X_valid, y_valid),
        early_stopping_rounds=PATIENCE,
        use_best_model=True,
        callbacks=[TimeLimit()],
    )
    return int(model.get_best_iteration()) + 1
