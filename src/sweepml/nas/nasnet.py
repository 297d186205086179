"""NASNet networks from a config of ``nasnet_space`` or ``pnas_space``: the 13 operations, the
cells, the stack.

A cell takes the outputs of the two cells before it, projects both to ``C`` channels, and runs
its blocks: each applies one operation to each of its two inputs and combines the results (sum,
or concatenation projected back to ``C``). The cell's output concatenates the blocks that no
later block used. A reduction cell applies stride 2 to the operations that read the cell's
inputs and doubles ``C``. The network: a 3x3 stem, then ``cells`` normal cells, a reduction
cell, ``cells`` normal cells, a reduction cell, ``cells`` normal cells, global pooling and a
linear classifier (Zoph et al. 2018, at our scale).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

__all__ = ["NASNet", "make_op"]


def _conv(c: int, kernel: tuple[int, int], stride: int, dilation: int = 1) -> nn.Module:
    padding = (dilation * (kernel[0] - 1) // 2, dilation * (kernel[1] - 1) // 2)
    return nn.Sequential(
        nn.ReLU(),
        nn.Conv2d(c, c, kernel, stride=stride, padding=padding, dilation=dilation, bias=False),
        nn.BatchNorm2d(c),
    )


def _separable(c: int, k: int, stride: int) -> nn.Module:
    return nn.Sequential(
        nn.ReLU(),
        nn.Conv2d(c, c, k, stride=stride, padding=k // 2, groups=c, bias=False),
        nn.Conv2d(c, c, 1, bias=False),
        nn.BatchNorm2d(c),
    )


def _factorized(c: int, first: tuple[int, int], second: tuple[int, int], stride: int) -> nn.Module:
    return nn.Sequential(
        nn.ReLU(),
        nn.Conv2d(c, c, first, stride=(1, stride), padding=(first[0] // 2, first[1] // 2),
                  bias=False),
        nn.Conv2d(c, c, second, stride=(stride, 1), padding=(second[0] // 2, second[1] // 2),
                  bias=False),
        nn.BatchNorm2d(c),
    )  # fmt: skip


class FactorizedReduce(nn.Module):
    """Halve the resolution without losing half the pixels: two offset 1x1 convs, concatenated."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.relu = nn.ReLU()
        self.left = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.right = nn.Conv2d(c_in, c_out - c_out // 2, 1, stride=2, bias=False)
        self.norm = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = nn.functional.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.norm(torch.cat([self.left(x), self.right(shifted)], dim=1))


_OPS: dict[str, Callable[[int, int], nn.Module]] = {
    "identity": lambda c, s: nn.Identity() if s == 1 else FactorizedReduce(c, c),
    "conv_1x7_7x1": lambda c, s: _factorized(c, (1, 7), (7, 1), s),
    "avg_pool_3x3": lambda c, s: nn.AvgPool2d(3, stride=s, padding=1, count_include_pad=False),
    "max_pool_5x5": lambda c, s: nn.MaxPool2d(5, stride=s, padding=2),
    "conv_1x1": lambda c, s: _conv(c, (1, 1), s),
    "sep_conv_3x3": lambda c, s: _separable(c, 3, s),
    "sep_conv_5x5": lambda c, s: _separable(c, 5, s),
    "sep_conv_7x7": lambda c, s: _separable(c, 7, s),
    "conv_1x3_3x1": lambda c, s: _factorized(c, (1, 3), (3, 1), s),
    "dil_conv_3x3": lambda c, s: _conv(c, (3, 3), s, dilation=2),
    "max_pool_3x3": lambda c, s: nn.MaxPool2d(3, stride=s, padding=1),
    "max_pool_7x7": lambda c, s: nn.MaxPool2d(7, stride=s, padding=3),
    "conv_3x3": lambda c, s: _conv(c, (3, 3), s),
}


def make_op(name: str, channels: int, stride: int) -> nn.Module:
    """One of the 13 operations, ``channels`` in and out, at ``stride`` 1 or 2."""
    return _OPS[name](channels, stride)


def _project(c_in: int, c_out: int) -> nn.Module:
    return nn.Sequential(nn.ReLU(), nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))


class Cell(nn.Module):
    def __init__(
        self,
        config: Mapping[str, Any],
        kind: str,
        c_prev_prev: int,
        c_prev: int,
        c: int,
        *,
        reduction: bool,
        reduced_before: bool,
    ) -> None:
        super().__init__()
        # the cell before the previous one is twice as large when the previous cell reduced
        self.pre0 = FactorizedReduce(c_prev_prev, c) if reduced_before else _project(c_prev_prev, c)
        self.pre1 = _project(c_prev, c)
        n_blocks = sum(1 for key in config if key.startswith(kind) and key.endswith("_op1"))
        self.plan: list[tuple[int, int, str]] = []
        self.ops = nn.ModuleList()
        self.merge = nn.ModuleList()
        used: set[int] = set()
        for k in range(n_blocks):
            in1, in2 = int(config[f"{kind}{k}_in1"]), int(config[f"{kind}{k}_in2"])
            used |= {in1, in2}
            for source, op in ((in1, config[f"{kind}{k}_op1"]), (in2, config[f"{kind}{k}_op2"])):
                stride = 2 if reduction and source < 2 else 1
                self.ops.append(make_op(str(op), c, stride))
            comb = str(config.get(f"{kind}{k}_comb", "add"))  # PNAS cells always add
            self.merge.append(_project(2 * c, c) if comb == "concat" else nn.Identity())
            self.plan.append((in1, in2, comb))
        self.outputs = [i for i in range(2, n_blocks + 2) if i not in used]
        self.out_channels = c * len(self.outputs)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        for k, (in1, in2, comb) in enumerate(self.plan):
            a = self.ops[2 * k](states[in1])
            b = self.ops[2 * k + 1](states[in2])
            states.append(self.merge[k](torch.cat([a, b], dim=1)) if comb == "concat" else a + b)
        return torch.cat([states[i] for i in self.outputs], dim=1)


class NASNet(nn.Module):
    """``cells`` normal cells between two reduction cells, ``filters`` channels at the start."""

    def __init__(
        self,
        config: Mapping[str, Any],
        input_shape: Sequence[int],
        n_classes: int,
        *,
        cells: int = 1,
        filters: int = 16,
    ) -> None:
        super().__init__()
        channels = int(input_shape[0])
        self.stem = nn.Sequential(
            nn.Conv2d(channels, filters, 3, padding=1, bias=False), nn.BatchNorm2d(filters)
        )
        c_prev_prev, c_prev, c = filters, filters, filters
        self.cells = nn.ModuleList()
        reduced_before = False
        layout = (
            ["normal"] * cells + ["reduce"] + ["normal"] * cells + ["reduce"] + ["normal"] * cells
        )
        shared = "cell0_op1" in config  # a PNAS cell serves as normal and reduction cell
        for kind in layout:
            reduction = kind == "reduce"
            if reduction:
                c *= 2
            cell = Cell(config, "cell" if shared else kind, c_prev_prev, c_prev, c,
                        reduction=reduction,
                        reduced_before=reduced_before)  # fmt: skip
            self.cells.append(cell)
            reduced_before = reduction
            c_prev_prev, c_prev = c_prev, cell.out_channels
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_prev, n_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.head(s1)
