"""Pruning: stop unpromising trials of an iterative objective early, from their learning curves.

An objective that declares a ``trial`` parameter reports ``trial.report(step, value)`` (say once
per epoch) and asks ``trial.should_prune()``; when it is True it raises ``sweepml.TrialPruned``
and the trial is recorded PRUNED with its curve.

When a trial starts, the driver hands it a *rule*: a small snapshot of the curves of the trials
that had finished by then (OK or PRUNED). The trial decides locally, with no round trip to the
driver, so pruning works the same in process, in worker processes and on a cluster, and a serial
search with a seed prunes the same trials every time. Trials still running when it starts do not
count (in a serial search there are none).

Two rules:

- ``median`` (the Google Vizier median stopping rule): prune at step ``s`` when the trial's best
  value so far is worse than the median of the other trials' values at step ``s``.
- ``asha`` (asynchronous successive halving as a pruner, Li et al. 2020): rungs at steps
  ``min_step * eta**k``; at a rung the trial continues only if its value is in the top ``1/eta``
  of the values finished trials had at that rung (the best one always continues).
"""

from __future__ import annotations

import abc
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from sweepml._validation import check_int
from sweepml.exceptions import InvalidParameterError

__all__ = ["ASHAPruner", "MedianPruner", "Pruner", "PruneRule", "make_pruner"]

Curve = Sequence[tuple[int, float]]


class PruneRule(abc.ABC):
    """What one trial carries to decide, from its own curve, whether to stop. Picklable."""

    @abc.abstractmethod
    def should_prune(self, curve: Curve) -> bool:
        """``curve`` holds (step, loss) pairs, losses as minimized (negated for maximize)."""


class _NeverPrune(PruneRule):
    def should_prune(self, curve: Curve) -> bool:
        return False


class Pruner(abc.ABC):
    """Builds a ``PruneRule`` from the finished trials' curves (losses: lower is better)."""

    name: ClassVar[str] = ""

    @abc.abstractmethod
    def rule(self, curves: Sequence[Curve]) -> PruneRule: ...


@dataclass(frozen=True)
class _MedianRule(PruneRule):
    medians: Mapping[int, float]
    warmup_steps: int

    def should_prune(self, curve: Curve) -> bool:
        if not curve:
            return False
        step = curve[-1][0]
        if step < self.warmup_steps or step not in self.medians:
            return False
        best = min(v for _, v in curve)
        return best > self.medians[step]


@dataclass(frozen=True)
class MedianPruner(Pruner):
    """Prune a trial whose best value so far is worse than the median of the others at that step.

    Args:
        n_startup_trials: finished trials with curves needed before anything is pruned.
        n_warmup_steps: steps below this number are never pruned.

    Example:
        >>> MedianPruner(n_startup_trials=5).rule([]).should_prune([(0, 1.0)])
        False
    """

    name: ClassVar[str] = "median"
    n_startup_trials: int = 5
    n_warmup_steps: int = 0

    def __post_init__(self) -> None:
        check_int("MedianPruner", "n_startup_trials", self.n_startup_trials, minimum=0)
        check_int("MedianPruner", "n_warmup_steps", self.n_warmup_steps, minimum=0)

    def rule(self, curves: Sequence[Curve]) -> PruneRule:
        curves = [c for c in curves if c]
        if len(curves) < max(self.n_startup_trials, 1):
            return _NeverPrune()
        by_step: dict[int, list[float]] = {}
        for curve in curves:
            for step, value in dict(curve).items():  # the last report of a step counts
                by_step.setdefault(step, []).append(value)
        medians = {step: statistics.median(values) for step, values in by_step.items()}
        return _MedianRule(medians, self.n_warmup_steps)


@dataclass(frozen=True)
class _RungRule(PruneRule):
    rungs: Mapping[int, tuple[float, ...]]  # rung step -> finished trials' sorted values there
    eta: int

    def should_prune(self, curve: Curve) -> bool:
        if not curve:
            return False
        step, value = curve[-1]
        if step not in self.rungs:
            return False
        competing = sorted((*self.rungs[step], value))
        keep = max(len(competing) // self.eta, 1)
        return value > competing[keep - 1]


@dataclass(frozen=True)
class ASHAPruner(Pruner):
    """Asynchronous successive halving on the reported steps (Optuna's SuccessiveHalvingPruner).

    Args:
        min_step: the first rung's step.
        eta: the factor between rung steps (>= 2); the top ``1/eta`` at a rung continues.

    Example:
        >>> ASHAPruner(min_step=1, eta=3).rung_steps(30)
        [1, 3, 9, 27]
    """

    name: ClassVar[str] = "asha"
    min_step: int = 1
    eta: int = 3

    def __post_init__(self) -> None:
        check_int("ASHAPruner", "min_step", self.min_step, minimum=1)
        check_int("ASHAPruner", "eta", self.eta, minimum=2)

    def rung_steps(self, up_to: int) -> list[int]:
        steps, step = [], self.min_step
        while step <= up_to:
            steps.append(step)
            step *= self.eta
        return steps

    def rule(self, curves: Sequence[Curve]) -> PruneRule:
        longest = max((step for curve in curves for step, _ in curve), default=0)
        rungs: dict[int, list[float]] = {step: [] for step in self.rung_steps(max(longest, 1))}
        for curve in curves:
            for step, value in dict(curve).items():
                if step in rungs:
                    rungs[step].append(value)
        return _RungRule({s: tuple(sorted(v)) for s, v in rungs.items()}, self.eta)


_PRUNERS: dict[str, type[Pruner]] = {"median": MedianPruner, "asha": ASHAPruner}


def make_pruner(spec: str | Pruner | None, *, owner: str = "minimize") -> Pruner | None:
    """A pruner from a name (``median``, ``asha``), an instance, or None (no pruning)."""
    if spec is None or isinstance(spec, Pruner):
        return spec
    if isinstance(spec, str) and spec in _PRUNERS:
        return _PRUNERS[spec]()
    raise InvalidParameterError(
        f"The 'pruner' parameter of {owner} must be one of {sorted(_PRUNERS)}, a Pruner or "
        f"None; got {spec!r}."
    )


def as_losses(curve: Iterable[tuple[int, float]], minimize: bool) -> tuple[tuple[int, float], ...]:
    """A reported curve in loss terms (maximize negates), dropping non-finite points."""
    sign = 1.0 if minimize else -1.0
    return tuple((int(s), sign * float(v)) for s, v in curve if math.isfinite(v))
