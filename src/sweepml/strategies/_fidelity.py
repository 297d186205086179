"""The budget ladder shared by the multi-fidelity strategies (successive halving, Hyperband, ASHA,
BOHB): budgets that grow by a factor ``eta`` from ``min_budget`` up to ``max_budget``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sweepml._validation import is_real
from sweepml.exceptions import InvalidParameterError
from sweepml.strategies.base import Outcome, Strategy, Suggestion

__all__ = ["budget_ladder", "learn_from", "rung_loss"]


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


def learn_from(
    base: Strategy,
    delegated: Suggestion | None,
    config: Mapping[str, Any],
    budget: float | None,
    info: Mapping[str, Any],
    outcome: Outcome,
    *,
    first_rung: bool,
) -> None:
    """Tell the proposer what it may learn from one result.

    A proposer that models fidelities (``learns_all_budgets``, BOHB's) hears every result with
    its budget; any other proposer hears only the first result of each config it proposed, so
    that one model never mixes budgets.
    """
    if base.learns_all_budgets:
        own_id = delegated.id if delegated is not None else None  # clears the base's pending ask
        base.tell(Suggestion(dict(config), own_id, budget, dict(info)), outcome)
    elif first_rung:
        replayed = Suggestion(dict(config), None, budget, dict(info))
        base.tell(delegated if delegated is not None else replayed, outcome)
