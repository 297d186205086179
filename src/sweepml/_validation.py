"""One wording for every bad-argument error.

Messages read: "The 'n_trials' parameter of minimize must be an int >= 1; got 0."
"""

from __future__ import annotations

import math
from typing import Any, Literal, overload

from sweepml.exceptions import InvalidParameterError


def param_error(owner: str, name: str, allowed: str, got: Any) -> InvalidParameterError:
    """Build the error for parameter ``name`` of ``owner`` that must be ``allowed``."""
    return InvalidParameterError(
        f"The {name!r} parameter of {owner} must be {allowed}; got {got!r}."
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) or _is_numpy_int(value)


def _is_numpy_int(value: Any) -> bool:
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a hard dependency
        return False
    return isinstance(value, np.integer)


def is_real(value: Any) -> bool:
    """True for ints and floats (numpy's too), never for bools."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        return False
    return isinstance(value, np.integer | np.floating)


@overload
def check_int(
    owner: str, name: str, value: Any, *, minimum: int | None = ..., optional: Literal[False] = ...
) -> int: ...
@overload
def check_int(
    owner: str, name: str, value: Any, *, minimum: int | None = ..., optional: bool
) -> int | None: ...
def check_int(
    owner: str, name: str, value: Any, *, minimum: int | None = None, optional: bool = False
) -> int | None:
    """Return ``value`` as an int, or raise the standard error."""
    if value is None and optional:
        return None
    allowed = "an int" + (f" >= {minimum}" if minimum is not None else "")
    if optional:
        allowed += " or None"
    if not _is_int(value) or (minimum is not None and value < minimum):
        raise param_error(owner, name, allowed, value)
    return int(value)


@overload
def check_float(
    owner: str,
    name: str,
    value: Any,
    *,
    minimum: float | None = ...,
    exclusive_minimum: bool = ...,
    optional: Literal[False] = ...,
) -> float: ...
@overload
def check_float(
    owner: str,
    name: str,
    value: Any,
    *,
    minimum: float | None = ...,
    exclusive_minimum: bool = ...,
    optional: bool,
) -> float | None: ...
def check_float(
    owner: str,
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    exclusive_minimum: bool = False,
    optional: bool = False,
) -> float | None:
    """Return ``value`` as a finite float, or raise the standard error."""
    if value is None and optional:
        return None
    op = ">" if exclusive_minimum else ">="
    allowed = "a finite number" + (f" {op} {minimum}" if minimum is not None else "")
    if optional:
        allowed += " or None"
    if not is_real(value) or not math.isfinite(float(value)):
        raise param_error(owner, name, allowed, value)
    number = float(value)
    if minimum is not None and (number < minimum or (exclusive_minimum and number == minimum)):
        raise param_error(owner, name, allowed, value)
    return number


@overload
def check_bool(owner: str, name: str, value: Any, *, optional: Literal[False] = ...) -> bool: ...
@overload
def check_bool(owner: str, name: str, value: Any, *, optional: bool) -> bool | None: ...
def check_bool(owner: str, name: str, value: Any, *, optional: bool = False) -> bool | None:
    if value is None and optional:
        return None
    if not isinstance(value, bool):
        raise param_error(owner, name, "a bool" + (" or None" if optional else ""), value)
    return value
