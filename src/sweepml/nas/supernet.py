"""The weight-sharing supernet: one network that holds every child of a space.

Two kinds, picked from the space as ``build`` does:

- **Cell spaces** (``nasnet_space``, ``pnas_space``): the NASNet stack of ``nasnet.py``, where
  every cell holds one module per *edge* (block ``k`` reading input ``j``) and operation, so
  a child (two inputs and two operations per block) runs a subset of the edges (Bender et al.
  2018's one-shot model; ENAS shares per block and operation, which our reduction cells cannot,
  since an operation reading a cell input has stride 2 there). The DARTS relaxation runs every
  edge and operation at once, weighted by the architecture weights. A cell's output is the
  concatenation of its unused blocks through a 1x1 convolution whose input columns are sliced
  to those blocks (ENAS's trick), so every child has the same width.
- **Chain spaces** (``chain_space``): per layer one 7x7 kernel of the largest filter count over
  the largest input (every earlier layer at full width); a child crops the kernel's centre to
  its filter size (Once-for-All's kernel sharing), takes its first ``f`` output channels and
  the input channels of the layers it reads.

Batch normalization always uses the batch's statistics (no running averages): the children
share the weights but not their activation statistics, so stored averages would fit none.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from sweepml.exceptions import InvalidParameterError, SweepmlError
from sweepml.nas.nasnet import FactorizedReduce, _project, make_op
from sweepml.nas.spaces import REDUCTIONS
from sweepml.space import Choice, Space

__all__ = ["Relaxation", "Supernet", "SupernetMemoryError", "space_kind"]


class SupernetMemoryError(SweepmlError, MemoryError):
    """The supernet does not fit the device's memory."""


def space_kind(space: Space) -> str:
    """``"nasnet"``, ``"pnas"`` or ``"chain"``: which supernet can hold this space."""
    params = space.all_params
    if "normal0_op1" in params:
        return "nasnet"
    if "cell0_op1" in params:
        return "pnas"
    if "h1" in params and "f1" in params:
        return "chain"
    raise InvalidParameterError(
        f"Weight sharing needs a cell space (nasnet_space, pnas_space) or a chain space "
        f"(chain_space); this space's parameters are {sorted(params)[:8]}."
    )


def _options(space: Space, name: str) -> list[Any]:
    param = space.all_params[name]
    if not isinstance(param, Choice):
        raise InvalidParameterError(
            f"Weight sharing needs {name!r} to be a Choice of options; got {param!r}."
        )
    return list(param.values)


@dataclass
class Relaxation:
    """DARTS's architecture weights of one cell kind: ``alpha[k][j]`` are the logits of the
    operations on the edge from input ``j`` to block ``k``; ``beta[k]`` the logits of block
    ``k``'s incoming edges (PC-DARTS's edge normalization, which stands in for DARTS's "zero"
    operation when picking each block's two inputs)."""

    alpha: list[torch.Tensor]  # block k: (k + 2) x n_ops
    beta: list[torch.Tensor]  # block k: k + 2


def _batch_stats_only(module: nn.Module) -> None:
    for sub in module.modules():
        if isinstance(sub, nn.BatchNorm2d):
            sub.track_running_stats = False
            sub.running_mean = None
            sub.running_var = None
            sub.num_batches_tracked = None


# -- cell spaces ------------------------------------------------------------------------------
class _SuperCell(nn.Module):
    def __init__(
        self,
        kind: str,
        n_blocks: int,
        ops: Sequence[str],
        combine: bool,
        c_prev_prev: int,
        c_prev: int,
        c: int,
        *,
        reduction: bool,
        reduced_before: bool,
    ) -> None:
        super().__init__()
        self.kind, self.n_blocks, self.ops = kind, n_blocks, list(ops)
        self.pre0 = FactorizedReduce(c_prev_prev, c) if reduced_before else _project(c_prev_prev, c)
        self.pre1 = _project(c_prev, c)
        # edges[k][j][o]: operation o on the edge from input j (0, 1: the cell's inputs; 2..:
        # earlier blocks) to block k; stride 2 where a reduction cell reads its inputs
        self.edges = nn.ModuleList(
            nn.ModuleList(
                nn.ModuleList(make_op(op, c, 2 if reduction and j < 2 else 1) for op in self.ops)
                for j in range(k + 2)
            )
            for k in range(n_blocks)
        )
        self.merge = nn.ModuleList(_project(2 * c, c) for _ in range(n_blocks)) if combine else None
        self.out = nn.Parameter(torch.empty(c, n_blocks * c, 1, 1))
        nn.init.kaiming_normal_(self.out)
        self.out_norm = nn.BatchNorm2d(c)
        self.channels = c

    def _edge(self, k: int, j: int, op: str) -> nn.Module:
        return self.edges[k][j][self.ops.index(op)]  # type: ignore[index,no-any-return]

    def _output(self, states: list[torch.Tensor], blocks: list[int]) -> torch.Tensor:
        c = self.channels
        weight = torch.cat([self.out[:, (b - 2) * c : (b - 1) * c] for b in blocks], dim=1)
        mixed = torch.cat([states[b] for b in blocks], dim=1)
        return self.out_norm(F.conv2d(F.relu(mixed), weight))

    def forward(
        self, s0: torch.Tensor, s1: torch.Tensor, config: Mapping[str, Any]
    ) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        used: set[int] = set()
        kind = self.kind
        for k in range(self.n_blocks):
            in1, in2 = int(config[f"{kind}{k}_in1"]), int(config[f"{kind}{k}_in2"])
            a = self._edge(k, in1, config[f"{kind}{k}_op1"])(states[in1])
            b = self._edge(k, in2, config[f"{kind}{k}_op2"])(states[in2])
            if config.get(f"{kind}{k}_comb", "add") == "concat" and self.merge is not None:
                states.append(self.merge[k](torch.cat([a, b], dim=1)))
            else:
                states.append(a + b)
            used |= {in1, in2}
        return self._output(states, [b for b in range(2, self.n_blocks + 2) if b not in used])

    def relaxed(self, s0: torch.Tensor, s1: torch.Tensor, weights: Relaxation) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        for k in range(self.n_blocks):
            edge_weights = torch.softmax(weights.beta[k], dim=0)
            op_weights = torch.softmax(weights.alpha[k], dim=-1)
            node: torch.Tensor | float = 0.0
            for j in range(k + 2):
                mixed = sum(
                    w * self._edge(k, j, op)(states[j])
                    for w, op in zip(op_weights[j], self.ops, strict=True)
                )
                node = node + edge_weights[j] * mixed
            states.append(node)  # type: ignore[arg-type]
        return self._output(states, list(range(2, self.n_blocks + 2)))  # DARTS keeps every block


class _CellSupernet(nn.Module):
    def __init__(
        self, space: Space, input_shape: Sequence[int], n_classes: int, cells: int, filters: int
    ) -> None:
        super().__init__()
        params = space.all_params
        self.shared = "cell0_op1" in params
        kinds = ["cell"] if self.shared else ["normal", "reduce"]
        self.kinds = kinds
        self.n_blocks = sum(1 for name in params if name.startswith(kinds[0]) and
                            name.endswith("_op1"))  # fmt: skip
        self.ops = _options(space, f"{kinds[0]}0_op1")
        combine = any(name.endswith("_comb") for name in params)
        channels = int(input_shape[0])
        self.stem = nn.Sequential(
            nn.Conv2d(channels, filters, 3, padding=1, bias=False), nn.BatchNorm2d(filters)
        )
        stage = ["normal"] * cells
        layout = [*stage, "reduce", *stage, "reduce", *stage]
        c_prev_prev = c_prev = c = filters
        reduced_before = False
        self.cells = nn.ModuleList()
        for kind in layout:
            reduction = kind == "reduce"
            c = 2 * c if reduction else c
            self.cells.append(_SuperCell("cell" if self.shared else kind, self.n_blocks, self.ops,
                                         combine, c_prev_prev, c_prev, c, reduction=reduction,
                                         reduced_before=reduced_before))  # fmt: skip
            reduced_before = reduction
            c_prev_prev, c_prev = c_prev, c
        self.head = nn.Linear(c_prev, n_classes)

    def forward(self, x: torch.Tensor, config: Mapping[str, Any] | None,
                relaxation: Mapping[str, Relaxation] | None) -> torch.Tensor:  # fmt: skip
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            assert isinstance(cell, _SuperCell)
            if relaxation is not None:
                s0, s1 = s1, cell.relaxed(s0, s1, relaxation[cell.kind])
            else:
                assert config is not None
                s0, s1 = s1, cell(s0, s1, config)
        return self.head(F.adaptive_avg_pool2d(s1, 1).flatten(1))


# -- chain spaces -----------------------------------------------------------------------------
class _ChainSupernet(nn.Module):
    def __init__(self, space: Space, input_shape: Sequence[int], n_classes: int) -> None:
        super().__init__()
        params = space.all_params
        self.n_layers = sum(1 for name in params if name.startswith("f") and name[1:].isdigit())
        widths = {int(f) for i in range(1, self.n_layers + 1) for f in _options(space, f"f{i}")}
        sizes = {int(s) for i in range(1, self.n_layers + 1) for key in ("h", "w")
                 for s in _options(space, f"{key}{i}")}  # fmt: skip
        self.width = max(widths)
        self.kernel = max(sizes)
        self.in_channels = int(input_shape[0])
        self.weights = nn.ParameterList()
        self.gammas = nn.ParameterList()
        self.betas = nn.ParameterList()
        for i in range(1, self.n_layers + 1):
            inputs = self.in_channels if i == 1 else self.width * (i - 1)
            weight = nn.Parameter(torch.empty(self.width, inputs, self.kernel, self.kernel))
            nn.init.kaiming_normal_(weight, nonlinearity="relu")
            self.weights.append(weight)
            self.gammas.append(nn.Parameter(torch.ones(self.width)))
            self.betas.append(nn.Parameter(torch.zeros(self.width)))
        self.head = nn.Linear(self.width, n_classes)

    def forward(self, x: torch.Tensor, config: Mapping[str, Any] | None,
                relaxation: Any = None) -> torch.Tensor:  # fmt: skip
        if config is None:
            raise InvalidParameterError(
                "The DARTS relaxation covers cell spaces (nasnet_space, pnas_space); search a "
                "chain space with a sampling strategy (enas, random, evolution)."
            )
        outputs = [x]
        widths = [self.in_channels]
        for i in range(1, self.n_layers + 1):
            sources = [i - 1, *[j for j in range(1, i - 1) if config.get(f"skip{i}_{j}")]]
            height, width = outputs[i - 1].shape[-2:]
            inputs = [outputs[j] if tuple(outputs[j].shape[-2:]) == (height, width)
                      else F.adaptive_avg_pool2d(outputs[j], (int(height), int(width)))
                      for j in sources]  # fmt: skip
            # the input columns of the chosen layers: layer j (>= 1) sits at (j - 1) * width
            columns = [torch.arange(widths[j]) + (0 if i == 1 else (j - 1) * self.width)
                       for j in sources]  # fmt: skip
            f = int(config[f"f{i}"])
            kh, kw = int(config[f"h{i}"]), int(config[f"w{i}"])
            top, left = (self.kernel - kh) // 2, (self.kernel - kw) // 2
            weight = self.weights[i - 1][:f, torch.cat(columns).to(x.device)]
            weight = weight[:, :, top : top + kh, left : left + kw]
            stride = 2 if config[f"r{i}"] == "stride2" else 1
            out = F.conv2d(torch.cat(inputs, dim=1), weight, stride=stride,
                           padding=(kh // 2, kw // 2))  # fmt: skip
            out = F.relu(F.batch_norm(out, None, None, self.gammas[i - 1][:f],
                                      self.betas[i - 1][:f], training=True))  # fmt: skip
            if config[f"r{i}"] == "maxpool":
                if min(out.shape[-2:]) < 2:
                    from sweepml.nas.build import ArchitectureError

                    raise ArchitectureError(
                        f"Layer {i}'s reduction shrinks the input below one pixel; this child "
                        f"needs larger images or fewer reductions."
                    )
                out = F.max_pool2d(out, 2)
            outputs.append(out)
            widths.append(f)
        pooled = F.adaptive_avg_pool2d(outputs[-1], 1).flatten(1)
        return F.linear(pooled, self.head.weight[:, : widths[-1]], self.head.bias)


# -- the supernet -----------------------------------------------------------------------------
class Supernet(nn.Module):
    """Every child of ``space`` in one module; ``forward(x, config)`` runs one child,
    ``forward(x, relaxation=...)`` the DARTS mixture (cell spaces only).

    Example:
        >>> from sweepml.nas.spaces import pnas_space
        >>> space = pnas_space(2)
        >>> net = Supernet(space, (1, 8, 8), 10, filters=4)
        >>> net(torch.zeros(2, 1, 8, 8), space.sample(0)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self,
        space: Space,
        input_shape: Sequence[int],
        n_classes: int,
        *,
        cells: int = 1,
        filters: int = 16,
    ) -> None:
        super().__init__()
        self.kind = space_kind(space)
        if len(input_shape) != 3:
            raise InvalidParameterError(
                f"A supernet needs images (channels, height, width); got input shape "
                f"{tuple(input_shape)}."
            )
        self.input_shape = tuple(int(s) for s in input_shape)
        if self.kind == "chain":
            unknown = {r for i in range(1, 99) if f"r{i}" in space.all_params
                       for r in _options(space, f"r{i}")} - set(REDUCTIONS)  # fmt: skip
            if unknown:
                raise InvalidParameterError(f"Unknown chain reductions {sorted(unknown)}.")
            self.net: nn.Module = _ChainSupernet(space, input_shape, n_classes)
        else:
            self.net = _CellSupernet(space, input_shape, n_classes, cells, filters)
        _batch_stats_only(self)

    def forward(
        self,
        x: torch.Tensor,
        config: Mapping[str, Any] | None = None,
        *,
        relaxation: Mapping[str, Relaxation] | None = None,
    ) -> torch.Tensor:
        return self.net(x, config, relaxation)  # type: ignore[no-any-return]

    @property
    def ops(self) -> list[str]:
        """A cell supernet's operations (empty for a chain)."""
        return list(getattr(self.net, "ops", []))

    def relaxation(self) -> dict[str, Relaxation]:
        """Fresh DARTS architecture weights (all zero: every choice equally likely)."""
        if self.kind == "chain":
            raise InvalidParameterError(
                "The DARTS relaxation covers cell spaces (nasnet_space, pnas_space); search a "
                "chain space with a sampling strategy (enas, random, evolution)."
            )
        net = self.net
        assert isinstance(net, _CellSupernet)
        device = next(self.parameters()).device
        return {
            kind: Relaxation(
                [
                    torch.zeros(k + 2, len(net.ops), device=device, requires_grad=True)
                    for k in range(net.n_blocks)
                ],
                [
                    torch.zeros(k + 2, device=device, requires_grad=True)
                    for k in range(net.n_blocks)
                ],
            )  # fmt: skip
            for kind in net.kinds
        }

    # -- memory -----------------------------------------------------------------------------
    def memory_needed(self, batch_size: int, config: Mapping[str, Any] | None = None,
                      relaxation: Mapping[str, Relaxation] | None = None) -> int:  # fmt: skip
        """Bytes one training step needs, estimated: the parameters four times (weights,
        gradients, Adam's two moments) plus the tensors the forward pass keeps for the backward
        pass, measured on two images and scaled to ``batch_size``."""
        parameter_bytes = 4 * sum(p.numel() * p.element_size() for p in self.parameters())
        saved = 0

        def pack(tensor: torch.Tensor) -> torch.Tensor:
            nonlocal saved
            saved += tensor.numel() * tensor.element_size()
            return tensor

        device = next(self.parameters()).device
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            self(torch.zeros(2, *self.input_shape, device=device), config, relaxation=relaxation)
        return parameter_bytes + saved // 2 * batch_size

    def check_memory(self, batch_size: int, device: torch.device, *, relaxed: bool,
                     sample: Mapping[str, Any] | None = None) -> int:  # fmt: skip
        """Raise ``SupernetMemoryError`` (naming the memory needed and free) when one training
        step would not fit ``device``; returns the estimate in bytes."""
        relaxation = self.relaxation() if relaxed else None
        needed = self.memory_needed(batch_size, None if relaxed else sample, relaxation)
        free = free_memory(device)
        if free is not None and needed > free:
            raise SupernetMemoryError(
                f"The supernet needs about {needed / 2**30:.2f} GiB for one training step at "
                f"batch size {batch_size} ({'every operation' if relaxed else 'one child'}), "
                f"but {device} has {free / 2**30:.2f} GiB free. Lower batch_size, filters or "
                f"cells, search a smaller space, or use a sampling strategy (enas) instead of "
                f"darts."
            )
        return needed


def free_memory(device: torch.device) -> int | None:
    """Bytes free on ``device`` (CUDA: the driver's count; CPU: the kernel's MemAvailable)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None
