"""The pipeline search space (a conditional core space) and the builder of a config's pipeline."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sklearn.pipeline import Pipeline

from sweepml.exceptions import InvalidParameterError
from sweepml.space import Choice, Int, Space
from sweepml.tabular.components import MODELS
from sweepml.tabular.components.preprocessing import build_preprocessor, preprocessing_params
from sweepml.tabular.data import ColumnTypes

__all__ = ["build_pipeline", "pipeline_space", "with_most_rounds"]


def pipeline_space(
    task: str, *, n_rows: int, n_features: int, models: Iterable[str] | None = None
) -> Space:
    """Model family (with its hyperparameters) x preprocessing, for data of this size.

    Families whose cost explodes on large data (kernel SVMs, kNN) are left out above their
    ``max_rows``.
    """
    names = list(MODELS) if models is None else list(models)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise InvalidParameterError(
            f"Unknown model families {unknown}; allowed are {sorted(MODELS)}."
        )
    allowed = {
        name: MODELS[name].params(task)
        for name in names
        if MODELS[name].max_rows is None or n_rows <= (MODELS[name].max_rows or 0)
    }
    return Space({"model": Choice(allowed), **preprocessing_params(n_rows, n_features)})


def with_most_rounds(config: dict[str, Any], space: Space, *, scale: float = 1.0) -> dict[str, Any]:
    """``config`` with its boosting rounds at ``space``'s upper bound times ``scale`` (at least
    1); ``config`` itself when its family has no rounds to set."""
    rounds_param = MODELS[config["model"]].rounds_param
    rounds = space.all_params.get(rounds_param) if rounds_param else None
    if not isinstance(rounds, Int) or rounds_param not in config:
        return config
    return {**config, rounds_param: int(rounds.high * max(scale, 1.0))}


def build_pipeline(
    config: Mapping[str, Any], columns: ColumnTypes, task: str, seed: int
) -> Pipeline:
    """An unfitted scikit-learn pipeline for ``config``."""
    steps = build_preprocessor(config, columns, task, seed)
    steps.append(("model", MODELS[config["model"]].build(config, task, seed)))
    return Pipeline(steps)
