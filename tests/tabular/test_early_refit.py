"""After a search on a subsample (large data), a boosted pipeline's refit on all rows decides its
rounds again by early stopping on rows it holds out: more rows carry more rounds."""

import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression

from sweepml.tabular import estimators
from sweepml.tabular import evaluation as evaluation_module
from sweepml.tabular import refit as refit_module
from sweepml.tabular.context import FitClock
from sweepml.tabular.estimators import AutoClassifier
from sweepml.tabular.pipeline_space import pipeline_space
from sweepml.tabular.refit import fit_config_early, refit_best
from sweepml.trial import TrialRecord, TrialStatus


@pytest.fixture
def setup(fit_context):
    """(context, frame, target) of a 3,000-row table of ``task``."""

    def make(task: str = "classification"):
        if task == "classification":
            X, y = make_classification(3_000, 8, n_informative=6, random_state=0)
        else:
            X, y = make_regression(3_000, 8, noise=5.0, random_state=0)
        frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)])
        metric = "log_loss" if task == "classification" else "rmse"
        return fit_context(frame, task, metric), frame, y

    return make


def boosted(task: str, family: str = "lightgbm", rounds: int = 20) -> dict:
    space = pipeline_space(task, n_rows=3_000, n_features=8, models=[family])
    param = {"lightgbm": "lgbm.n_estimators", "xgboost": "xgb.n_estimators"}[family]
    return {**space.default(), param: rounds}


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_refit_trains_past_the_trials_rounds_up_to_its_cap(task, setup):
    context, frame, y = setup(task)
    config = boosted(task, rounds=20)  # what a trial on a sample kept
    pipeline, refit_config = fit_config_early(
        context, config, frame, y, seconds=30.0, rows_per_trial_row=3.0
    )
    rounds = refit_config["lgbm.n_estimators"]
    assert 20 < rounds <= 3_000  # the space's most (1,000) times the rows per trial row
    assert pipeline.steps[-1][1].n_estimators == 3_000  # it was allowed that many, and stopped
    assert {k: v for k, v in refit_config.items() if k != "lgbm.n_estimators"} == {
        k: v for k, v in config.items() if k != "lgbm.n_estimators"
    }
    assert pipeline.predict(frame).shape == (len(frame),)


def test_the_refit_out_of_time_keeps_the_rounds_it_has(setup):
    context, frame, y = setup()
    _, refit_config = fit_config_early(context, boosted("classification"), frame, y, seconds=0.0)
    assert refit_config["lgbm.n_estimators"] <= 2


def test_a_family_without_early_stopping_is_refit_as_configured(setup):
    context, frame, y = setup()
    config = pipeline_space("classification", n_rows=3_000, n_features=8, models=["linear"])
    pipeline, refit_config = fit_config_early(context, config.default(), frame, y, seconds=30.0)
    assert refit_config == config.default()
    assert pipeline.predict(frame).shape == (len(frame),)


def test_when_the_library_refuses_the_held_out_rows_the_config_is_refit_as_given(
    monkeypatch, setup
):
    context, frame, y = setup()

    def refuse(*args, **kwargs):
        raise ValueError("the evaluation set holds a class the training rows lack")

    monkeypatch.setattr(refit_module, "fit_pipeline_early", refuse)
    config = boosted("classification", rounds=20)
    pipeline, refit_config = fit_config_early(context, config, frame, y, seconds=30.0)
    assert refit_config == config
    assert pipeline.steps[-1][1].n_estimators == 20


def test_refit_best_stops_early_only_after_a_search_on_a_subsample(setup):
    context, frame, y = setup()
    config = boosted("classification", rounds=200)
    trial = TrialRecord(0, config, TrialStatus.OK, 0.2, {"fit_seconds": 0.1, "rounds": 20})
    plain = refit_best(context, [trial], frame, y, train_fraction=0.5)
    assert plain.config["lgbm.n_estimators"] == 20  # the rounds the trial's early stopping kept
    early = refit_best(context, [trial], frame, y, train_fraction=0.5, rounds_on_all_rows=True)
    assert early.config["lgbm.n_estimators"] > 20 and early.n_rows == len(frame)


def test_a_fit_on_a_subsample_leaves_the_refit_its_reserve(monkeypatch):
    """End to end on a table made "large" for the test: the search stops at the reserve's share
    of the budget, and the best boosted pipeline's rounds are decided on all rows."""
    monkeypatch.setattr(evaluation_module, "SUBSAMPLE_ABOVE", 2_000)
    monkeypatch.setattr(evaluation_module, "SUBSAMPLE_ROWS", 1_500)
    clocks: list[FitClock] = []
    starting = FitClock.starting

    def recorded(*args, **kwargs):
        clocks.append(starting(*args, **kwargs))
        return clocks[-1]

    early_refits = []
    fit_early = refit_module.fit_config_early

    def spied(*args, **kwargs):
        early_refits.append(kwargs["rows_per_trial_row"])
        return fit_early(*args, **kwargs)

    monkeypatch.setattr(estimators.FitClock, "starting", recorded)
    monkeypatch.setattr(refit_module, "fit_config_early", spied)
    X, y = make_classification(3_000, 8, n_informative=6, random_state=0)
    model = AutoClassifier(time_budget=12, n_jobs=1, random_state=0, metric="log_loss")
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)])
    model.fit(frame, y)
    clock = clocks[0]
    assert clock.deadline is not None and clock.search_deadline is not None
    reserved = (clock.deadline - clock.search_deadline) / 12
    assert reserved == pytest.approx(refit_module.EARLY_REFIT_RESERVE)
    assert model.evaluation_ == "holdout" and (model.predict(frame) == y).mean() > 0.8
    # the trials fit on two thirds of the 1,500 rows searched, the refit on all 3,000
    assert early_refits == [pytest.approx(3_000 / 1_005, rel=0.01)]
