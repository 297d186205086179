"""The leaderboard of a study: its OK trials, best first."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sweepml.analysis.metrics import TRAIN_VALUE_KEY, ok_trials
from sweepml.study import Study

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["leaderboard"]


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
    import pandas as pd

    def key(t):  # type: ignore[no-untyped-def]
        budget = t.budget if t.budget is not None else math.inf
        return (-budget, t.loss(study.direction), t.number)

    ranked = sorted(ok_trials(study.trials), key=key)[:top]
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
