"""Regularized (aging) evolution, Real et al. 2019.

Keep a population of the last ``population_size`` results; to propose, draw ``sample_size`` of them
at random, take the best, and mutate one of its active parameters. The oldest member dies on each
new result, whatever its score, which keeps the search from clinging to lucky early winners.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

import numpy as np

from sweepml._validation import check_float, check_int
from sweepml.exceptions import InvalidParameterError
from sweepml.space import Choice, Float, Int, Param, Space
from sweepml.strategies.base import Outcome, Strategy, Suggestion, register_strategy

__all__ = ["RegularizedEvolution", "mutate"]


@register_strategy("evolution")
class RegularizedEvolution(Strategy):
    """Tournament selection + one-parameter mutation + removal of the oldest.

    Args:
        population_size: results kept alive; the first this-many proposals are random.
        sample_size: tournament size (larger = greedier).
        mutation_scale: standard deviation of a numeric mutation, as a share of the range.

    Example:
        >>> RegularizedEvolution(population_size=30, sample_size=8)
        RegularizedEvolution(population_size=30, sample_size=8, mutation_scale=0.2)
    """

    def __init__(
        self, *, population_size: int = 20, sample_size: int = 5, mutation_scale: float = 0.2
    ) -> None:
        super().__init__()
        owner = "RegularizedEvolution"
        self.population_size = check_int(owner, "population_size", population_size, minimum=2)
        self.sample_size = check_int(owner, "sample_size", sample_size, minimum=1)
        if self.sample_size > self.population_size:
            raise InvalidParameterError(
                f"The 'sample_size' parameter of {owner} must be <= population_size "
                f"({population_size}); got {sample_size!r}."
            )
        self.mutation_scale = check_float(
            owner, "mutation_scale", mutation_scale, minimum=0.0, exclusive_minimum=True
        )

    def _setup(self, space: Space) -> None:
        self._population: deque[tuple[dict[str, Any], float]] = deque()

    def _ask(self) -> Suggestion:
        if len(self._population) < self.population_size:
            return self._suggest(self.space.sample(self.rng))
        picks = self.rng.choice(len(self._population), size=self.sample_size, replace=False)
        parent = min((self._population[int(i)] for i in picks), key=lambda member: member[1])[0]
        return self._suggest(mutate(self.space, parent, self.rng, scale=self.mutation_scale))

    def _tell(self, suggestion: Suggestion, outcome: Outcome) -> None:
        if outcome.ok:
            assert outcome.loss is not None
            self._population.append((dict(suggestion.config), outcome.loss))
            if len(self._population) > self.population_size:
                self._population.popleft()


def _mutable(param: Param) -> bool:
    if isinstance(param, Choice):
        return len(param.options) > 1
    return isinstance(param, Float | Int) and param.low < param.high


def mutate(
    space: Space, config: Mapping[str, Any], rng: np.random.Generator, *, scale: float = 0.2
) -> dict[str, Any]:
    """Change one active parameter of ``config``; a new branch's parameters are sampled afresh.

    Choices move to a different option uniformly; numbers take a Gaussian step of ``scale`` times
    their (log) range, reflected at the bounds, and ints always move by at least one.
    """
    candidates = [(name, param) for name, param in space.active(config) if _mutable(param)]
    if not candidates:
        return dict(config)
    name, param = candidates[int(rng.integers(len(candidates)))]
    old = config[name]
    if isinstance(param, Choice):
        others = [option for option in param.options if param.index(option) != param.index(old)]
        new: Any = others[int(rng.integers(len(others)))]
    else:
        assert isinstance(param, Float | Int)
        unit = param.to_unit(old) + float(rng.normal(0.0, scale))
        unit = abs(unit) if unit < 0 else 2.0 - unit if unit > 1 else unit
        new = param.from_unit(unit)
        if isinstance(param, Int) and new == old:
            up = old == param.low or (old < param.high and rng.random() < 0.5)
            new = old + 1 if up else old - 1
    return space.sample(rng, fixed={**config, name: new})
