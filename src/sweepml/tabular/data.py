"""Tabular input: checks with clear errors, column-type inference, and datetime features.

Every table is turned into a pandas DataFrame with string column names, and every column gets one
of four kinds: numeric, boolean, categorical (strings, pandas categories, objects) or datetime.
Constant and all-missing columns are dropped (with the reason reported), and string columns with
many distinct values are marked high-cardinality so that the pipeline target-encodes them instead
of one-hot encoding thousands of columns.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse
from pandas.api import types as ptypes
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.multiclass import type_of_target

from sweepml.exceptions import InvalidParameterError

__all__ = [
    "ColumnTypes",
    "DatetimeFeatures",
    "as_frame",
    "check_target",
    "infer_column_types",
    "input_schema",
    "typical_value",
]

HIGH_CARDINALITY = 30  # distinct values above which a string column is target-encoded


@dataclass(frozen=True)
class ColumnTypes:
    """The kind of every input column, and the columns dropped with why."""

    numeric: tuple[str, ...] = ()
    boolean: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    high_cardinality: tuple[str, ...] = ()
    datetime: tuple[str, ...] = ()
    dropped: tuple[tuple[str, str], ...] = field(default=())

    def report(self) -> str:
        """A one-paragraph summary a person can read."""
        parts = [
            f"{len(cols)} {label}"
            for label, cols in (
                ("numeric", self.numeric),
                ("boolean", self.boolean),
                ("categorical", self.categorical),
                ("high-cardinality categorical", self.high_cardinality),
                ("datetime", self.datetime),
            )
            if cols
        ]
        text = "Columns: " + (", ".join(parts) if parts else "none usable")
        if self.dropped:
            text += "; dropped " + ", ".join(f"{name!r} ({why})" for name, why in self.dropped)
        return text + "."

    @property
    def used(self) -> tuple[str, ...]:
        return (
            self.numeric + self.boolean + self.categorical + self.high_cardinality + self.datetime
        )

    def kinds(self) -> dict[str, str]:
        """Each used column's kind: numeric, boolean, categorical (high-cardinality ones too) or
        datetime."""
        kinds: dict[str, str] = {}
        for kind, names in (
            ("numeric", self.numeric),
            ("boolean", self.boolean),
            ("categorical", self.categorical + self.high_cardinality),
            ("datetime", self.datetime),
        ):
            kinds.update(dict.fromkeys(names, kind))
        return kinds


def input_schema(frame: pd.DataFrame, column_types: ColumnTypes) -> list[dict[str, Any]]:
    """Each column of the frame a model is fit on: name, kind (``ignored`` for a dropped one),
    dtype, whether it held missing values, and a typical value. A server converts request values
    to these kinds (``sweepml.serve``), so a request gives the predictions the same rows give in
    a DataFrame; the typical values make an example row that is no row of the training data."""
    kinds = column_types.kinds()
    return [
        {
            "name": name,
            "kind": kinds.get(name, "ignored"),
            "dtype": str(frame[name].dtype),
            "missing_at_fit": bool(frame[name].isna().any()),
            "example": typical_value(frame[name], kinds.get(name, "ignored")),
        }
        for name in frame.columns
    ]


def typical_value(values: pd.Series, kind: str) -> Any:
    """A JSON value standing for the column: the median of numbers and dates, the most frequent
    of the rest; None when the column is all missing or dropped."""
    present = values.dropna()
    if kind == "ignored" or present.empty:
        return None
    if kind == "numeric":
        return float(present.astype(float).median())
    if kind == "datetime":
        dates = pd.to_datetime(present, errors="coerce", format="mixed").dropna().sort_values()
        return None if dates.empty else pd.Timestamp(dates.iloc[len(dates) // 2]).isoformat()
    value = present.mode().iloc[0]
    if isinstance(value, np.generic):
        value = value.item()
    return value if isinstance(value, str | bool | int | float) else str(value)


def as_frame(X: Any, *, owner: str) -> pd.DataFrame:
    """A copy of ``X`` as a DataFrame with str column names, or a clear error."""
    if X is None:
        raise InvalidParameterError(f"{owner}: X is None; it must be a 2-D table.")
    if scipy.sparse.issparse(X):
        raise InvalidParameterError(
            f"{owner}: sparse data was passed, but dense data is required (sparse input is not "
            f"supported). Use X.toarray() to convert to a dense numpy array."
        )
    if isinstance(X, pd.DataFrame):
        frame = X.copy()
    else:
        try:
            array = np.asarray(X)
        except Exception as exc:  # ragged lists and the like
            raise InvalidParameterError(f"{owner}: X must be a 2-D table; got {type(X)}.") from exc
        if array.ndim != 2:
            raise InvalidParameterError(
                f"{owner}: X must be a 2-D table (rows x columns); got an array with shape "
                f"{array.shape}. Reshape your data, e.g. with array.reshape(-1, 1) for a single "
                f"feature."
            )
        frame = pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise InvalidParameterError(
            f"{owner}: X is empty: it has {frame.shape[0]} sample(s) and {frame.shape[1]} "
            f"feature(s) (shape={frame.shape}) while a minimum of 1 is required."
        )
    frame.columns = [str(c) for c in frame.columns]
    duplicated = sorted(set(frame.columns[frame.columns.duplicated()]))
    if duplicated:
        raise InvalidParameterError(f"{owner}: X has duplicated column names {duplicated}.")
    dtypes = list(zip(frame.columns, frame.dtypes))  # not frame[c]: a one-row predict pays it
    for name in [c for c, dtype in dtypes if ptypes.is_object_dtype(dtype)]:
        odd = {type(v).__name__ for v in frame[name] if not _is_scalar_cell(v)}
        if odd:
            raise InvalidParameterError(
                f"{owner}: column {name!r} holds {sorted(odd)} values; each cell's argument "
                f"must be a string or a number (or missing)."
            )
    floats = [c for c, dtype in dtypes if ptypes.is_float_dtype(dtype)]  # others hold no inf
    if floats:
        values = frame[floats].to_numpy(dtype=float, na_value=np.nan)
        infinite = [c for c, inf in zip(floats, np.isinf(values).any(axis=0)) if inf]
        if infinite:
            raise InvalidParameterError(
                f"{owner}: X has infinite values in columns {infinite}; replace them with NaN "
                f"(missing values are handled) or finite numbers."
            )
    return frame


def _is_scalar_cell(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool | np.generic | pd.Timestamp)


def check_target(y: Any, *, task: str, n_rows: int, owner: str, min_classes: int = 2) -> np.ndarray:
    """The target as a 1-D array, checked for the task (a fit needs two classes; scoring one)."""
    if y is None:
        raise InvalidParameterError(
            f"{owner}: this estimator requires y to be passed, but the target y is None."
        )
    target = np.asarray(y.to_numpy() if isinstance(y, pd.Series | pd.DataFrame) else y)
    if target.ndim == 2 and target.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected; it was raveled.",
            DataConversionWarning,
            stacklevel=3,
        )
        target = target.ravel()
    if target.ndim != 1:
        raise InvalidParameterError(f"{owner}: y must be 1-D; got shape {target.shape}.")
    if len(target) != n_rows:
        raise InvalidParameterError(f"{owner}: X has {n_rows} rows but y has {len(target)} values.")
    if n_rows < 2:
        raise InvalidParameterError(
            f"{owner}: at least 2 samples are needed to fit; got {n_rows} sample."
        )
    missing = pd.isna(target)
    if missing.any():
        raise InvalidParameterError(
            f"{owner}: y has {int(missing.sum())} missing values (NaN/None); drop those rows "
            f"or fill the target first."
        )
    if task == "regression":
        try:
            if ptypes.is_bool_dtype(target):
                raise ValueError("bool")
            target = target.astype(float)
        except (TypeError, ValueError) as exc:
            raise InvalidParameterError(
                f"{owner}: a regression target must be numeric; got values like {target[:3]!r}."
            ) from exc
        if not np.isfinite(target).all():
            raise InvalidParameterError(f"{owner}: y has infinite values.")
    else:
        try:
            kind = type_of_target(target, raise_unknown=True)
        except ValueError as exc:
            raise InvalidParameterError(f"{owner}: {exc}") from exc
        if kind == "continuous":
            raise InvalidParameterError(
                f"{owner}: Unknown label type: the target is continuous (floats with many "
                f"distinct values); use a regressor, or give class labels."
            )
    if task != "regression" and len(np.unique(target)) < min_classes:
        raise InvalidParameterError(
            f"{owner}: y has a single class ({target[0]!r}); classification needs at least two."
        )
    return target


def infer_column_types(frame: pd.DataFrame) -> ColumnTypes:
    """Decide the kind of every column from its dtype and values."""
    kinds: dict[str, list[str]] = {
        "numeric": [],
        "boolean": [],
        "categorical": [],
        "high_cardinality": [],
        "datetime": [],
    }
    dropped: list[tuple[str, str]] = []
    for name in frame.columns:
        column = frame[name]
        non_missing = column.dropna()
        if non_missing.empty:
            dropped.append((name, "all missing"))
            continue
        if non_missing.nunique() < 2 and not column.isna().any():
            dropped.append((name, "constant"))
            continue
        if ptypes.is_bool_dtype(column):
            kinds["boolean"].append(name)
        elif ptypes.is_datetime64_any_dtype(column):
            kinds["datetime"].append(name)
        elif ptypes.is_numeric_dtype(column):
            kinds["numeric"].append(name)
        elif non_missing.nunique() > HIGH_CARDINALITY:
            kinds["high_cardinality"].append(name)
        else:
            kinds["categorical"].append(name)
    return ColumnTypes(
        numeric=tuple(kinds["numeric"]),
        boolean=tuple(kinds["boolean"]),
        categorical=tuple(kinds["categorical"]),
        high_cardinality=tuple(kinds["high_cardinality"]),
        datetime=tuple(kinds["datetime"]),
        dropped=tuple(dropped),
    )


class DatetimeFeatures(TransformerMixin, BaseEstimator):
    """Calendar features (year, month, day, weekday, hour, day of year) of datetime columns."""

    PARTS = ("year", "month", "day", "day_of_week", "hour", "day_of_year")

    def fit(self, X: pd.DataFrame, y: Any = None) -> DatetimeFeatures:
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        frame = pd.DataFrame(X)
        columns = []
        for name in frame.columns:
            values = pd.to_datetime(frame[name], errors="coerce")
            for part in self.PARTS:
                columns.append(getattr(values.dt, part).astype(float).to_numpy())
        return np.column_stack(columns) if columns else np.empty((len(frame), 0))
