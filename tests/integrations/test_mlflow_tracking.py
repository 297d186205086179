"""MLflowCallback: a parent run per study, a child run per finished trial, on a local store."""

from __future__ import annotations

import logging

import pytest

import sweepml
from sweepml import Float, TrialStatus

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402

from sweepml.integrations import MLflowCallback  # noqa: E402

SPACE = {"x": Float(-2.0, 2.0), "lr": Float(1e-4, 1e-1, log=True)}


def objective(config, trial):
    if config["x"] > 1.5:
        raise ValueError("x is too large for this model")
    for epoch in range(3):
        trial.report(epoch, (config["x"] - 0.5) ** 2 + 1.0 / (epoch + 1))
    return {"value": (config["x"] - 0.5) ** 2, "accuracy": 1.0 - abs(config["x"]) / 4}


@pytest.fixture
def store(tmp_path):
    """A local tracking store: MLflow's SQLite backend (SQLAlchemy comes with Optuna)."""
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def runs(store: str, experiment: str) -> tuple:
    client = MlflowClient(store)
    found = client.get_experiment_by_name(experiment)
    every = client.search_runs([found.experiment_id], max_results=1000)
    parents = [r for r in every if r.data.tags.get("sweepml.role") == "study"]
    children = [r for r in every if r.data.tags.get("sweepml.role") == "trial"]
    return client, parents, children


def test_each_trial_is_a_child_run_of_the_study_run(store, tmp_path):
    callback = MLflowCallback(store)
    study = sweepml.minimize(objective, SPACE, n_trials=12, seed=0, study_name="tune-me",
                             storage=tmp_path / "s.db", callbacks=[callback])  # fmt: skip
    client, parents, children = runs(store, "tune-me")
    assert len(parents) == 1 and len(children) == 12
    parent = parents[0]
    assert parent.info.status == "FINISHED" and parent.data.tags["sweepml.direction"] == "minimize"
    by_number = {int(r.data.tags["sweepml.trial"]): r for r in children}
    for trial in study.trials:
        run = by_number[trial.number]
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.tags["sweepml.status"] == trial.status.value
        assert float(run.data.params["x"]) == pytest.approx(trial.config["x"])
        if trial.status is TrialStatus.OK:
            assert run.info.status == "FINISHED"
            assert run.data.metrics["value"] == pytest.approx(trial.value)
            assert run.data.metrics["accuracy"] == pytest.approx(trial.metrics["accuracy"])
            steps = client.get_metric_history(run.info.run_id, "intermediate_value")
            assert [m.step for m in steps] == [0, 1, 2]
        else:
            assert (
                run.info.status == "FAILED" and "x is too large" in run.data.tags["sweepml.error"]
            )
        assert run.data.metrics["duration_s"] >= 0
    assert any(t.status is TrialStatus.FAILED for t in study.trials)  # the seed hits x > 1.5
    best = client.get_metric_history(parent.info.run_id, "best_value")
    assert best[-1].value == pytest.approx(study.best.value)
    assert best[-1].step == study.best.number == int(parent.data.tags["sweepml.best_trial"])
    assert [m.value for m in best] == sorted((m.value for m in best), reverse=True)


def test_a_resumed_study_logs_under_the_same_parent_run(store, tmp_path):
    db = tmp_path / "s.db"
    sweepml.minimize(objective, SPACE, n_trials=4, seed=1, study_name="again", storage=db,
                     callbacks=[MLflowCallback(store, experiment="team")])  # fmt: skip
    sweepml.minimize(objective, SPACE, n_trials=7, seed=1, study_name="again", storage=db,
                     callbacks=[MLflowCallback(store, experiment="team")])  # fmt: skip
    _, parents, children = runs(store, "team")
    assert len(parents) == 1 and len(children) == 7
    assert sorted(int(r.data.tags["sweepml.trial"]) for r in children) == list(range(7))


def test_an_unreachable_tracking_server_is_one_warning_and_the_search_goes_on(monkeypatch, caplog):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    callback = MLflowCallback("http://127.0.0.1:9")  # nothing listens on the discard port
    with caplog.at_level(logging.WARNING, logger="sweepml.integrations"):
        study = sweepml.minimize(objective, SPACE, n_trials=3, seed=0, callbacks=[callback])
    assert len(study.trials) == 3
    warnings = [r for r in caplog.records if "MLflowCallback could not log" in r.getMessage()]
    assert len(warnings) == 1
