"""Configs of the NAS spaces to PyTorch modules.

``build(config, input_shape, n_classes)`` recognizes the space by its parameters: ``dense`` for
an MLP, ``h1``/``w1``/``f1`` for a chain, ``normal0_op1`` for NASNet cells, ``cell0_op1`` for a
PNAS cell. A chain whose
reductions shrink the image below one pixel cannot be built; that raises ``ArchitectureError``
with the reason, so the trial is recorded FAILED and the search goes on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from sweepml.exceptions import SweepmlError

__all__ = ["ArchitectureError", "build", "count_parameters"]

_ACTIVATIONS = {
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "softplus": nn.Softplus,
    "softsign": nn.Softsign,
    "linear": nn.Identity,
}


class ArchitectureError(SweepmlError):
    """A config that names no buildable network for this input."""


def build(
    config: Mapping[str, Any],
    input_shape: Sequence[int],
    n_classes: int,
    *,
    seed: int | None = None,
    cells: int = 1,
    filters: int = 16,
) -> nn.Module:
    """The network of ``config`` for inputs of ``input_shape`` (C, H, W) and ``n_classes``;
    with a ``seed`` its initial weights are the same every time. ``cells`` (N) and ``filters``
    (F) size a NASNet: N normal cells around each of its two reduction cells, F stem channels."""
    if seed is not None:
        torch.manual_seed(seed)
    if "normal0_op1" in config or "cell0_op1" in config:
        from sweepml.nas.nasnet import NASNet

        if len(input_shape) != 3:
            raise ArchitectureError(
                f"A NASNet needs images (channels, height, width); got input shape "
                f"{tuple(input_shape)}."
            )
        return NASNet(config, input_shape, n_classes, cells=cells, filters=filters)
    if "dense" in config:
        return _mlp(config, int(math.prod(input_shape)), n_classes)
    if "h1" in config:
        if len(input_shape) != 3:
            raise ArchitectureError(
                f"A chain network needs images (channels, height, width); got input shape "
                f"{tuple(input_shape)}."
            )
        return ChainNet(config, tuple(int(s) for s in input_shape), n_classes)
    raise ArchitectureError(
        f"The config is none of an MLP ('dense'), a chain ('h1'), a NASNet ('normal0_op1') or a "
        f"PNAS cell ('cell0_op1'); "
        f"its keys are {sorted(config)}."
    )


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _mlp(config: Mapping[str, Any], n_inputs: int, n_classes: int) -> nn.Module:
    layers: list[nn.Module] = [nn.Flatten()]
    width = n_inputs
    for units in config["dense"]:
        layers += [nn.Linear(width, int(units)), _ACTIVATIONS[config["activation"]](),
                   nn.Dropout(float(config["dropout"]))]  # fmt: skip
        width = int(units)
    layers.append(nn.Linear(width, n_classes))
    return nn.Sequential(*layers)


class ChainNet(nn.Module):
    """Zoph & Le's chain: each layer convolves the concatenation of the previous layer's output
    and the outputs of its chosen skip sources (pooled to the current size), then BN + ReLU."""

    def __init__(self, config: Mapping[str, Any], input_shape: tuple[int, ...], n_classes: int):
        super().__init__()
        channels, height, width = input_shape
        n_layers = sum(1 for key in config if key.startswith("f") and key[1:].isdigit())
        self.sources: list[list[int]] = []
        self.layers = nn.ModuleList()
        out_channels = [channels]
        sizes = [(height, width)]
        for i in range(1, n_layers + 1):
            sources = [j for j in range(1, i - 1) if config.get(f"skip{i}_{j}")]
            # the previous layer always feeds this one; chosen skips add their outputs
            previous = [i - 1, *[j for j in sources if j != i - 1]]
            self.sources.append(previous)
            in_channels = sum(out_channels[j] for j in previous)
            reduction = config[f"r{i}"]
            stride = 2 if reduction == "stride2" else 1
            kh, kw = int(config[f"h{i}"]), int(config[f"w{i}"])
            layer: list[nn.Module] = [
                nn.Conv2d(in_channels, int(config[f"f{i}"]), (kh, kw), stride=stride,
                          padding=(kh // 2, kw // 2), bias=False),
                nn.BatchNorm2d(int(config[f"f{i}"])),
                nn.ReLU(),
            ]  # fmt: skip
            h, w = sizes[-1]
            if stride == 2:
                h, w = (h + 1) // 2, (w + 1) // 2
            if reduction == "maxpool":
                layer.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            if h < 1 or w < 1:
                raise ArchitectureError(
                    f"Layer {i}'s reduction shrinks the {height}x{width} input below one pixel; "
                    f"this architecture needs larger images or fewer reductions."
                )
            self.layers.append(nn.Sequential(*layer))
            out_channels.append(int(config[f"f{i}"]))
            sizes.append((h, w))
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(out_channels[-1], n_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = [x]
        for sources, layer in zip(self.sources, self.layers, strict=True):
            height, width = outputs[sources[0]].shape[-2:]
            size = (int(height), int(width))
            inputs = [
                outputs[j]
                if tuple(outputs[j].shape[-2:]) == size
                else nn.functional.adaptive_avg_pool2d(outputs[j], size)
                for j in sources
            ]
            outputs.append(layer(torch.cat(inputs, dim=1) if len(inputs) > 1 else inputs[0]))
        return self.head(outputs[-1])
