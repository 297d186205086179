"""Entry point of the ``sweepml`` command: parses arguments and maps errors to exit codes.

Exit codes: 0 success, 1 a failure while running (the objective's module would not import, ...),
2 a usage error (bad arguments, files, spaces or storages), 130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from sweepml import __version__
from sweepml.cli import CommandFailed, fit, in_flags, predict, report, serve, show, tune
from sweepml.exceptions import SweepmlError

COMMANDS = (fit, predict, serve, tune, show, report)


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


def _show_warning(message: Warning | str, category: type[Warning], *args: object,
                  **kwargs: object) -> None:  # fmt: skip
    """Warnings as one line each, like the errors (not Python's file:line: form)."""
    print(f"sweepml: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.showwarning = _show_warning
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print("sweepml: interrupted; finished trials are saved.", file=sys.stderr)
        return 130
    except SweepmlError as exc:
        print(f"sweepml: error: {in_flags(str(exc), getattr(args, 'flags', {}))}",
              file=sys.stderr)  # fmt: skip
        return 2
    except CommandFailed as exc:
        print(f"sweepml: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
