"""The shipped warm-start portfolio: pipelines that did well across the public benchmark tables,
chosen offline by greedy portfolio selection (``benchmarks/learn_portfolio.py``, as in
auto-sklearn 2.0), tried first in every fit before the search proper.

The file records how it was learned; configs that do not fit this fit's space (a family that is
not installed, polynomial features on a large table) are skipped.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from sweepml.exceptions import InvalidConfigError
from sweepml.space import Space

__all__ = ["portfolio_configs"]


@cache
def _shipped() -> dict[str, Any]:
    """The portfolio file; empty when it is missing (a fit then starts from family defaults)."""
    try:
        text = resources.files("sweepml.tabular").joinpath("portfolio.json").read_text("utf-8")
    except FileNotFoundError:
        return {}
    return dict(json.loads(text))


def portfolio_configs(task: str, space: Space) -> list[dict[str, Any]]:
    """The portfolio's configs for ``task`` that are valid in ``space``, in portfolio order."""
    entries = _shipped().get(task, {}).get("configs", [])
    usable = []
    for entry in entries:
        config = dict(entry["config"])
        try:
            space.validate(config)
        except InvalidConfigError:
            continue
        usable.append(config)
    return usable
