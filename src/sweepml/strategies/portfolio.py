"""Warm starts: evaluate a given list of configs first, then hand over to any strategy.

The base strategy is told every result, the warm-start ones included (as replayed history), so a
model-based strategy starts from an informed model. This is how a portfolio of configurations that
worked well elsewhere is tried before the search proper.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sweepml.exceptions import InvalidConfigError, InvalidParameterError
from sweepml.space import Space
from sweepml.strategies.base import Outcome, Strategy, Suggestion, make_strategy

__all__ = ["Warmstart"]


def _key(config: Mapping[str, Any]) -> str:
    return json.dumps(config, sort_keys=True)


class Warmstart(Strategy):
    """Propose ``configs`` in order, then whatever ``base`` proposes.

    Example:
        >>> Warmstart("tpe", [{"x": 0.0}, {"x": 1.0}])
        Warmstart(base='tpe', configs=[{'x': 0.0}, {'x': 1.0}])
    """

    def __init__(self, base: str | Strategy, configs: Sequence[Mapping[str, Any]]) -> None:
        super().__init__()
        if isinstance(configs, Mapping) or not isinstance(configs, Sequence):
            raise InvalidParameterError(
                f"The 'configs' parameter of Warmstart must be a list of configs; got {configs!r}."
            )
        self.base = base
        self.configs = [dict(c) for c in configs]

    def _setup(self, space: Space) -> None:
        for i, config in enumerate(self.configs):
            try:
                space.validate(config)
            except InvalidConfigError as exc:
                raise InvalidConfigError(f"Warm-start config {i}: {exc}") from exc
        self._base = make_strategy(self.base, owner="Warmstart")
        self._base.bind(space, self.seed)
        self._queue = list(self.configs)
        self._told: set[str] = set()
        self._delegated: dict[int, Suggestion] = {}  # our suggestion id -> the base's suggestion

    @property
    def finished(self) -> bool:
        return not self._queue and self._base.finished

    def _ask(self) -> Suggestion | None:
        while self._queue:
            config = self._queue.pop(0)
            if _key(config) not in self._told:
                return self._suggest(config)
        proposed = self._base.ask(key=self._subkey())
        if proposed is None:
            return None
        ours = self._suggest(proposed.config, budget=proposed.budget, info=proposed.info)
        assert ours.id is not None
        self._delegated[ours.id] = proposed
        return ours

    def _tell(self, suggestion: Suggestion, outcome: Outcome) -> None:
        self._told.add(_key(suggestion.config))
        delegated = self._delegated.pop(suggestion.id, None) if suggestion.id is not None else None
        if delegated is not None:
            self._base.tell(delegated, outcome)
        else:
            replayed = Suggestion(suggestion.config, None, suggestion.budget, suggestion.info)
            self._base.tell(replayed, outcome)
