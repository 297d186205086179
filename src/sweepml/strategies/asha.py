"""Asynchronous successive halving (ASHA, Li et al. 2020) over any proposer.

Every new config (from the ``base`` strategy) is first evaluated at the smallest budget. Budgets
grow by a factor ``eta`` from ``min_budget`` to ``max_budget`` (rungs). Whenever a worker asks, a
config in the top ``1/eta`` of its rung that has not been promoted yet moves one rung up (highest
rungs first); otherwise the base proposes a new config. Nothing waits for a rung to fill, so
parallel workers never idle, and a failed trial simply ranks last in its rung.

A suggestion's ``budget`` is the fidelity the objective receives (its ``budget`` parameter): a
share of the data, a number of epochs, ... The rung is kept in ``info`` so a resumed search
rebuilds the rungs from its record.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from sweepml.space import Space
from sweepml.strategies._fidelity import budget_ladder, learn_from, rung_loss
from sweepml.strategies.base import (
    Outcome,
    Strategy,
    Suggestion,
    make_strategy,
    register_strategy,
)

__all__ = ["ASHA"]


def config_key(config: Mapping[str, Any]) -> str:
    return json.dumps(config, sort_keys=True)


@register_strategy("asha")
class ASHA(Strategy):
    """Asynchronous successive halving across budgets ``max_budget / eta**k``.

    Args:
        base: the proposer of new configs (a name or an unbound strategy), random by default.
        min_budget, max_budget: the fidelity range; ints give whole-number budgets (epochs).
        eta: the factor between rungs (>= 2); the top ``1/eta`` of a rung is promoted.

    Example:
        >>> ASHA("tpe", min_budget=1 / 9, max_budget=1.0, eta=3).budgets
        [0.1111111111111111, 0.3333333333333333, 1.0]
    """

    def __init__(
        self,
        base: str | Strategy = "random",
        *,
        min_budget: float = 1 / 27,
        max_budget: float = 1.0,
        eta: float = 3,
    ) -> None:
        super().__init__()
        budget_ladder(min_budget, max_budget, eta, owner=type(self).__name__)  # validates
        self.base = base
        self.min_budget, self.max_budget, self.eta = min_budget, max_budget, eta

    @property
    def budgets(self) -> list[float]:
        """The rungs' budgets, smallest first; the last is always ``max_budget``."""
        return budget_ladder(self.min_budget, self.max_budget, self.eta, owner=type(self).__name__)

    def _setup(self, space: Space) -> None:
        self._base = make_strategy(self.base, owner=type(self).__name__)
        self._base.bind(space, self.seed)
        self._ladder = self.budgets
        self._rungs: list[dict[str, float]] = [{} for _ in self._ladder]  # key -> loss
        self._configs: dict[str, Mapping[str, Any]] = {}
        self._promoted: list[set[str]] = [set() for _ in self._ladder]
        self._delegated: dict[int, Suggestion] = {}  # our id -> the base's suggestion

    @property
    def finished(self) -> bool:
        return self._base.finished and self._promotion() is None and not self._pending

    def _promotion(self) -> tuple[int, str] | None:
        """(rung, config key) of the best promotable config, highest rung first."""
        for rung in range(len(self._rungs) - 2, -1, -1):
            results = self._rungs[rung]
            top = sorted(results, key=lambda k: results[k])[: int(len(results) // self.eta)]
            for key in top:
                if key not in self._promoted[rung] and math.isfinite(results[key]):
                    return rung, key
        return None

    def _ask(self) -> Suggestion | None:
        promotion = self._promotion()
        if promotion is not None:
            rung, key = promotion
            self._promoted[rung].add(key)
            return self._suggest(
                self._configs[key], budget=self._ladder[rung + 1], info={"rung": rung + 1}
            )
        proposed = self._base.ask()
        if proposed is None:
            return None
        info = {**proposed.info, "rung": 0}
        ours = self._suggest(proposed.config, budget=self._ladder[0], info=info)
        assert ours.id is not None
        self._delegated[ours.id] = proposed
        return ours

    def _tell(self, suggestion: Suggestion, outcome: Outcome) -> None:
        rung = int(suggestion.info.get("rung", len(self._rungs) - 1))
        rung = min(max(rung, 0), len(self._rungs) - 1)
        key = config_key(suggestion.config)
        self._configs[key] = dict(suggestion.config)
        self._rungs[rung][key] = rung_loss(outcome)
        for lower in range(rung):  # a config seen at a rung was promoted from every rung below
            self._promoted[lower].add(key)
        delegated = self._delegated.pop(suggestion.id, None) if suggestion.id is not None else None
        learn_from(
            self._base,
            delegated,
            suggestion.config,
            suggestion.budget,
            suggestion.info,
            outcome,
            first_rung=rung == 0,
        )
