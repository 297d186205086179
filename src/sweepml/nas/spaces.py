"""Architecture spaces as ordinary ``Space`` objects, so every core strategy can search them.

- ``chain_space``: Zoph & Le's (2017) convolutional chain: per layer the filter height and width
  ({1, 3, 5, 7}), the number of filters ({24, 36, 48, 64}), an optional stride-2 or max-pool
  reduction, and a skip connection from every earlier layer (one yes/no decision each, their
  "anchor points").
- ``mlp_space``: CANDLE-style dense networks: a list of layer widths (``dense``), one activation,
  one dropout rate.
- ``nasnet_space``: NASNet's normal and reduction cells of B blocks over the 13 operations.
- ``pnas_space``: PNAS's single cell (used for normal and reduction cells alike) of B blocks
  over 8 operations, blocks combined by addition.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from sweepml._validation import check_int
from sweepml.exceptions import InvalidParameterError
from sweepml.space import Choice, Float, Space

__all__ = [
    "ACTIVATIONS",
    "COMBINATIONS",
    "FILTERS",
    "FILTER_SIZES",
    "NASNET_OPS",
    "REDUCTIONS",
    "chain_space",
    "mlp_space",
    "PNAS_OPS",
    "nasnet_space",
    "pnas_space",
]

FILTER_SIZES = (1, 3, 5, 7)
FILTERS = (24, 36, 48, 64)
REDUCTIONS = ("none", "stride2", "maxpool")
ACTIVATIONS = ("relu", "elu", "tanh", "sigmoid", "softplus", "softsign", "linear")


def chain_space(n_layers: int = 6, *, skips: bool = True) -> Space:
    """Zoph & Le's chain of ``n_layers`` convolutions.

    Parameters per layer ``i`` (1-based): ``h{i}``, ``w{i}`` (filter size), ``f{i}`` (filters),
    ``r{i}`` (reduction: none, stride 2, 2x2 max pool), and with ``skips`` a ``skip{i}_{j}`` yes/no
    for every layer ``j`` before the previous one (layer ``i - 1`` always feeds layer ``i``).

    Example:
        >>> len(chain_space(3).all_params)  # 3 x 4 per-layer choices + skip3_1
        13
    """
    check_int("chain_space", "n_layers", n_layers, minimum=1)
    params: dict[str, Choice] = {}
    for i in range(1, n_layers + 1):
        params[f"h{i}"] = Choice(list(FILTER_SIZES))
        params[f"w{i}"] = Choice(list(FILTER_SIZES))
        params[f"f{i}"] = Choice(list(FILTERS))
        params[f"r{i}"] = Choice(list(REDUCTIONS))
        if skips:  # the previous layer always feeds layer i; skips come from the ones before
            for j in range(1, i - 1):
                params[f"skip{i}_{j}"] = Choice([False, True])
    return Space(params)


def mlp_space(
    *,
    max_layers: int = 3,
    widths: Sequence[int] = (32, 64, 128, 256),
    activations: Sequence[str] = ACTIVATIONS,
    max_dropout: float = 0.5,
) -> Space:
    """Dense networks: ``dense`` is a list of layer widths (every non-increasing combination of
    ``widths`` with 1 to ``max_layers`` layers), plus ``activation`` and ``dropout``.

    Example:
        >>> mlp_space(max_layers=2, widths=(32, 64)).all_params["dense"].values
        ([32], [64], [32, 32], [64, 32], [64, 64])
    """
    check_int("mlp_space", "max_layers", max_layers, minimum=1)
    if not widths or any(not isinstance(w, int) or w < 1 for w in widths):
        raise InvalidParameterError(
            f"The 'widths' parameter of mlp_space must be a non-empty list of ints >= 1; got "
            f"{widths!r}."
        )
    unknown = sorted(set(activations) - set(ACTIVATIONS))
    if unknown or not activations:
        raise InvalidParameterError(
            f"The 'activations' parameter of mlp_space must be a non-empty subset of "
            f"{list(ACTIVATIONS)}; got {list(activations)!r}."
        )
    sizes = sorted(set(widths))
    dense = [
        sorted(combo, reverse=True)
        for depth in range(1, max_layers + 1)
        for combo in itertools.combinations_with_replacement(sizes, depth)
    ]
    return Space(
        {
            "dense": Choice(dense),
            "activation": Choice(list(activations)),
            "dropout": Float(0.0, max_dropout),
        }
    )


#: The 13 operations NASNet's controller chooses from (Zoph et al. 2018).
NASNET_OPS = (
    "identity",
    "conv_1x7_7x1",
    "avg_pool_3x3",
    "max_pool_5x5",
    "conv_1x1",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "sep_conv_7x7",
    "conv_1x3_3x1",
    "dil_conv_3x3",
    "max_pool_3x3",
    "max_pool_7x7",
    "conv_3x3",
)
COMBINATIONS = ("add", "concat")


def _check_ops(owner: str, ops: Sequence[str]) -> None:
    if not ops or set(ops) - set(NASNET_OPS):
        raise InvalidParameterError(
            f"The 'ops' parameter of {owner} must be a non-empty subset of {list(NASNET_OPS)}; "
            f"got {list(ops)!r}."
        )


def nasnet_space(blocks: int = 5, *, ops: Sequence[str] = NASNET_OPS) -> Space:
    """NASNet's cell space: a normal and a reduction cell of ``blocks`` blocks each.

    Block ``k`` of cell ``c`` (``normal`` or ``reduce``) picks two inputs ``{c}{k}_in1`` and
    ``{c}{k}_in2`` among the cell's two inputs (0: the cell before the previous one, 1: the
    previous cell) and the outputs of its earlier blocks (2, 3, ...), an operation for each
    (``{c}{k}_op1``, ``{c}{k}_op2``, from ``ops``) and how to combine the two results
    (``{c}{k}_comb``: add, or concatenate and project). Cells are stacked by the builder.

    Example:
        >>> len(nasnet_space(5).all_params)  # 2 cells x 5 blocks x 5 decisions
        50
    """
    check_int("nasnet_space", "blocks", blocks, minimum=1)
    _check_ops("nasnet_space", ops)
    params: dict[str, Choice] = {}
    for cell in ("normal", "reduce"):
        for k in range(blocks):
            inputs = list(range(k + 2))
            params[f"{cell}{k}_in1"] = Choice(inputs)
            params[f"{cell}{k}_in2"] = Choice(inputs)
            params[f"{cell}{k}_op1"] = Choice(list(ops))
            params[f"{cell}{k}_op2"] = Choice(list(ops))
            params[f"{cell}{k}_comb"] = Choice(list(COMBINATIONS))
    return Space(params)


#: The 8 operations of PNAS (Liu et al. 2018), a subset of NASNet's that worked best there.
PNAS_OPS = (
    "sep_conv_3x3",
    "sep_conv_5x5",
    "sep_conv_7x7",
    "conv_1x7_7x1",
    "identity",
    "avg_pool_3x3",
    "max_pool_3x3",
    "dil_conv_3x3",
)


def pnas_space(blocks: int = 5, *, ops: Sequence[str] = PNAS_OPS) -> Space:
    """PNAS's cell space: one cell of ``blocks`` blocks, stacked as both the normal and (with
    stride 2) the reduction cell, each block the sum of two operations on two inputs.

    Block ``k`` picks ``cell{k}_in1`` and ``cell{k}_in2`` among the cell's two inputs (0, 1) and
    its earlier blocks (2, 3, ...), and ``cell{k}_op1``/``cell{k}_op2`` from ``ops``. The
    ``pnas`` strategy trains cells of 1, 2, ... blocks on the way to ``blocks``: their configs
    hold the first b blocks only, and the builder accepts them as they are.

    Example:
        >>> len(pnas_space(3).all_params)  # 3 blocks x 4 decisions
        12
    """
    check_int("pnas_space", "blocks", blocks, minimum=1)
    _check_ops("pnas_space", ops)
    params: dict[str, Choice] = {}
    for k in range(blocks):
        inputs = list(range(k + 2))
        params[f"cell{k}_in1"] = Choice(inputs)
        params[f"cell{k}_op1"] = Choice(list(ops))
        params[f"cell{k}_in2"] = Choice(inputs)
        params[f"cell{k}_op2"] = Choice(list(ops))
    return Space(params)
