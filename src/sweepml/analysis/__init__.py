"""What a search found, computed from its record: leaderboard, best-so-far curves, parameter
importance, throughput, prediction optimum, result entropy, robustness, and an HTML report.

Example:
    >>> from sweepml.analysis import leaderboard, write_report   # doctest: +SKIP
    >>> write_report(study, "report.html")                      # doctest: +SKIP
"""

from sweepml.analysis.importance import Importance, parameter_importance
from sweepml.analysis.leaderboard import leaderboard
from sweepml.analysis.metrics import (
    TRAIN_VALUE_KEY,
    Robustness,
    best_so_far,
    busy_hours,
    generality,
    models_per_hour,
    prediction_optimum,
    result_entropy,
    robustness,
)
from sweepml.analysis.report import write_report

__all__ = [
    "TRAIN_VALUE_KEY",
    "Importance",
    "Robustness",
    "best_so_far",
    "busy_hours",
    "generality",
    "leaderboard",
    "models_per_hour",
    "parameter_importance",
    "prediction_optimum",
    "result_entropy",
    "robustness",
    "write_report",
]
