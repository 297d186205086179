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
from sweepml.strategies._fidelity import FidelityWrapper, rung_loss
from sweepml.strategies.base import Outcome, Suggestion, register_strategy

__all__ = ["ASHA"]


def config_key(config: Mapping[str, Any]) -> str:
    return json.dumps(config, sort_keys=True)


@register_strategy("asha")
class ASHA(FidelityWrapper):
    """Asynchronous successive halving across budgets ``max_budget / eta**k``.

    Args:
        base: the proposer of new configs (a name or an unbound strategy), random by default.
        min_budget, max_budget: the fidelity range; ints give whole-number budgets (epochs).
        eta: the factor between rungs (>= 2); the top ``1/eta`` of a rung is promoted.

    Example:
        >>> ASHA("tpe", min_budget=1 / 9, max_budget=1.0, eta=3).budgets
        [0.1111111111111111, 0.3333333333333333, 1.0]
    """

    def _setup(self, space: Space) -> None:
        super()._setup(space)
        self._ladder = self.budgets
        self._rungs: list[dict[str, float]] = [{} for _ in self._ladder]  # key -> loss
        self._configs: dict[str, Mapping[str, Any]] = {}
        self._promoted: list[set[str]] = [set() for _ in self._ladder]

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
        proposed = self._propose()
        if proposed is None:
            return None
        info = {**proposed.info, "rung": 0}
        ours = self._suggest(proposed.config, budget=self._ladder[0], info=info)
        return self._delegate(ours, proposed)

    def _tell(self, suggestion: Suggestion, outcome: Outcome) -> None:
        rung = int(suggestion.info.get("rung", len(self._rungs) - 1))
        rung = min(max(rung, 0), len(self._rungs) - 1)
        key = config_key(suggestion.config)
        self._configs[key] = dict(suggestion.config)
        self._rungs[rung][key] = rung_loss(outcome)
        for lower in range(rung):  # a config seen at a rung was promoted from every rung below
            self._promoted[lower].add(key)
        self._learn(suggestion, outcome, first_rung=rung == 0)
