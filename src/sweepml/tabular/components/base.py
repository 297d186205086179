"""What a pipeline component is: its hyperparameters beside the function that builds it.

Parameter names are prefixed with the component's short name (``rf.min_samples_leaf``) because a
config is one flat dict across the whole pipeline space.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sweepml.space import Param

CLASSIFICATION = "classification"
REGRESSION = "regression"

Config = Mapping[str, Any]

#: the parameter that sets an estimator's threads: scikit-learn's, LightGBM's and XGBoost's
#: ``n_jobs``, CatBoost's ``thread_count``
THREAD_PARAMS = ("n_jobs", "thread_count")


def set_threads(estimator: Any, threads: int) -> bool:
    """Set the threads ``estimator`` fits and predicts with; False when it has no such
    parameter, or is a fitted CatBoost model (whose parameters are fixed once fitted; its
    ``predict`` uses every CPU whatever ``thread_count`` says). Trials fit with one thread
    each; the driver's refit and a server's predictions choose their own, and a fitted model
    keeps what it was last given."""
    params = estimator.get_params(deep=False)
    for name in THREAD_PARAMS:
        if name in params:
            if name == "thread_count" and getattr(estimator, "is_fitted", lambda: False)():
                return False
            estimator.set_params(**{name: threads})
            return True
    return False


@dataclass(frozen=True)
class ModelComponent:
    """A model family: its space for a task and its builder.

    Attributes:
        name: the option name in the pipeline space's ``model`` choice.
        params: task -> the family's hyperparameters (names prefixed).
        build: (config, task, seed) -> an unfitted scikit-learn compatible estimator.
        max_rows: skipped on larger training sets (kernel methods scale quadratically).
        fit_scaling: fit time grows about as rows ** fit_scaling; it predicts the cost of the
            final refit on all rows from a trial's fit on fewer. Measured on 2,500 / 20,000 /
            150,000 rows of the benchmark's synthetic table: boosting 0.6-0.75 (0.7 here),
            forests of deep trees 1.2-1.3, MLP 1.0 (``benchmarks/RESULTS.md``).
        rounds_param: for boosting, the config key of the number of rounds: the most a trial
            trains, and what the refit sets to the rounds the trial used.
        fit_early: (model, X, y, X_valid, y_valid, seconds=) -> rounds used; fits the
            preprocessed fold with early stopping on the validation rows within ``seconds``
            (``early_stopping.py``).
        parallel_fit: False where more threads make the fit slower, so the driver refits the
            family on one (trials always use one). scikit-learn's multinomial logistic loss
            runs an OpenMP region in each of the solver's hundreds of iterations: on 2 cores a
            10-class fit on 5,000 rows took 7.9 s on two threads against 3.7 s on one
            (satellite 1.28 against 0.08 s), and a 60 s fit overran its budget refitting one.
    """

    name: str
    params: Callable[[str], dict[str, Param]]
    build: Callable[[Config, str, int], Any]
    max_rows: int | None = None
    fit_scaling: float = 1.0
    rounds_param: str | None = None
    fit_early: Callable[..., int] | None = None
    parallel_fit: bool = True
