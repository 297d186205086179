"""Which pipelines get bagged, and a holdout fit's ensemble built on out-of-fold predictions."""

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification

from sweepml.tabular.bagging import MAX_BAGGED, bag_cost, choose_for_bagging
from sweepml.tabular.estimators import AutoClassifier
from sweepml.trial import TrialRecord, TrialStatus


def record(number, loss, fit_seconds):
    return TrialRecord(
        number=number,
        config={"model": "m", "i": number},
        status=TrialStatus.OK,
        value=loss,
        metrics={"fit_seconds": fit_seconds},
    )


def test_ensemble_members_are_bagged_first_and_only_while_they_fit():
    ranked = [record(i, 0.1 * i, fit_seconds=1.0) for i in range(5)]
    weights = np.array([0.0, 0.0, 0.75, 0.25, 0.0])
    per_pipeline = bag_cost(ranked[0], holdout_train_share=0.67)
    assert 5.0 < per_pipeline < 10.0  # five fits on 80% where one trial fit on 67%, plus margin
    everything = choose_for_bagging(
        ranked, weights, seconds=None, holdout_train_share=0.67, n_jobs=1
    )
    assert [t.number for t in everything] == [2, 3, 0, 1, 4]
    two_workers = choose_for_bagging(
        ranked, weights, seconds=per_pipeline * 1.5, holdout_train_share=0.67, n_jobs=2
    )
    assert [t.number for t in two_workers] == [2, 3, 0]
    many = [record(i, 0.0, fit_seconds=0.0) for i in range(20)]
    assert len(choose_for_bagging(many, np.zeros(20), seconds=None, holdout_train_share=0.67,
                                  n_jobs=1)) == MAX_BAGGED  # fmt: skip


def test_a_holdout_fit_selects_its_ensemble_on_bagged_out_of_fold_predictions():
    X, y = make_classification(1200, 8, n_informative=5, random_state=0)
    X = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)])
    model = AutoClassifier(max_trials=4, random_state=0, show_progress=False).fit(X, y)
    assert model.evaluation_ == "holdout"
    assert model.ensemble_evaluation_ == "5-fold out-of-fold (bagged)"
    assert np.isclose(sum(w for w, _, _ in model.ensemble_), 1.0)
    assert model.score(X, y) > 0.9
