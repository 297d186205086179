"""``sweepml show DB [--study NAME]``: the leaderboard, status counts and durations of a study."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from typing import Any

from sweepml.analysis.leaderboard import rank_trials
from sweepml.study import Study, load_study
from sweepml.trial import TrialStatus


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "show",
        help="print the leaderboard of a stored study",
        description="Print the best configs of a study, how its "
        "trials ended and how long they took.",
    )
    parser.add_argument("storage", metavar="DB", help="SQLite file written by a search")
    parser.add_argument("--study", metavar="NAME", help="study name (needed if DB holds several)")
    parser.add_argument("--top", type=int, default=10, metavar="K", help="rows of the leaderboard")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    print_study(load_study(args.storage, args.study), top=args.top)
    return 0


def print_study(study: Study, *, top: int = 10) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 160)
    trials = study.trials
    ok = rank_trials(trials, study.direction)
    budgets = any(t.budget is not None for t in ok)
    console.print(f"Study [bold]{study.name}[/bold] ({study.direction}): {len(trials)} trials")
    table = Table(
        title=f"Top {min(top, len(ok))} of {len(ok)} successful trials", title_justify="left"
    )
    columns = ("rank", "trial", "value", "budget", "seconds", "config")
    for column in columns if budgets else [c for c in columns if c != "budget"]:
        table.add_column(column, justify="right" if column != "config" else "left")
    for rank, trial in enumerate(ok[:top], start=1):
        cells = [str(rank), str(trial.number), f"{trial.value:.6g}"]
        if budgets:
            cells.append("-" if trial.budget is None else f"{trial.budget:g}")
        table.add_row(*cells, f"{trial.duration or 0:.2f}", json.dumps(trial.config))
    console.print(table)
    counts = study.status_counts()
    console.print("Status: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    durations = [t.duration for t in trials if t.duration is not None]
    if durations:
        console.print(
            f"Durations (s): mean {statistics.mean(durations):.3f}, median "
            f"{statistics.median(durations):.3f}, max {max(durations):.3f}, total "
            f"{sum(durations):.1f}"
        )
    failed = [t for t in trials if t.status not in (TrialStatus.OK, TrialStatus.RUNNING)]
    for trial in failed[:3]:
        last = (trial.error or "").strip().splitlines()[-1:] or [""]
        console.print(f"  trial {trial.number} {trial.status.value}: {last[0]}")
