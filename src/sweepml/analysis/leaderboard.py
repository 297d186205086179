"""The leaderboard of a study: its OK trials, best first."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sweepml.analysis.metrics import TRAIN_VALUE_KEY, ok_trials
from sweepml.study import Study
from sweepml.trial import TrialRecord

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["leaderboard"]


def rank_trials(trials: Sequence[TrialRecord], direction: str) -> list[TrialRecord]:
    """OK trials best first; larger budgets first (a value after 81 epochs beats any after 3)."""

    def key(t: TrialRecord) -> tuple[float, float, int]:
        budget = t.budget if t.budget is not None else math.inf
        return (-budget, t.loss(direction), t.number)

    return sorted(ok_trials(trials), key=key)


def leaderboard(study: Study, top: int | None = 10) -> pd.DataFrame:
    """OK trials ranked best first; in a multi-fidelity search, trials at larger budgets first
    (a value after 81 epochs outranks any value after 3).

    Example:
        >>> import sweepml
        >>> study = sweepml.minimize(lambda c: c["x"] ** 2, {"x": sweepml.Float(-1, 1)},
        ...                          n_trials=5, seed=0)
        >>> list(leaderboard(study, top=2).columns)[:4]
        ['rank', 'trial', 'value', 'budget']
    """
    return leaderboard_frame(study.trials, study.direction, top)


def leaderboard_frame(
    trials: Sequence[TrialRecord], direction: str, top: int | None = 10
) -> pd.DataFrame:
    """``leaderboard`` of trials already read from the storage."""
    import pandas as pd

    ranked = rank_trials(trials, direction)[:top]
    rows = []
    for rank, t in enumerate(ranked, start=1):
        row = {
            "rank": rank,
            "trial": t.number,
            "value": t.value,
            "budget": t.budget,
            "duration": t.duration,
        }
        if TRAIN_VALUE_KEY in t.metrics:
            row[TRAIN_VALUE_KEY] = t.metrics[TRAIN_VALUE_KEY]
        row.update({name: value for name, value in t.config.items()})
        rows.append(row)
    return pd.DataFrame(rows)
