"""Spaces from plain descriptions: Talos-style dicts and CANDLE-style spec files.

A spec file (YAML or JSON) is a list of entries, or a mapping whose ``parameters`` key holds that
list. Each entry has a ``name`` and a ``type``:

- ``discrete``: ``values`` (a list; any JSON values, lists too, as in CANDLE's ``dense`` lists);
- ``integer``: ``lower`` and ``upper`` (both included), optional ``log``;
- ``numeric``: ``lower`` and ``upper``, optional ``log``;
- optional ``default`` on any of them, and an optional ``condition``: a one-key mapping from an
  earlier ``discrete`` parameter to the value (or list of values) under which this entry exists;
- optional ``fidelity: true`` on one unconditional ``integer`` or ``numeric`` entry (epochs, say):
  a multi-fidelity strategy (``sweepml tune --strategy hyperband``) takes its range as the budget
  range and drops it from the space; any other strategy searches it like any parameter.

Example::

    - {name: optimizer, type: discrete, values: [sgd, adam]}
    - {name: momentum, type: numeric, lower: 0.0, upper: 0.99, condition: {optimizer: sgd}}
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sweepml._validation import is_real
from sweepml.exceptions import InvalidParameterError, SpaceSpecError
from sweepml.space.params import Choice, Const, Float, Int, Param
from sweepml.space.space import Space

SPEC_TYPES = ("discrete", "integer", "numeric")


def space_from_dict(spec: Mapping[str, Any]) -> Space:
    if isinstance(spec, Space):
        return spec
    if not isinstance(spec, Mapping):
        raise SpaceSpecError(f"Space.from_dict needs a dict of parameter names; got {spec!r}.")
    return Space({name: _talos_param(name, value) for name, value in spec.items()})


def _talos_param(name: str, value: Any) -> Param:
    if isinstance(value, Float | Int | Choice | Const):
        return value
    if isinstance(value, list):
        return Choice(value)
    if isinstance(value, tuple):
        return _spaced(name, value)
    if isinstance(value, Mapping):
        raise SpaceSpecError(
            f"The {name!r} entry of Space.from_dict is a dict; for a conditional choice use "
            f"Choice({{option: sub-space}})."
        )
    return Const(value)


def _spaced(name: str, value: tuple[Any, ...]) -> Choice:
    """Talos' ``(start, stop, n)``: n evenly spaced values, ints when start and stop are ints."""
    if (
        len(value) != 3
        or not all(is_real(v) for v in value)
        or isinstance(value[2], float)
        or value[2] < 1
    ):
        raise SpaceSpecError(
            f"The {name!r} entry of Space.from_dict must be a (start, stop, n) tuple of numbers "
            f"with an int n >= 1; got {value!r}."
        )
    start, stop, count = value
    points = np.linspace(float(start), float(stop), int(count))
    if all(isinstance(v, int) for v in (start, stop)):
        options: list[Any] = list(dict.fromkeys(int(round(p)) for p in points))
    else:
        options = [float(round(p, 12)) for p in points]
    return Choice(options)


@dataclass(frozen=True)
class FidelityEntry:
    """The spec entry marked ``fidelity: true``: its name and range."""

    name: str
    lower: float
    upper: float


def space_from_file(path: str | Path) -> Space:
    return space_from_entries(_read_entries(path), source=path)


def fidelity_from_file(path: str | Path) -> FidelityEntry | None:
    """The entry marked ``fidelity: true`` in a spec file, if any (the file must be valid)."""
    entries = _read_entries(path)
    space_from_entries(entries, source=path)  # the same checks as for the space
    marked = [e for e in entries if e.get("fidelity")]
    if len(marked) > 1:
        names = [e["name"] for e in marked]
        raise SpaceSpecError(
            f"In space spec file {str(path)!r}: only one entry may be the fidelity; {names!r} are."
        )
    if not marked:
        return None
    entry = marked[0]
    return FidelityEntry(entry["name"], entry["lower"], entry["upper"])


def _read_entries(path: str | Path) -> list[Any]:
    file = Path(path)
    if not file.is_file():
        raise SpaceSpecError(f"Space spec file {str(file)!r} does not exist.")
    import yaml

    text = file.read_text(encoding="utf-8")
    is_json = file.suffix.lower() == ".json"
    try:
        data = json.loads(text) if is_json else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        kind = "JSON" if is_json else "YAML"
        raise SpaceSpecError(f"Space spec file {str(file)!r} is not valid {kind}: {exc}") from exc
    if isinstance(data, Mapping) and "parameters" in data:
        data = data["parameters"]
    if not isinstance(data, list) or not data:
        raise SpaceSpecError(
            f"Space spec file {str(file)!r} must hold a non-empty list of parameter entries "
            f"(or a mapping with a 'parameters' list)."
        )
    return data


def space_from_entries(entries: Sequence[Any], *, source: str | Path | None = None) -> Space:
    """Build a (conditional) space from CANDLE-style entries; see the module docstring."""
    if source is None:
        return _space_from_entries(entries)
    try:
        return _space_from_entries(entries)
    except InvalidParameterError as exc:
        if isinstance(exc, SpaceSpecError) and str(exc).startswith("In space spec file"):
            raise
        raise SpaceSpecError(f"In space spec file {str(source)!r}: {exc}") from exc


def _space_from_entries(entries: Sequence[Any]) -> Space:
    params: dict[str, Param] = {}
    conditions: dict[str, tuple[str, list[Any]]] = {}
    for position, entry in enumerate(entries):
        name, param, condition = _entry(position, entry)
        if name in params:
            raise SpaceSpecError(f"Parameter {name!r} is defined twice.")
        params[name] = param
        if condition is not None:
            conditions[name] = condition
    for name, (parent, values) in conditions.items():
        if parent not in params:
            raise SpaceSpecError(
                f"The condition of {name!r} names parameter {parent!r}, which is not defined; "
                f"defined parameters are {sorted(params)!r}."
            )
        target = params[parent]
        if not isinstance(target, Choice):
            raise SpaceSpecError(
                f"The condition of {name!r} names {parent!r}, which is not a discrete parameter."
            )
        for value in values:
            if not target.contains(value):
                raise SpaceSpecError(
                    f"The condition of {name!r} needs {parent!r} == {value!r}, but {parent!r} "
                    f"takes {target.describe()}."
                )
    _reject_cycles(conditions)
    return Space(
        {name: _nest(name, params, conditions) for name in params if name not in conditions}
    )


def _entry(position: int, entry: Any) -> tuple[str, Param, tuple[str, list[Any]] | None]:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
        raise SpaceSpecError(f"Entry {position} must be a mapping with a 'name'; got {entry!r}.")
    name, kind = entry["name"], entry.get("type")
    known = {"name", "type", "values", "lower", "upper", "log", "default", "condition", "fidelity"}
    unknown = sorted(set(entry) - known)
    if unknown:
        raise SpaceSpecError(
            f"Parameter {name!r} has unknown keys {unknown!r}; allowed keys are {sorted(known)!r}."
        )
    if kind not in SPEC_TYPES:
        raise SpaceSpecError(
            f"Parameter {name!r} has type {kind!r}; allowed types are {list(SPEC_TYPES)!r}."
        )
    if entry.get("fidelity") and (kind == "discrete" or "condition" in entry):
        raise SpaceSpecError(
            f"Parameter {name!r} is marked fidelity: true; the fidelity must be an integer or "
            f"numeric entry without a condition."
        )
    default = entry.get("default")
    param: Param
    if kind == "discrete":
        if "values" not in entry:
            raise SpaceSpecError(f"Discrete parameter {name!r} needs a 'values' list.")
        param = Choice(_as_list(name, entry["values"]), default=default)
    else:
        missing = [key for key in ("lower", "upper") if key not in entry]
        if missing:
            raise SpaceSpecError(f"{kind.capitalize()} parameter {name!r} needs {missing!r}.")
        cls = Int if kind == "integer" else Float
        param = cls(entry["lower"], entry["upper"], log=entry.get("log", False), default=default)
    return name, param, _condition(name, entry.get("condition"))


def _as_list(name: str, values: Any) -> list[Any]:
    if not isinstance(values, list) or not values:
        raise SpaceSpecError(f"The 'values' of {name!r} must be a non-empty list; got {values!r}.")
    return values


def _condition(name: str, raw: Any) -> tuple[str, list[Any]] | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or len(raw) != 1:
        raise SpaceSpecError(
            f"The condition of {name!r} must be a one-key mapping {{parent: value or [values]}}; "
            f"got {raw!r}."
        )
    ((parent, values),) = raw.items()
    return str(parent), values if isinstance(values, list) else [values]


def _reject_cycles(conditions: Mapping[str, tuple[str, list[Any]]]) -> None:
    for start in conditions:
        seen, node = {start}, start
        while node in conditions:
            node = conditions[node][0]
            if node in seen:
                raise SpaceSpecError(f"Conditions form a cycle through {node!r}.")
            seen.add(node)


def _nest(
    name: str, params: Mapping[str, Param], conditions: Mapping[str, tuple[str, list[Any]]]
) -> Param:
    """Turn a discrete parameter with dependants into a conditional Choice, recursively."""
    param = params[name]
    children = [child for child, (parent, _) in conditions.items() if parent == name]
    if not children:
        return param
    assert isinstance(param, Choice)  # checked when conditions were read
    if not all(isinstance(option, str) for option in param.options):
        raise SpaceSpecError(
            f"Parameter {name!r} has dependants, so its values must be strings; got "
            f"{list(param.options)!r}."
        )
    branches: dict[str, Any] = {}
    for option in param.options:
        sub = {
            child: _nest(child, params, conditions)
            for child in children
            if any(param.index(v) == param.index(option) for v in conditions[child][1])
        }
        branches[option] = Space(sub) if sub else None
    return Choice(branches, default=param.default)
