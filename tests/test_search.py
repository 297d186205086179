import json
import re
import signal
import subprocess
import sys
import time

import pytest

import sweepml
from sweepml import Choice, Float, Int, Space, TrialStatus
from sweepml.exceptions import InvalidParameterError, StorageError, SweepmlError
from sweepml.testing.objectives import branin, branin_space


def quadratic(config):
    return (config["x"] - 1.0) ** 2


SPACE = {"x": Float(-5, 5)}


@pytest.mark.parametrize("strategy", ["random", "grid", "tpe", "cmaes", "evolution"])
def test_every_strategy_runs_through_minimize(strategy):
    study = sweepml.minimize(quadratic, SPACE, strategy=strategy, n_trials=12, seed=0)
    assert len(study.trials) == 12 - (7 if strategy == "grid" else 0)  # 5-point grid ends early
    assert all(t.status is TrialStatus.OK for t in study.trials)
    assert study.best.value == min(t.value for t in study.trials)


def test_same_seed_same_trials_serial_and_local():
    runs = [
        [
            t.config
            for t in sweepml.minimize(
                branin, branin_space(), n_trials=25, seed=3, executor=executor
            ).trials
        ]
        for executor in ("serial", "serial", "local")
    ]
    assert runs[0] == runs[1] == runs[2]


def test_maximize_and_dict_results_with_metrics():
    def objective(config):
        return {"value": -((config["x"] - 2) ** 2), "train": 1.0, "note": "ok"}

    study = sweepml.maximize(objective, SPACE, n_trials=20, seed=0)
    assert study.direction == "maximize"
    assert study.best.value == max(t.value for t in study.trials)
    assert study.best.metrics == {"train": 1.0, "note": "ok"}
    frame = study.to_dataframe()
    assert {"number", "status", "value", "duration", "params.x", "metrics.train"} <= set(frame)
    assert len(frame) == 20


@pytest.mark.parametrize(
    "returned, reason",
    [
        (float("nan"), "returned nan"),
        (float("inf"), "returned inf"),
        (None, "returned None"),
        ("0.5", "returned '0.5' (str)"),
        (True, "returned True (bool)"),
        ({"loss": 1.0}, "without the 'value' key"),
        ([1.0], "not a number"),
    ],
)
def test_bad_return_values_fail_the_trial_and_the_search_goes_on(returned, reason):
    def objective(config):
        return returned if config["bad"] else 1.0

    study = sweepml.minimize(objective, {"bad": [True, False]}, strategy="grid", n_trials=2)
    bad = [t for t in study.trials if t.config["bad"]][0]
    assert bad.status is TrialStatus.FAILED and reason in bad.error
    assert study.best.value == 1.0


def test_trial_handle_records_learning_curves_and_budget_parameter():
    def objective(config, trial, budget=None):
        assert budget is None and trial.budget is None
        for step in range(3):
            trial.report(step, config["x"] / (step + 1))
        assert not trial.should_prune()
        return config["x"]

    study = sweepml.minimize(objective, SPACE, n_trials=3, seed=0)
    assert all(len(t.intermediate) == 3 for t in study.trials)


def test_time_budget_returns_in_time_and_cancels_running_trials():
    def slow(config):
        time.sleep(30)

    for workers in (1, 2):
        start = time.monotonic()
        study = sweepml.minimize(slow, SPACE, time_budget=1.0, n_workers=workers, seed=0)
        assert time.monotonic() - start < 3.0
        assert {t.status for t in study.trials} == {TrialStatus.INTERRUPTED}


def test_time_budget_alone_runs_many_cheap_trials():
    start = time.monotonic()
    study = sweepml.minimize(quadratic, SPACE, strategy="random", time_budget=0.5, seed=0)
    assert 0.5 <= time.monotonic() - start < 2.5 and len(study.trials) > 50


def test_patience_stops_after_k_trials_without_improvement():
    study = sweepml.minimize(lambda c: 1.0, SPACE, strategy="random", patience=5, seed=0)
    assert len(study.trials) == 6  # the first sets the best, five more fail to improve


def test_resume_counts_finished_trials_toward_n_trials(tmp_path):
    db = tmp_path / "s.db"
    sweepml.minimize(quadratic, SPACE, n_trials=5, storage=db, seed=0)
    study = sweepml.minimize(quadratic, SPACE, n_trials=8, storage=db, seed=0)
    assert [t.number for t in study.trials] == list(range(8))
    assert sweepml.load_study(db).best.value == study.best.value


def test_resume_refuses_a_changed_space_or_direction(tmp_path):
    db = tmp_path / "s.db"
    sweepml.minimize(quadratic, SPACE, n_trials=2, storage=db)
    with pytest.raises(InvalidParameterError, match="different space"):
        sweepml.minimize(quadratic, {"x": Float(-1, 1)}, n_trials=2, storage=db)
    with pytest.raises(InvalidParameterError, match="was a minimize search"):
        sweepml.maximize(quadratic, SPACE, n_trials=2, storage=db)


def test_many_studies_per_file_and_load_study_errors(tmp_path):
    db = tmp_path / "s.db"
    sweepml.minimize(quadratic, SPACE, n_trials=2, storage=db, study_name="a")
    sweepml.minimize(quadratic, SPACE, n_trials=3, storage=db, study_name="b")
    assert len(sweepml.load_study(db, "b").trials) == 3
    with pytest.raises(StorageError, match=r"holds 2 studies \['a', 'b'\]; pass study_name"):
        sweepml.load_study(db)
    with pytest.raises(StorageError, match="No study named 'c'"):
        sweepml.load_study(db, "c")
    with pytest.raises(StorageError, match="does not exist"):
        sweepml.load_study(tmp_path / "missing.db")


def test_best_of_a_study_without_success_is_a_clear_error():
    study = sweepml.minimize(lambda c: None, SPACE, n_trials=2, seed=0)
    with pytest.raises(SweepmlError, match="no successful trial"):
        study.best  # noqa: B018


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "needs a budget: set n_trials, time_budget or patience"),
        ({"n_trials": 0}, "'n_trials' parameter of minimize must be an int >= 1 or None; got 0"),
        ({"n_trials": 2, "n_workers": 0}, "'n_workers' parameter of minimize must be an int >= 1"),
        ({"time_budget": -1}, "'time_budget' parameter of minimize must be a finite number > 0"),
        ({"n_trials": 2, "strategy": "bayes"}, "'strategy' parameter of minimize must be one of"),
        ({"n_trials": 2, "trial_timeout": 0}, "'trial_timeout' parameter of minimize"),
        ({"n_trials": 2, "seed": -3}, "'seed' parameter of minimize must be an int >= 0"),
        ({"n_trials": 2, "executor": "gpu"}, "'executor' parameter of minimize must be one of"),
        ({"n_trials": 2, "storage": 3.5}, "'storage' parameter of minimize"),
        ({"n_trials": 2, "study_name": ""}, "'study_name' parameter of minimize"),
    ],
)
def test_bad_arguments_name_the_problem(kwargs, message):
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        sweepml.minimize(quadratic, SPACE, **kwargs)


def test_bad_objectives_and_spaces():
    with pytest.raises(InvalidParameterError, match="must be a callable"):
        sweepml.minimize(3, SPACE, n_trials=1)
    with pytest.raises(InvalidParameterError, match="required parameter 'data'"):
        sweepml.minimize(lambda config, data: 1.0, SPACE, n_trials=1)
    with pytest.raises(InvalidParameterError, match="'space' parameter of maximize"):
        sweepml.maximize(quadratic, [1, 2], n_trials=1)


def test_storage_errors_surface_before_any_trial(tmp_path):
    with pytest.raises(StorageError, match="does not exist"):
        sweepml.minimize(quadratic, SPACE, n_trials=1, storage=tmp_path / "no" / "s.db")


KILL_SCRIPT = """
import sys, time
import sweepml

def objective(config):
    time.sleep(0.3)
    return (config["x"] - 1) ** 2

study = sweepml.minimize(objective, {{"x": sweepml.Float(-5, 5), "k": sweepml.Int(1, 9)}},
                         strategy="{strategy}", n_trials=12, n_workers=2, storage="{db}",
                         trial_timeout=10, seed=0)
print("DONE", len(study.trials))
"""


@pytest.mark.parametrize("strategy", ["tpe", "grid"])
def test_kill_9_of_the_driver_then_resume(tmp_path, strategy, wait_for_trials):
    db = tmp_path / "s.db"
    script = tmp_path / "search.py"
    script.write_text(KILL_SCRIPT.format(db=db, strategy=strategy))
    driver = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    finished = wait_for_trials(db, "OK", at_least=4)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    before = {t.number: t for t in sweepml.load_study(db).trials}
    running = [n for n, t in before.items() if t.status is TrialStatus.RUNNING]
    assert finished >= 4 and running, "the kill should land while trials run"

    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    after = sweepml.load_study(db).trials
    by_number = {t.number: t for t in after}
    for number, old in before.items():  # finished work is kept as it was
        if old.status is TrialStatus.OK:
            assert by_number[number] == old
    for number in running:  # interrupted trials are recorded and retried with the same config
        assert by_number[number].status is TrialStatus.INTERRUPTED
        retries = [t for t in after if t.retry_of == number]
        assert len(retries) == 1 and retries[0].config == by_number[number].config
    assert sum(t.status is TrialStatus.OK for t in after) == 12
    if strategy == "grid":  # no grid point is run twice to completion
        keys = [json.dumps(t.config, sort_keys=True) for t in after if t.status.finished]
        assert len(keys) == len(set(keys))


def test_import_sweepml_loads_no_heavy_or_optional_library(run_python):
    done = run_python(
        "import sys, sweepml\n"
        "heavy = [m for m in ('torch', 'dask', 'distributed', 'optuna', 'pandas', 'mlflow', "
        "'starlette') "
        "if m in sys.modules]\n"
        "print(heavy)\n"
    )
    assert done.stdout.strip() == "[]"


def test_conditional_space_end_to_end():
    space = Space(
        {
            "model": Choice(
                {"a": {"alpha": Float(0, 1)}, "b": {"depth": Int(1, 5), "kind": Choice(["x", "y"])}}
            ),
        }
    )

    def objective(config):
        space.validate(config)
        return config.get("alpha", 0.5) + config.get("depth", 0)

    for strategy in ("random", "tpe", "evolution", "grid"):
        study = sweepml.minimize(objective, space, strategy=strategy, n_trials=20, seed=0)
        assert all(t.status is TrialStatus.OK for t in study.trials), strategy


def test_progress_bar_shows_count_best_and_failures(capsys):
    def objective(config):
        return None if config["x"] > 4 else config["x"]

    sweepml.minimize(objective, SPACE, strategy="random", n_trials=40, seed=0, show_progress=True)
    err = capsys.readouterr().err
    assert "40/40 trials" in err and "best -4.9" in err and "failed" in err


def test_trial_report_rejects_bad_arguments():
    def objective(config, trial):
        trial.report("epoch one", 0.5)

    study = sweepml.minimize(objective, SPACE, n_trials=1)
    assert "trial.report takes (step: int, value: number)" in study.trials[0].error


def _report_time_left(config, trial):
    left = trial.time_left()
    return {"value": 0.0, "time_left": -1.0 if left is None else left}


def test_a_trial_knows_the_time_left_before_its_timeout():
    limited = sweepml.minimize(
        _report_time_left, SPACE, n_trials=2, n_workers=1, executor="local", trial_timeout=30
    )
    assert all(25 < t.metrics["time_left"] <= 30 for t in limited.trials)
    unlimited = sweepml.minimize(_report_time_left, SPACE, n_trials=1)
    assert unlimited.trials[0].metrics["time_left"] == -1.0


def test_a_huge_grid_is_refused_with_advice():
    space = {f"x{i}": Float(0, 1) for i in range(12)}
    with pytest.raises(InvalidParameterError, match="lower numeric_points, set a fraction"):
        sweepml.minimize(quadratic, space, strategy="grid", n_trials=1)


def test_resume_without_seed_reuses_the_recorded_seed(tmp_path):
    db = tmp_path / "s.db"
    space = {"a": list(range(10)), "b": list(range(10))}
    grid = sweepml.GridSearch(fraction=0.1)

    def objective(config):
        return config["a"] + config["b"]

    sweepml.minimize(objective, space, strategy=grid, n_trials=5, storage=db)
    study = sweepml.minimize(objective, space, strategy=grid, n_trials=10, storage=db)
    ran = sorted(json.dumps(t.config, sort_keys=True) for t in study.trials)
    expected = sweepml.GridSearch(fraction=0.1)
    expected.bind(Space.from_dict(space), study.info.meta["seed"])
    assert ran == sorted(json.dumps(c, sort_keys=True) for c in expected._configs)


def test_a_ctrl_c_swallowed_in_the_driver_still_stops_the_search(tmp_path):
    """Python prints and drops a KeyboardInterrupt raised inside an at-fork handler (logging's
    lock release runs at every fork of a trial): the search must still stop at its next turn."""

    class SwallowCtrlCOnThirdTrial(sweepml.SearchCallback):
        def __init__(self):
            self.ended = 0

        def on_trial_end(self, study, record):
            self.ended += 1
            if self.ended == 3:
                try:
                    signal.raise_signal(signal.SIGINT)
                    time.sleep(0.5)  # the handler runs here, at the latest
                except KeyboardInterrupt:
                    pass  # lost, as the interpreter loses it in a callback it ignores

    db = tmp_path / "s.db"
    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # as a fresh interpreter
    try:
        with pytest.raises(KeyboardInterrupt):
            sweepml.minimize(quadratic, SPACE, n_trials=50, seed=0, storage=db,
                             callbacks=[SwallowCtrlCOnThirdTrial()])  # fmt: skip
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handed back
    finally:
        signal.signal(signal.SIGINT, before)
    statuses = [t.status for t in sweepml.load_study(db).trials]
    assert 3 <= statuses.count(TrialStatus.OK) < 50
    assert TrialStatus.RUNNING not in statuses


def test_callbacks_see_every_trial_and_can_stop_the_search():
    class StopAfterThree(sweepml.SearchCallback):
        def __init__(self):
            self.seen = []

        def on_trial_end(self, study, record):
            self.seen.append(record.number)

        def should_stop(self, study):
            return len(self.seen) >= 3

    callback = StopAfterThree()
    study = sweepml.minimize(quadratic, SPACE, n_trials=50, seed=0, callbacks=[callback])
    assert callback.seen == [0, 1, 2] and len(study.trials) == 3
    with pytest.raises(InvalidParameterError, match="'callbacks' parameter of minimize"):
        sweepml.minimize(quadratic, SPACE, n_trials=1, callbacks=[print])
