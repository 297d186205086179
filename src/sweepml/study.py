"""``Study``: a named search and its trials, read from the storage.

A study holds no state of its own beyond its name and where it lives; every figure comes from the
storage, so a study opened later (``load_study``) shows exactly what the search recorded.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sweepml.exceptions import (
    InvalidParameterError,
    StorageError,
    StudyExistsError,
    SweepmlError,
)
from sweepml.space import Space
from sweepml.storage import Storage, StudyInfo, open_storage
from sweepml.trial import TrialRecord, TrialStatus

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Study", "full_budget", "load_study", "open_study", "status_counts"]


class Study:
    """The record of one search.

    Example:
        >>> import sweepml
        >>> study = sweepml.minimize(lambda c: (c["x"] - 1) ** 2, {"x": sweepml.Float(-5, 5)},
        ...                          n_trials=20, seed=0)
        >>> round(study.best.value, 2) < 1
        True
    """

    def __init__(self, storage: Storage, info: StudyInfo) -> None:
        self.storage = storage
        self.info = info

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def direction(self) -> str:
        """ "minimize" or "maximize"."""
        return self.info.direction

    @cached_property
    def space(self) -> Space:
        return Space.from_json_dict(self.info.space)

    @property
    def trials(self) -> list[TrialRecord]:
        """Every trial, by number (read from the storage each time)."""
        return self.storage.trials(self.name)

    @property
    def best(self) -> TrialRecord:
        """The OK trial with the best value (the earliest on ties).

        In a multi-fidelity search only trials at the largest budget reached compete: a value
        measured after 3 epochs is no rival to one measured after 81.
        """
        ok = full_budget(
            [t for t in self.trials if t.status is TrialStatus.OK and t.value is not None]
        )
        if not ok:
            raise SweepmlError(f"Study {self.name!r} has no successful trial yet.")
        return min(ok, key=lambda t: (t.loss(self.direction), t.number))

    @property
    def best_config(self) -> dict[str, Any]:
        return dict(self.best.config)

    @property
    def best_value(self) -> float:
        value = self.best.value
        assert value is not None
        return value

    def status_counts(self) -> dict[str, int]:
        return status_counts(self.trials)

    def to_dataframe(self) -> pd.DataFrame:
        """One row per trial: number, status, value, budget, timings, error, then ``params.NAME``
        for every parameter (empty where inactive) and ``metrics.NAME`` for reported metrics."""
        import pandas as pd

        rows = []
        for t in self.trials:
            row: dict[str, Any] = {
                "number": t.number,
                "status": t.status.value,
                "value": t.value,
                "budget": t.budget,
                "duration": t.duration,
                "started_at": _timestamp(t.started_at),
                "finished_at": _timestamp(t.finished_at),
                "error": _first_line(t.error),
                "retry_of": t.retry_of,
            }
            row.update({f"params.{k}": v for k, v in t.config.items()})
            row.update({f"metrics.{k}": v for k, v in t.metrics.items()})
            rows.append(row)
        frame = pd.DataFrame(rows)
        ordered = [
            "number",
            "status",
            "value",
            "budget",
            "duration",
            "started_at",
            "finished_at",
            "error",
            "retry_of",
        ]
        params = [f"params.{k}" for k in self.space.all_params]
        rest = [c for c in frame.columns if c not in ordered and c not in params]
        return frame.reindex(columns=ordered + params + sorted(rest))

    def __repr__(self) -> str:
        return f"Study(name={self.name!r}, direction={self.direction!r}, trials={len(self.trials)})"


def status_counts(trials: list[TrialRecord]) -> dict[str, int]:
    """How many trials ended in each status, by status name."""
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial.status.value] = counts.get(trial.status.value, 0) + 1
    return counts


def full_budget(trials: list[TrialRecord]) -> list[TrialRecord]:
    """The trials run at the largest budget among ``trials`` (no budget counts as the full one)."""
    if all(t.budget is None for t in trials):
        return trials
    top = max(t.budget for t in trials if t.budget is not None)
    return [t for t in trials if t.budget is None or t.budget >= top]


def _timestamp(seconds: float | None) -> Any:
    import pandas as pd

    return None if seconds is None else pd.Timestamp(seconds, unit="s")


def _first_line(text: str | None) -> str | None:
    """The last line of a traceback says what went wrong; keep the table readable."""
    if not text:
        return text
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else text


def load_study(storage: Storage | str | os.PathLike[str], study_name: str | None = None) -> Study:
    """Open a stored study; ``study_name`` may be left out when the storage holds only one.

    Example:
        >>> study = load_study("search.db")  # doctest: +SKIP
    """
    store = open_storage(storage, create=False, owner="load_study")
    names = store.study_names()
    if not names:
        raise StorageError("The storage holds no study yet.")
    if study_name is None:
        if len(names) > 1:
            raise StorageError(
                f"The storage holds {len(names)} studies {names}; pass study_name to choose one."
            )
        study_name = names[0]
    info = store.get_study(study_name)
    if info is None:
        raise StorageError(f"No study named {study_name!r}; the storage holds {names}.")
    return Study(store, info)


def open_study(
    storage: Storage,
    name: str,
    direction: str,
    space: Space,
    *,
    method: str,
    seed: int | None,
) -> Study:
    """The study ``name`` in ``storage``, created when new (``method`` and ``seed``, drawn when
    None, are recorded); an existing one must have the same direction and space."""
    info = storage.get_study(name)
    if info is None:
        if seed is None:
            seed = secrets.randbelow(2**31)
        info = StudyInfo(
            name, direction, space.to_dict(), time.time(), {"strategy": method, "seed": seed}
        )
        try:
            storage.create_study(info)
        except StudyExistsError:  # another driver created it meanwhile: join it
            stored = storage.get_study(name)
            assert stored is not None
            info = stored
    if info.direction != direction:
        raise InvalidParameterError(
            f"Study {name!r} in this storage was a {info.direction} search; this call would "
            f"{direction}. Pass another study_name."
        )
    elif not same_space(info.space, space):
        raise InvalidParameterError(
            f"Study {name!r} in this storage was run on a different space; resuming needs the "
            f"same space. Pass another study_name to start a new study."
        )
    return Study(storage, info)


def same_space(stored: Mapping[str, Any], space: Space) -> bool:
    """Whether a stored space description equals ``space``."""
    return Space.from_json_dict(stored) == space
