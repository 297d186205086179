"""Figures of a result set: best so far, throughput, prediction optimum, result entropy, and a
robustness check of the winner. Each works on a study's trial records; nothing here plots.

Definitions (the lecture's two goals of a search, made exact):

- **generality** of a trial = ``1 - |train_value - value|``, where ``value`` is its validation
  score and ``train_value`` the same measure on the training data (an objective returns it in its
  dict as ``"train_value"``; ``scan`` records it from the history: ``acc`` for ``val_acc``).
- **prediction optimum** of a trial = ``value x generality``: 1 is a perfectly precise, perfectly
  general model. Defined for scores to maximize that lie in [0, 1] (accuracy, AUC, R2 <= 1, ...)
  and only for trials that report ``train_value``; the prediction optimum of a result set is its
  best trial's. Otherwise it is None (never guessed).
- **result entropy** of a round (a result set) = the Shannon entropy of its OK values put in
  ``bins`` equal-width bins, divided by ``log(min(bins, n))`` so it lies in [0, 1]. The bins span
  [0, 1] when every value does (scores), else the values' own range. 0 means every result landed
  in one bin (the same result whatever was tried); 1 means results spread evenly.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sweepml.trial import TrialRecord, TrialStatus

__all__ = [
    "TRAIN_VALUE_KEY",
    "Robustness",
    "best_so_far",
    "busy_hours",
    "generality",
    "models_per_hour",
    "prediction_optimum",
    "result_entropy",
    "robustness",
]

TRAIN_VALUE_KEY = "train_value"


def ok_trials(trials: Sequence[TrialRecord]) -> list[TrialRecord]:
    return [t for t in trials if t.status is TrialStatus.OK and t.value is not None]


def best_so_far(trials: Sequence[TrialRecord], direction: str) -> list[tuple[int, float, float]]:
    """(trial number, seconds since the first start, best value so far) at each OK trial's end,
    in order of finishing."""
    done = sorted(ok_trials(trials), key=lambda t: t.finished_at or 0.0)
    if not done:
        return []
    start = min(t.started_at for t in trials if t.started_at is not None)
    pick = min if direction == "minimize" else max
    best: float | None = None
    points = []
    for t in done:
        assert t.value is not None
        best = t.value if best is None else pick(best, t.value)
        points.append((t.number, (t.finished_at or start) - start, best))
    return points


def busy_hours(trials: Sequence[TrialRecord]) -> float:
    """Hours during which at least one trial was running (gaps between sessions excluded)."""
    spans = sorted(
        (t.started_at, t.finished_at)
        for t in trials
        if t.started_at is not None and t.finished_at is not None
    )
    total, current_start, current_end = 0.0, None, None
    for start, end in spans:
        if current_end is None or start > current_end:
            if current_end is not None and current_start is not None:
                total += current_end - current_start
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None and current_start is not None:
        total += current_end - current_start
    return total / 3600


def models_per_hour(trials: Sequence[TrialRecord]) -> float | None:
    """Finished trials per busy hour (``busy_hours``); None before any trial finished."""
    hours = busy_hours(trials)
    finished = sum(1 for t in trials if t.status.finished)
    return finished / hours if hours > 0 else None


def generality(trial: TrialRecord) -> float | None:
    """``1 - |train_value - value|``, None when the trial did not report ``train_value``."""
    train = trial.metrics.get(TRAIN_VALUE_KEY)
    if trial.value is None or not isinstance(train, int | float) or isinstance(train, bool):
        return None
    return 1.0 - abs(float(train) - trial.value)


def prediction_optimum(
    trials: Sequence[TrialRecord], direction: str
) -> tuple[float | None, TrialRecord | None, str]:
    """(best ``value x generality``, its trial, a sentence on how it was computed or why not)."""
    done = ok_trials(trials)
    if direction != "maximize":
        return None, None, "defined for scores to maximize in [0, 1]; this study minimizes"
    if not done:
        return None, None, "no successful trial"
    if any(not 0.0 <= (t.value or 0.0) <= 1.0 for t in done):
        return None, None, "defined for scores in [0, 1]; some values lie outside"
    rated = [(t.value * g, t) for t in done if (g := generality(t)) is not None and t.value]
    if not rated:
        return None, None, f"no trial reported '{TRAIN_VALUE_KEY}' (the training-set score)"
    best, trial = max(rated, key=lambda pair: (pair[0], -pair[1].number))
    return best, trial, f"validation score x (1 - |train - validation|) over {len(rated)} trials"


def result_entropy(
    values: Sequence[float], *, bins: int = 10, value_range: tuple[float, float] | None = None
) -> float:
    """Normalized Shannon entropy of the binned values (see the module docstring); 0 for one
    value or identical values.

    Example:
        >>> result_entropy([0.9, 0.91, 0.92])
        0.0
        >>> round(result_entropy([0.05, 0.15, 0.25, 0.35]), 3)
        1.0
    """
    data = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if len(data) < 2 or np.ptp(data) == 0:
        return 0.0
    if value_range is None:
        inside = data.min() >= 0 and data.max() <= 1
        value_range = (0.0, 1.0) if inside else (float(data.min()), float(data.max()))
    counts, _ = np.histogram(data, bins=bins, range=value_range)
    p = counts[counts > 0] / counts.sum()
    entropy = float(-(p * np.log(p)).sum())
    return entropy / math.log(min(bins, len(data)))


@dataclass(frozen=True)
class Robustness:
    """How far the winner can be trusted: the spread of the top-k and any warnings."""

    top_k: int
    spread: float  # max - min of the top-k values
    std: float  # their standard deviation
    margin: float | None  # the winner's lead over the runner-up
    winner_gap: float | None  # the winner's |train_value - value|
    warnings: tuple[str, ...]


def robustness(trials: Sequence[TrialRecord], direction: str, *, k: int = 5) -> Robustness | None:
    """Checks whether the winner's lead looks like a real gain or like luck on the validation data.

    Two heuristics, stated in the warnings they raise:

    - the winner's lead over the runner-up is no larger than the median gap between the next
      top-k values: the order at the top is within the scatter of the results, so the "win" may
      be validation noise (re-evaluate the top-k on another split or seed);
    - the winner's train-validation gap is more than twice the median gap of the other top-k
      trials: it fits its training data much better than it generalizes.
    """
    done = sorted(ok_trials(trials), key=lambda t: t.loss(direction))
    if not done:
        return None
    top = done[:k]
    values = [float(t.value) for t in top if t.value is not None]
    spread = max(values) - min(values)
    std = statistics.pstdev(values) if len(values) > 1 else 0.0
    warnings: list[str] = []
    margin = abs(values[0] - values[1]) if len(values) > 1 else None
    if margin is not None and len(values) > 2:
        spacing = statistics.median(abs(a - b) for a, b in zip(values[1:], values[2:]))
        if margin <= spacing:
            warnings.append(
                f"The winner (trial {top[0].number}) leads the runner-up by {margin:.4g}, no more "
                f"than the median gap ({spacing:.4g}) between the next {len(values) - 1} results: "
                f"its lead is within the scatter of the top results and may be validation noise "
                f"rather than a real gain. Re-evaluate the top {len(values)} on another split or "
                f"seed before trusting the order."
            )
    winner_gap = None
    if (g := generality(top[0])) is not None:
        winner_gap = 1.0 - g
        other_gaps = [1.0 - h for t in top[1:] if (h := generality(t)) is not None]
        if other_gaps and winner_gap > 2 * max(statistics.median(other_gaps), 1e-12):
            warnings.append(
                f"The winner's train-validation gap ({winner_gap:.4g}) is more than twice the "
                f"median gap of the other top trials ({statistics.median(other_gaps):.4g}): "
                f"it fits its training data much better than it generalizes."
            )
    return Robustness(len(top), spread, std, margin, winner_gap, tuple(warnings))
