"""The shipped warm-start portfolio: pipelines that did well across the corpus's meta-train
tables, chosen offline by greedy portfolio selection (``benchmarks/learn_portfolio.py``, as in
auto-sklearn 2.0), tried early in every fit, before the search proper.

The file records how it was learned; configs that do not fit this fit's space (a family that is
not installed, polynomial features on a large table) are skipped. Where the matrix showed that
re-learned family defaults beat the hand-set ones, the file carries them too (``defaults``); a fit
tries them beside the hand-set ones, which stay: the hand-set LightGBM default is the floor a fit
must not fall below (``search_phase.warm_start_configs``)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from sweepml.exceptions import InvalidConfigError
from sweepml.space import Space
from sweepml.tabular.components import MODELS

__all__ = ["expected_seconds", "family_default", "portfolio_configs"]


@cache
def _shipped() -> dict[str, Any]:
    """The portfolio file; empty when it is missing (a fit then starts from family defaults)."""
    try:
        text = resources.files("sweepml.tabular").joinpath("portfolio.json").read_text("utf-8")
    except FileNotFoundError:
        return {}
    return dict(json.loads(text))


def expected_seconds(entry: dict[str, Any], fit_rows: int) -> float | None:
    """A member's fit time on ``fit_rows`` rows, scaled from its typical fit on the tables it was
    learned on by its family's fit-time exponent; None when the file does not record it."""
    seconds, rows = entry.get("fit_seconds"), entry.get("fit_rows")
    family = MODELS.get(entry["config"].get("model", ""))
    if not seconds or not rows or family is None:
        return None
    return float(seconds) * (fit_rows / float(rows)) ** family.fit_scaling


def portfolio_configs(
    task: str, space: Space, *, fit_rows: int | None = None, trial_seconds: float | None = None
) -> list[dict[str, Any]]:
    """The portfolio's configs for ``task`` that are valid in ``space``, in portfolio order,
    except that members expected to take longer than ``trial_seconds`` on ``fit_rows`` rows come
    last: under a tight budget a fit starts with what can finish."""
    entries = _shipped().get(task, {}).get("configs", [])
    quick: list[dict[str, Any]] = []
    slow: list[dict[str, Any]] = []
    for entry in entries:
        config = dict(entry["config"])
        try:
            space.validate(config)
        except InvalidConfigError:
            continue
        expected = None if fit_rows is None else expected_seconds(entry, fit_rows)
        too_slow = trial_seconds is not None and expected is not None and expected > trial_seconds
        (slow if too_slow else quick).append(config)
    return quick + slow


def family_default(task: str, family: str, space: Space) -> dict[str, Any] | None:
    """The family's re-learned default for ``task`` when the file has one that is valid in
    ``space``; None otherwise (the space's hand-set default then stands)."""
    entry = _shipped().get(task, {}).get("defaults", {}).get(family)
    if entry is None:
        return None
    config = dict(entry["config"])
    try:
        space.validate(config)
    except InvalidConfigError:
        return None
    return config
