"""``scan``: Talos-style search over a model-building function, as one call.

The user writes ``model_fn(x_train, y_train, x_val, y_val, params)`` that builds and trains a
model (PyTorch, scikit-learn, anything) and returns ``(history, model)`` or just a score; ``scan``
splits the data, runs the function on the grid (or any strategy) and returns the results table,
the best params and the best model. Under the hood it is an ordinary study, so it can be stored,
resumed and reported like any other.

What counts as the score:

- a returned number is the value of ``metric`` (default ``val_loss``, minimized; name it
  ``metric="val_accuracy"`` or pass ``direction="maximize"`` for a score to maximize);
- a returned history (a mapping of metric name to per-epoch values, like Keras'
  ``History.history``, or an object with such a ``history`` attribute) is scored by ``metric``
  (default ``val_loss``) at the *last* epoch; every metric's last value is recorded, and the
  chosen metric's curve is reported per epoch (so ``pruner=`` works, and reports draw it), and
  its training twin (``acc`` for ``val_acc``) as ``train_value`` (for the prediction optimum).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sweepml._validation import check_float, is_real
from sweepml.analysis.metrics import TRAIN_VALUE_KEY
from sweepml.exceptions import InvalidParameterError, SweepmlError
from sweepml.objective import Trial
from sweepml.search import maximize, minimize
from sweepml.space import Space
from sweepml.strategies import GridSearch, Strategy, make_strategy
from sweepml.study import Study
from sweepml.trial import TrialStatus

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ScanResult", "scan"]

_MINIMIZED_WORDS = ("loss", "error", "mse", "mae", "rmse", "mape", "perplexity")
_MAXIMIZED_WORDS = ("acc", "auc", "f1", "r2", "score", "precision", "recall", "iou")


@dataclass(frozen=True)
class ScanResult:
    """What ``scan`` found.

    Attributes:
        data: one row per trial: status, score, every recorded metric, then the params.
        best_params: the params of the best trial.
        best_value: its score.
        best_model: the model the best trial built (kept in memory during the scan; rebuilt
            once by calling ``model_fn`` again when that trial ran in another process or an
            earlier session). None when ``model_fn`` returns only a score.
        study: the underlying study (for ``sweepml.analysis`` and ``sweepml report``).
    """

    data: pd.DataFrame
    best_params: dict[str, Any]
    best_value: float
    best_model: Any
    study: Study


def scan(
    model_fn: Callable[..., Any],
    x: Any,
    y: Any,
    *,
    params: Mapping[str, Any] | Space,
    x_val: Any = None,
    y_val: Any = None,
    val_split: float = 0.3,
    fraction: float = 1.0,
    strategy: str | Strategy = "grid",
    n_trials: int | None = None,
    metric: str | None = None,
    direction: str | None = None,
    seed: int | None = None,
    time_budget: float | None = None,
    n_workers: int = 1,
    pruner: Any = None,
    storage: Any = None,
    study_name: str | None = None,
    show_progress: bool | None = None,
) -> ScanResult:
    """Run ``model_fn`` on the configs of ``params`` and keep the best model.

    Args:
        model_fn: ``model_fn(x_train, y_train, x_val, y_val, params)`` returning
            ``(history, model)`` or a score.
        x, y: the data (numpy arrays, pandas objects, torch tensors; anything with ``len`` and
            integer-array indexing).
        params: a ``Space`` or a Talos-style dict (a list is a choice, a ``(start, stop, n)``
            tuple is n evenly spaced values, anything else a constant).
        x_val, y_val: validation data; without them ``val_split`` of (x, y), shuffled with the
            seed, is held out.
        fraction: share of the grid to run (0.5 of a 16-point grid runs 8 points, chosen with
            the seed); for other strategies the number of trials is ``fraction`` of the grid
            size unless ``n_trials`` is given.
        strategy: ``"grid"`` or any strategy name or instance.
        metric: the history key to optimize (default ``val_loss``).
        direction: ``"minimize"`` or ``"maximize"``; by default inferred from the metric's name
            (loss/error: minimize; accuracy/auc/score: maximize).
        seed, time_budget, n_workers, pruner, storage, study_name, show_progress: as for
            ``minimize``.

    Example:
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.neighbors import KNeighborsClassifier
        >>> x, y = load_iris(return_X_y=True)
        >>> def knn(x_train, y_train, x_val, y_val, params):
        ...     model = KNeighborsClassifier(**params).fit(x_train, y_train)
        ...     return {"val_accuracy": [model.score(x_val, y_val)]}, model
        >>> result = scan(knn, x, y, params={"n_neighbors": [1, 5, 15]}, metric="val_accuracy",
        ...               seed=0, show_progress=False)
        >>> sorted(result.best_params)
        ['n_neighbors']
    """
    if not callable(model_fn):
        raise InvalidParameterError(
            f"The 'model_fn' parameter of scan must be a callable; got {model_fn!r}."
        )
    space = _space(params)
    data = _split(x, y, x_val, y_val, val_split, seed)
    fraction = check_float("scan", "fraction", fraction, minimum=0, exclusive_minimum=True)
    if fraction > 1:
        raise InvalidParameterError(
            f"The 'fraction' parameter of scan must be in (0, 1]; got {fraction!r}."
        )
    if strategy == "grid":
        strategy = GridSearch(fraction=fraction)
    else:
        make_strategy(strategy, owner="scan")  # checks the name early
    if n_trials is None:
        size = space.size
        if not math.isfinite(size) and time_budget is None:
            raise InvalidParameterError(
                "scan needs n_trials or time_budget when params has continuous ranges; with "
                "lists and (start, stop, n) tuples only, the grid sets the number of trials."
            )
        n_trials = None if not math.isfinite(size) else max(int(round(fraction * size)), 1)
    search = _direction(direction, metric)
    runner = _ModelRun(model_fn, data, metric)
    runner.sign = 1.0 if search == "minimize" else -1.0
    study = (minimize if search == "minimize" else maximize)(
        runner,
        space,
        strategy=strategy,
        n_trials=n_trials,
        time_budget=time_budget,
        n_workers=n_workers,
        pruner=pruner,
        storage=storage,
        study_name=study_name or getattr(model_fn, "__name__", "scan"),
        seed=seed,
        show_progress=show_progress,
    )
    return _result(study, runner)


def _space(params: Mapping[str, Any] | Space) -> Space:
    if isinstance(params, Space):
        return params
    if not isinstance(params, Mapping) or not params:
        raise InvalidParameterError(
            f"The 'params' parameter of scan must be a non-empty dict or a Space; got {params!r}."
        )
    for name, value in params.items():
        if isinstance(value, list) and not value:
            raise InvalidParameterError(
                f"The 'params' entry {name!r} of scan is an empty list; give at least one value "
                f"(a list is the choices to try)."
            )
    return Space.from_dict(params)


@dataclass(frozen=True)
class _Data:
    x_train: Any
    y_train: Any
    x_val: Any
    y_val: Any


def _length(name: str, value: Any) -> int:
    try:
        return len(value)
    except TypeError:
        raise InvalidParameterError(
            f"The '{name}' parameter of scan must be array-like (numpy, pandas, torch); got "
            f"{type(value).__name__}."
        ) from None


def _take(values: Any, index: np.ndarray) -> Any:
    if hasattr(values, "iloc"):
        return values.iloc[index]
    if type(values).__module__.startswith("torch"):
        import torch

        return values[torch.as_tensor(index)]
    if isinstance(values, list):
        return [values[i] for i in index]
    return values[index]


def _split(x: Any, y: Any, x_val: Any, y_val: Any, val_split: float, seed: int | None) -> _Data:
    n_x, n_y = _length("x", x), _length("y", y)
    if n_x != n_y:
        raise InvalidParameterError(
            f"x and y passed to scan must have the same length; got {n_x} rows of x and {n_y} of y."
        )
    if (x_val is None) != (y_val is None):
        raise InvalidParameterError("scan needs both x_val and y_val, or neither.")
    if x_val is not None:
        n_xv, n_yv = _length("x_val", x_val), _length("y_val", y_val)
        if n_xv != n_yv:
            raise InvalidParameterError(
                f"x_val and y_val passed to scan must have the same length; got {n_xv} and {n_yv}."
            )
        return _Data(x, y, x_val, y_val)
    if not (is_real(val_split) and 0 < val_split < 1):
        raise InvalidParameterError(
            f"The 'val_split' parameter of scan must be a number in (0, 1); got {val_split!r}."
        )
    n_val = int(round(n_x * val_split))
    if n_val < 1 or n_val >= n_x:
        raise InvalidParameterError(
            f"scan cannot hold out {val_split!r} of {n_x} rows for validation; pass x_val and "
            f"y_val or more data."
        )
    order = np.random.default_rng(seed).permutation(n_x)
    val, train = order[:n_val], order[n_val:]
    return _Data(_take(x, train), _take(y, train), _take(x, val), _take(y, val))


def _direction(direction: str | None, metric: str | None) -> str:
    if direction is not None:
        if direction not in ("minimize", "maximize"):
            raise InvalidParameterError(
                f"The 'direction' parameter of scan must be 'minimize' or 'maximize'; got "
                f"{direction!r}."
            )
        return direction
    name = (metric or "val_loss").lower()
    if any(word in name for word in _MINIMIZED_WORDS):
        return "minimize"
    if any(word in name for word in _MAXIMIZED_WORDS):
        return "maximize"
    raise InvalidParameterError(
        f"scan cannot tell whether metric {metric!r} should be minimized or maximized; pass "
        f"direction='minimize' or 'maximize'."
    )


class _ModelRun:
    """The objective scan hands to the study: calls model_fn, reads its history, keeps the best
    model built in this process (and only that one)."""

    def __init__(self, model_fn: Callable[..., Any], data: _Data, metric: str | None) -> None:
        self.model_fn, self.data, self.metric = model_fn, data, metric
        self.best: tuple[int, float, Any] | None = None  # (trial number, value, model)
        self.sign = 1.0

    def build(self, params: Mapping[str, Any]) -> Any:
        d = self.data
        return self.model_fn(d.x_train, d.y_train, d.x_val, d.y_val, dict(params))

    def __call__(self, config: dict[str, Any], trial: Trial) -> dict[str, Any]:
        returned = self.build(config)
        value, metrics, curve, model = _read(returned, self.metric)
        for step, point in enumerate(curve):
            trial.report(step, point)
        if model is not None and (
            self.best is None or self.sign * value < self.sign * self.best[1]
        ):
            self.best = (trial.number, value, model)
        return {"value": value, **metrics}


def _history_dict(history: Any) -> Mapping[str, Any] | None:
    if isinstance(history, Mapping):
        return history
    inner = getattr(history, "history", None)  # a Keras History object
    return inner if isinstance(inner, Mapping) else None


def _read(returned: Any, metric: str | None) -> tuple[float, dict[str, Any], list[float], Any]:
    """(value, last value of every metric, the metric's curve, model) from what model_fn gave."""
    if is_real(returned):
        return float(returned), {}, [], None
    if not (
        isinstance(returned, Sequence) and not isinstance(returned, str) and len(returned) == 2
    ):
        raise SweepmlError(
            f"model_fn must return (history, model) or a score; it returned {_describe(returned)}."
        )
    history, model = returned
    if is_real(history):
        return float(history), {}, [], model
    curves = _history_dict(history)
    if curves is None:
        raise SweepmlError(
            f"The history model_fn returned must map metric names to per-epoch values (like "
            f"Keras' History.history) or be a score; got {_describe(history)}."
        )
    last: dict[str, Any] = {}
    for name, values in curves.items():
        points = _points(values)
        if points:
            last[str(name)] = points[-1]
    key = metric or "val_loss"
    if key not in last:
        raise SweepmlError(
            f"The history model_fn returned has no values for metric {key!r}; its metrics are "
            f"{sorted(last)}. Pass metric= one of them."
        )
    extra: dict[str, Any] = {"epochs": len(_points(curves[key]))}
    if key.startswith("val_") and key[4:] in last:  # Keras naming: val_acc's training twin is acc
        extra[TRAIN_VALUE_KEY] = last[key[4:]]
    return last[key], {**last, **extra}, _points(curves[key]), model


def _points(values: Any) -> list[float]:
    if is_real(values):
        return [float(values)]
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        return []


def _describe(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


def _result(study: Study, runner: _ModelRun) -> ScanResult:
    ok = [t for t in study.trials if t.status is TrialStatus.OK]
    if not ok:
        failed = [t for t in study.trials if t.error]
        reason = failed[0].error.strip().splitlines()[-1] if failed and failed[0].error else ""
        raise SweepmlError(
            f"No trial of the scan succeeded ({study.status_counts()}); the first error: "
            f"{reason or 'none recorded'}"
        )
    best = study.best
    if runner.best is not None and runner.best[0] == best.number:
        model = runner.best[2]
    else:  # built in a worker process or an earlier session: build it once more, here
        _, _, _, model = _read(runner.build(best.config), runner.metric)
    runner.best = None
    assert best.value is not None
    return ScanResult(_table(study), dict(best.config), best.value, model, study)


def _table(study: Study) -> pd.DataFrame:
    frame = study.to_dataframe()
    renamed: dict[str, str] = {}
    for column in frame.columns:
        if column.startswith(("params.", "metrics.")):
            short = column.split(".", 1)[1]
            if short not in frame.columns and short not in renamed.values():
                renamed[column] = short
    frame = frame.rename(columns=renamed).rename(columns={"value": "score"})
    return frame.drop(columns=["started_at", "finished_at", "retry_of"], errors="ignore")
