"""Boosting trials stop early on their validation rows and within their time; the refit trains
the rounds they kept."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression

from sweepml.tabular.components import MODELS
from sweepml.tabular.components.early_stopping import PATIENCE
from sweepml.tabular.data import infer_column_types
from sweepml.tabular.evaluation import PipelineObjective, plan_evaluation
from sweepml.tabular.metrics import get_metric
from sweepml.tabular.pipeline_space import pipeline_space
from sweepml.tabular.refit import refit_config
from sweepml.trial import TrialRecord, TrialStatus

BOOSTING = [name for name in ("lightgbm", "xgboost", "catboost") if name in MODELS]


def objective_for(task: str, n_rows: int = 1_500, seed: int = 0):
    if task == "classification":
        X, y = make_classification(n_rows, 8, n_informative=3, flip_y=0.2, random_state=seed)
    else:
        X, y = make_regression(n_rows, 8, n_informative=3, noise=30.0, random_state=seed)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    n_classes = 2 if task == "classification" else 0
    metric = get_metric("log_loss" if n_classes else "rmse", task, owner="test")
    return PipelineObjective(
        frame, y, columns=infer_column_types(frame), task=task, metric=metric,
        plan=plan_evaluation(y, task, seed), n_classes=n_classes, seed=seed,
    )  # fmt: skip


def config_for(family: str, task: str, **changes):
    config = pipeline_space(task, n_rows=1_500, n_features=8, models=[family]).default()
    config.update(changes)
    return config


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("family", BOOSTING)
def test_a_boosting_trial_stops_when_validation_stops_improving(family, task):
    param = MODELS[family].rounds_param
    rate = {"lightgbm": "lgbm.learning_rate", "xgboost": "xgb.learning_rate"}.get(
        family, "cat.learning_rate"
    )
    # a high learning rate on noisy data overfits after a few dozen rounds
    config = config_for(family, task, **{param: 1000, rate: 0.3})
    result = objective_for(task)(config)
    assert 1 <= result["rounds"] < 1000 - PATIENCE
    record = TrialRecord(0, config, TrialStatus.OK, result["value"], result)
    assert refit_config(record)[param] == result["rounds"]


def test_a_boosting_trial_out_of_time_keeps_the_rounds_it_has():
    from sweepml.tabular.components.early_stopping import fit_lightgbm

    X, y = make_classification(2_000, 8, random_state=0)
    model = MODELS["lightgbm"].build(config_for("lightgbm", "classification"), "classification", 0)
    rounds = fit_lightgbm(model, X[:1500], y[:1500], X[1500:], y[1500:], seconds=0.0)
    assert rounds == 1
    assert model.predict_proba(X[:5]).shape == (5, 2)


def test_when_the_library_refuses_the_evaluation_set_the_trial_fits_as_configured(monkeypatch):
    import dataclasses

    def refuse(*args, **kwargs):
        raise ValueError("y contains previously unseen labels")

    family = dataclasses.replace(MODELS["lightgbm"], fit_early=refuse)
    monkeypatch.setitem(MODELS, "lightgbm", family)
    result = objective_for("classification")(config_for("lightgbm", "classification"))
    assert "rounds" not in result and np.isfinite(result["value"])


def test_other_families_refit_as_configured():
    config = config_for("random_forest", "classification")
    record = TrialRecord(0, config, TrialStatus.OK, 0.1, {"fit_seconds": 1.0})
    assert refit_config(record) == config


def test_a_cross_validated_search_trains_the_rounds_it_is_given():
    objective = objective_for("classification", n_rows=400)
    assert len(objective.plan.folds) > 1  # small table: cross-validation
    result = objective(config_for("lightgbm", "classification", **{"lgbm.learning_rate": 0.3}))
    assert "rounds" not in result
