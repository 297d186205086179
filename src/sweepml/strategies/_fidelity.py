"""The budget ladder shared by the multi-fidelity strategies (successive halving, Hyperband, ASHA,
BOHB): budgets that grow by a factor ``eta`` from ``min_budget`` up to ``max_budget``."""

from __future__ import annotations

import math
from typing import Any

from sweepml._validation import is_real
from sweepml.exceptions import InvalidParameterError
from sweepml.space import Space
from sweepml.strategies.base import Outcome, Strategy, Suggestion, make_strategy

__all__ = ["FidelityWrapper", "budget_ladder", "rung_loss"]


def budget_ladder(min_budget: Any, max_budget: Any, eta: Any, *, owner: str) -> list[float]:
    """Budgets ``max_budget / eta**k`` down to the first one >= ``min_budget``, smallest first.

    When both ends are ints (epochs, boosting rounds) every budget is rounded to an int, so the
    objective receives whole epochs.

    Example:
        >>> budget_ladder(1, 27, 3, owner="Hyperband")
        [1, 3, 9, 27]
    """
    if not (is_real(min_budget) and is_real(max_budget) and 0 < min_budget < max_budget):
        raise InvalidParameterError(
            f"{owner} needs a budget range with 0 < min_budget < max_budget; got "
            f"min_budget={min_budget!r}, max_budget={max_budget!r}."
        )
    if not (is_real(eta) and eta >= 2):
        raise InvalidParameterError(
            f"The 'eta' parameter of {owner} must be a number >= 2 (the factor between budgets); "
            f"got {eta!r}."
        )
    n = int(math.floor(math.log(max_budget / min_budget, eta) + 1e-9))
    ladder = [max_budget / eta ** (n - k) for k in range(n + 1)]
    if isinstance(min_budget, int) and isinstance(max_budget, int):
        whole = [max(int(round(b)), 1) for b in ladder]
        return list(dict.fromkeys(whole))  # type: ignore[arg-type]
    return [float(b) for b in ladder]


def rung_loss(outcome: Outcome) -> float:
    """A failed trial ranks last in its rung."""
    return outcome.loss if outcome.ok else math.inf  # type: ignore[return-value]


class FidelityWrapper(Strategy):
    """What successive halving, Hyperband and ASHA share: a budget ladder, and a proposer
    (``base``) that supplies new configs and learns from their results."""

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
        """Every budget a trial may get, smallest first; the last is always ``max_budget``."""
        return budget_ladder(self.min_budget, self.max_budget, self.eta, owner=type(self).__name__)

    def _setup(self, space: Space) -> None:
        self._base = make_strategy(self.base, owner=type(self).__name__)
        self._base.bind(space, self.seed)
        self._delegated: dict[int, Suggestion] = {}  # our id -> the base's suggestion

    def _propose(self) -> Suggestion | None:
        """A new config from the base (None when it has nothing right now)."""
        return self._base.ask(key=self._subkey())

    def _delegate(self, ours: Suggestion, proposed: Suggestion) -> Suggestion:
        assert ours.id is not None
        self._delegated[ours.id] = proposed
        return ours

    def _learn(self, suggestion: Suggestion, outcome: Outcome, *, first_rung: bool) -> None:
        """Tell the base what it may learn from one result.

        A base that models fidelities (``learns_all_budgets``, BOHB's) hears every result with
        its budget; any other base hears only the first result of each config it proposed, so
        that one model never mixes budgets.
        """
        delegated = self._delegated.pop(suggestion.id, None) if suggestion.id is not None else None
        config, info = dict(suggestion.config), dict(suggestion.info)
        if self._base.learns_all_budgets:
            own_id = delegated.id if delegated is not None else None  # clears its pending ask
            self._base.tell(Suggestion(config, own_id, suggestion.budget, info), outcome)
        elif first_rung:
            replayed = Suggestion(config, None, suggestion.budget, info)
            self._base.tell(delegated if delegated is not None else replayed, outcome)
