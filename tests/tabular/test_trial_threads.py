"""A trial fits with one thread, native thread pools (OpenMP, BLAS) included: the search runs
one trial per core, and oversubscribed OpenMP slows small fits by an order of magnitude."""

from __future__ import annotations

import pandas as pd
from sklearn.datasets import make_classification
from threadpoolctl import threadpool_info

from sweepml.tabular import evaluation
from sweepml.tabular.data import infer_column_types
from sweepml.tabular.evaluation import PipelineObjective, plan_evaluation
from sweepml.tabular.metrics import get_metric
from sweepml.tabular.pipeline_space import pipeline_space


def test_a_trial_holds_native_thread_pools_to_one_thread(monkeypatch):
    X, y = make_classification(300, 6, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    objective = PipelineObjective(
        frame, y, columns=infer_column_types(frame), task="classification",
        metric=get_metric("log_loss", "classification", owner="test"),
        plan=plan_evaluation(y, "classification", 0), n_classes=2, seed=0,
    )  # fmt: skip
    seen: list[int] = []
    build = evaluation.build_pipeline

    def recording_build(*args, **kwargs):
        pipeline = build(*args, **kwargs)
        fit = pipeline.fit

        def fit_and_record(*fit_args, **fit_kwargs):
            seen.extend(pool["num_threads"] for pool in threadpool_info())
            return fit(*fit_args, **fit_kwargs)

        pipeline.fit = fit_and_record
        return pipeline

    monkeypatch.setattr(evaluation, "build_pipeline", recording_build)
    config = pipeline_space(
        "classification", n_rows=300, n_features=6, models=["hist_gradient_boosting"]
    ).default()
    result = objective(config)
    assert result["value"] > 0
    assert seen and set(seen) == {1}
