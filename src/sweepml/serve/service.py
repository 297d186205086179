"""What the server serves: a fitted tabular model loaded once, its schema, its predictions and its
metadata, apart from HTTP (``app.py`` maps these to endpoints)."""

from __future__ import annotations

import logging
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
from sweepml.serve.schema import (
    Column,
    check_columns,
    conform,
    conform_columns,
    records_columns,
    schema_of,
)
from sweepml.tabular.compiled import CompiledPipeline, NotCompiled, compile_pipeline
from sweepml.tabular.components import set_threads

__all__ = [
    "Service",
    "TabularService",
    "class_answer",
    "compiled_members",
    "json_value",
    "load_service",
    "probe_rows",
    "versions",
]

logger = logging.getLogger("sweepml.serve")

LEADERBOARD_ROWS = 5  # the leaderboard's top rows in /metadata
PROBE_UNSEEN = "sweepml-probe-unseen-category"  # a category the compile check feeds
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
    """A fitted ``AutoClassifier`` or ``AutoRegressor`` behind the server.

    With ``compiled`` (the default) each ensemble member is predicted through its compiled form
    (``sweepml.tabular.compiled``: the same numbers without scikit-learn's per-call checks, a
    one-row LightGBM pipeline in 0.4 ms of CPU instead of 5.4 ms), checked at load against the
    member itself on probe rows; a member that does not compile, or whose check differs, is
    predicted as fitted, and ``/metadata`` says which and why."""

    def __init__(self, model: Any, path: str, *, compiled: bool = True) -> None:
        self.model, self.path = model, path
        self.schema: tuple[Column, ...] = schema_of(model)
        self.columns = [column.name for column in self.schema]
        self.classes = getattr(model, "classes_", None)
        self.task = "classification" if self.classes is not None else "regression"
        self.members: list[Any]
        self.not_compiled: list[str]  # why each member that is not compiled is not
        if compiled:
            self.members, self.not_compiled = compiled_members(model, self.schema)
        else:
            self.members = [pipeline for _, pipeline, _ in model.ensemble_]
            self.not_compiled = ["not asked for (--no-compile)"]

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
        records = all(isinstance(part, list) for part in rows)
        if records and not self.not_compiled:  # JSON records straight to the compiled members
            together = [record for part in rows for record in part]
            check_columns(together, self.schema)
            columns = records_columns(together, self.schema)
            if columns is not None:
                return self.outputs(columns)
        if records:  # one DataFrame for all
            frame = pd.DataFrame.from_records([record for part in rows for record in part])
        else:
            frames = [pd.DataFrame.from_records(p) if isinstance(p, list) else p for p in rows]
            frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        if not self.not_compiled:  # compiled members read the columns as they are
            return self.outputs(conform_columns(frame, self.schema))
        return self.outputs(conform(frame, self.schema))

    def outputs(self, rows: pd.DataFrame | dict[str, Any]) -> np.ndarray:
        """What one model call gives for conformed rows: a classifier's class probabilities
        (both answers derive from them), or a regressor's values."""
        return np.asarray(self.model.blend_members(rows, self.members))

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
            "compiled_members": sum(isinstance(m, CompiledPipeline) for m in self.members),
            "members": len(self.members),
            "not_compiled": self.not_compiled,
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


def compiled_members(model: Any, schema: tuple[Column, ...]) -> tuple[list[Any], list[str]]:
    """Each member of ``model``'s ensemble compiled where it compiles and gives its own numbers
    on probe rows, else as fitted; and why each of the others is not compiled (logged)."""
    pipelines = [pipeline for _, pipeline, _ in model.ensemble_]
    try:
        records = probe_rows(schema)
        frame = pd.DataFrame.from_records(records, columns=list(records[0]))
        probe = conform(frame.copy(), schema)
        # what requests give compiled members: JSON records' columns, or a DataFrame's
        given_rows = [records_columns(records, schema), conform_columns(frame.copy(), schema)]
    except Exception as exc:  # noqa: BLE001 - an odd recorded example: serve as fitted
        reason = f"no probe rows from the input schema: {exc}"
        logger.info("sweepml: predicting the model as fitted: %s", reason)
        return pipelines, [reason]
    members: list[Any] = []
    reasons: list[str] = []
    for number, (_, pipeline, config) in enumerate(model.ensemble_):
        try:
            members.append(compile_pipeline(pipeline, probe))
        except Exception as exc:  # noqa: BLE001 - NotCompiled, or a step that fails its probe
            reason = str(exc) if isinstance(exc, NotCompiled) else repr(exc)
            reasons.append(f"member {number} ({config.get('model', '?')}): {reason}")
            members.append(pipeline)
    if not reasons:  # and the blend: the stack layer and the weights see the same outputs
        expected = model.blend_members(probe, pipelines)
        if not all(
            np.array_equal(model.blend_members(rows, members), expected, equal_nan=True)
            for rows in given_rows
            if rows is not None
        ):
            reasons.append("the compiled ensemble's output differs on probe rows")
            members = pipelines
    for reason in reasons:
        logger.info("sweepml: not compiled, predicted as fitted: %s", reason)
    return members, reasons


def probe_rows(schema: tuple[Column, ...]) -> list[dict[str, Any]]:
    """Rows to check compiled members on, as a request would give them: each column's recorded
    example; the same with each column missing in turn; every category unseen; all missing."""
    example = {column.name: column.example for column in schema if column.kind != "ignored"}
    records = [example, {name: None for name in example}]
    records += [{**example, name: None} for name in example]
    unseen = {c.name: PROBE_UNSEEN for c in schema if c.kind == "categorical"}
    if unseen:
        records.append({**example, **unseen})
    return records


def load_service(path: str | Path, *, compiled: bool = True) -> Service:
    """The model in ``path`` ready to serve: a tabular model file, or the folder an
    ``ImageClassifier`` was exported to. Else an ``InvalidParameterError`` (or, for an image
    folder, a ``SweepmlError``) naming the file and the reason (missing, not a sweepml model,
    made by a newer major version)."""
    if Path(path).is_dir():
        from sweepml.serve.images import load_image_service

        return load_image_service(path)
    from sweepml.tabular import load_model

    return TabularService(load_model(path), str(path), compiled=compiled)


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
