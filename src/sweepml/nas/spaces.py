"""Architecture spaces as ordinary ``Space`` objects, so every core strategy can search them.

- ``chain_space``: Zoph & Le's (2017) convolutional chain: per layer the filter height and width
  ({1, 3, 5, 7}), the number of filters ({24, 36, 48, 64}), an optional stride-2 or max-pool
  reduction, and a skip connection from every earlier layer (one yes/no decision each, their
  "anchor points").
- ``mlp_space``: CANDLE-style dense networks: a list of layer widths (``dense``), one activation,
  one dropout rate.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from sweepml._validation import check_int
from sweepml.exceptions import InvalidParameterError
from sweepml.space import Choice, Float, Space

__all__ = ["ACTIVATIONS", "FILTER_SIZES", "FILTERS", "REDUCTIONS", "chain_space", "mlp_space"]

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
