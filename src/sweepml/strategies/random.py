"""Random search: independent draws from the space (the baseline every strategy must beat)."""

from __future__ import annotations

from sweepml.strategies.base import Outcome, Strategy, Suggestion, register_strategy

__all__ = ["RandomSearch"]


@register_strategy("random")
class RandomSearch(Strategy):
    """Sample every config independently from the space's distributions.

    Example:
        >>> import sweepml
        >>> study = sweepml.minimize(lambda c: c["x"] ** 2, {"x": sweepml.Float(-1, 1)},
        ...                          strategy=RandomSearch(), n_trials=5, seed=0)
    """

    def _ask(self) -> Suggestion:
        return self._suggest(self.space.sample(self.rng))

    def _tell(self, suggestion: Suggestion, outcome: Outcome) -> None:
        """Random search learns nothing."""
