"""The four kinds of hyperparameter: Float, Int, Choice and Const.

Each is an immutable value that knows its own domain: how to sample it, list grid points, map a
value to and from the unit interval (for surrogate models), and describe itself in error messages.
Names live in the enclosing ``Space``, not here, so one parameter object can be reused.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sweepml._validation import is_real, param_error
from sweepml.exceptions import InvalidParameterError

if TYPE_CHECKING:
    from sweepml.space.space import Space

__all__ = ["Choice", "Const", "Float", "Int", "Param"]


def _check_bounds(kind: str, low: Any, high: Any, log: bool, integer: bool) -> None:
    allowed = "an int" if integer else "a finite number"
    for name, value in (("low", low), ("high", high)):
        ok = is_real(value) and math.isfinite(float(value))
        if integer:
            ok = ok and float(value).is_integer() and not isinstance(value, float)
        if not ok:
            raise param_error(kind, name, allowed, value)
    if not isinstance(log, bool):
        raise param_error(kind, "log", "a bool", log)
    if low > high:
        raise InvalidParameterError(
            f"The 'low' parameter of {kind} must be <= high ({high!r}); got {low!r}."
        )
    if log and low <= 0:
        raise InvalidParameterError(
            f"The 'low' parameter of {kind} must be > 0 when log=True; got {low!r}."
        )


@dataclass(frozen=True)
class Float:
    """A real number in ``[low, high]``, sampled uniformly or log-uniformly.

    Example:
        >>> Float(1e-4, 1e-1, log=True)
        Float(low=0.0001, high=0.1, log=True, default=None)
    """

    low: float
    high: float
    log: bool = False
    default: float | None = None

    def __post_init__(self) -> None:
        _check_bounds("Float", self.low, self.high, self.log, integer=False)
        object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "high", float(self.high))
        if self.default is not None:
            if not self.contains(self.default):
                raise param_error("Float", "default", self.describe(), self.default)
            object.__setattr__(self, "default", float(self.default))

    def describe(self) -> str:
        return f"a float in [{self.low:g}, {self.high:g}]" + (" (log scale)" if self.log else "")

    def contains(self, value: Any) -> bool:
        return is_real(value) and math.isfinite(float(value)) and self.low <= value <= self.high

    def sample(self, rng: np.random.Generator) -> float:
        return self.from_unit(float(rng.random()))

    def default_value(self) -> float:
        return self.default if self.default is not None else self.from_unit(0.5)

    def grid_values(self, points: int) -> list[float]:
        if self.low == self.high or points == 1:
            return [self.default_value()] if points == 1 else [self.low]
        return [self.from_unit(u) for u in np.linspace(0.0, 1.0, points)]

    def to_unit(self, value: Any) -> float:
        if self.low == self.high:
            return 0.5
        if self.log:
            return (math.log(value) - math.log(self.low)) / (
                math.log(self.high) - math.log(self.low)
            )
        return (float(value) - self.low) / (self.high - self.low)

    def from_unit(self, unit: float) -> float:
        unit = min(max(float(unit), 0.0), 1.0)
        if self.log:
            value = math.exp(math.log(self.low) + unit * (math.log(self.high) - math.log(self.low)))
        else:
            value = self.low + unit * (self.high - self.low)
        return min(max(value, self.low), self.high)

    def count(self) -> float:
        return 1 if self.low == self.high else math.inf


@dataclass(frozen=True)
class Int:
    """An integer in ``[low, high]`` (both included), uniform or log-uniform.

    Example:
        >>> Int(16, 512, log=True).describe()
        'an int in [16, 512] (log scale)'
    """

    low: int
    high: int
    log: bool = False
    default: int | None = None

    def __post_init__(self) -> None:
        _check_bounds("Int", self.low, self.high, self.log, integer=True)
        object.__setattr__(self, "low", int(self.low))
        object.__setattr__(self, "high", int(self.high))
        if self.default is not None:
            if not self.contains(self.default):
                raise param_error("Int", "default", self.describe(), self.default)
            object.__setattr__(self, "default", int(self.default))

    def describe(self) -> str:
        return f"an int in [{self.low}, {self.high}]" + (" (log scale)" if self.log else "")

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            return False
        return bool(self.low <= value <= self.high)

    def sample(self, rng: np.random.Generator) -> int:
        return self.from_unit(float(rng.random()))

    def default_value(self) -> int:
        return self.default if self.default is not None else self.from_unit(0.5)

    def grid_values(self, points: int) -> list[int]:
        if self.high - self.low + 1 <= points:
            return list(range(self.low, self.high + 1))
        if points == 1:
            return [self.default_value()]
        values = [self.from_unit(u) for u in np.linspace(0.0, 1.0, points)]
        return sorted(set(values))

    # Each integer owns an equal slice of [0, 1] (of log space when log=True), so that decoding
    # a uniformly drawn unit value gives every integer its fair probability.
    def _edges(self) -> tuple[float, float]:
        if self.log:  # low >= 1 here, so low - 0.5 > 0
            return math.log(self.low - 0.5), math.log(self.high + 0.5)
        return self.low - 0.5, self.high + 0.5

    def to_unit(self, value: Any) -> float:
        if self.low == self.high:
            return 0.5
        lo, hi = self._edges()
        x = math.log(value) if self.log else float(value)
        return min(max((x - lo) / (hi - lo), 0.0), 1.0)

    def from_unit(self, unit: float) -> int:
        if self.low == self.high:
            return self.low
        lo, hi = self._edges()
        x = lo + min(max(float(unit), 0.0), 1.0) * (hi - lo)
        value = round(math.exp(x)) if self.log else math.floor(x + 0.5)
        return int(min(max(value, self.low), self.high))

    def count(self) -> float:
        return self.high - self.low + 1


def _json_value(owner: str, value: Any) -> Any:
    """Return ``value`` if it survives a JSON round trip unchanged; configs must stay plain data."""
    try:
        same = json.loads(json.dumps(value)) == value
    except (TypeError, ValueError):
        same = False
    if not same:
        raise param_error(
            owner,
            "options",
            "JSON-serializable values (str, number, bool, None, or lists/dicts of them)",
            value,
        )
    return value


def _same(a: Any, b: Any) -> bool:
    """Equality that keeps True apart from 1 (configs come back from JSON with their types)."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


@dataclass(frozen=True)
class Choice:
    """One of a list of options; a mapping of options to sub-spaces makes the space conditional.

    ``Choice(["relu", "tanh"])`` picks a value. ``Choice({"svm": {"C": Float(...)}, "knn": None})``
    picks an option name, and the parameters of the chosen option's sub-space exist only when it
    is chosen (to any depth).

    Example:
        >>> Choice({"linear": None, "svm": {"C": Float(0.01, 100, log=True)}}).options
        ('linear', 'svm')
    """

    #: given as a list or a mapping; stored as a tuple of option values (the mapping's keys)
    options: Sequence[Any] | Mapping[str, Any]
    default: Any = None
    branches: tuple[Space | None, ...] = field(init=False, repr=False, compare=True)

    def __post_init__(self) -> None:
        from sweepml.space.space import Space

        raw = self.options
        if isinstance(raw, Mapping):
            keys = list(raw)
            for key in keys:
                if not isinstance(key, str):
                    raise param_error("Choice", "options", "a mapping with str keys", key)
            branches = tuple(
                None
                if raw[key] is None
                or (isinstance(raw[key], Mapping | Space) and len(raw[key]) == 0)
                else raw[key]
                if isinstance(raw[key], Space)
                else Space(raw[key])
                for key in keys
            )
            options: tuple[Any, ...] = tuple(keys)
        elif isinstance(raw, Sequence) and not isinstance(raw, str | bytes):
            options = tuple(_json_value("Choice", option) for option in raw)
            branches = tuple(None for _ in options)
        else:
            raise param_error("Choice", "options", "a non-empty list or a mapping", raw)
        if not options:
            raise param_error("Choice", "options", "a non-empty list or mapping", raw)
        for i, option in enumerate(options):
            if any(_same(option, other) for other in options[:i]):
                raise param_error("Choice", "options", "distinct values", option)
        object.__setattr__(self, "options", options)
        object.__setattr__(self, "branches", branches)
        if self.default is not None and self.index(self.default) is None:
            raise param_error("Choice", "default", self.describe(), self.default)

    @property
    def conditional(self) -> bool:
        return any(branch is not None for branch in self.branches)

    def describe(self) -> str:
        return f"one of {list(self.options)!r}"

    def index(self, value: Any) -> int | None:
        for i, option in enumerate(self.options):
            if _same(option, value):
                return i
        return None

    def contains(self, value: Any) -> bool:
        return self.index(value) is not None

    def branch_for(self, value: Any) -> Space | None:
        i = self.index(value)
        return None if i is None else self.branches[i]

    @property
    def values(self) -> tuple[Any, ...]:
        """The option values, in order."""
        return self.options  # type: ignore[return-value]  # a tuple after __post_init__

    def sample(self, rng: np.random.Generator) -> Any:
        return self.values[int(rng.integers(len(self.options)))]

    def default_value(self) -> Any:
        return self.default if self.default is not None else self.values[0]

    def grid_values(self, points: int) -> list[Any]:
        return list(self.options)

    def count(self) -> float:
        return len(self.options)


@dataclass(frozen=True)
class Const:
    """A fixed value, recorded with every config so that a trial's record is complete."""

    value: Any

    def __post_init__(self) -> None:
        _json_value("Const", self.value)

    def describe(self) -> str:
        return f"the constant {self.value!r}"

    def contains(self, value: Any) -> bool:
        return _same(value, self.value)

    def sample(self, rng: np.random.Generator) -> Any:
        return self.value

    def default_value(self) -> Any:
        return self.value

    def grid_values(self, points: int) -> list[Any]:
        return [self.value]

    def count(self) -> float:
        return 1


Param = Float | Int | Choice | Const
