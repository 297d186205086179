"""AutoClassifier / AutoRegressor as a user calls them."""

import json
import re
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression

from sweepml.exceptions import InvalidParameterError
from sweepml.tabular.components import MODELS
from sweepml.tabular.estimators import AutoClassifier, AutoRegressor


def small_classification(n=160, seed=0):
    X, y = make_classification(n, 6, n_informative=4, n_classes=3, random_state=seed)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    frame["group"] = pd.Categorical(np.random.default_rng(seed).choice(["a", "b", "c"], n))
    return frame, np.array(["cat", "dog", "eel"])[y]


def test_classifier_fits_predicts_and_reports():
    X, y = small_classification()
    model = AutoClassifier(max_trials=4, random_state=0, show_progress=False).fit(X, y)
    assert list(model.classes_) == ["cat", "dog", "eel"]
    assert model.metric_.name == "log_loss" and model.evaluation_ == "5-fold CV"
    proba = model.predict_proba(X)
    assert proba.shape == (160, 3) and np.allclose(proba.sum(axis=1), 1)
    assert set(model.predict(X)) <= {"cat", "dog", "eel"}
    assert model.score(X, y) > 0.8
    board = model.leaderboard_
    assert list(board.columns[:4]) == ["rank", "trial", "pipeline", "validation log_loss"]
    assert {"dummy", "ensemble"} <= set(board["pipeline"]) and len(board) == 6
    assert board["validation log_loss"].is_monotonic_increasing
    # the ensemble is a weighted average of refit pipelines
    weights = [weight for weight, _, _ in model.ensemble_]
    assert len(weights) >= 2 and np.isclose(sum(weights), 1.0)
    members = [m.predict_proba(X) for _, m, _ in model.ensemble_]
    np.testing.assert_allclose(proba, sum(w * p for w, p in zip(weights, members)))
    # reordered columns are fine; extra ones are ignored with a warning; missing ones are an error
    assert (model.predict(X[X.columns[::-1]]) == model.predict(X)).all()
    with pytest.warns(UserWarning, match=r"ignoring columns not seen in fit: \['id'\]"):
        assert (model.predict(X.assign(id=1)) == model.predict(X)).all()
    with pytest.raises(InvalidParameterError, match=r"lacks columns seen in fit: \['f0'\]"):
        model.predict(X.rename(columns={"f0": "zz"}))


def test_same_seed_and_max_trials_give_identical_fits():
    X, y = small_classification(seed=1)
    fits = [
        AutoClassifier(max_trials=4, random_state=3, show_progress=False).fit(X, y)
        for _ in range(2)
    ]
    columns = ["rank", "trial", "pipeline", "validation log_loss", "config"]
    pd.testing.assert_frame_equal(fits[0].leaderboard_[columns], fits[1].leaderboard_[columns])
    np.testing.assert_array_equal(fits[0].predict_proba(X), fits[1].predict_proba(X))


def test_ensemble_size_zero_keeps_the_best_pipeline_alone():
    X, y = small_classification()
    model = AutoClassifier(max_trials=4, ensemble_size=0, random_state=0, show_progress=False)
    model.fit(X, y)
    assert len(model.ensemble_) == 1 and model.ensemble_[0][0] == 1.0
    assert "ensemble" not in set(model.leaderboard_["pipeline"])
    best = model.leaderboard_[model.leaderboard_["trial"] >= 0].iloc[0]
    expected = dict(best["config"])
    rounds_param = MODELS[expected["model"]].rounds_param
    if rounds_param and not pd.isna(best["rounds"]):  # boosting refits the rounds it kept
        expected[rounds_param] = int(best["rounds"])
    assert model.best_config_ == expected


def test_regressor_on_numpy_input():
    X, y = make_regression(120, 5, noise=5.0, random_state=0)
    model = AutoRegressor(max_trials=3, random_state=0, show_progress=False).fit(X, y)
    assert model.metric_.name == "rmse" and not hasattr(model, "feature_names_in_")
    assert model.score(X, y) > 0.8
    with pytest.raises(
        InvalidParameterError, match="X has 4 features, but AutoRegressor is expecting 5"
    ):
        model.predict(X[:, :4])


def test_the_time_budget_holds():
    X, y = small_classification(n=400)
    start = time.monotonic()
    AutoClassifier(time_budget=6, n_jobs=2, random_state=0, show_progress=False).fit(X, y)
    assert time.monotonic() - start < 6 * 1.05 + 5


def test_a_budget_too_small_returns_the_dummy_with_a_warning():
    X, y = small_classification()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = AutoClassifier(time_budget=0.01, random_state=0).fit(X, y)
    assert any("dummy baseline" in str(w.message) for w in caught)
    assert model.best_config_ == {"model": "dummy"}
    assert model.predict_proba(X).shape == (160, 3)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"metric": "auc"}, "'metric' parameter of AutoClassifier.fit must be one of"),
        ({"time_budget": 0}, "'time_budget' parameter of AutoClassifier.fit"),
        ({"n_jobs": 0}, "'n_jobs' parameter of AutoClassifier.fit must be an int >= 1 or -1"),
        ({"strategy": "magic"}, "'strategy' parameter of AutoClassifier.fit must be one of"),
        ({"ensemble_size": -1}, "'ensemble_size' parameter of AutoClassifier.fit must be an int"),
    ],
)
def test_bad_settings_are_clear_errors(params, message):
    X, y = small_classification()
    with pytest.raises(InvalidParameterError, match=message):
        AutoClassifier(**params).fit(X, y)


def test_single_class_target_is_refused():
    X, _ = small_classification()
    with pytest.raises(InvalidParameterError, match="single class"):
        AutoClassifier(max_trials=1).fit(X, np.zeros(len(X)))


@pytest.mark.parametrize("max_trials", [1, 3])  # LightGBM (the first default), then a forest
def test_exported_script_reproduces_the_predictions(tmp_path, max_trials, run_exported):
    X, y = small_classification(n=150, seed=2)
    X["when"] = pd.date_range("2022-01-01", periods=len(X), freq="D")
    X.loc[::7, "f1"] = np.nan
    y = pd.Series(y, name="animal")
    model = AutoClassifier(max_trials=max_trials, random_state=0, show_progress=False).fit(X, y)
    script = model.export(tmp_path / "pipeline.py")
    X.assign(animal=y).to_csv(tmp_path / "train.csv", index=False)
    exported = run_exported(script)
    assert list(exported.columns) == ["cat", "dog", "eel"]
    np.testing.assert_allclose(exported.to_numpy(), model.predict_proba(X), atol=1e-9)
    assert "sweepml" not in script.read_text().split('"""', 2)[2]  # no import of sweepml


def test_large_data_is_searched_with_successive_halving_on_rows(monkeypatch):
    from sweepml.tabular import evaluation

    monkeypatch.setattr(evaluation, "SUBSAMPLE_ABOVE", 1_500)  # "large" = above 1,500 rows here
    monkeypatch.setattr(evaluation, "SUBSAMPLE_ROWS", 1_200)
    X, y = make_classification(2_000, 6, n_informative=4, random_state=1)
    model = AutoClassifier(max_trials=14, random_state=0, show_progress=False).fit(X, y)
    board = model.leaderboard_
    shares = board.loc[board["trial"] >= 0, "data share"]
    assert sorted(set(shares.round(4))) == [0.1111, 0.3333, 1.0]
    assert (shares.round(4) == 0.1111).sum() > (shares.round(4) == 0.3333).sum() > 1
    # full-data trials lead the leaderboard; the ensemble is built from them alone
    assert board.iloc[0]["data share"] == 1.0

    def without_rounds(config):  # a member refits the rounds its trial's early stopping kept
        rounds_param = MODELS[config["model"]].rounds_param
        return json.dumps({k: v for k, v in config.items() if k != rounds_param}, sort_keys=True)

    chosen = {without_rounds(c) for _, _, c in model.ensemble_}
    full = board[(board["trial"] >= 0) & (board["data share"] == 1.0)]["config"]
    assert chosen <= {without_rounds(c) for c in full}


def test_a_fit_with_storage_resumes_and_ensembles_the_earlier_trials(tmp_path):
    X, y = small_classification()
    db = tmp_path / "fit.db"
    first = AutoClassifier(max_trials=3, storage=str(db), random_state=0, show_progress=False)
    first.fit(X, y)
    second = AutoClassifier(max_trials=5, storage=str(db), random_state=0, show_progress=False)
    second.fit(X, y)
    trials = second.leaderboard_[second.leaderboard_["trial"] >= 0]
    assert sorted(trials["trial"]) == [0, 1, 2, 3, 4]  # three kept, two new

    def by_trial(board):
        rows = board[board["trial"] >= 0]
        return dict(zip(rows["trial"], rows["config"]))

    earlier = by_trial(first.leaderboard_)
    assert {n: by_trial(second.leaderboard_)[n] for n in earlier} == earlier
    # every trial's validation predictions are kept beside the storage for the ensemble
    assert len(list((tmp_path / "fit.db.predictions").glob("*/*.npy"))) == 5


def test_metric_score_reads_as_the_metric_and_refuses_unknown_labels():
    X, y = small_classification()
    model = AutoClassifier(max_trials=2, random_state=0, show_progress=False).fit(X, y)
    assert 0.0 < model.metric_score(X, y) < 1.0  # a log loss
    with pytest.raises(InvalidParameterError, match=r"labels not seen in fit: \['fox'\]"):
        model.metric_score(X.head(3), ["cat", "fox", "dog"])


def test_refit_estimates_follow_each_familys_fit_scaling():
    from sweepml.tabular.context import REFIT_SAFETY
    from sweepml.tabular.refit import refit_seconds
    from sweepml.trial import TrialRecord, TrialStatus

    def trial(model, budget=None):
        return TrialRecord(0, {"model": model}, TrialStatus.OK, 0.1, {"fit_seconds": 1.0},
                           budget=budget)  # fmt: skip

    # a trial fit on 1/10 of the rows: forests grow faster than linearly, boosting slower
    forest = refit_seconds(trial("random_forest"), 0.1) / REFIT_SAFETY
    boosting = refit_seconds(trial("lightgbm"), 0.1) / REFIT_SAFETY
    assert np.isclose(forest, 10**1.3) and np.isclose(boosting, 10**0.7)
    # successive halving's budget shrinks the share the trial saw
    assert np.isclose(refit_seconds(trial("mlp", budget=0.5), 0.2) / REFIT_SAFETY, 10.0)


def test_without_time_for_a_full_refit_the_best_pipeline_is_refit_on_fewer_rows():
    from sweepml.tabular.context import FitClock, FitContext
    from sweepml.tabular.data import infer_column_types
    from sweepml.tabular.metrics import get_metric
    from sweepml.tabular.pipeline_space import pipeline_space
    from sweepml.tabular.refit import refit_best
    from sweepml.trial import TrialRecord, TrialStatus

    X, y = make_classification(2_000, 5, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)])
    context = FitContext(
        task="classification",
        metric=get_metric("log_loss", "classification", owner="test"),
        columns=infer_column_types(frame),
        seed=0,
        n_jobs=1,
        clock=FitClock.starting(time.monotonic(), 5.0),
        time_budget=5.0,
    )
    config = pipeline_space(
        "classification", n_rows=2000, n_features=5, models=["linear"]
    ).default()
    # scored on 10% of the rows in 1 s: all rows would take ~12 s, only ~4 s are left
    slow = TrialRecord(0, config, TrialStatus.OK, 0.1, {"fit_seconds": 1.0})
    with pytest.warns(UserWarning, match=r"refit on \d+ of 2000 rows") as caught:
        refit = refit_best(context, [slow], frame, y, train_fraction=0.1)
    n_rows = int(re.search(r"refit on (\d+) of", str(caught[0].message))[1])
    assert 200 <= n_rows < 2000  # at least as many rows as it was scored with
    assert refit.n_rows == n_rows and refit.trial == 0
    assert refit.config == config and refit.pipeline.predict(frame).shape == (2000,)


def test_a_bad_prediction_side_file_is_skipped_with_a_warning_not_unpickled(tmp_path):
    X, y = small_classification()
    db = tmp_path / "fit.db"
    AutoClassifier(max_trials=3, storage=str(db), random_state=0, show_progress=False).fit(X, y)
    files = sorted((tmp_path / "fit.db.predictions").glob("*/*.npy"))
    np.save(files[0], np.array([{"planted": 1}] * 5, dtype=object), allow_pickle=True)
    files[1].write_bytes(b"not numpy at all")
    resumed = AutoClassifier(max_trials=4, storage=str(db), random_state=0, show_progress=False)
    with pytest.warns(UserWarning, match=r"Ignoring .*: it is not a prediction file sweepml wrote"):
        resumed.fit(X, y)
    assert resumed.predict(X).shape == (len(X),)


def test_a_class_with_a_single_row_does_not_stop_a_holdout_fit():
    # 1,200 rows: a holdout search, which stratifies its split while every class allows it
    X, y = make_classification(1_200, 5, n_informative=3, random_state=0)
    y[0] = 2  # a third class with one row
    model = AutoClassifier(max_trials=3, random_state=0, show_progress=False).fit(X, y)
    assert model.evaluation_ == "holdout"
    assert model.predict_proba(X[:5]).shape == (5, 3)
