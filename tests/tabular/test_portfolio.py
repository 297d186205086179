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


def test_a_fit_tries_the_portfolio_first():
    X, y = make_classification(200, 5, random_state=0)
    model = AutoClassifier(max_trials=3, random_state=0, show_progress=False).fit(X, y)
    space = pipeline_space("classification", n_rows=200, n_features=5)
    first = portfolio_configs("classification", space)[:3]
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


def test_a_relearned_family_default_replaces_the_hand_set_one(monkeypatch):
    from sweepml.tabular import portfolio
    from sweepml.tabular.search_phase import warm_start_configs

    space = pipeline_space("classification", n_rows=2_000, n_features=10)
    knn = pipeline_space("classification", n_rows=2_000, n_features=10, models=["knn"])
    relearned = {**knn.default(), "knn.n_neighbors": 25}
    invalid = {"model": "linear", "linear.C": -1.0}  # not in the space: the hand-set one stays
    shipped = {
        "classification": {
            "configs": [],
            "defaults": {"knn": {"config": relearned}, "linear": {"config": invalid}},
        }
    }
    monkeypatch.setattr(portfolio, "_shipped", lambda: shipped)
    warm = warm_start_configs("classification", space, n_rows=2_000, n_features=10)
    assert relearned in warm and knn.default() not in warm
    linear = pipeline_space("classification", n_rows=2_000, n_features=10, models=["linear"])
    assert linear.default() in warm
    assert len(warm) == len(space["model"].options)
