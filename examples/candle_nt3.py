"""A small PyTorch objective for the CANDLE NT3 space (examples/candle_nt3.yaml).

NT3 tells tumour from normal tissue with a 1-D convolutional net and dense layers. This example
does the same on scikit-learn's bundled breast-cancer table (30 measurements per sample, read as
a 1-D signal), so it runs offline in seconds. ``conv`` lists the filters of each Conv1d layer
(kernel 3), ``dense`` the widths of the dense layers; the epochs come from the multi-fidelity
strategy's budget, or from the config under any other strategy.

    sweepml tune examples/candle_nt3.py:objective --space examples/candle_nt3.yaml \
        --strategy hyperband --max-budget 27 --trials 60 --maximize --storage nt3.db
    sweepml report nt3.db -o nt3.html
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch import nn

from sweepml import TrialPruned

ACTIVATIONS = {
    "softmax": lambda: nn.Softmax(dim=1),
    "elu": nn.ELU,
    "softplus": nn.Softplus,
    "softsign": nn.Softsign,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "hard_sigmoid": nn.Hardsigmoid,
    "linear": nn.Identity,
}
OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
    "adadelta": torch.optim.Adadelta,
    "adamax": torch.optim.Adamax,
    "nadam": torch.optim.NAdam,
}


def data() -> tuple[torch.Tensor, ...]:
    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=0.3, stratify=y, random_state=0
    )
    scaler = StandardScaler().fit(x_train)
    as_signal = lambda a: torch.tensor(scaler.transform(a), dtype=torch.float32).unsqueeze(1)  # noqa: E731
    return as_signal(x_train), torch.tensor(y_train), as_signal(x_val), torch.tensor(y_val)


def build(config: dict, n_features: int) -> nn.Module:
    layers: list[nn.Module] = []
    channels = 1
    for filters in config["conv"]:
        layers += [nn.Conv1d(channels, filters, kernel_size=3, padding=1),
                   ACTIVATIONS[config["activation"]]()]  # fmt: skip
        channels = filters
    layers.append(nn.Flatten())
    width = channels * n_features
    for units in config["dense"]:
        layers += [nn.Linear(width, units), ACTIVATIONS[config["activation"]](),
                   nn.Dropout(config["drop"])]  # fmt: skip
        width = units
    layers.append(nn.Linear(width, 2))
    return nn.Sequential(*layers)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(dim=1) == y).float().mean())


def objective(config: dict, trial=None, budget: float | None = None) -> dict:
    """Validation accuracy after ``budget`` epochs (or ``config['epochs']``)."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    x_train, y_train, x_val, y_val = data()
    epochs = int(budget) if budget is not None else int(config["epochs"])
    model = build(config, x_train.shape[-1])
    optimizer = OPTIMIZERS[config["optimizer"]](model.parameters(), lr=config["learning_rate"])
    generator = torch.Generator().manual_seed(0)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        for start in range(0, len(order), config["batch_size"]):
            batch = order[start : start + config["batch_size"]]
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x_train[batch]), y_train[batch])
            loss.backward()
            optimizer.step()
        val = accuracy(model, x_val, y_val)
        if trial is not None:
            trial.report(epoch, val)
            if trial.should_prune():
                raise TrialPruned()
    train = accuracy(model, x_train, y_train)
    if not np.isfinite(loss.item()):
        raise FloatingPointError("the training loss diverged")
    return {"value": val, "train_value": train, "epochs": epochs}
