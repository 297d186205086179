"""The exceptions sweepml raises to its users.

Trial failures are never exceptions: they are recorded as data (see ``sweepml.trial.TrialStatus``).
These classes are for mistakes in how sweepml is called and for problems with the record.
"""

from __future__ import annotations

__all__ = [
    "InvalidConfigError",
    "InvalidParameterError",
    "SpaceSpecError",
    "StorageError",
    "StudyExistsError",
    "SweepmlError",
    "TrialPruned",
    "UnguardedScriptError",
]


class SweepmlError(Exception):
    """Base class of every error sweepml raises on purpose."""


class InvalidParameterError(SweepmlError, ValueError, TypeError):
    """An argument has the wrong type or value.

    It subclasses both ValueError and TypeError so that code written against scikit-learn's
    conventions catches it either way.
    """


class InvalidConfigError(InvalidParameterError):
    """A configuration does not belong to its search space."""


class SpaceSpecError(InvalidParameterError):
    """A search-space description (dict or spec file) cannot be turned into a space."""


class StorageError(SweepmlError):
    """The study record cannot be opened, read or written."""


class StudyExistsError(StorageError):
    """A study of that name is already in the storage (perhaps created by another driver)."""


class UnguardedScriptError(SweepmlError):
    """A search needs worker processes that would run the user's script again, and the script
    starts the search without ``if __name__ == "__main__":``."""


class TrialPruned(Exception):  # noqa: N818 - the name says what happened, as in Optuna
    """Raise inside an objective when ``trial.should_prune()`` says so; the trial is PRUNED.

    Example:
        >>> def objective(config, trial):
        ...     for epoch in range(10):
        ...         trial.report(epoch, 1.0 / (epoch + 1))
        ...         if trial.should_prune():
        ...             raise TrialPruned()
        ...     return 0.1
    """
