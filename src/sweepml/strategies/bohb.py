"""BOHB (Falkner et al. 2018): Hyperband whose new configs come from a model instead of chance.

The proposer keeps one TPE model (Optuna's multivariate TPESampler, the well-kept stand-in for
BOHB's KDE) per budget and samples from the model of the *largest* budget that has enough
observations (``min_points``, by default the number of parameters + 2, BOHB's rule). Until one
has, and for a ``random_fraction`` of proposals always, it samples at random, which keeps
Hyperband's worst-case guarantee.
"""

from __future__ import annotations

from sweepml._validation import check_float, check_int
from sweepml.exceptions import InvalidParameterError
from sweepml.space import Space
from sweepml.strategies.base import Outcome, Strategy, Suggestion, register_strategy
from sweepml.strategies.hyperband import Hyperband
from sweepml.strategies.tpe import TPE
from sweepml.trial import TrialStatus

__all__ = ["BOHB", "FidelityTPE"]


class FidelityTPE(Strategy):
    """A proposer with one TPE model per budget; use it as the base of Hyperband or ASHA.

    Example:
        >>> from sweepml.strategies import ASHA
        >>> asha_bohb = ASHA(FidelityTPE(), min_budget=1, max_budget=27)
    """

    learns_all_budgets = True

    def __init__(self, *, random_fraction: float = 1 / 3, min_points: int | None = None) -> None:
        super().__init__()
        self.random_fraction = check_float(
            "FidelityTPE", "random_fraction", random_fraction, minimum=0
        )
        if self.random_fraction > 1:
            raise InvalidParameterError(
                f"The 'random_fraction' parameter of FidelityTPE must be in [0, 1]; got "
                f"{random_fraction!r}."
            )
        self.min_points = check_int(
            "FidelityTPE", "min_points", min_points, minimum=1, optional=True
        )

    def _setup(self, space: Space) -> None:
        self._needed = self.min_points or len(space.all_params) + 2
        self._models: dict[float, TPE] = {}
        self._observed: dict[float, int] = {}

    def model_budget(self) -> float | None:
        """The largest budget whose model has enough observations, None while none has."""
        ready = [b for b, n in self._observed.items() if n >= self._needed]
        return max(ready) if ready else None

    def _ask(self) -> Suggestion:
        budget = self.model_budget()
        if budget is None or self.rng.random() < self.random_fraction:
            return self._suggest(self.space.sample(self.rng), info={"proposed_by": "random"})
        model = self._models[budget]
        drawn = model.ask(key=self._subkey())
        assert drawn is not None  # a TPE always proposes
        # The draw is only a proposal; its result arrives at whatever budget it is run with.
        model.tell(drawn, Outcome(TrialStatus.FAILED))
        return self._suggest(drawn.config, info={"proposed_by": f"tpe@{budget:g}"})

    def _tell(self, suggestion: Suggestion, outcome: Outcome) -> None:
        if suggestion.budget is None or not outcome.status.finished:
            return
        budget = float(suggestion.budget)
        if budget not in self._models:
            model = TPE(n_startup_trials=0, multivariate=True, constant_liar=False)
            model.bind(self.space, self._entropy)  # its asks are keyed by ours
            self._models[budget] = model
        replayed = Suggestion(dict(suggestion.config), None, budget, {})
        self._models[budget].tell(replayed, outcome)
        if outcome.ok:
            self._observed[budget] = self._observed.get(budget, 0) + 1


@register_strategy("bohb")
class BOHB(Hyperband):
    """Hyperband with a TPE model per budget proposing new configs (Falkner et al. 2018).

    Example:
        >>> BOHB(min_budget=1, max_budget=27, eta=3).budgets
        [1, 3, 9, 27]
    """

    def __init__(
        self,
        *,
        min_budget: float = 1 / 27,
        max_budget: float = 1.0,
        eta: float = 3,
        random_fraction: float = 1 / 3,
        min_points: int | None = None,
    ) -> None:
        super().__init__(
            FidelityTPE(random_fraction=random_fraction, min_points=min_points),
            min_budget=min_budget,
            max_budget=max_budget,
            eta=eta,
        )
