"""The final model is never worse than the best trial when time runs short: the best pipeline is
refit first (on fewer rows if need be), and an ensemble cut short by time must beat it."""

import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification

from sweepml.tabular import ensemble as ensemble_module
from sweepml.tabular.context import FitClock, FitContext
from sweepml.tabular.data import infer_column_types
from sweepml.tabular.ensemble import build_ensemble, ensemble_selection
from sweepml.tabular.metrics import get_metric
from sweepml.tabular.pipeline_space import pipeline_space
from sweepml.tabular.refit import Refit, refit_best, refit_members
from sweepml.trial import TrialRecord, TrialStatus

LOG_LOSS = get_metric("log_loss", "classification", owner="test")


def context_with(frame: pd.DataFrame, seconds_left: float) -> FitContext:
    return FitContext(
        task="classification",
        metric=LOG_LOSS,
        columns=infer_column_types(frame),
        seed=0,
        n_jobs=1,
        clock=FitClock.starting(time.monotonic(), seconds_left),
        time_budget=seconds_left,
    )


def linear_config() -> dict:
    return pipeline_space("classification", n_rows=2000, n_features=5, models=["linear"]).default()


def test_the_best_pipeline_on_fewer_rows_comes_before_a_worse_one_on_all_rows():
    X, y = make_classification(2_000, 5, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)])
    config = linear_config()
    # the best trial: scored on half the rows in 2 s, all rows would take ~5 s, ~4 s are left
    best = TrialRecord(0, config, TrialStatus.OK, 0.2, {"fit_seconds": 2.0})
    # a worse, cheap one whose refit on all rows fits easily (what a busy machine used to ship)
    cheap = TrialRecord(1, {**config, "linear.C": 0.01}, TrialStatus.OK, 0.6, {"fit_seconds": 0.01})
    with pytest.warns(UserWarning, match=r"refit on \d+ of 2000 rows"):
        refit = refit_best(context_with(frame, 4.0), [cheap, best], frame, y, train_fraction=0.5)
    assert refit.trial == 0 and 1000 <= refit.n_rows < 2000
    # with time for all rows, the best is refit on all of them, without a warning
    refit = refit_best(context_with(frame, 60.0), [cheap, best], frame, y, train_fraction=0.5)
    assert refit.trial == 0 and refit.n_rows == 2000


def test_the_best_pipeline_refit_first_is_reused_as_a_member_not_fit_again():
    X, y = make_classification(300, 5, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)])
    trials = [TrialRecord(i, linear_config(), TrialStatus.OK, 0.1 * i, {"fit_seconds": 0.01})
              for i in range(2)]  # fmt: skip
    already = Refit("the pipeline refit after the search", trials[0].config, 0, len(frame))
    kept = refit_members(context_with(frame, 60.0), trials, np.array([0.5, 0.5]), frame, y,
                         0.67, already)  # fmt: skip
    assert kept[0][1] == "the pipeline refit after the search"
    assert hasattr(kept[1][1], "predict")  # the other member is refit


def validation_setup(tmp_path: Path):
    """Three candidates whose averaged predictions beat each alone; trial 0 is the best."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    truth = np.column_stack([1 - y, y]).astype(float)

    def noisy(scale):
        p = np.clip(0.5 + (truth[:, 1] - 0.5) * 0.6 + rng.normal(0, scale, len(y)), 0.02, 0.98)
        return np.column_stack([1 - p, p])

    predictions = [noisy(0.25), noisy(0.3), noisy(0.35)]
    trials = [TrialRecord(i, {"model": "linear", "i": i}, TrialStatus.OK,
                          LOG_LOSS.loss(y, predictions[i]), {"fit_seconds": 0.01})
              for i in range(3)]  # fmt: skip
    for trial, prediction in zip(trials, predictions):
        np.save(tmp_path / f"{trial.number}.npy", prediction)
    weights = ensemble_selection(predictions, y, LOG_LOSS)
    assert np.count_nonzero(weights) >= 2 and weights[0] > 0  # the premise of the tests below
    objective = SimpleNamespace(
        prediction_dir=tmp_path,
        y=y,
        validation_rows=np.arange(len(y)),
        plan=SimpleNamespace(kind="5-fold cross-validation", folds=[0] * 5, train_fraction=0.8),
        n_classes=2,
    )
    frame = pd.DataFrame({"f0": np.zeros(len(y))})
    return trials, objective, frame, y


def test_an_ensemble_cut_short_by_time_gives_way_to_the_best_pipeline(tmp_path, monkeypatch):
    trials, objective, frame, y = validation_setup(tmp_path)
    # the best pipeline was refit on fewer rows, and time ran out before the members' refit
    # could give more than the weakest member
    best = Refit("best", {"model": "linear", "i": 0}, 0, len(frame) // 2)

    def only_the_weakest(context, candidates, weights, *args):
        weakest = max(np.flatnonzero(weights), key=lambda i: candidates[i].value)
        return [(int(weakest), "weak", candidates[weakest].config)]

    monkeypatch.setattr(ensemble_module, "refit_members", only_the_weakest)
    result = build_ensemble(context_with(frame, 60.0), trials, objective, frame, y, best)
    assert result.members == []  # the caller keeps the best pipeline alone


def test_an_ensemble_refit_in_full_is_kept(tmp_path, monkeypatch):
    trials, objective, frame, y = validation_setup(tmp_path)
    best = Refit("best", {"model": "linear", "i": 0}, 0, len(frame))

    def every_member(context, candidates, weights, *args):
        return [(int(i), f"member {i}", candidates[i].config) for i in np.flatnonzero(weights)]

    monkeypatch.setattr(ensemble_module, "refit_members", every_member)
    result = build_ensemble(context_with(frame, 60.0), trials, objective, frame, y, best)
    assert len(result.members) >= 2 and result.loss < trials[0].value
