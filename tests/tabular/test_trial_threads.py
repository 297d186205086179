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


def record_fit_threads(monkeypatch, module) -> list[int]:
    """The native thread pools' sizes at the start of every fit of a pipeline that ``module``
    builds (its ``build_pipeline`` is wrapped)."""
    seen: list[int] = []
    build = module.build_pipeline

    def recording_build(*args, **kwargs):
        pipeline = build(*args, **kwargs)
        fit = pipeline.fit

        def fit_and_record(*fit_args, **fit_kwargs):
            seen.extend(pool["num_threads"] for pool in threadpool_info())
            return fit(*fit_args, **fit_kwargs)

        pipeline.fit = fit_and_record
        return pipeline

    monkeypatch.setattr(module, "build_pipeline", recording_build)
    return seen


def test_a_trial_holds_native_thread_pools_to_one_thread(monkeypatch):
    X, y = make_classification(300, 6, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    objective = PipelineObjective(
        frame, y, columns=infer_column_types(frame), task="classification",
        metric=get_metric("log_loss", "classification", owner="test"),
        plan=plan_evaluation(y, "classification", 0), n_classes=2, seed=0,
    )  # fmt: skip
    seen = record_fit_threads(monkeypatch, evaluation)
    config = pipeline_space(
        "classification", n_rows=300, n_features=6, models=["hist_gradient_boosting"]
    ).default()
    result = objective(config)
    assert result["value"] > 0
    assert seen and set(seen) == {1}


def test_idle_cpus_reads_the_share_of_idle_ticks(monkeypatch):
    from sweepml import _procfs

    stats = iter(
        [
            "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 1\ncpu1 1\n",
            # 1,000 ticks later, 250 of them idle: half a CPU of two
            "cpu  500 0 450 1050 0 0 0 0 0 0\ncpu0 1\ncpu1 1\n",
        ]
    )
    monkeypatch.setattr(_procfs, "_read", lambda path: next(stats))
    assert _procfs.idle_cpus(window=0.0) == 0.5


def test_a_refit_takes_only_the_idle_cpus_and_always_one(monkeypatch):
    from sweepml.tabular import refit

    for idle, n_jobs, expected in [
        (None, 4, 4),
        (0.2, 2, 1),
        (1.6, 2, 2),
        (7.9, 4, 4),
        (2.4, 4, 2),
    ]:
        monkeypatch.setattr(refit, "idle_cpus", lambda idle=idle: idle)
        assert refit.refit_threads(n_jobs) == expected


def refit_context(frame: pd.DataFrame):
    """A classification fit's context with ``n_jobs=2`` and no deadline, for the driver's refit."""
    from sweepml.tabular.context import FitClock, FitContext

    return FitContext(
        task="classification", metric=get_metric("log_loss", "classification", owner="test"),
        columns=infer_column_types(frame), seed=0, n_jobs=2,
        clock=FitClock.starting(0.0, None), time_budget=60.0,
    )  # fmt: skip


def test_a_refit_on_a_busy_machine_fits_with_one_thread(monkeypatch):
    from sweepml.tabular import refit

    X, y = make_classification(300, 6, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    context = refit_context(frame)
    monkeypatch.setattr(refit, "idle_cpus", lambda: 0.1)
    config = pipeline_space("classification", n_rows=300, n_features=6, models=["lightgbm"])
    pipeline = refit.fit_config(context, config.default(), frame, y)
    assert pipeline.steps[-1][1].get_params()["n_jobs"] == 1


def test_a_linear_refit_fits_with_one_thread_however_many_are_idle(monkeypatch):
    """The multinomial logistic loss's OpenMP region per solver iteration made a refit on two
    threads several times slower than on one."""
    from sweepml.tabular import refit

    X, y = make_classification(300, 6, n_informative=4, n_classes=3, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    context = refit_context(frame)
    monkeypatch.setattr(refit, "idle_cpus", lambda: 2.0)
    seen = record_fit_threads(monkeypatch, refit)
    space = pipeline_space("classification", n_rows=300, n_features=6, models=["linear"])
    refit.fit_config(context, space.default(), frame, y)
    assert seen and set(seen) == {1}
    space = pipeline_space("classification", n_rows=300, n_features=6, models=["lightgbm"])
    pipeline = refit.fit_config(context, space.default(), frame, y)
    assert pipeline.steps[-1][1].get_params()["n_jobs"] == 2  # the other families: the idle CPUs
