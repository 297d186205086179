"""CatBoost (optional: ``pip install sweepml[catboost]``): ordered boosting on oblivious trees,
strong with its defaults, so its space stays close to them."""

from __future__ import annotations

from sweepml.space import Float, Int, Param
from sweepml.tabular.components.base import CLASSIFICATION, Config, ModelComponent
from sweepml.tabular.components.early_stopping import fit_catboost


def _params(task: str) -> dict[str, Param]:
    return {
        "cat.iterations": Int(100, 1000, log=True, default=300),
        "cat.learning_rate": Float(0.01, 0.3, log=True, default=0.1),
        "cat.depth": Int(4, 10, default=6),
        "cat.l2_leaf_reg": Float(1.0, 10.0, log=True, default=3.0),
        "cat.random_strength": Float(0.1, 10.0, log=True, default=1.0),
    }


def _build(config: Config, task: str, seed: int) -> object:
    import catboost

    cls = catboost.CatBoostClassifier if task == CLASSIFICATION else catboost.CatBoostRegressor
    return cls(
        iterations=config["cat.iterations"],
        learning_rate=config["cat.learning_rate"],
        depth=config["cat.depth"],
        l2_leaf_reg=config["cat.l2_leaf_reg"],
        random_strength=config["cat.random_strength"],
        thread_count=1,
        random_seed=seed,
        verbose=False,
        allow_writing_files=False,
    )


CATBOOST = ModelComponent(
    "catboost",
    _params,
    _build,
    fit_scaling=0.7,
    rounds_param="cat.iterations",
    fit_early=fit_catboost,
)
