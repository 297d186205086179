"""Gradient-boosted trees: LightGBM and scikit-learn's HistGradientBoosting."""

from __future__ import annotations

from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from sweepml.space import Float, Int, Param
from sweepml.tabular.components.base import CLASSIFICATION, Config, ModelComponent
from sweepml.tabular.components.early_stopping import fit_lightgbm


def _lightgbm_params(task: str) -> dict[str, Param]:
    return {
        "lgbm.n_estimators": Int(50, 1000, log=True, default=200),
        "lgbm.learning_rate": Float(0.01, 0.3, log=True, default=0.1),
        "lgbm.num_leaves": Int(4, 256, log=True, default=31),
        "lgbm.min_child_samples": Int(2, 100, log=True, default=20),
        "lgbm.subsample": Float(0.5, 1.0, default=1.0),
        "lgbm.colsample_bytree": Float(0.3, 1.0, default=1.0),
        "lgbm.reg_lambda": Float(1e-8, 10.0, log=True, default=1e-8),
    }


def _build_lightgbm(config: Config, task: str, seed: int) -> object:
    import lightgbm

    cls = lightgbm.LGBMClassifier if task == CLASSIFICATION else lightgbm.LGBMRegressor
    return cls(
        n_estimators=config["lgbm.n_estimators"],
        learning_rate=config["lgbm.learning_rate"],
        num_leaves=config["lgbm.num_leaves"],
        min_child_samples=config["lgbm.min_child_samples"],
        subsample=config["lgbm.subsample"],
        subsample_freq=1 if config["lgbm.subsample"] < 1.0 else 0,
        colsample_bytree=config["lgbm.colsample_bytree"],
        reg_lambda=config["lgbm.reg_lambda"],
        n_jobs=1,
        random_state=seed,
        verbose=-1,
    )


def _hgb_params(task: str) -> dict[str, Param]:
    return {
        "hgb.learning_rate": Float(0.01, 1.0, log=True, default=0.1),
        "hgb.max_iter": Int(50, 500, log=True, default=100),
        "hgb.max_leaf_nodes": Int(3, 2047, log=True, default=31),
        "hgb.min_samples_leaf": Int(1, 200, log=True, default=20),
        "hgb.l2_regularization": Float(1e-10, 1.0, log=True, default=1e-10),
    }


def _build_hgb(config: Config, task: str, seed: int) -> object:
    cls = (
        HistGradientBoostingClassifier if task == CLASSIFICATION else HistGradientBoostingRegressor
    )
    return cls(
        learning_rate=config["hgb.learning_rate"],
        max_iter=config["hgb.max_iter"],
        max_leaf_nodes=config["hgb.max_leaf_nodes"],
        min_samples_leaf=config["hgb.min_samples_leaf"],
        l2_regularization=config["hgb.l2_regularization"],
        early_stopping=False,
        random_state=seed,
    )


LIGHTGBM = ModelComponent(
    "lightgbm",
    _lightgbm_params,
    _build_lightgbm,
    fit_scaling=0.7,
    rounds_param="lgbm.n_estimators",
    fit_early=fit_lightgbm,
)
HIST_GRADIENT_BOOSTING = ModelComponent(
    "hist_gradient_boosting", _hgb_params, _build_hgb, fit_scaling=0.7
)
