"""The ``sweepml`` command line: a thin shell over the public API."""

from __future__ import annotations

import re
from collections.abc import Mapping


class CommandFailed(Exception):
    """A command could not do its job for a reason that is not a usage error (exit code 1)."""


def in_flags(message: str, flags: Mapping[str, str]) -> str:
    """An API error in the command's terms: "The 'time_budget' parameter of AutoClassifier.fit
    must be ..." becomes "The option --time must be ..." when ``flags`` maps the parameter."""
    for name, flag in flags.items():
        pattern = rf"The '{re.escape(name)}' parameter of [\w.]+ (.*?) or None;"
        message = re.sub(pattern, rf"The option {flag} \1;", message)  # leaving a flag out: None
        message = re.sub(rf"The '{re.escape(name)}' parameter of [\w.]+", f"The option {flag}",
                         message)  # fmt: skip
    return message
