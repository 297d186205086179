"""Hooks into a running search: see each finished trial, and stop the search when you decide.

Example:
    >>> class StopAtTarget(SearchCallback):
    ...     def __init__(self, target):
    ...         self.target, self.reached = target, False
    ...     def on_trial_end(self, study, record):
    ...         self.reached |= record.value is not None and record.value <= self.target
    ...     def should_stop(self, study):
    ...         return self.reached
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sweepml.study import Study
    from sweepml.trial import TrialRecord

__all__ = ["SearchCallback"]


class SearchCallback:
    """Subclass and override what you need; both hooks run in the driver, between trials.

    ``should_stop`` is asked several times a second; when it answers True, no trial is started
    any more and running ones are cancelled (recorded INTERRUPTED).
    """

    def on_trial_end(self, study: Study, record: TrialRecord) -> None:
        """Called with the final record of every trial that ends in this run."""

    def should_stop(self, study: Study) -> bool:
        """True to end the search now."""
        return False
