"""Entry point of the ``sweepml`` command: parses arguments and maps errors to exit codes.

Exit codes: 0 success, 1 a failure while running (the objective's module would not import, ...),
2 a usage error (bad arguments, files, spaces or storages), 130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sweepml import __version__
from sweepml.cli import CommandFailed, fit, predict, report, show, tune
from sweepml.exceptions import SweepmlError

COMMANDS = (fit, predict, tune, show, report)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sweepml",
        description="AutoML and hyperparameter search on one core.",
    )
    parser.add_argument("--version", action="version", version=f"sweepml {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print("sweepml: interrupted; finished trials are saved.", file=sys.stderr)
        return 130
    except SweepmlError as exc:
        print(f"sweepml: error: {exc}", file=sys.stderr)
        return 2
    except CommandFailed as exc:
        print(f"sweepml: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
