"""Grid search, optionally downsampled to a random fraction of the grid (Talos' grid_downsample)."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping
from typing import Any

from sweepml._validation import check_float, check_int
from sweepml.exceptions import InvalidParameterError
from sweepml.space import Space
from sweepml.strategies.base import Outcome, Strategy, Suggestion, register_strategy

__all__ = ["GridSearch"]

MAX_GRID = 5_000_000  # configs held in memory; beyond this a grid is not a sensible plan


def _key(config: Mapping[str, Any]) -> str:
    return json.dumps(config, sort_keys=True)


@register_strategy("grid")
class GridSearch(Strategy):
    """Evaluate every grid point once, in grid order (or a seeded random ``fraction`` of them).

    Args:
        numeric_points: grid points per float range (and per int range wider than this).
        fraction: share of the grid to run, chosen at random with the study's seed; 0.5 of a
            16-point grid runs 8 points.

    Example:
        >>> GridSearch(fraction=0.5)
        GridSearch(numeric_points=5, fraction=0.5)
    """

    def __init__(self, *, numeric_points: int = 5, fraction: float = 1.0) -> None:
        super().__init__()
        self.numeric_points = check_int("GridSearch", "numeric_points", numeric_points, minimum=1)
        self.fraction = check_float(
            "GridSearch", "fraction", fraction, minimum=0.0, exclusive_minimum=True
        )
        if self.fraction > 1:
            raise InvalidParameterError(
                f"The 'fraction' parameter of GridSearch must be in (0, 1]; got {fraction!r}."
            )

    def _setup(self, space: Space) -> None:
        total = space.grid_size(self.numeric_points)
        if total > MAX_GRID:
            raise InvalidParameterError(
                f"The grid of this space has {total} points (more than {MAX_GRID}); lower "
                f"numeric_points, set a fraction, or use a sampling strategy such as 'random'."
            )
        configs = list(space.grid(self.numeric_points))
        if self.fraction < 1.0:
            keep = max(1, int(self.fraction * total + 0.5))
            chosen = sorted(self.rng.choice(total, size=keep, replace=False).tolist())
            configs = [configs[i] for i in chosen]
        self._configs = configs
        self._cursor = 0
        self._retry: deque[dict[str, Any]] = deque()  # told INTERRUPTED: run again
        self._done: set[str] = set()

    @property
    def size(self) -> int:
        """Number of grid points this search runs in all."""
        return len(self._configs)

    @property
    def finished(self) -> bool:
        return not self._retry and self._next_fresh(advance=False) is None

    def _next_fresh(self, *, advance: bool) -> dict[str, Any] | None:
        in_flight = {_key(s.config) for s in self._pending.values()}
        cursor = self._cursor
        while cursor < len(self._configs):
            config = self._configs[cursor]
            cursor += 1
            key = _key(config)
            if key not in self._done and key not in in_flight:
                if advance:
                    self._cursor = cursor
                return config
        if advance:
            self._cursor = cursor
        return None

    def _ask(self) -> Suggestion | None:
        config = self._retry.popleft() if self._retry else self._next_fresh(advance=True)
        return None if config is None else self._suggest(config)

    def _tell(self, suggestion: Suggestion, outcome: Outcome) -> None:
        if outcome.status.finished:
            self._done.add(_key(suggestion.config))
        elif suggestion.id is not None:
            self._retry.append(dict(suggestion.config))
