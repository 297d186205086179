"""Calling the user's objective: what it may accept, what it may return, and how a call is judged.

An objective takes the config as its first argument and may declare keyword parameters ``trial``
(a handle to report intermediate values) and ``budget`` (the fidelity a multi-fidelity strategy
chose). It returns a finite number, or a dict with the objective under the key ``"value"`` and any
other metrics beside it. Anything else makes the trial FAILED with the reason; an exception makes
it FAILED with the traceback (MEMOUT for MemoryError).
"""

from __future__ import annotations

import inspect
import json
import math
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sweepml._validation import is_real
from sweepml.exceptions import InvalidParameterError, SweepmlError, TrialPruned
from sweepml.pruners import PruneRule, as_losses
from sweepml.trial import TrialStatus

__all__ = ["VALUE_KEY", "ObjectiveRunner", "Trial", "TrialResult", "TrialTask"]

VALUE_KEY = "value"
_MAX_ERROR_CHARS = 20_000
Reporter = Callable[[int, float], None]


@dataclass(frozen=True)
class TrialTask:
    """What an executor runs: one config, with its limits and its pruning rule.

    ``loss_sign`` turns a reported value into a loss (-1 for maximize) for ``prune_rule``.
    """

    number: int
    config: Mapping[str, Any]
    budget: float | None = None
    timeout: float | None = None
    memory_mb: float | None = None
    prune_rule: PruneRule | None = None
    loss_sign: float = 1.0


@dataclass(frozen=True)
class TrialResult:
    """How one run ended, as an executor hands it back to the study."""

    number: int
    status: TrialStatus
    value: float | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    intermediate: tuple[tuple[int, float], ...] = ()
    error: str | None = None
    finished_at: float = field(default_factory=time.time)


class Trial:
    """The handle an objective receives when it declares a ``trial`` parameter.

    Example:
        >>> def objective(config, trial):
        ...     for epoch in range(3):
        ...         trial.report(epoch, 1.0 / (epoch + 1))
        ...     return 0.33
    """

    def __init__(self, task: TrialTask, reporter: Reporter) -> None:
        self.number = task.number
        self.config = dict(task.config)
        self.budget = task.budget
        self._reporter = reporter
        self._rule = task.prune_rule
        self._minimizing = task.loss_sign > 0
        self.curve: list[tuple[int, float]] = []  #: every (step, value) reported so far
        self._ended = False
        self._deadline = None if task.timeout is None else time.monotonic() + task.timeout

    def time_left(self) -> float | None:
        """Seconds before this trial reaches its ``trial_timeout`` and is killed (at least 0),
        or None without one. An objective that can stop early with a usable result (fewer
        boosting rounds, fewer epochs) reads it to return before the kill instead of ending
        TIMEOUT with nothing."""
        if self._deadline is None:
            return None
        return max(self._deadline - time.monotonic(), 0.0)

    def report(self, step: int, value: float) -> None:
        """Record an intermediate value (a learning curve point, e.g. per epoch) for this trial."""
        if self._ended:
            raise SweepmlError(
                f"trial.report was called after trial {self.number} ended; report from inside "
                f"the objective, before it returns."
            )
        if isinstance(step, bool) or not isinstance(step, int) or not is_real(value):
            raise InvalidParameterError(
                f"trial.report takes (step: int, value: number); got ({step!r}, {value!r})."
            )
        self.curve.append((int(step), float(value)))
        self._reporter(int(step), float(value))

    def should_prune(self) -> bool:
        """Whether the search's pruner (``minimize(pruner=...)``) wants this trial stopped after
        its last report; always False without a pruner. Raise ``sweepml.TrialPruned`` then."""
        if self._rule is None:
            return False
        return self._rule.should_prune(as_losses(self.curve, self._minimizing))

    def end(self) -> None:
        self._ended = True


class ObjectiveRunner:
    """Wraps the user's objective: checks its signature once, then runs tasks into results."""

    def __init__(self, objective: Callable[..., Any], *, owner: str = "minimize") -> None:
        if not callable(objective):
            raise InvalidParameterError(
                f"The 'objective' parameter of {owner} must be a callable; got {objective!r}."
            )
        self.objective = objective
        self.wants_trial, self.wants_budget = _call_plan(objective, owner)

    def __call__(
        self, task: TrialTask, reporter: Reporter, *, in_driver: bool = False
    ) -> TrialResult:
        """Run one task. ``in_driver``: the call runs in the search's own process (the serial
        executor), where a KeyboardInterrupt is the user's Ctrl-C and stops the search; in a
        worker it is the objective's own doing and fails the trial with its traceback."""
        handle = Trial(task, reporter)
        curve = handle.curve
        kwargs: dict[str, Any] = {}
        if self.wants_trial:
            kwargs["trial"] = handle
        if self.wants_budget:
            kwargs["budget"] = task.budget
        try:
            returned = self.objective(dict(task.config), **kwargs)
        except TrialPruned:
            step, last = curve[-1] if curve else (None, None)
            why = f"Stopped by the pruner after step {step} (reported {last!r})."
            return TrialResult(task.number, TrialStatus.PRUNED, last, {}, tuple(curve), why)
        except MemoryError:
            return TrialResult(
                task.number, TrialStatus.MEMOUT, intermediate=tuple(curve), error=_traceback()
            )
        except Exception:
            return TrialResult(
                task.number, TrialStatus.FAILED, intermediate=tuple(curve), error=_traceback()
            )
        except KeyboardInterrupt:
            if in_driver:
                raise
            return TrialResult(
                task.number,
                TrialStatus.FAILED,
                intermediate=tuple(curve),
                error=_traceback() + "The objective raised KeyboardInterrupt.",
            )
        except SystemExit as exc:
            return TrialResult(
                task.number,
                TrialStatus.FAILED,
                intermediate=tuple(curve),
                error=f"The objective called sys.exit({exc.code!r}).",
            )
        finally:
            handle.end()
        value, metrics, problem = interpret(returned)
        status = TrialStatus.OK if problem is None else TrialStatus.FAILED
        return TrialResult(task.number, status, value, metrics, tuple(curve), problem)


def _traceback() -> str:
    text = traceback.format_exc()
    return text if len(text) <= _MAX_ERROR_CHARS else "...\n" + text[-_MAX_ERROR_CHARS:]


def _call_plan(objective: Callable[..., Any], owner: str) -> tuple[bool, bool]:
    """Which of ``trial`` and ``budget`` the objective declares; rejects other required params."""
    try:
        params = list(inspect.signature(objective).parameters.values())
    except (TypeError, ValueError):  # builtins and some C callables: assume objective(config)
        return False, False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if not params or (
        params[0].kind not in positional and params[0].kind is not inspect.Parameter.VAR_POSITIONAL
    ):
        raise InvalidParameterError(
            f"The objective passed to {owner} must take the config as its first argument; "
            f"its signature is {inspect.signature(objective)}."
        )
    names = {p.name for p in params[1:]}
    for extra in params[1:]:
        required = extra.default is inspect.Parameter.empty and extra.kind not in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        )
        if required and extra.name not in ("trial", "budget"):
            raise InvalidParameterError(
                f"The objective passed to {owner} has a required parameter {extra.name!r} that "
                f"sweepml cannot fill; it may take (config) plus the keyword parameters 'trial' "
                f"and/or 'budget'."
            )
    return "trial" in names, "budget" in names


def interpret(returned: Any) -> tuple[float | None, dict[str, Any], str | None]:
    """Split an objective's return into (value, metrics, problem); problem None means valid."""
    metrics: dict[str, Any] = {}
    raw = returned
    if isinstance(returned, Mapping):
        metrics = {str(k): _json_safe(v) for k, v in returned.items() if k != VALUE_KEY}
        if VALUE_KEY not in returned:
            return (
                None,
                metrics,
                (
                    f"The objective returned a dict without the {VALUE_KEY!r} key (keys: "
                    f"{sorted(map(str, returned))}); put the number to optimize under "
                    f"{VALUE_KEY!r}."
                ),
            )
        raw = returned[VALUE_KEY]
    if raw is None or isinstance(raw, str | bytes | bool):
        return (
            None,
            metrics,
            (
                f"The objective returned {raw!r} ({type(raw).__name__}); it must return a finite "
                f"number or a dict with the number under {VALUE_KEY!r}."
            ),
        )
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return (
            None,
            metrics,
            (
                f"The objective returned a {type(raw).__name__}, which is not a number; it must "
                f"return a finite number or a dict with the number under {VALUE_KEY!r}."
            ),
        )
    if not math.isfinite(value):
        return None, metrics, f"The objective returned {value!r}; the value must be finite."
    return value, metrics, None


def _json_safe(value: Any) -> Any:
    """Metrics are stored as JSON: numbers stay numbers, unknown objects become their repr."""
    if is_real(value):
        return float(value) if not isinstance(value, int) else value
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value
