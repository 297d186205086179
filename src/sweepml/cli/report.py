"""``sweepml report DB [--study NAME] -o report.html``: a study as one self-contained HTML file."""

from __future__ import annotations

import argparse
from typing import Any

from sweepml.study import load_study


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "report",
        help="write an HTML report of a stored study",
        description="Write one self-contained HTML file (figures embedded) with the leaderboard, "
        "best-so-far curves, each hyperparameter against the value, parameter importance, "
        "throughput, prediction optimum, result entropy and a robustness check.",
    )
    parser.add_argument("storage", metavar="DB", help="SQLite file written by a search")
    parser.add_argument("--study", metavar="NAME", help="study name (needed if DB holds several)")
    parser.add_argument(
        "-o", "--output", default="report.html", metavar="FILE", help="default: report.html"
    )
    parser.add_argument("--top", type=int, default=20, metavar="K", help="rows of the leaderboard")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from sweepml.analysis import write_report

    study = load_study(args.storage, args.study)
    path = write_report(study, args.output, top=args.top)
    print(f"Wrote {path} ({path.stat().st_size / 1024:.0f} KiB) for study {study.name!r}.")
    return 0
