import pytest

import sweepml
from sweepml import ASHAPruner, Float, MedianPruner, TrialPruned, TrialStatus
from sweepml.exceptions import InvalidParameterError, SweepmlError

SPACE = {"rate": Float(0.05, 1.0)}


def curve_objective(config, trial):
    """Loss decays toward 1 - rate: a bigger rate is better at every epoch."""
    loss = 2.0
    for epoch in range(20):
        loss = (1 - config["rate"]) + (loss - (1 - config["rate"])) * 0.7
        trial.report(epoch, loss)
        if trial.should_prune():
            raise TrialPruned()
    return loss


@pytest.mark.parametrize("pruner", ["median", "asha", MedianPruner(n_startup_trials=3)])
def test_pruners_stop_lagging_trials_and_keep_the_good_ones(pruner):
    study = sweepml.minimize(curve_objective, SPACE, strategy="random", pruner=pruner,
                             n_trials=30, seed=0)  # fmt: skip
    trials = study.trials
    pruned = [t for t in trials if t.status is TrialStatus.PRUNED]
    ok = [t for t in trials if t.status is TrialStatus.OK]
    assert pruned and ok
    assert all(len(t.intermediate) < 20 for t in pruned)
    assert all(t.error.startswith("Stopped by the pruner after step") for t in pruned)
    # whatever was pruned lagged the trial that ended best
    best_rate = study.best.config["rate"]
    assert all(t.config["rate"] < best_rate for t in pruned)
    assert study.status_counts()["PRUNED"] == len(pruned)


def test_same_seed_prunes_the_same_trials():
    runs = [
        [t.status for t in sweepml.minimize(curve_objective, SPACE, strategy="random",
                                            pruner="median", n_trials=20, seed=3).trials]
        for _ in range(2)
    ]  # fmt: skip
    assert runs[0] == runs[1]


def test_pruning_works_in_worker_processes():
    study = sweepml.minimize(curve_objective, SPACE, strategy="random", pruner="asha",
                             n_trials=16, n_workers=2, executor="local", seed=0)  # fmt: skip
    assert "PRUNED" in study.status_counts()


def test_maximize_prunes_low_scores():
    def reported(config, trial):
        value = 0.0
        for epoch in range(10):
            value = config["rate"] * (1 - 0.5**epoch)
            trial.report(epoch, value)
            if trial.should_prune():
                raise TrialPruned()
        return value

    study = sweepml.maximize(reported, SPACE, strategy="random", pruner="median", n_trials=20,
                             seed=0)  # fmt: skip
    pruned = [t.config["rate"] for t in study.trials if t.status is TrialStatus.PRUNED]
    assert pruned and max(pruned) < study.best.config["rate"]


def test_asha_pruner_rungs_and_the_median_rule():
    assert ASHAPruner(min_step=2, eta=2).rung_steps(20) == [2, 4, 8, 16]
    rule = ASHAPruner(min_step=1, eta=3).rule([((1, 0.1),), ((1, 0.2),), ((1, 0.3),)])
    assert not rule.should_prune([(0, 9.0)])  # not a rung step
    assert not rule.should_prune([(1, 0.05)])  # best of four
    assert rule.should_prune([(1, 0.15)])  # second of four: only the top 1 continues
    median = MedianPruner(n_startup_trials=2).rule([((0, 1.0), (1, 0.5)), ((0, 3.0), (1, 1.5))])
    assert median.should_prune([(0, 2.5)]) and not median.should_prune([(0, 1.5)])
    assert not median.should_prune([(0, 1.5), (7, 9.0)])  # nobody reached step 7


def test_pruner_errors_are_clear():
    with pytest.raises(InvalidParameterError, match="'pruner' parameter of minimize must be one"):
        sweepml.minimize(curve_objective, SPACE, pruner="percentile", n_trials=2)
    with pytest.raises(InvalidParameterError, match="declare a 'trial' parameter"):
        sweepml.minimize(lambda c: c["rate"], SPACE, pruner="median", n_trials=2)
    with pytest.raises(InvalidParameterError, match="'eta' parameter of ASHAPruner"):
        ASHAPruner(eta=1)


def test_report_after_the_trial_ended_is_an_error():
    kept = []

    def objective(config, trial):
        kept.append(trial)
        return config["rate"]

    sweepml.minimize(objective, SPACE, n_trials=1, seed=0)
    with pytest.raises(SweepmlError, match="trial.report was called after trial 0 ended"):
        kept[0].report(1, 0.5)
