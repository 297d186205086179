"""A multi-layer perceptron (scikit-learn's), with early stopping on a validation split."""

from __future__ import annotations

from sklearn.neural_network import MLPClassifier, MLPRegressor

from sweepml.space import Float, Int, Param
from sweepml.tabular.components.base import CLASSIFICATION, Config, ModelComponent


def _mlp_params(task: str) -> dict[str, Param]:
    return {
        "mlp.layers": Int(1, 3, default=1),
        "mlp.units": Int(16, 256, log=True, default=64),
        "mlp.alpha": Float(1e-7, 1e-1, log=True, default=1e-4),
        "mlp.learning_rate_init": Float(1e-4, 1e-1, log=True, default=1e-3),
    }


def _build_mlp(config: Config, task: str, seed: int) -> object:
    cls = MLPClassifier if task == CLASSIFICATION else MLPRegressor
    return cls(
        hidden_layer_sizes=(config["mlp.units"],) * config["mlp.layers"],
        alpha=config["mlp.alpha"],
        learning_rate_init=config["mlp.learning_rate_init"],
        early_stopping=True,
        max_iter=200,
        random_state=seed,
    )


MLP = ModelComponent("mlp", _mlp_params, _build_mlp)
