"""The figures of a study, as matplotlib figures (Agg, no display needed).

Each function takes the study's trial records and returns a ``Figure`` or None when there is
nothing to draw; ``report`` turns them into PNGs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from sweepml.analysis.importance import Importance
from sweepml.analysis.metrics import best_so_far, ok_trials
from sweepml.space import Choice, Const, Float, Int, Param
from sweepml.study import full_budget
from sweepml.trial import TrialRecord, TrialStatus

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "durations_plot",
    "history_plot",
    "importance_plot",
    "learning_curves_plot",
    "parameter_plot",
]

_MAX_CURVES = 60


def _figure(width: float = 6.0, height: float = 3.6) -> tuple[Figure, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return fig, fig.add_subplot()


def history_plot(
    trials: Sequence[TrialRecord], direction: str, *, against: str = "trial"
) -> Figure | None:
    """Every OK value and the best so far, against the trial number or seconds."""
    done = full_budget(ok_trials(trials))
    if not done:
        return None
    curve = best_so_far(done, direction)
    fig, ax = _figure()
    if against == "trial":
        ax.scatter([t.number for t in done], [t.value for t in done], s=12, alpha=0.5,
                   label="trial value")  # fmt: skip
        ax.step([p[0] for p in curve], [p[2] for p in curve], where="post", color="C3",
                label="best so far")  # fmt: skip
        ax.set_xlabel("trial number")
    else:
        ax.step([p[1] for p in curve], [p[2] for p in curve], where="post", color="C3",
                label="best so far")  # fmt: skip
        ax.set_xlabel("seconds since the first trial started")
    budget_note = "" if done[0].budget is None else f" (trials at budget {done[0].budget:g})"
    ax.set_ylabel("objective value")
    ax.set_title(f"Best so far against {'trials' if against == 'trial' else 'time'}{budget_note}")
    ax.legend(loc="best", fontsize=8)
    return fig


def parameter_plot(trials: Sequence[TrialRecord], name: str, param: Param) -> Figure | None:
    """One hyperparameter against the value: a scatter for numbers (log axis for log ranges),
    a strip plot with jitter for choices."""
    done = [t for t in ok_trials(trials) if name in t.config]
    if not done or isinstance(param, Const):
        return None
    fig, ax = _figure(5.0, 3.2)
    values = [t.value for t in done]
    colors = _budget_colors(done)
    if isinstance(param, Choice):
        labels = [str(v) for v in param.values]
        index = {label: i for i, label in enumerate(labels)}
        positions = np.array([index.get(str(t.config[name]), -1) for t in done], dtype=float)
        jitter = np.random.default_rng(0).uniform(-0.18, 0.18, len(done))
        ax.scatter(positions + jitter, values, s=14, alpha=0.6, c=colors)
        ax.set_xticks(range(len(labels)), [_short(label) for label in labels], rotation=30,
                      ha="right", fontsize=8)  # fmt: skip
    else:
        ax.scatter([t.config[name] for t in done], values, s=14, alpha=0.6, c=colors)
        if isinstance(param, Float | Int) and param.log:
            ax.set_xscale("log")
    ax.set_xlabel(name)
    ax.set_ylabel("objective value")
    ax.set_title(f"{name} against the value ({len(done)} OK trials)", fontsize=10)
    return fig


def _budget_colors(trials: Sequence[TrialRecord]) -> Any:
    """Trials coloured by budget when a multi-fidelity search gave them several."""
    budgets = [t.budget if t.budget is not None else math.inf for t in trials]
    distinct = sorted(set(budgets))
    if len(distinct) < 2:
        return "C0"
    rank = {b: i for i, b in enumerate(distinct)}
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(rank[b] / (len(distinct) - 1)) for b in budgets]


def _short(label: str, limit: int = 18) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def importance_plot(importance: Importance) -> Figure:
    names = list(importance.scores)[::-1]
    fig, ax = _figure(5.5, 0.5 + 0.35 * len(names))
    ax.barh(names, [importance.scores[n] for n in names], color="C2")
    ax.set_xlabel("share of the explained variance (fANOVA)")
    ax.set_title("Parameter importance", fontsize=10)
    return fig


def durations_plot(trials: Sequence[TrialRecord]) -> Figure | None:
    """Trial durations by status, and how many trials ended in each status."""
    durations: dict[str, list[float]] = {}
    for t in trials:
        if t.duration is not None:
            durations.setdefault(t.status.value, []).append(t.duration)
    if not durations:
        return None
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.2), dpi=100, layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[2, 1])
    left.hist(list(durations.values()), bins=20, stacked=True, label=list(durations))
    left.set_xlabel("trial duration (s)")
    left.set_ylabel("trials")
    left.legend(fontsize=8)
    counts = {s.value: sum(1 for t in trials if t.status is s) for s in TrialStatus}
    shown = {k: v for k, v in counts.items() if v}
    right.bar(list(shown), list(shown.values()), color="C1")
    right.tick_params(axis="x", labelrotation=30, labelsize=8)
    right.set_title("Trials by status", fontsize=10)
    return fig


def learning_curves_plot(trials: Sequence[TrialRecord]) -> Figure | None:
    """The values trials reported per step (``trial.report``), pruned ones dashed."""
    with_curves = [t for t in trials if t.intermediate][-_MAX_CURVES:]
    if not with_curves:
        return None
    fig, ax = _figure()
    for t in with_curves:
        steps, values = zip(*t.intermediate, strict=True)
        style = "--" if t.status is TrialStatus.PRUNED else "-"
        ax.plot(steps, values, style, linewidth=1, alpha=0.6)
    ax.set_xlabel("step")
    ax.set_ylabel("reported value")
    ax.set_title(f"Learning curves of the last {len(with_curves)} trials (pruned: dashed)",
                 fontsize=10)  # fmt: skip
    return fig
