"""Which trials' validation predictions enter ensemble selection."""

import numpy as np

from sweepml.tabular.predictions import saved_predictions
from sweepml.trial import TrialRecord, TrialStatus


def trial(number, loss, model):
    return TrialRecord(number, {"model": model}, TrialStatus.OK, value=loss)


def test_every_familys_best_enters_and_a_repeated_prediction_does_not(tmp_path):
    y = np.array([0, 1, 0, 1])
    forest = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.4, 0.6]])
    # a converged search: the forest's top trials predict the same, the other families rank below
    trials = [trial(i, 0.10 + 0.001 * i, "forest") for i in range(4)]
    trials += [trial(4, 0.20, "forest"), trial(5, 0.30, "linear"), trial(6, 0.40, "knn")]
    for t in trials[:4]:
        np.save(tmp_path / f"{t.number}.npy", forest)
    for t in trials[4:]:
        np.save(tmp_path / f"{t.number}.npy", forest * 0.5 + 0.25 * t.number / 6)
    candidates, predictions = saved_predictions(trials, tmp_path, y, limit=3)
    assert [t.number for t in candidates] == [0, 5, 6]  # best first; no second copy of trial 0
    assert np.array_equal(predictions[1], forest * 0.5 + 0.25 * 5 / 6)
    everything, _ = saved_predictions(trials, tmp_path, y, limit=10)
    assert [t.number for t in everything] == [0, 4, 5, 6]
