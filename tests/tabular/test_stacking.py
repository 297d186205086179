"""The stack layer: when it beats the weighted average, and its export."""

import numpy as np
import pandas as pd
import pytest

from sweepml.tabular.data import infer_column_types
from sweepml.tabular.ensemble import ensemble_selection
from sweepml.tabular.export import pipeline_script
from sweepml.tabular.metrics import get_metric
from sweepml.tabular.pipeline_space import build_pipeline, pipeline_space
from sweepml.tabular.stacking import fit_stacker, stack_features


def softmax(z):
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def test_a_stacker_recalibrates_underconfident_members_where_averaging_cannot():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2000, 3)) * 3
    y = np.array([rng.choice(3, p=p) for p in softmax(logits)])
    noisy = [softmax(0.3 * (logits + rng.normal(size=logits.shape))) for _ in range(2)]
    metric = get_metric("log_loss", "classification", owner="test")
    weights = ensemble_selection(noisy, y, metric)
    blend_loss = metric.loss(y, sum(w * p for w, p in zip(weights, noisy)))
    stacker, stack_loss = fit_stacker(
        noisy, y, task="classification", metric=metric, n_classes=3, seed=0
    )
    assert stack_loss < blend_loss - 0.05
    assert stacker.predict_proba(stack_features(noisy, "classification")).shape == (2000, 3)


def test_no_stacker_when_a_class_is_too_rare_for_its_folds():
    y = np.array([0] * 50 + [1] * 3)
    outputs = [np.full((53, 2), 0.5)] * 2
    metric = get_metric("log_loss", "classification", owner="test")
    assert (
        fit_stacker(outputs, y, task="classification", metric=metric, n_classes=2, seed=0) is None
    )


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_exported_script_applies_the_stack_layer(tmp_path, task, run_exported):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.normal(size=240), "b": rng.normal(size=240)})
    value = frame["a"] * 2 + frame["b"] + rng.normal(size=240)
    labels = np.select([value < -1, value < 1], ["low", "mid"], "high")
    y = np.searchsorted(["high", "low", "mid"], labels) if task == "classification" else value
    types = infer_column_types(frame)
    members = []
    for family in ("linear", "extra_trees"):
        space = pipeline_space(task, n_rows=240, n_features=2, models=[family])
        members.append((0.5, build_pipeline(space.default(), types, task, seed=0).fit(frame, y)))
    if task == "classification":
        outputs = [p.predict_proba(frame) for _, p in members]
        metric = get_metric("log_loss", task, owner="test")
    else:
        outputs = [p.predict(frame) for _, p in members]
        metric = get_metric("rmse", task, owner="test")
    stacker, _ = fit_stacker(outputs, y, task=task, metric=metric, n_classes=3, seed=0)
    features = stack_features(outputs, task)
    expected = (
        stacker.predict_proba(features) if task == "classification" else stacker.predict(features)
    )
    script = tmp_path / "pipeline.py"
    script.write_text(
        pipeline_script(members, types, task=task, target="y", summary="test", stacker=stacker)
    )
    frame.assign(y=labels if task == "classification" else value).to_csv(
        tmp_path / "train.csv", index=False
    )
    exported = run_exported(script).to_numpy()
    np.testing.assert_allclose(exported.reshape(expected.shape), expected, atol=1e-9)
