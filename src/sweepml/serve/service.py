"""What the server serves: a fitted tabular model loaded once, its schema, its predictions and its
metadata, apart from HTTP (``app.py`` maps these to endpoints)."""

from __future__ import annotations

import math
import platform
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sweepml.serve.errors import RequestError
from sweepml.serve.protocol import Invocation
from sweepml.serve.schema import Column, conform, schema_of

__all__ = ["TabularService", "load_service", "versions"]

LEADERBOARD_ROWS = 5  # the leaderboard's top rows in /metadata
_LIBRARIES = ("sweepml", "scikit-learn", "lightgbm", "numpy", "pandas", "xgboost", "catboost")


def versions() -> dict[str, str]:
    """Python's and the installed libraries' versions (those installed)."""
    found = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            found[name] = package_metadata.version(name)
        except package_metadata.PackageNotFoundError:
            continue
    return found


class TabularService:
    """A fitted ``AutoClassifier`` or ``AutoRegressor`` behind the server."""

    def __init__(self, model: Any, path: str) -> None:
        self.model, self.path = model, path
        self.schema: tuple[Column, ...] = schema_of(model)
        self.columns = [column.name for column in self.schema]
        self.classes = getattr(model, "classes_", None)

    @property
    def task(self) -> str:
        return "classification" if self.classes is not None else "regression"

    def predict(self, invocation: Invocation) -> dict[str, Any]:
        """``{"predictions": [...]}``: labels or values, or with ``proba`` one
        ``{class: probability}`` object per row."""
        return self.answer(self.outputs(conform(invocation.rows, self.schema)), invocation.proba)

    def outputs(self, frame: pd.DataFrame) -> np.ndarray:
        """What one model call gives for conformed rows: a classifier's class probabilities
        (both answers derive from them), or a regressor's values."""
        if self.classes is not None:
            return np.asarray(self.model.predict_proba(frame))
        return np.asarray(self.model.predict(frame))

    def answer(self, outputs: np.ndarray, proba: bool) -> dict[str, Any]:
        """The response body for ``outputs`` of one request's rows. A label is the most probable
        class, as ``model.predict`` decides it."""
        if self.classes is None:
            if proba:
                raise RequestError(400, "proba=true needs a classifier; this model is a regressor.")
            return {"predictions": [_json_value(v) for v in outputs]}
        if proba:
            names = [_json_key(c) for c in self.classes]
            return {"predictions": [dict(zip(names, map(float, row))) for row in outputs]}
        labels = self.classes[np.argmax(outputs, axis=1)]
        return {"predictions": [_json_value(v) for v in labels]}

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
            score = _json_value(board[column].iloc[0]) if column in board else None
            shown = [c for c in ("rank", "trial", "pipeline", column, "fit seconds") if c in board]
            top = [
                {str(key): _json_value(value) for key, value in row.items()}
                for row in board[shown].head(LEADERBOARD_ROWS).to_dict("records")
            ]
        return {
            "model_file": self.path,
            "estimator": type(model).__name__,
            "task": self.task,
            "target": getattr(model, "target_name_", None),
            "classes": None if self.classes is None else [_json_value(c) for c in self.classes],
            "input_schema": [column.as_dict() for column in self.schema],
            "metric": metric,
            "validation_score": score,
            "evaluation": getattr(model, "evaluation_", None),
            "leaderboard": top,
            "fit_seconds": _json_value(getattr(model, "fit_seconds_", None)),
            "fitted_with": getattr(model, "versions_", None),
            "served_with": versions(),
        }


def load_service(path: str | Path) -> TabularService:
    """The model in ``path`` ready to serve, or an ``InvalidParameterError`` naming the file and
    the reason (missing, not a sweepml model, made by a newer major version)."""
    from sweepml.tabular import load_model

    return TabularService(load_model(path), str(path))


def _json_key(value: Any) -> str:
    return str(_json_value(value))


def _json_value(value: Any) -> Any:
    """``value`` as JSON can carry it: numpy scalars as Python's, NaN as null."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value
