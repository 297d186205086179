"""Random forest and extremely randomized trees (auto-sklearn's space for both)."""

from __future__ import annotations

from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)

from sweepml.space import Choice, Const, Float, Int, Param
from sweepml.tabular.components.base import CLASSIFICATION, Config, ModelComponent

N_TREES = 200


def _forest_params(prefix: str, task: str) -> dict[str, Param]:
    criterion: Param = (
        Choice(["gini", "entropy"]) if task == CLASSIFICATION else Const("squared_error")
    )
    return {
        f"{prefix}.criterion": criterion,
        f"{prefix}.max_features": Float(0.05, 1.0, default=0.5),
        f"{prefix}.min_samples_split": Int(2, 20, default=2),
        f"{prefix}.min_samples_leaf": Int(1, 20, default=1),
        f"{prefix}.bootstrap": Choice([True, False]),
    }


def _forest(prefix: str, classes: tuple[type, type]) -> ModelComponent:
    def build(config: Config, task: str, seed: int) -> object:
        cls = classes[0] if task == CLASSIFICATION else classes[1]
        return cls(
            n_estimators=N_TREES,
            criterion=config[f"{prefix}.criterion"],
            max_features=config[f"{prefix}.max_features"],
            min_samples_split=config[f"{prefix}.min_samples_split"],
            min_samples_leaf=config[f"{prefix}.min_samples_leaf"],
            bootstrap=config[f"{prefix}.bootstrap"],
            n_jobs=1,
            random_state=seed,
        )

    name = "random_forest" if prefix == "rf" else "extra_trees"
    return ModelComponent(name, lambda task: _forest_params(prefix, task), build, fit_scaling=1.3)


RANDOM_FOREST = _forest("rf", (RandomForestClassifier, RandomForestRegressor))
EXTRA_TREES = _forest("et", (ExtraTreesClassifier, ExtraTreesRegressor))
