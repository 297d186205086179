"""Which pipelines get bagged, and a holdout fit's ensemble built on out-of-fold predictions."""

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification

from sweepml.tabular.bagging import MAX_BAGGED, bag_cost, choose_for_bagging
from sweepml.tabular.estimators import AutoClassifier
from sweepml.trial import TrialRecord, TrialStatus


def record(number, loss, fit_seconds, model="m"):
    return TrialRecord(
        number=number,
        config={"model": model, "i": number},
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


def test_each_familys_best_is_bagged_before_a_second_setting_of_a_family_already_in():
    families = ["forest", "forest", "forest", "linear", "forest", "boosting"]
    ranked = [record(i, 0.1 * i, 1.0, model) for i, model in enumerate(families)]
    weights = np.array([0.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    chosen = choose_for_bagging(ranked, weights, seconds=None, holdout_train_share=0.67, n_jobs=1)
    assert [t.number for t in chosen] == [1, 3, 5, 0, 2, 4]


def test_a_holdout_fit_selects_its_ensemble_on_bagged_out_of_fold_predictions():
    X, y = make_classification(1200, 8, n_informative=5, random_state=0)
    X = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)])
    model = AutoClassifier(max_trials=4, random_state=0, show_progress=False).fit(X, y)
    assert model.evaluation_ == "holdout"
    assert model.ensemble_evaluation_ == "5-fold out-of-fold (bagged)"
    assert np.isclose(sum(w for w, _, _ in model.ensemble_), 1.0)
    assert model.score(X, y) > 0.9


def test_a_boosted_pipeline_is_bagged_with_the_rounds_its_early_stopping_kept(
    monkeypatch, fit_context
):

    from sweepml.tabular import bagging
    from sweepml.tabular.data import infer_column_types
    from sweepml.tabular.evaluation import PipelineObjective, plan_evaluation
    from sweepml.tabular.metrics import get_metric
    from sweepml.tabular.pipeline_space import pipeline_space

    X, y = make_classification(1200, 5, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)])
    metric = get_metric("log_loss", "classification", owner="test")
    plan = plan_evaluation(y, "classification", 0)
    assert len(plan.folds) == 1  # a holdout search: what bagging follows
    objective = PipelineObjective(frame, y, columns=infer_column_types(frame),
                                  task="classification", metric=metric, plan=plan, n_classes=2,
                                  seed=0)  # fmt: skip
    lightgbm = pipeline_space(
        "classification", n_rows=1200, n_features=5, models=["lightgbm"]
    ).default()
    lightgbm["lgbm.n_estimators"] = 1000
    linear = pipeline_space(
        "classification", n_rows=1200, n_features=5, models=["linear"]
    ).default()
    trials = [TrialRecord(0, lightgbm, TrialStatus.OK, 0.2, {"fit_seconds": 0.1, "rounds": 37}),
              TrialRecord(1, linear, TrialStatus.OK, 0.3, {"fit_seconds": 0.01})]  # fmt: skip
    context = fit_context(frame)
    bagged_configs = []
    real_minimize = bagging.minimize

    def recording(objective, *args, **kwargs):
        bagged_configs.extend(objective.configs)
        return real_minimize(objective, *args, **kwargs)

    monkeypatch.setattr(bagging, "minimize", recording)
    bagged = bagging.bag(context, trials, np.array([0.5, 0.5]), objective, y)
    assert [t.number for t, _ in bagged] == [0, 1]
    # 37 rounds: below the space's least, so the bagging run does not search the space
    assert bagged_configs[0]["lgbm.n_estimators"] == 37
    assert bagged[0][1].shape == (1200, 2)  # out-of-fold predictions for every row
