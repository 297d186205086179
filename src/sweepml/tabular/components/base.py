"""What a pipeline component is: its hyperparameters beside the function that builds it.

Parameter names are prefixed with the component's short name (``rf.min_samples_leaf``) because a
config is one flat dict across the whole pipeline space.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sweepml.space import Param

CLASSIFICATION = "classification"
REGRESSION = "regression"

Config = Mapping[str, Any]


@dataclass(frozen=True)
class ModelComponent:
    """A model family: its space for a task and its builder.

    Attributes:
        name: the option name in the pipeline space's ``model`` choice.
        params: task -> the family's hyperparameters (names prefixed).
        build: (config, task, seed) -> an unfitted scikit-learn compatible estimator.
        max_rows: skipped on larger training sets (kernel methods scale quadratically).
    """

    name: str
    params: Callable[[str], dict[str, Param]]
    build: Callable[[Config, str, int], Any]
    max_rows: int | None = None
