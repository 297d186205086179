"""sweepml: AutoML on one search core (spaces, strategies, studies, executors, storage).

Importing sweepml loads no heavy optional dependency (no torch, no dask, not even optuna until a
model-based strategy is used).

Example:
    >>> import sweepml
    >>> study = sweepml.minimize(lambda c: (c["x"] - 2) ** 2, {"x": sweepml.Float(-10, 10)},
    ...                          n_trials=30, seed=0)
"""

from sweepml.callbacks import SearchCallback
from sweepml.exceptions import (
    InvalidConfigError,
    InvalidParameterError,
    SpaceSpecError,
    StorageError,
    SweepmlError,
    TrialPruned,
)
from sweepml.objective import Trial
from sweepml.pruners import ASHAPruner, MedianPruner, Pruner
from sweepml.scan import ScanResult, scan
from sweepml.search import maximize, minimize
from sweepml.space import Choice, Const, Float, Int, Space
from sweepml.strategies import (
    ASHA,
    BOHB,
    CMAES,
    TPE,
    GridSearch,
    Hyperband,
    RandomSearch,
    RegularizedEvolution,
    Strategy,
    SuccessiveHalving,
    Suggestion,
    Warmstart,
    strategy_names,
)
from sweepml.study import Study, load_study
from sweepml.trial import TrialRecord, TrialStatus

__version__ = "0.1.0"

_TABULAR = ("AutoClassifier", "AutoRegressor", "load_model")


def __getattr__(name: str) -> object:
    """Load the tabular product (scikit-learn, pandas) only when it is asked for."""
    if name in _TABULAR:
        from sweepml import tabular

        return getattr(tabular, name)
    raise AttributeError(f"module 'sweepml' has no attribute {name!r}")


__all__ = [
    "ASHA",
    "ASHAPruner",
    "BOHB",
    "AutoClassifier",
    "AutoRegressor",
    "CMAES",
    "TPE",
    "Choice",
    "Const",
    "Float",
    "GridSearch",
    "Hyperband",
    "Int",
    "MedianPruner",
    "Pruner",
    "InvalidConfigError",
    "InvalidParameterError",
    "RandomSearch",
    "RegularizedEvolution",
    "ScanResult",
    "SearchCallback",
    "Space",
    "SpaceSpecError",
    "StorageError",
    "Strategy",
    "Study",
    "SuccessiveHalving",
    "Suggestion",
    "SweepmlError",
    "Trial",
    "TrialPruned",
    "TrialRecord",
    "TrialStatus",
    "Warmstart",
    "load_model",
    "load_study",
    "maximize",
    "minimize",
    "scan",
    "strategy_names",
]
