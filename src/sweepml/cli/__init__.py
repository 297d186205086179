"""The ``sweepml`` command line: a thin shell over the public API."""


class CommandFailed(Exception):
    """A command could not do its job for a reason that is not a usage error (exit code 1)."""
