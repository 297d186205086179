"""What the server serves: a fitted tabular model loaded once, its schema, its predictions and its
metadata, apart from HTTP (``app.py`` maps these to endpoints)."""

from __future__ import annotations

import math
import platform
from collections.abc import Mapping, Sequence
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from sweepml.serve.errors import RequestError
from sweepml.serve.protocol import Invocation, parse_invocation
from sweepml.serve.schema import Column, check_columns, conform, schema_of
from sweepml.tabular.components import set_threads

__all__ = [
    "Service",
    "TabularService",
    "class_answer",
    "json_value",
    "load_service",
    "versions",
]

LEADERBOARD_ROWS = 5  # the leaderboard's top rows in /metadata
_LIBRARIES = ("sweepml", "scikit-learn", "lightgbm", "numpy", "pandas", "xgboost", "catboost")


def versions(*extra: str) -> dict[str, str]:
    """Python's and the installed libraries' versions (those installed), and ``extra``'s."""
    found = {"python": platform.python_version()}
    for name in (*_LIBRARIES, *extra):
        try:
            found[name] = package_metadata.version(name)
        except package_metadata.PackageNotFoundError:
            continue
    return found


class Service(Protocol):
    """What the server needs of a loaded model: requests parsed and checked one by one, the rows
    of several answered by one model call, each answer cut from its outputs."""

    task: str

    def parse(self, body: bytes, content_type: str | None, query: Mapping[str, str]) -> Invocation:
        """The request's rows and parameters, or a ``RequestError``."""

    def check(self, invocation: Invocation) -> None:
        """A ``RequestError`` unless the rows fit the model (cheap: before batching)."""

    def outputs_of(self, invocations: Sequence[Invocation]) -> np.ndarray:
        """One model call for the rows of ``invocations``, in order."""

    def answer(self, outputs: np.ndarray, proba: bool) -> dict[str, Any]:
        """The response body for one request's slice of the outputs."""

    def predict(self, invocation: Invocation) -> dict[str, Any]:
        """The response body for one request on its own."""

    def metadata(self) -> dict[str, Any]:
        """What ``GET /metadata`` says."""

    def use_threads(self, threads: int) -> None:
        """Let one model call use at most ``threads`` threads (where the library lets itself
        be told; the serving thread's native pools are limited by the caller)."""


class TabularService:
    """A fitted ``AutoClassifier`` or ``AutoRegressor`` behind the server."""

    def __init__(self, model: Any, path: str) -> None:
        self.model, self.path = model, path
        self.schema: tuple[Column, ...] = schema_of(model)
        self.columns = [column.name for column in self.schema]
        self.classes = getattr(model, "classes_", None)
        self.task = "classification" if self.classes is not None else "regression"

    def parse(self, body: bytes, content_type: str | None, query: Mapping[str, str]) -> Invocation:
        return parse_invocation(body, content_type, query, self.columns)

    def use_threads(self, threads: int) -> None:
        """Every member's model predicts with ``threads`` threads (a fitted model keeps the
        threads of its refit, all the CPUs that were idle then)."""
        for _, pipeline, _ in self.model.ensemble_:
            set_threads(pipeline.steps[-1][1], threads)

    def check(self, invocation: Invocation) -> None:
        check_columns(invocation.rows, self.schema)

    def predict(self, invocation: Invocation) -> dict[str, Any]:
        """``{"predictions": [...]}``: labels or values, or with ``proba`` one
        ``{class: probability}`` object per row."""
        return self.answer(self.outputs_of([invocation]), invocation.proba)

    def outputs_of(self, invocations: Sequence[Invocation]) -> np.ndarray:
        rows = [invocation.rows for invocation in invocations]
        if all(isinstance(part, list) for part in rows):  # records: one DataFrame for all
            together = pd.DataFrame.from_records([record for part in rows for record in part])
        else:
            frames = [pd.DataFrame.from_records(p) if isinstance(p, list) else p for p in rows]
            together = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        return self.outputs(conform(together, self.schema))

    def outputs(self, frame: pd.DataFrame) -> np.ndarray:
        """What one model call gives for conformed rows: a classifier's class probabilities
        (both answers derive from them), or a regressor's values."""
        if self.classes is not None:
            return np.asarray(self.model.predict_proba(frame))
        return np.asarray(self.model.predict(frame))

    def answer(self, outputs: np.ndarray, proba: bool) -> dict[str, Any]:
        if self.classes is None:
            if proba:
                raise RequestError(400, "proba=true needs a classifier; this model is a regressor.")
            return {"predictions": [json_value(v) for v in outputs]}
        return class_answer(outputs, self.classes, proba)

    def metadata(self) -> dict[str, Any]:
        """The task, target, classes, input schema, metric and validation score, the leaderboard's
        top rows, the fit's seconds, and the versions it was fit and is served with."""
        model = self.model
        board = getattr(model, "leaderboard_", None)
        metric = getattr(getattr(model, "metric_", None), "name", None)
        top: list[dict[str, Any]] = []
        score = None
        if isinstance(board, pd.DataFrame) and len(board):
            column = f"validation {metric}"
            score = json_value(board[column].iloc[0]) if column in board else None
            shown = [c for c in ("rank", "trial", "pipeline", column, "fit seconds") if c in board]
            top = [
                {str(key): json_value(value) for key, value in row.items()}
                for row in board[shown].head(LEADERBOARD_ROWS).to_dict("records")
            ]
        return {
            "model_file": self.path,
            "estimator": type(model).__name__,
            "task": self.task,
            "target": getattr(model, "target_name_", None),
            "classes": None if self.classes is None else [json_value(c) for c in self.classes],
            "input_schema": [column.as_dict() for column in self.schema],
            "metric": metric,
            "validation_score": score,
            "evaluation": getattr(model, "evaluation_", None),
            "leaderboard": top,
            "fit_seconds": json_value(getattr(model, "fit_seconds_", None)),
            "fitted_with": getattr(model, "versions_", None),
            "served_with": versions(),
        }


def class_answer(outputs: np.ndarray, classes: Sequence[Any], proba: bool) -> dict[str, Any]:
    """A classifier's response body from its class probabilities: each row's most probable
    class (as ``model.predict`` decides it), or with ``proba`` ``{class: probability}``."""
    if proba:
        names = [json_key(c) for c in classes]
        return {"predictions": [dict(zip(names, map(float, row))) for row in outputs]}
    labels = np.asarray(classes)[np.argmax(outputs, axis=1)]
    return {"predictions": [json_value(v) for v in labels]}


def load_service(path: str | Path) -> Service:
    """The model in ``path`` ready to serve: a tabular model file, or the folder an
    ``ImageClassifier`` was exported to. Else an ``InvalidParameterError`` (or, for an image
    folder, a ``SweepmlError``) naming the file and the reason (missing, not a sweepml model,
    made by a newer major version)."""
    if Path(path).is_dir():
        from sweepml.serve.images import load_image_service

        return load_image_service(path)
    from sweepml.tabular import load_model

    return TabularService(load_model(path), str(path))


def json_key(value: Any) -> str:
    return str(json_value(value))


def json_value(value: Any) -> Any:
    """``value`` as JSON can carry it: numpy scalars as Python's, NaN as null."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value
