"""A study as one self-contained HTML file: tables, notes and PNG figures embedded as data URIs,
so it opens offline, attaches to an e-mail and never points at a file that moved."""

from __future__ import annotations

import base64
import html
import io
import os
import statistics
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sweepml.analysis import metrics, plots
from sweepml.analysis.importance import parameter_importance
from sweepml.analysis.leaderboard import leaderboard_frame, rank_trials
from sweepml.exceptions import SweepmlError
from sweepml.study import Study, full_budget, status_counts
from sweepml.trial import TrialRecord

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["write_report"]

_MAX_PARAMETER_PLOTS = 40
_AXES = ("trial", "time")
_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.5em} h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
td,th{border:1px solid #ddd;padding:.25em .5em;text-align:right}
th{background:#f4f4f4} td.l,th.l{text-align:left}
.warn{background:#fff4e0;border-left:4px solid #e69500;padding:.5em 1em;margin:.5em 0}
.note{color:#555;font-size:.85em} figure{display:inline-block;margin:.3em}
"""


def write_report(study: Study, path: str | os.PathLike[str], *, top: int = 20) -> Path:
    """Write the HTML report of ``study`` to ``path`` and return the path.

    Raises SweepmlError when the study has no trial yet.

    Example:
        >>> from sweepml import load_study
        >>> write_report(load_study("search.db"), "report.html")  # doctest: +SKIP
    """
    trials = study.trials
    if not trials:
        raise SweepmlError(f"Study {study.name!r} has no trials yet; there is nothing to report.")
    parts = [
        f"<h1>sweepml report: {_e(study.name)}</h1>",
        _summary(study, trials),
        _robustness(study, trials),
        "<h2>Leaderboard</h2>",
        _table_html(leaderboard_frame(trials, study.direction, top)),
        "<h2>Best so far</h2>",
        _figures(
            [plots.history_plot(trials, study.direction, against=a) for a in ("trial", "time")]
        ),
        _importance(study, trials),
        "<h2>Each hyperparameter against the value</h2>",
        _figures(
            [
                plots.parameter_plot(trials, name, param)
                for name, param in list(study.space.all_params.items())[:_MAX_PARAMETER_PLOTS]
            ]
        ),
        "<h2>Learning curves</h2>",
        _figures([plots.learning_curves_plot(trials)], empty="No trial reported a curve."),
        "<h2>Statuses and durations</h2>",
        _durations(trials),
        _figures([plots.durations_plot(trials)]),
        _failures(trials),
    ]
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>sweepml report: {_e(study.name)}</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(parts)}</body></html>"
    )
    out = Path(path)
    out.write_text(page, encoding="utf-8")
    return out


def _e(value: Any) -> str:
    return html.escape(str(value))


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):  # None or NaN
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    title = fig.axes[0].get_title() if fig.axes else "figure"
    return f"<figure><img alt='{_e(title)}' src='data:image/png;base64,{data}'></figure>"


def _figures(figures: list[Figure | None], *, empty: str = "Nothing to draw yet.") -> str:
    drawn = [_png(f) for f in figures if f is not None]
    return "".join(drawn) if drawn else f"<p class='note'>{_e(empty)}</p>"


def _rows(pairs: list[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th class='l'>{_e(k)}</th><td class='l'>{v}</td></tr>" for k, v in pairs)
    return f"<table>{body}</table>"


def _summary(study: Study, trials: list[TrialRecord]) -> str:
    ok = metrics.ok_trials(trials)
    counts = status_counts(trials)
    pairs: list[tuple[str, Any]] = [
        ("direction", _e(study.direction)),
        ("trials", _e(", ".join(f"{k} {v}" for k, v in sorted(counts.items())))),
    ]
    if ok:
        best = rank_trials(trials, study.direction)[0]  # what study.best is, without a re-read
        pairs += [
            ("best value", f"{_fmt(best.value)} (trial {best.number})"),
            ("best config", _e(dict(best.config))),
        ]
    rate = metrics.models_per_hour(trials)
    pairs.append(
        (
            "models per hour",
            f"{_fmt(rate)} <span class='note'>(finished trials per hour during which at least "
            f"one trial ran; {metrics.busy_hours(trials) * 3600:.1f} s busy)</span>",
        )
    )
    optimum, at, how = metrics.prediction_optimum(full_budget(ok), study.direction)
    where = f" (trial {at.number})" if at is not None else ""
    pairs.append(
        ("prediction optimum", f"{_fmt(optimum)}{where} <span class='note'>{_e(how)}</span>")
    )
    values = [t.value for t in full_budget(ok) if t.value is not None]
    entropy = metrics.result_entropy(values)
    pairs.append(
        (
            "result entropy",
            f"{entropy:.3f} <span class='note'>(normalized Shannon entropy of {len(values)} OK "
            f"values in 10 equal bins; 0 = every result alike)</span>",
        )
    )
    return "<h2>Summary</h2>" + _rows(pairs)


def _robustness(study: Study, trials: list[TrialRecord]) -> str:
    check = metrics.robustness(full_budget(metrics.ok_trials(trials)), study.direction)
    if check is None:
        return ""
    pairs = [
        (f"spread of the top {check.top_k}", f"{check.spread:.4g} (std {check.std:.4g})"),
        ("winner's lead over the runner-up", _fmt(check.margin)),
        ("winner's train-validation gap", _fmt(check.winner_gap)),
    ]
    notes = "".join(f"<div class='warn'>{_e(w)}</div>" for w in check.warnings)
    return "<h2>Robustness</h2>" + _rows(pairs) + notes


def _importance(study: Study, trials: list[TrialRecord]) -> str:
    found = parameter_importance(trials, study.space)
    if found is None:
        return (
            "<h2>Parameter importance</h2>"
            "<p class='note'>Needs 3 OK trials and a varying parameter.</p>"
        )
    skipped = ""
    if found.not_assessed:
        names = ", ".join(found.not_assessed)
        skipped = f" Not assessed (inactive in some trials, or constant): {_e(names)}."
    return (
        "<h2>Parameter importance</h2>"
        f"<p class='note'>Method: {_e(found.method)}.{skipped}</p>"
        + _figures([plots.importance_plot(found)])
    )


def _durations(trials: list[TrialRecord]) -> str:
    rows = []
    for status, count in sorted(status_counts(trials).items()):
        times = [t.duration for t in trials if t.status.value == status and t.duration]
        median = statistics.median(times) if times else None
        rows.append((status, f"{count} trials, median {_fmt(median)} s, total {sum(times):.1f} s"))
    return _rows(rows)


def _failures(trials: list[TrialRecord]) -> str:
    failed = [t for t in trials if t.error and t.status.value != "OK"][-10:]
    if not failed:
        return ""
    body = "".join(
        f"<tr><td>{t.number}</td><td class='l'>{_e(t.status.value)}</td>"
        f"<td class='l'>{_e(t.error.strip().splitlines()[-1])}</td></tr>"
        for t in failed
        if t.error
    )
    return (
        "<h2>Last failures</h2><table><tr><th>trial</th><th class='l'>status</th>"
        f"<th class='l'>error</th></tr>{body}</table>"
    )


def _table_html(frame: Any) -> str:
    if frame.empty:
        return "<p class='note'>No successful trial yet.</p>"
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(_fmt(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f"<table><tr>{head}</tr>{body}</table>"
