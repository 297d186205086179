"""The shipped portfolio: present, valid, tried first by a fit, slow members last."""

import json
from pathlib import Path

import pytest
from sklearn.datasets import make_classification

from sweepml.tabular.components import MODELS
from sweepml.tabular.estimators import AutoClassifier
from sweepml.tabular.pipeline_space import pipeline_space
from sweepml.tabular.portfolio import _shipped, portfolio_configs


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_portfolio_ships_configs_for_each_task(task):
    entries = _shipped()[task]["configs"]
    assert len(entries) >= 3 and all("source" in e for e in entries)
    space = pipeline_space(task, n_rows=2_000, n_features=10)
    usable = portfolio_configs(task, space)
    installed = [e["config"] for e in entries if e["config"]["model"] in MODELS]
    assert usable == installed  # every config of an installed family fits a mid-size space


def test_the_portfolio_was_learned_on_the_corpus_split_in_the_repo():
    """A re-drawn meta-train/meta-test split means the portfolio must be learned again: its
    meta-test check would otherwise have seen tables it was learned on."""
    manifest = Path(__file__).resolve().parents[2] / "benchmarks" / "corpus" / "manifest.json"
    shipped = _shipped()
    assert shipped["corpus_split"] == json.loads(manifest.read_text())["split_id"]
    for task in ("classification", "regression"):
        assert shipped[task]["meta_train_tables"] >= 30
        assert shipped[task]["meta_test"].startswith("meta-test")


def test_a_large_table_skips_the_configs_its_space_leaves_out():
    space = pipeline_space("classification", n_rows=100_000, n_features=10)
    assert all(c["model"] not in ("svm", "knn") for c in portfolio_configs("classification", space))


def test_a_fit_tries_lightgbms_defaults_then_the_portfolio_first():
    X, y = make_classification(200, 5, random_state=0)
    model = AutoClassifier(max_trials=3, random_state=0, show_progress=False).fit(X, y)
    space = pipeline_space("classification", n_rows=200, n_features=5)
    lightgbm = pipeline_space("classification", n_rows=200, n_features=5, models=["lightgbm"])
    first = [lightgbm.default(), *portfolio_configs("classification", space)[:2]]
    tried = model.leaderboard_.set_index("trial").loc[[0, 1, 2], "config"].tolist()
    assert tried == first


def test_members_that_would_not_finish_in_the_trial_time_come_last(monkeypatch):
    from sweepml.tabular import portfolio

    space = pipeline_space("classification", n_rows=20_000, n_features=10)
    slow = pipeline_space("classification", n_rows=20_000, n_features=10, models=["catboost"])
    quick = pipeline_space("classification", n_rows=20_000, n_features=10, models=["lightgbm"])
    linear = pipeline_space("classification", n_rows=20_000, n_features=10, models=["linear"])
    shipped = {
        "classification": {
            "configs": [
                # 10 s on 2,000 rows: ~50 s on 20,000 with boosting's exponent 0.7
                {"config": slow.default(), "fit_seconds": 10.0, "fit_rows": 2_000},
                {"config": quick.default(), "fit_seconds": 0.5, "fit_rows": 2_000},
                {"config": linear.default()},  # no timing recorded: kept in place
            ]
        }
    }
    monkeypatch.setattr(portfolio, "_shipped", lambda: shipped)
    models = [c["model"] for c in portfolio_configs("classification", space)]
    timed = portfolio_configs("classification", space, fit_rows=20_000, trial_seconds=12.0)
    assert models == ["catboost", "lightgbm", "linear"]
    assert [c["model"] for c in timed] == ["lightgbm", "linear", "catboost"]
    assert portfolio.expected_seconds(shipped["classification"]["configs"][0], 20_000) > 12.0


def test_warm_start_is_the_lightgbm_floor_then_the_portfolio_then_every_default(monkeypatch):
    from sweepml.tabular import portfolio
    from sweepml.tabular.search_phase import warm_start_configs

    def default(name):
        return pipeline_space(
            "classification", n_rows=2_000, n_features=10, models=[name]
        ).default()

    space = pipeline_space("classification", n_rows=2_000, n_features=10)
    relearned = {**default("knn"), "knn.n_neighbors": 25}
    invalid = {"model": "linear", "linear.C": -1.0}  # not in the space: skipped
    member = {**default("extra_trees"), "et.max_features": 0.3}
    shipped = {
        "classification": {
            "configs": [{"config": member}],
            "defaults": {"knn": {"config": relearned}, "linear": {"config": invalid}},
        }
    }
    monkeypatch.setattr(portfolio, "_shipped", lambda: shipped)
    warm = warm_start_configs("classification", space, n_rows=2_000, n_features=10)
    assert warm[:2] == [default("lightgbm"), member]
    assert relearned in warm and default("knn") in warm and default("linear") in warm
    assert invalid not in warm
    assert len(warm) == 2 + len(space["model"].options)  # lightgbm's default listed once


def test_under_early_stopping_the_boosted_defaults_may_train_the_most_rounds(monkeypatch):
    from sweepml.tabular import portfolio
    from sweepml.tabular.search_phase import warm_start_configs

    monkeypatch.setattr(portfolio, "_shipped", lambda: {})
    space = pipeline_space("regression", n_rows=5_000, n_features=10)
    warm = warm_start_configs("regression", space, n_rows=5_000, n_features=10, stops_early=True)
    by_family = {config["model"]: config for config in warm}
    assert by_family["lightgbm"]["lgbm.n_estimators"] == space.all_params["lgbm.n_estimators"].high
    assert by_family["lightgbm"]["lgbm.learning_rate"] == 0.1  # the rest stays LightGBM's own
    plain = warm_start_configs("regression", space, n_rows=5_000, n_features=10)
    assert {c["model"]: c for c in plain}["lightgbm"]["lgbm.n_estimators"] == 200
