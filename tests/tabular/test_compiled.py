"""A compiled pipeline gives its pipeline's numbers exactly, for every family and preprocessing
choice, on rows with missing values and categories never seen; where it would not, it refuses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from sweepml.tabular import compiled as compiled_module
from sweepml.tabular.compiled import NotCompiled, compile_pipeline
from sweepml.tabular.components import MODELS
from sweepml.tabular.data import infer_column_types
from sweepml.tabular.pipeline_space import build_pipeline, pipeline_space


def table(n: int, seed: int) -> pd.DataFrame:
    """Numbers (some missing), a flag, a category with a rare value and missing ones, a
    high-cardinality text column, dates."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "num": rng.normal(size=n) * 100,
            "num_missing": np.where(rng.random(n) < 0.2, np.nan, rng.integers(0, 9, n)),
            "flag": rng.random(n) < 0.5,
            "color": rng.choice(["red", "green", "blue", "teal", None], n,
                                p=[0.4, 0.3, 0.2, 0.02, 0.08]),
            "city": rng.choice([f"c{i}" for i in range(40)], n),
            "when": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), "D"),
        }
    )  # fmt: skip


def new_rows() -> pd.DataFrame:
    """Rows unlike the training ones: unseen categories, a category missing, extreme numbers."""
    rows = table(30, seed=7)
    rows.loc[::3, "color"] = "purple"
    rows.loc[1::3, "city"] = "atlantis"
    rows.loc[::4, "num"] = np.nan
    rows.loc[::5, "num"] = 1e9
    return rows


def fitted(model: str, task: str, config_seed: int):
    frame = table(150, seed=0)
    y = frame["num"] / 100 + np.random.default_rng(1).normal(size=len(frame))
    if task == "classification":  # three classes, as the search hands them: codes 0..k-1
        y = np.digitize(y, [-0.5, 0.5])
    space = pipeline_space(task, n_rows=len(frame), n_features=frame.shape[1], models=[model])
    rng = np.random.default_rng(config_seed)
    config = space.default() if config_seed == 0 else space.sample(rng)
    pipeline = build_pipeline(config, infer_column_types(frame), task, seed=0)
    return pipeline.fit(frame, y), frame


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("model", list(MODELS))
def test_every_family_and_preprocessing_gives_the_pipelines_numbers_exactly(model, task):
    for config_seed in range(4):  # the default, then sampled preprocessing and hyperparameters
        pipeline, frame = fitted(model, task, config_seed)
        compiled = compile_pipeline(pipeline, frame.head(20))
        rows = new_rows()
        expected_features = pipeline[:-1].transform(rows)
        assert np.array_equal(compiled.transform(rows), expected_features, equal_nan=True)
        method = "predict_proba" if task == "classification" else "predict"
        expected = getattr(pipeline, method)(rows)
        assert np.array_equal(getattr(compiled, method)(rows), expected)
        columns = {name: rows[name].to_numpy() for name in rows}  # a server's columns
        assert np.array_equal(getattr(compiled, method)(columns), expected)


def test_a_step_that_would_give_other_numbers_is_refused(monkeypatch):
    pipeline, frame = fitted("lightgbm", "classification", 0)
    exact = compiled_module._kernel

    def off_by_a_little(step, *, first):
        kernel = exact(step, first=first)
        if type(step).__name__ != "SimpleImputer":
            return kernel
        return compiled_module._takes_array(lambda values: kernel(values) + 1e-12)

    monkeypatch.setattr(compiled_module, "_kernel", off_by_a_little)
    with pytest.raises(NotCompiled, match="other features"):
        compile_pipeline(pipeline, frame.head(20))


def test_an_encoder_that_refuses_unseen_categories_still_refuses_them():
    """An encoder fit with handle_unknown="error" keeps its own transform (and its error)."""
    pipeline, frame = fitted("linear", "classification", 0)
    encoder = pipeline[0].named_transformers_["categorical"]["encode"]
    encoder.set_params(handle_unknown="error")
    compiled = compile_pipeline(pipeline, frame.head(20))
    with pytest.raises(ValueError, match="unknown categor"):
        compiled.predict_proba(new_rows())


def test_what_is_not_a_fitted_pipeline_of_named_columns_is_not_compiled():
    pipeline, frame = fitted("linear", "regression", 0)
    with pytest.raises(NotCompiled, match="not a fitted pipeline"):
        compile_pipeline(pipeline.steps[-1][1], frame)
    other = Pipeline([("identity", FunctionTransformer()), ("model", pipeline.steps[-1][1])])
    with pytest.raises(NotCompiled, match="ColumnTransformer"):
        compile_pipeline(other, frame)


def test_pandas_nullable_numbers_are_read_as_scikit_learn_reads_them():
    pipeline, frame = fitted("lightgbm", "regression", 0)
    compiled = compile_pipeline(pipeline, frame.head(20))
    rows = new_rows()
    rows["num_missing"] = rows["num_missing"].astype("Int64")  # pd.NA for the missing ones
    assert np.array_equal(compiled.predict(rows), pipeline.predict(rows))
