"""``Space``: a named, possibly conditional set of parameters, and everything done with it.

A config is a flat, JSON-serializable dict from parameter name to value, holding exactly the
*active* parameters: those at the top level, plus those of the sub-space of each chosen option of a
conditional ``Choice`` (recursively). Flat names keep configs readable and make them one column each
in a results table, so names must be unique across the whole tree; the one exception is the same
parameter (equal definition) under several options of one ``Choice``, which is then shared.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from sweepml.exceptions import InvalidConfigError, InvalidParameterError, SpaceSpecError
from sweepml.space.params import Choice, Const, Float, Int, Param

__all__ = ["Space"]

_PARAM_TYPES = (Float, Int, Choice, Const)


class Space(Mapping[str, Param]):
    """A search space: an ordered mapping from parameter name to parameter.

    Example:
        >>> space = Space({
        ...     "model": Choice({"svm": {"C": Float(1e-2, 1e2, log=True)},
        ...                      "knn": {"k": Int(1, 50)}}),
        ...     "scale": Choice([True, False]),
        ... })
        >>> config = space.sample(np.random.default_rng(0))
        >>> space.validate(config)
    """

    def __init__(self, params: Mapping[str, Param] | Space) -> None:
        if isinstance(params, Space):
            params = dict(params.items())
        if not isinstance(params, Mapping):
            raise InvalidParameterError(
                f"The 'params' parameter of Space must be a mapping of names to parameters; "
                f"got {params!r}."
            )
        checked: dict[str, Param] = {}
        for name, param in params.items():
            if not isinstance(name, str) or not name:
                raise InvalidParameterError(
                    f"Parameter names of a Space must be non-empty str; got {name!r}."
                )
            if not isinstance(param, _PARAM_TYPES):
                raise InvalidParameterError(
                    f"The {name!r} entry of Space must be a Float, Int, Choice or Const; "
                    f"got {param!r}. Use Space.from_dict for lists, tuples and plain values."
                )
            checked[name] = param
        self._params = MappingProxyType(checked)
        self._all = MappingProxyType(_collect_names(self))
        self._slots = _encoding_slots(self._all)

    # -- Mapping protocol ---------------------------------------------------------------------
    def __getitem__(self, name: str) -> Param:
        return self._params[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Space) and list(self.items()) == list(other.items())

    def __hash__(self) -> int:
        return hash(self.to_json())

    def __repr__(self) -> str:
        inner = ", ".join(f"{k!r}: {v!r}" for k, v in self.items())
        return f"Space({{{inner}}})"

    # -- building -----------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> Space:
        """Talos-style: a list is a choice, ``(start, stop, n)`` is n evenly spaced values, a scalar
        is a constant, and parameter objects pass through.

        Example:
            >>> Space.from_dict({"lr": (0.001, 0.1, 3), "act": ["relu", "elu"], "epochs": 10})["lr"]
            Choice(options=(0.001, 0.0505, 0.1), default=None)
        """
        from sweepml.space.parse import space_from_dict

        return space_from_dict(spec)

    @classmethod
    def from_file(cls, path: str | Path) -> Space:
        """Read a CANDLE-style YAML or JSON spec file (see ``sweepml.space.parse``)."""
        from sweepml.space.parse import space_from_file

        return space_from_file(path)

    # -- what is active -----------------------------------------------------------------------
    @property
    def all_params(self) -> Mapping[str, Param]:
        """Every parameter in the tree, by name, active or not, in definition order."""
        return self._all

    def active(self, config: Mapping[str, Any]) -> list[tuple[str, Param]]:
        """The parameters that ``config`` activates, in definition order (parents first).

        Assumes the config's choices are valid; call ``validate`` first for user input.
        """
        out: list[tuple[str, Param]] = []
        _walk_active(self, config, out)
        return out

    # -- sampling ---------------------------------------------------------------------------
    def sample(
        self, rng: np.random.Generator, *, fixed: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Draw a random config; parameters named in ``fixed`` keep those values where active."""
        config: dict[str, Any] = {}
        _sample_into(self, rng, config, fixed or {})
        return config

    def default(self) -> dict[str, Any]:
        """The config made of every parameter's default (first option, midpoint of a range)."""
        config: dict[str, Any] = {}
        for name, param in self._walk_default():
            config[name] = param.default_value()
        return config

    def _walk_default(self) -> Iterator[tuple[str, Param]]:
        for name, param in self.items():
            yield name, param
            if isinstance(param, Choice):
                branch = param.branch_for(param.default_value())
                if branch is not None:
                    yield from branch._walk_default()

    # -- validation ---------------------------------------------------------------------------
    def validate(self, config: Mapping[str, Any]) -> None:
        """Raise ``InvalidConfigError`` naming the parameter, the value and what is allowed."""
        if not isinstance(config, Mapping):
            raise InvalidConfigError(
                f"A config must be a dict of parameter values; got {config!r}."
            )
        seen: set[str] = set()
        _validate_into(self, config, seen)
        extra = [key for key in config if key not in seen]
        if extra:
            raise InvalidConfigError(
                f"Invalid config: unexpected parameter(s) {extra!r}, not active for the chosen "
                f"options; the active parameters are {sorted(seen)!r}."
            )

    def contains(self, config: Mapping[str, Any]) -> bool:
        try:
            self.validate(config)
        except InvalidConfigError:
            return False
        return True

    # -- grid -----------------------------------------------------------------------------
    def grid(self, numeric_points: int = 5) -> Iterator[dict[str, Any]]:
        """Every config of the grid, in a fixed order.

        Choices give all their options, ints all their values (or ``numeric_points`` spread
        values when there are more), floats ``numeric_points`` spread values.
        """
        _check_points(numeric_points)
        yield from _grid(list(self.items()), numeric_points)

    def grid_size(self, numeric_points: int = 5) -> int:
        """How many configs ``grid(numeric_points)`` yields, without listing them."""
        _check_points(numeric_points)
        return int(_count(self, numeric_points))

    @property
    def size(self) -> float:
        """Number of distinct configs; ``math.inf`` when a float range is continuous."""
        return _count(self, None)

    # -- unit-cube encoding ---------------------------------------------------------------------
    @property
    def encoded_names(self) -> list[str]:
        """One label per dimension of ``encode``: ``name`` or ``name=option`` for one-hot slots."""
        names: list[str] = []
        for name, param in self._all.items():
            if isinstance(param, Choice):
                names.extend(f"{name}={option}" for option in param.options)
            elif isinstance(param, Float | Int):
                names.append(name)
        return names

    @property
    def dimension(self) -> int:
        return sum(_width(param) for param in self._all.values())

    def encode(self, config: Mapping[str, Any]) -> np.ndarray:
        """Map a config to a vector in [0, 1]^dimension for surrogate models.

        Numbers map linearly (or in log space) to [0, 1], choices one-hot; the slots of inactive
        parameters are 0 (the parent's one-hot says which branch is active).
        """
        vector = np.zeros(self.dimension)
        slots = self._slots
        for name, param in self.active(config):
            start = slots[name]
            if isinstance(param, Choice):
                index = param.index(config[name])
                if index is None:
                    raise InvalidConfigError(
                        f"Invalid config: parameter {name!r} must be {param.describe()}; "
                        f"got {config[name]!r}."
                    )
                vector[start + index] = 1.0
            elif isinstance(param, Float | Int):
                vector[start] = param.to_unit(config[name])
        return vector

    def decode(self, vector: np.ndarray | list[float]) -> dict[str, Any]:
        """The config nearest to a unit-cube vector (argmax for choices, rounding for ints)."""
        values = np.asarray(vector, dtype=float)
        if values.shape != (self.dimension,):
            raise InvalidParameterError(
                f"The 'vector' parameter of Space.decode must have shape ({self.dimension},); "
                f"got {values.shape}."
            )
        config: dict[str, Any] = {}
        _decode_into(self, values, self._slots, config)
        return config

    # -- serialization --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description from which ``from_json_dict`` rebuilds an equal space."""
        return {name: _param_to_dict(param) for name, param in self.items()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> Space:
        return cls({name: _param_from_dict(entry) for name, entry in data.items()})


def _check_points(points: Any) -> None:
    if isinstance(points, bool) or not isinstance(points, int) or points < 1:
        raise InvalidParameterError(
            f"The 'numeric_points' parameter of Space.grid must be an int >= 1; got {points!r}."
        )


def _collect_names(space: Space) -> dict[str, Param]:
    """All names of the tree; rejects a name used twice unless it is shared by sibling options."""
    out: dict[str, Param] = {}

    def merge(new: Mapping[str, Param]) -> None:
        for name, param in new.items():
            if name in out:
                raise InvalidParameterError(
                    f"Parameter name {name!r} is used twice in the space; configs are flat dicts, "
                    f"so names must be unique (prefix them, e.g. 'svm_C')."
                )
            out[name] = param

    for name, param in space.items():
        merge({name: param})
        if isinstance(param, Choice) and param.conditional:
            union: dict[str, Param] = {}
            for option, branch in zip(param.options, param.branches):
                for sub_name, sub_param in (branch.all_params if branch else {}).items():
                    if sub_name in union and union[sub_name] != sub_param:
                        raise InvalidParameterError(
                            f"Parameter {sub_name!r} is defined differently under two options of "
                            f"{name!r} (one is {option!r}); a shared name needs the same "
                            f"definition."
                        )
                    union[sub_name] = sub_param
            merge(union)
    return out


def _width(param: Param) -> int:
    if isinstance(param, Choice):
        return len(param.options)
    return 1 if isinstance(param, Float | Int) else 0


def _encoding_slots(params: Mapping[str, Param]) -> dict[str, int]:
    """Where each parameter's dimensions start in the encoded vector (shared names share slots)."""
    slots, position = {}, 0
    for name, param in params.items():
        slots[name] = position
        position += _width(param)
    return slots


def _walk_active(space: Space, config: Mapping[str, Any], out: list[tuple[str, Param]]) -> None:
    for name, param in space.items():
        out.append((name, param))
        if isinstance(param, Choice) and name in config:
            branch = param.branch_for(config[name])
            if branch is not None:
                _walk_active(branch, config, out)


def _sample_into(
    space: Space, rng: np.random.Generator, config: dict[str, Any], fixed: Mapping[str, Any]
) -> None:
    for name, param in space.items():
        keep = name in fixed and param.contains(fixed[name])
        value = fixed[name] if keep else param.sample(rng)
        config[name] = value
        if isinstance(param, Choice):
            branch = param.branch_for(value)
            if branch is not None:
                _sample_into(branch, rng, config, fixed)


def _validate_into(space: Space, config: Mapping[str, Any], seen: set[str]) -> None:
    for name, param in space.items():
        seen.add(name)
        if name not in config:
            raise InvalidConfigError(
                f"Invalid config: parameter {name!r} ({param.describe()}) is missing."
            )
        value = config[name]
        if not param.contains(value):
            raise InvalidConfigError(
                f"Invalid config: parameter {name!r} must be {param.describe()}; got {value!r}."
            )
        if isinstance(param, Choice):
            branch = param.branch_for(value)
            if branch is not None:
                _validate_into(branch, config, seen)


def _grid(items: list[tuple[str, Param]], points: int) -> Iterator[dict[str, Any]]:
    if not items:
        yield {}
        return
    (name, param), rest = items[0], items[1:]
    for value in param.grid_values(points):
        branch = param.branch_for(value) if isinstance(param, Choice) else None
        heads = _grid(list(branch.items()), points) if branch is not None else iter([{}])
        for head in heads:
            for tail in _grid(rest, points):
                yield {name: value, **head, **tail}


def _count(space: Space, points: int | None) -> float:
    total: float = 1
    for param in space.values():
        if isinstance(param, Choice):
            total *= sum(
                _count(branch, points) if branch is not None else 1 for branch in param.branches
            )
        elif points is None:
            total *= param.count()
        else:
            total *= len(param.grid_values(points))
    return total


def _decode_into(
    space: Space, values: np.ndarray, slots: Mapping[str, int], config: dict[str, Any]
) -> None:
    for name, param in space.items():
        start = slots[name]
        if isinstance(param, Choice):
            value = param.values[int(np.argmax(values[start : start + len(param.options)]))]
            config[name] = value
            branch = param.branch_for(value)
            if branch is not None:
                _decode_into(branch, values, slots, config)
        elif isinstance(param, Float | Int):
            config[name] = param.from_unit(values[start])
        else:
            config[name] = param.value


def _param_to_dict(param: Param) -> dict[str, Any]:
    if isinstance(param, Float | Int):
        entry: dict[str, Any] = {
            "type": "float" if isinstance(param, Float) else "int",
            "low": param.low,
            "high": param.high,
            "log": param.log,
        }
        if param.default is not None:
            entry["default"] = param.default
        return entry
    if isinstance(param, Choice):
        entry = {"type": "choice", "options": list(param.options)}
        if param.conditional:
            entry["branches"] = [None if b is None else b.to_dict() for b in param.branches]
        if param.default is not None:
            entry["default"] = param.default
        return entry
    return {"type": "const", "value": param.value}


def _param_from_dict(entry: Mapping[str, Any]) -> Param:
    kind = entry.get("type")
    if kind in ("float", "int"):
        cls = Float if kind == "float" else Int
        return cls(
            entry["low"], entry["high"], log=entry.get("log", False), default=entry.get("default")
        )
    if kind == "choice":
        branches = entry.get("branches")
        if branches is None:
            return Choice(list(entry["options"]), default=entry.get("default"))
        options = {
            option: None if branch is None else Space.from_json_dict(branch)
            for option, branch in zip(entry["options"], branches)
        }
        return Choice(options, default=entry.get("default"))
    if kind == "const":
        return Const(entry["value"])
    raise SpaceSpecError(
        f"Unknown parameter type {kind!r} in a stored space; "
        f"allowed are 'float', 'int', 'choice', 'const'."
    )
