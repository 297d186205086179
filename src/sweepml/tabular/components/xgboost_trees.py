"""XGBoost (optional: ``pip install sweepml[xgboost]``), with auto-sklearn's space: the DART
booster's dropout parameters are active only when ``booster`` is ``dart``."""

from __future__ import annotations

from sweepml.space import Choice, Float, Int, Param
from sweepml.tabular.components.base import CLASSIFICATION, Config, ModelComponent
from sweepml.tabular.components.early_stopping import fit_xgboost

_DART = {
    "xgb.sample_type": Choice(["uniform", "weighted"]),
    "xgb.normalize_type": Choice(["tree", "forest"]),
    "xgb.rate_drop": Float(1e-10, 1 - 1e-10, default=0.5),
}


def _params(task: str) -> dict[str, Param]:
    # the seed's table; max_depth's default is XGBoost's own 6 (the table's 3 is a weak start),
    # and n_estimators is searched as well (auto-sklearn fixed it)
    return {
        "xgb.n_estimators": Int(50, 1000, log=True, default=200),
        "xgb.max_depth": Int(1, 10, default=6),
        "xgb.learning_rate": Float(0.01, 1.0, log=True, default=0.1),
        "xgb.booster": Choice({"gbtree": None, "dart": _DART}),
        "xgb.subsample": Float(0.01, 1.0, default=1.0),
        "xgb.min_child_weight": Float(1e-10, 20.0, default=1.0),
    }


def _build(config: Config, task: str, seed: int) -> object:
    import xgboost

    cls = xgboost.XGBClassifier if task == CLASSIFICATION else xgboost.XGBRegressor
    dart = {}
    if config["xgb.booster"] == "dart":
        dart = {
            "sample_type": config["xgb.sample_type"],
            "normalize_type": config["xgb.normalize_type"],
            "rate_drop": config["xgb.rate_drop"],
        }
    return cls(
        n_estimators=config["xgb.n_estimators"],
        max_depth=config["xgb.max_depth"],
        learning_rate=config["xgb.learning_rate"],
        booster=config["xgb.booster"],
        subsample=config["xgb.subsample"],
        min_child_weight=config["xgb.min_child_weight"],
        tree_method="hist",
        n_jobs=1,
        random_state=seed,
        **dart,
    )


XGBOOST = ModelComponent(
    "xgboost",
    _params,
    _build,
    fit_scaling=0.7,
    rounds_param="xgb.n_estimators",
    fit_early=fit_xgboost,
)
