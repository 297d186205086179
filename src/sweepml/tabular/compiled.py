"""A fitted pipeline's predictions without scikit-learn's per-call overhead, for small batches.

A one-row ``predict_proba`` of a sweepml pipeline (imputer and scaler for the numbers, one-hot
encoding for the categories, LightGBM) costs about 5 ms of CPU, of which LightGBM's trees take
0.03 ms: the rest is scikit-learn's per-call work, the ColumnTransformer's dispatch and each
step's input validation and feature-name checks, which a server pays again for every request.
``compile_pipeline`` turns the fitted pipeline into a plain chain of array functions that give
the same numbers, bit for bit:

- imputers and scalers: the same float64 operations on their fitted statistics, in the order
  scikit-learn applies them;
- categorical encoders (one-hot, ordinal, target encoding): one lookup table per column, read off
  the fitted encoder's own output for every category it knows and for one it has never seen;
- every other step (PCA, a date's calendar features, a quantile transform ...): its own
  ``transform``, called on the step's input directly;
- the model: its own ``predict_proba`` / ``predict``, as the pipeline calls it.

Not an ONNX export: ONNX's tree ensembles compare float32 values, and a standardized column's
imputed mean (a few 1e-16 in float64, 0 in float32) falls on the other side of LightGBM's split
at zero, so on ``credit_data`` 27 of 1,114 test rows changed class. Here nothing changes: before
a compiled pipeline is used, ``compile_pipeline`` runs it and the pipeline on probe rows and
raises ``NotCompiled`` (with the reason) unless every feature and every output is equal, and the
caller keeps the pipeline.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier, LGBMRegressor
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
    TargetEncoder,
)

from sweepml.tabular.components.preprocessing import as_float, as_strings

__all__ = ["CompiledPipeline", "NotCompiled", "compile_pipeline"]

Step = Callable[[Any], Any]
UNSEEN = "\x00sweepml-unseen-category\x00"  # a category no encoder was fit on


class NotCompiled(Exception):
    """The pipeline has a part this module cannot reproduce exactly; the message says which."""


class CompiledPipeline:
    """The array functions of one fitted pipeline: ``transform`` (every step but the model),
    ``predict_proba`` and ``predict``, on the rows the pipeline takes: a DataFrame, or its
    columns as a mapping of name to values (what a server has before any DataFrame exists)."""

    def __init__(self, pipeline: Pipeline, parts: Sequence[Part], after: Sequence[Step]) -> None:
        self.model = pipeline.steps[-1][1]
        self.classes_ = getattr(pipeline, "classes_", None)
        self._parts = list(parts)
        self._after = list(after)
        self._predict_proba, self._predict = _model_calls(self.model)

    def transform(self, rows: pd.DataFrame | Mapping[str, Any]) -> np.ndarray:
        """The features the model sees for ``rows`` (the pipeline's input columns)."""
        outputs = []
        for part in self._parts:
            values = part.inputs(rows)
            for step in part.steps:
                values = step(values)
            outputs.append(values)
        features: Any = np.hstack(outputs)
        for step in self._after:
            features = step(features)
        return features

    def predict_proba(self, rows: pd.DataFrame | Mapping[str, Any]) -> np.ndarray:
        return self._predict_proba(self.transform(rows))

    def predict(self, rows: pd.DataFrame | Mapping[str, Any]) -> np.ndarray:
        return self._predict(self.transform(rows))


@dataclass(frozen=True)
class Part:
    """One part of the ColumnTransformer: its columns and its steps. A part whose first step
    takes a 2-D array gets its columns side by side (``np.column_stack``, the values a
    DataFrame's ``to_numpy`` gives); any other gets a DataFrame of them, as the pipeline gives."""

    columns: list[str]
    steps: list[Step]
    takes_array: bool

    def inputs(self, rows: pd.DataFrame | Mapping[str, Any]) -> Any:
        if not self.takes_array:
            return pd.DataFrame({name: rows[name] for name in self.columns})
        return np.column_stack([np.asarray(rows[name]) for name in self.columns])


def compile_pipeline(pipeline: Pipeline, probe: pd.DataFrame) -> CompiledPipeline:
    """``pipeline`` (fitted: a ColumnTransformer, optional feature steps, a model) as array
    functions, checked on ``probe`` (rows the pipeline accepts: the more of each column's kinds of
    value they hold, missing ones and unseen categories included, the more the check covers).
    ``NotCompiled`` says why where a part is not reproduced exactly."""
    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) < 2:
        raise NotCompiled(f"not a fitted pipeline with a model: {type(pipeline).__name__}")
    columns = pipeline.steps[0][1]
    if not isinstance(columns, ColumnTransformer) or not hasattr(columns, "transformers_"):
        raise NotCompiled("its first step is not a fitted ColumnTransformer")
    parts = _column_parts(columns)
    after = [_generic(step) for _, step in _active(pipeline.steps[1:-1])]
    compiled = CompiledPipeline(pipeline, parts, after)
    _check_equal(pipeline, compiled, probe)
    return compiled


def _active(steps: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The steps a pipeline runs (it skips ``"passthrough"`` and ``None``)."""
    return [(name, step) for name, step in steps if step is not None and step != "passthrough"]


def _column_parts(columns: ColumnTransformer) -> list[Part]:
    parts = []
    for name, transformer, selected in columns.transformers_:
        if transformer == "drop" or (hasattr(selected, "__len__") and len(selected) == 0):
            continue
        if transformer == "passthrough" or not _is_names(selected):
            raise NotCompiled(f"its column part {name!r} is not a transformer of named columns")
        steps = transformer.steps if isinstance(transformer, Pipeline) else [(name, transformer)]
        active = _active(steps)
        if not active:
            raise NotCompiled(f"its column part {name!r} has no step")
        kernels = [_kernel(step, first=i == 0) for i, (_, step) in enumerate(active)]
        takes_array = getattr(kernels[0], "takes_array", False)
        parts.append(Part(list(selected), kernels, takes_array))
    if not parts:
        raise NotCompiled("its ColumnTransformer selects no column")
    return parts


def _is_names(selected: Any) -> bool:
    return isinstance(selected, list | tuple) and all(isinstance(c, str) for c in selected)


def _kernel(step: Any, *, first: bool) -> Step:
    """The array function for one fitted step (``first``: it takes the DataFrame slice)."""
    kind = type(step)
    if kind is SimpleImputer:
        return _imputer(step)
    if kind is StandardScaler:
        return _standard_scaler(step)
    if kind is MinMaxScaler:
        return _min_max_scaler(step)
    if kind is RobustScaler:
        return _robust_scaler(step)
    if kind is FunctionTransformer and step.func is not None and not step.validate:
        return _function(step)
    if kind in (OneHotEncoder, OrdinalEncoder, TargetEncoder) and not first:
        return _column_lookup(step)
    return _generic(step)


def _generic(step: Any) -> Step:
    """The step's own ``transform``."""
    return step.transform


def _floats(values: Any) -> np.ndarray:
    """What scikit-learn's input validation makes of numeric columns: a float64 copy (pandas'
    missing values, ``pd.NA`` included, as NaN)."""
    if isinstance(values, pd.DataFrame):
        return values.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    return np.array(values, dtype=np.float64)


def _imputer(imputer: SimpleImputer) -> Step:
    statistics = np.asarray(imputer.statistics_)
    plain = (
        statistics.dtype.kind == "f"
        and not np.isnan(statistics).any()  # a column empty at fit time is dropped or kept
        and _is_nan(imputer.missing_values)
        and not imputer.add_indicator
    )
    if not plain:
        return _generic(imputer)

    def impute(values: Any) -> np.ndarray:
        array = _floats(values)
        missing = np.isnan(array)
        if missing.any():
            array[missing] = np.broadcast_to(statistics, array.shape)[missing]
        return array

    return _takes_array(impute)


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and np.isnan(value)


def _standard_scaler(scaler: StandardScaler) -> Step:
    mean, scale = scaler.mean_, scaler.scale_

    def standardize(values: Any) -> np.ndarray:
        array = _floats(values)
        if scaler.with_mean:
            array -= mean
        if scaler.with_std:
            array /= scale
        return array

    return _takes_array(standardize)


def _min_max_scaler(scaler: MinMaxScaler) -> Step:
    low, high = scaler.feature_range

    def rescale(values: Any) -> np.ndarray:
        array = _floats(values)
        array *= scaler.scale_
        array += scaler.min_
        if scaler.clip:
            np.clip(array, low, high, out=array)
        return array

    return _takes_array(rescale)


def _robust_scaler(scaler: RobustScaler) -> Step:
    def rescale(values: Any) -> np.ndarray:
        array = _floats(values)
        if scaler.with_centering:
            array -= scaler.center_
        if scaler.with_scaling:
            array /= scaler.scale_
        return array

    return _takes_array(rescale)


def _function(transformer: FunctionTransformer) -> Step:
    func, options = transformer.func, transformer.kw_args or {}

    def call(values: Any) -> Any:
        return func(values, **options)

    # sweepml's own functions read a 2-D array as they read a DataFrame
    return _takes_array(call) if func in (as_strings, as_float) else call


def _takes_array(step: Step) -> Step:
    """Mark ``step`` as reading its columns from a 2-D array as well as from a DataFrame."""
    setattr(step, "takes_array", True)  # noqa: B010 - an attribute on a function
    return step


def _column_lookup(encoder: Any) -> Step:
    """A categorical encoder that encodes each column on its own, as one table per column: the
    encoder's output for each category it knows, and (last row) for a category it does not."""
    categories = list(encoder.categories_)
    if not all(
        np.asarray(known).dtype == object and all(isinstance(c, str) for c in known)
        for known in categories
    ):
        return _generic(encoder)  # lookups below compare strings only
    tokens = [f"c{j}\x1f" for j in range(len(categories))]
    try:
        names = [str(n) for n in encoder.get_feature_names_out(tokens)]
    except (AttributeError, ValueError, TypeError):
        return _generic(encoder)
    blocks = _blocks(names, tokens)
    if blocks is None:
        return _generic(encoder)
    rows = max(len(known) for known in categories) + 1
    probe = np.empty((rows, len(categories)), dtype=object)
    for j, known in enumerate(categories):
        probe[:, j] = [*known, *[known[0]] * (rows - len(known))] if len(known) else UNSEEN
        probe[-1, j] = UNSEEN
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "unknown categories ... encoded as ..."
            encoded = np.asarray(encoder.transform(probe))
    except ValueError:  # handle_unknown="error": an unseen category must raise as it does
        return _generic(encoder)
    if encoded.ndim != 2 or encoded.shape[1] != len(names):
        return _generic(encoder)
    tables = []
    for j, known in enumerate(categories):
        block = blocks[j]
        index = {category: i for i, category in enumerate(known)}
        table = np.vstack([encoded[: len(known), block], encoded[-1:, block]])
        tables.append((index, len(known), block, table))
    width, dtype = encoded.shape[1], encoded.dtype

    def encode(values: Any) -> np.ndarray:
        array = np.asarray(values, dtype=object)
        out = np.empty((len(array), width), dtype=dtype)
        for j, (index, unseen, block, table) in enumerate(tables):
            codes = np.fromiter(
                (index.get(v, unseen) for v in array[:, j]), dtype=np.intp, count=len(array)
            )
            out[:, block] = table[codes]
        return out

    return encode


def _blocks(names: list[str], tokens: list[str]) -> list[slice] | None:
    """Each input column's contiguous run of output columns, in input order, or None."""
    owner = []
    for name in names:
        found = [j for j, t in enumerate(tokens) if name == t or name.startswith(t + "_")]
        if len(found) != 1:
            return None
        owner.append(found[0])
    if owner != sorted(owner) or sorted(set(owner)) != list(range(len(tokens))):
        return None
    return [slice(owner.index(j), len(owner) - owner[::-1].index(j)) for j in range(len(tokens))]


def _model_calls(model: Any) -> tuple[Step, Step]:
    """The model's ``predict_proba`` and ``predict``. LightGBM's scikit-learn wrapper spends
    0.4 ms of a one-row call re-reading its parameters (``inspect.signature`` included) around a
    0.03 ms prediction: for a LightGBM model, ``predict_proba`` (classifier) and ``predict``
    (regressor) call its booster as the wrapper would, with the threads the wrapper's ``n_jobs``
    says (read at each call: a server sets them after loading)."""
    predict_proba = getattr(model, "predict_proba", None) or _no_proba
    predict = model.predict
    kind = type(model)
    if kind not in (LGBMClassifier, LGBMRegressor) or callable(model.objective):
        return predict_proba, predict

    def threads() -> int:  # as the wrapper reads n_jobs: None is OpenMP's default (0)
        n_jobs = model.n_jobs
        if not isinstance(n_jobs, int) or n_jobs == 0:
            return 0
        return n_jobs if n_jobs > 0 else max((os.cpu_count() or 1) + 1 + n_jobs, 1)

    def booster_proba(features: Any) -> np.ndarray:
        result = model.booster_.predict(np.asarray(features), num_threads=threads())
        if model.n_classes_ > 2:
            return result
        return np.vstack((1.0 - result, result)).transpose()

    def booster_predict(features: Any) -> np.ndarray:
        return model.booster_.predict(np.asarray(features), num_threads=threads())

    if kind is LGBMClassifier:
        return booster_proba, predict
    return predict_proba, booster_predict


def _no_proba(features: Any) -> np.ndarray:
    raise AttributeError("this model has no predict_proba (it is a regressor)")


def _check_equal(pipeline: Pipeline, compiled: CompiledPipeline, probe: pd.DataFrame) -> None:
    """``NotCompiled`` unless ``compiled`` gives ``pipeline``'s features and outputs on
    ``probe``, exactly (missing values in the same places)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the same warnings on both sides
        expected = pipeline[:-1].transform(probe.copy())
        try:
            features = compiled.transform(probe.copy())
        except Exception as exc:  # noqa: BLE001 - any failure means: keep the pipeline
            raise NotCompiled(f"its compiled steps failed on probe rows: {exc!r}") from exc
        if not _equal(features, expected):
            raise NotCompiled("its compiled steps give other features on probe rows")
        for method in ("predict_proba", "predict"):
            if not hasattr(pipeline, method):
                continue
            given = getattr(compiled, method)(probe.copy())
            if not _equal(given, getattr(pipeline, method)(probe.copy())):
                raise NotCompiled(f"its compiled {method} differs on probe rows")


def _equal(a: Any, b: Any) -> bool:
    if not isinstance(a, np.ndarray) or not isinstance(b, np.ndarray):
        return False
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind in "fc":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))
