"""Successive halving and Hyperband (Li et al. 2018) over any proposer.

Successive halving runs *brackets*: ``n`` new configs at a small budget, then the best ``1/eta``
of them at ``eta`` times the budget, and so on up to ``max_budget``. A rung is judged only when
all its results are in (synchronous), so every promotion compares like with like. Hyperband
hedges the choice of how aggressive to be by cycling through brackets that start at every budget
of the ladder, from "many configs, tiny budget" to "few configs, full budget" (plain random
search at ``max_budget``).

With several workers a bracket that waits for its rung to fill does not leave them idle: the
next bracket opens and hands out work (as in BOHB's HpBandSter). Each suggestion's ``info``
carries its bracket and rung, so a resumed search rebuilds every bracket from the record.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sweepml.space import Space
from sweepml.strategies._fidelity import FidelityWrapper, rung_loss
from sweepml.strategies.asha import config_key
from sweepml.strategies.base import Outcome, Suggestion, register_strategy

__all__ = ["Hyperband", "SuccessiveHalving"]


@dataclass
class _Bracket:
    """One successive-halving run: how many configs each rung holds, and what it has seen."""

    number: int
    budgets: list[float]
    sizes: list[int]
    issued: list[set[str]] = field(default_factory=list)
    results: list[dict[str, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.issued = [set() for _ in self.budgets]
        self.results = [{} for _ in self.budgets]

    def complete(self, rung: int) -> bool:
        return len(self.results[rung]) >= self.sizes[rung]

    @property
    def done(self) -> bool:
        return all(self.complete(rung) for rung in range(len(self.budgets)))

    def shrink_from(self, rung: int, size: int) -> None:
        """Fewer configs than planned reach ``rung`` (failures, an exhausted proposer)."""
        for later in range(rung, len(self.sizes)):
            size = min(size, self.sizes[later])
            self.sizes[later] = size

    def promotion(self) -> tuple[int, str] | None:
        """(rung, key) of the next config to move up, highest rung first."""
        for rung in range(len(self.budgets) - 2, -1, -1):
            if not self.complete(rung):
                continue
            results = self.results[rung]
            finite = [k for k in results if math.isfinite(results[k])]
            self.shrink_from(rung + 1, len(finite))  # failed configs are never promoted
            for key in sorted(finite, key=lambda k: results[k])[: self.sizes[rung + 1]]:
                if key not in self.issued[rung + 1]:
                    return rung, key
        return None


@register_strategy("hyperband")
class Hyperband(FidelityWrapper):
    """Hyperband: successive-halving brackets at every level of aggressiveness, in turn.

    Args:
        base: the proposer of new configs (a name or an unbound strategy), random by default.
        min_budget, max_budget: the fidelity range; ints give whole-number budgets (epochs).
        eta: the factor between rungs (>= 2); the top ``1/eta`` of a rung is promoted.

    Example:
        >>> [b for b, _ in Hyperband(min_budget=1, max_budget=9, eta=3).brackets]
        [[1, 3, 9], [3, 9], [9]]
    """

    @property
    def brackets(self) -> list[tuple[list[float], list[int]]]:
        """(budgets, configs per rung) of each bracket in the cycle, most aggressive first."""
        ladder = self.budgets
        s_max = len(ladder) - 1
        plans = []
        for s in range(s_max, -1, -1):
            n = int(math.ceil((s_max + 1) / (s + 1) * self.eta**s))
            sizes = [max(int(n / self.eta**i), 1) for i in range(s + 1)]
            plans.append((ladder[s_max - s :], sizes))
        return plans

    def _setup(self, space: Space) -> None:
        super()._setup(space)
        self._plans = self.brackets
        self._brackets: dict[int, _Bracket] = {}
        self._configs: dict[str, Mapping[str, Any]] = {}

    def _bracket(self, number: int) -> _Bracket:
        """Bracket ``number`` (created, with every earlier one, when first needed)."""
        for n in range(len(self._brackets), number + 1):
            budgets, sizes = self._plans[n % len(self._plans)]
            self._brackets[n] = _Bracket(n, list(budgets), list(sizes))
        return self._brackets[number]

    @property
    def finished(self) -> bool:
        if self._pending or not self._base.finished:
            return False
        return all(b.promotion() is None for b in self._brackets.values())

    def _ask(self) -> Suggestion | None:
        open_brackets = [b for b in self._brackets.values() if not b.done]
        for bracket in open_brackets:
            suggestion = self._next_in(bracket)
            if suggestion is not None:
                return suggestion
        if self._base.finished:
            return None
        return self._next_in(self._bracket(len(self._brackets)))

    def _next_in(self, bracket: _Bracket) -> Suggestion | None:
        promotion = bracket.promotion()
        if promotion is not None:
            rung, key = promotion
            return self._issue(bracket, rung + 1, self._configs[key])
        if len(bracket.issued[0]) >= bracket.sizes[0]:
            return None
        proposed = self._propose()
        if proposed is None:
            if self._base.finished:  # an exhausted grid: the bracket runs with what it has
                bracket.shrink_from(0, len(bracket.issued[0]))
            return None
        return self._delegate(self._issue(bracket, 0, proposed.config, proposed.info), proposed)

    def _issue(
        self,
        bracket: _Bracket,
        rung: int,
        config: Mapping[str, Any],
        info: Mapping[str, Any] | None = None,
    ) -> Suggestion:
        key = config_key(config)
        self._configs[key] = dict(config)
        bracket.issued[rung].add(key)
        where = {**(info or {}), "bracket": bracket.number, "rung": rung}
        return self._suggest(config, budget=bracket.budgets[rung], info=where)

    def retry(self, suggestion: Suggestion) -> Suggestion:
        """An interrupted trial runs again in its own bracket and rung."""
        bracket, rung = self._place(suggestion.info)
        if bracket is not None:
            key = config_key(suggestion.config)
            self._configs[key] = dict(suggestion.config)
            bracket.issued[rung].add(key)
        return super().retry(suggestion)

    def _place(self, info: Mapping[str, Any]) -> tuple[_Bracket | None, int]:
        if "bracket" not in info or "rung" not in info:
            return None, 0
        bracket = self._bracket(int(info["bracket"]))
        return bracket, min(max(int(info["rung"]), 0), len(bracket.budgets) - 1)

    def _tell(self, suggestion: Suggestion, outcome: Outcome) -> None:
        bracket, rung = self._place(suggestion.info)
        if bracket is not None:
            key = config_key(suggestion.config)
            self._configs[key] = dict(suggestion.config)
            if outcome.status.finished:
                bracket.issued[rung].add(key)
                bracket.results[rung][key] = rung_loss(outcome)
            else:  # cancelled: a resumed search runs it again (retry) in the same place
                bracket.issued[rung].discard(key)
        self._learn(suggestion, outcome, first_rung=rung == 0)


@register_strategy("successive_halving")
class SuccessiveHalving(Hyperband):
    """Synchronous successive halving: only Hyperband's most aggressive bracket, over and over.

    Example:
        >>> SuccessiveHalving(min_budget=1, max_budget=9, eta=3).brackets
        [([1, 3, 9], [9, 3, 1])]
    """

    @property
    def brackets(self) -> list[tuple[list[float], list[int]]]:
        return super().brackets[:1]
