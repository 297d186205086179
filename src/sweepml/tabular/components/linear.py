"""Linear models: logistic / ridge regression, and the linear model trained by SGD
(auto-sklearn's space, with its conditional parameters)."""

from __future__ import annotations

from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression, Ridge, SGDClassifier, SGDRegressor

from sweepml.space import Choice, Float, Param
from sweepml.tabular.components.base import CLASSIFICATION, Config, ModelComponent


def _linear_params(task: str) -> dict[str, Param]:
    if task == CLASSIFICATION:
        return {"linear.C": Float(1e-4, 1e4, log=True, default=1.0)}
    return {"linear.alpha": Float(1e-4, 1e4, log=True, default=1.0)}


def _build_linear(config: Config, task: str, seed: int) -> object:
    if task == CLASSIFICATION:
        return LogisticRegression(C=config["linear.C"], max_iter=1000)
    return Ridge(alpha=config["linear.alpha"], random_state=seed)


_EPSILON = {"sgd.epsilon": Float(1e-5, 1e-1, log=True, default=1e-4)}


def _sgd_params(task: str) -> dict[str, Param]:
    if task == CLASSIFICATION:
        loss = Choice(
            {
                "log_loss": None,
                "hinge": None,
                "modified_huber": _EPSILON,
                "squared_hinge": None,
                "perceptron": None,
            }
        )
    else:
        loss = Choice(
            {
                "squared_error": None,
                "huber": _EPSILON,
                "epsilon_insensitive": _EPSILON,
                "squared_epsilon_insensitive": _EPSILON,
            }
        )
    return {
        "sgd.loss": loss,
        "sgd.penalty": Choice(
            {"l2": None, "l1": None, "elasticnet": {"sgd.l1_ratio": Float(1e-9, 1.0, log=True)}}
        ),
        "sgd.alpha": Float(1e-7, 1e-1, log=True, default=1e-4),
        "sgd.learning_rate": Choice(
            {
                "invscaling": {"sgd.power_t": Float(1e-5, 1.0, default=0.5)},
                "optimal": None,
                "constant": None,
            }
        ),
        "sgd.eta0": Float(1e-7, 1e-1, log=True, default=0.01),
        "sgd.average": Choice([False, True]),
        "sgd.tol": Float(1e-5, 1e-1, log=True, default=1e-4),
    }


def _build_sgd(config: Config, task: str, seed: int) -> object:
    options = {
        "loss": config["sgd.loss"],
        "penalty": config["sgd.penalty"],
        "alpha": config["sgd.alpha"],
        "l1_ratio": config.get("sgd.l1_ratio", 0.15),
        "learning_rate": config["sgd.learning_rate"],
        "eta0": config["sgd.eta0"],
        "power_t": config.get("sgd.power_t", 0.5),
        "average": config["sgd.average"],
        "tol": config["sgd.tol"],
        "max_iter": 1000,
        "random_state": seed,
    }
    if "sgd.epsilon" in config:
        options["epsilon"] = config["sgd.epsilon"]
    if task != CLASSIFICATION:
        return SGDRegressor(**options)
    model = SGDClassifier(**options)
    if config["sgd.loss"] in ("log_loss", "modified_huber"):
        return model
    # the other losses give no probabilities; calibrate on internal folds so every metric works
    return CalibratedClassifierCV(model, cv=3)


LINEAR = ModelComponent("linear", _linear_params, _build_linear, parallel_fit=False)
SGD = ModelComponent("sgd", _sgd_params, _build_sgd)
