"""Every component of the pipeline space builds a pipeline that fits messy tables."""

import re

import numpy as np
import pandas as pd
import pytest

from sweepml.exceptions import InvalidParameterError
from sweepml.tabular.components import MODELS
from sweepml.tabular.data import as_frame, check_target, infer_column_types
from sweepml.tabular.pipeline_space import build_pipeline, pipeline_space


def messy_frame(n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "num": rng.normal(size=n),
            "num_missing": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
            "flag": rng.random(n) < 0.5,
            "color": pd.Categorical(rng.choice(["red", "green", "blue", None], size=n)),
            "city": rng.choice([f"c{i}" for i in range(40)], size=n),
            "when": pd.date_range("2020-01-01", periods=n, freq="D"),
            "constant": 1.0,
        }
    )
    return frame


def test_column_types_are_inferred_and_reported():
    types = infer_column_types(messy_frame())
    assert types.numeric == ("num", "num_missing")
    assert types.boolean == ("flag",)
    assert types.categorical == ("color",)
    assert types.high_cardinality == ("city",)
    assert types.datetime == ("when",)
    assert types.dropped == (("constant", "constant"),)
    assert "dropped 'constant' (constant)" in types.report()


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("model", list(MODELS))
def test_every_family_fits_default_and_random_configs(task, model):
    frame = messy_frame()
    rng = np.random.default_rng(1)
    y = frame["num"] * 2 + rng.normal(size=len(frame))
    if task == "classification":
        y = (y > 0).astype(int)  # the search hands pipelines label codes 0..k-1
    types = infer_column_types(frame)
    space = pipeline_space(task, n_rows=len(frame), n_features=frame.shape[1], models=[model])
    configs = [space.default()] + [space.sample(np.random.default_rng(s)) for s in range(2)]
    for config in configs:
        pipe = build_pipeline(config, types, task, seed=0)
        pipe.fit(frame, y)
        if task == "classification":
            proba = pipe.predict_proba(frame)
            assert proba.shape == (len(frame), 2) and np.allclose(proba.sum(axis=1), 1)
        else:
            assert np.isfinite(pipe.predict(frame)).all()


def test_unseen_categories_at_predict_time_are_handled():
    frame = messy_frame()
    y = np.where(frame["num"] > 0, 1, 0)
    types = infer_column_types(frame)
    space = pipeline_space("classification", n_rows=120, n_features=7, models=["linear"])
    pipe = build_pipeline(space.default(), types, "classification", 0).fit(frame, y)
    new = frame.head(5).copy()
    new["color"] = pd.Categorical(["purple"] * 5)
    new["city"] = "nowhere"
    assert pipe.predict(new).shape == (5,)


def test_large_data_leaves_out_kernel_methods():
    space = pipeline_space("classification", n_rows=100_000, n_features=10)
    assert "svm" not in space["model"].options and "knn" not in space["model"].options
    assert "polynomial" not in space["features"].options
    with pytest.raises(InvalidParameterError, match="Unknown model families"):
        pipeline_space("classification", n_rows=10, n_features=2, models=["xgb"])


@pytest.mark.parametrize(
    "X, y, task, message",
    [
        (np.empty((0, 3)), [], "classification", "X is empty: it has 0 sample(s)"),
        (np.ones((1, 2)), [1], "classification", "at least 2 samples"),
        (np.ones((3, 2)), [1, np.nan, 0], "classification", "missing values"),
        (np.ones((3, 2)), [1, 1, 1], "classification", "single class"),
        (np.ones((3, 2)), ["a", "b", "c"], "regression", "must be numeric"),
        (np.array([[1.0, np.inf], [2.0, 3.0]]), [0, 1], "classification", "infinite values"),
        (np.ones((3, 2)), [0, 1], "classification", "3 rows but y has 2"),
        (
            pd.DataFrame([[1, 2], [3, 4]], columns=["a", "a"]),
            [0, 1],
            "classification",
            "duplicated column names ['a']",
        ),
    ],
)
def test_bad_tables_get_clear_errors(X, y, task, message):
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        frame = as_frame(X, owner="fit")
        check_target(y, task=task, n_rows=len(frame), owner="fit")


def test_sparse_and_odd_cells_are_refused_clearly():
    import scipy.sparse

    with pytest.raises(InvalidParameterError, match="sparse input is not supported"):
        as_frame(scipy.sparse.csr_matrix(np.eye(3)), owner="fit")
    frame = pd.DataFrame({"a": [1, {"k": 1}, 3]})
    with pytest.raises(InvalidParameterError, match=r"column 'a' holds \['dict'\] values"):
        as_frame(frame, owner="fit")
