"""``AutoClassifier`` and ``AutoRegressor``: scikit-learn estimators that search pipelines.

This module is the scikit-learn surface: parameters, checks, fitted attributes, predict, export
and save. A fit checks the table, infers column kinds, scores a dummy model, then runs its phases,
each in its own module and sharing one frozen ``FitContext`` (``context.py``: the deadlines are
converted once from ``time_budget``):

1. ``search_phase``: the learned portfolio and every family's default, then the strategy, each
   trial in its own process under the per-trial limits;
2. ``refit``: the best pipeline on all rows (or as many as time allows), first, so the model is
   never worse than the best trial when the ensemble's steps run out of time;
3. ``ensemble``: ensemble selection over the best trials' validation predictions, bagging after a
   holdout search, the other members' refit on all rows while they fit in time, the stack layer;
   the best pipeline alone when there is no ensemble, or when the members refit in time do not
   beat it;
4. ``leaderboard``.

Fitted attributes: ``ensemble_`` ((weight, pipeline, config) triples, heaviest first),
``best_pipeline_`` / ``best_config_`` (the heaviest member), ``leaderboard_``, ``metric_``,
``column_types_``, ``evaluation_``, ``ensemble_evaluation_``, ``stacker_``, ``classes_``
(classifier), ``n_features_in_``, ``feature_names_in_`` (DataFrame input), ``fit_seconds_``,
``input_schema_`` (each column's kind and dtype, for ``sweepml serve``), ``versions_``.
"""

from __future__ import annotations

import hashlib
import logging
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.validation import check_is_fitted

from sweepml._validation import check_bool, check_float, check_int, param_error
from sweepml.exceptions import InvalidParameterError
from sweepml.strategies import make_strategy
from sweepml.tabular.bagging import BAG_RESERVE
from sweepml.tabular.components import CLASSIFICATION, REGRESSION
from sweepml.tabular.context import FitClock, FitContext
from sweepml.tabular.data import as_frame, check_target, infer_column_types, input_schema
from sweepml.tabular.ensemble import ENSEMBLE_RESERVE, build_ensemble
from sweepml.tabular.evaluation import PipelineObjective, plan_evaluation, score_dummy
from sweepml.tabular.export import pipeline_script
from sweepml.tabular.leaderboard import leaderboard
from sweepml.tabular.metrics import default_metric, get_metric
from sweepml.tabular.model_file import checked_load, fitted_versions
from sweepml.tabular.pipeline_space import pipeline_space
from sweepml.tabular.predictions import prediction_store
from sweepml.tabular.refit import EARLY_REFIT_RESERVE, refit_best
from sweepml.tabular.search_phase import run_search
from sweepml.tabular.stacking import stack_features

__all__ = ["AutoClassifier", "AutoRegressor", "load_model"]

logger = logging.getLogger(__name__)


class _AutoEstimator(BaseEstimator):
    """Shared fit/predict logic; subclasses fix the task."""

    _task: ClassVar[str]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # missing values are imputed inside the pipelines
        tags.non_deterministic = self.max_trials is None  # a time budget is never reproducible
        return tags

    def __init__(
        self,
        *,
        time_budget: float = 60.0,
        metric: str | None = None,
        strategy: str = "tpe",
        n_jobs: int = 1,
        random_state: int | None = None,
        trial_timeout: float | None = None,
        memory_limit_mb: float | None = None,
        max_trials: int | None = None,
        ensemble_size: int = 25,
        cv: int | None = None,
        storage: str | None = None,
        show_progress: bool | None = None,
    ) -> None:
        self.time_budget = time_budget
        self.metric = metric
        self.strategy = strategy
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.trial_timeout = trial_timeout
        self.memory_limit_mb = memory_limit_mb
        self.max_trials = max_trials
        self.ensemble_size = ensemble_size
        self.cv = cv
        self.storage = storage
        self.show_progress = show_progress

    # -- fit ------------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any) -> _AutoEstimator:
        """Search pipelines for ``X``, ``y`` within ``time_budget`` seconds and refit the best.

        The phases, each in its own module: the search (``search_phase``), the ensemble
        (``ensemble``: selection, bagging, the members' refit, the stack layer), the refit of
        the best pipeline alone when there is no ensemble (``refit``), the leaderboard. They
        share one frozen ``FitContext`` whose clock holds the deadlines.
        """
        start = time.monotonic()
        owner = f"{type(self).__name__}.fit"
        time_budget, n_jobs, seed = self._check_settings(owner)
        frame = as_frame(X, owner=owner)
        target = check_target(y, task=self._task, n_rows=len(frame), owner=owner)
        self.n_features_in_ = frame.shape[1]
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.column_types_ = infer_column_types(frame)
        logger.info(self.column_types_.report())
        if not self.column_types_.used:
            raise InvalidParameterError(f"{owner}: no usable column: {self.column_types_.report()}")
        encoded, n_classes = self._encode_target(target)
        self.metric_ = get_metric(
            self.metric or default_metric(self._task, n_classes), self._task, owner=owner
        )
        plan = plan_evaluation(encoded, self._task, seed, cv=self.cv)
        reserve = 0.0
        if self.ensemble_size >= 2:  # time for the ensemble's steps
            reserve = BAG_RESERVE if len(plan.folds) == 1 else ENSEMBLE_RESERVE
        if plan.subsampled:  # time for an early-stopped refit on all rows
            reserve = max(reserve, EARLY_REFIT_RESERVE)
        timed = self.max_trials is None
        context = FitContext(
            task=self._task,
            metric=self.metric_,
            columns=self.column_types_,
            seed=seed,
            n_jobs=n_jobs,
            clock=FitClock.starting(start, time_budget if timed else None, reserve_share=reserve),
            time_budget=time_budget,
            strategy=self.strategy,
            max_trials=self.max_trials,
            ensemble_size=self.ensemble_size,
            trial_timeout=self.trial_timeout,
            memory_limit_mb=self.memory_limit_mb,
            storage=self.storage,
            show_progress=self.show_progress,
        )
        objective = PipelineObjective(
            frame,
            encoded,
            columns=self.column_types_,
            task=self._task,
            metric=self.metric_,
            plan=plan,
            n_classes=n_classes,
            seed=seed,
        )
        dummy_loss = score_dummy(objective, self._task, self.metric_)
        space = pipeline_space(self._task, n_rows=len(frame), n_features=frame.shape[1])
        study_name = f"{type(self).__name__}-{_fingerprint(frame, encoded)}"
        with prediction_store(self.storage, study_name) as predictions:
            objective.prediction_dir = predictions
            study = run_search(
                context,
                objective,
                space,
                study_name=study_name,
                n_rows=len(frame),
                n_features=frame.shape[1],
            )
            trials = study.trials if study is not None else []
            # the best pipeline first: the floor holds even when the ensemble runs out of time
            best = refit_best(
                context,
                trials,
                frame,
                encoded,
                plan.train_fraction,
                rounds_on_all_rows=plan.subsampled,
            )
            ensemble = build_ensemble(context, trials, objective, frame, encoded, best)
        self.ensemble_evaluation_ = ensemble.evaluation
        self.stacker_: Any = ensemble.stacker
        self.ensemble_ = ensemble.members or [(1.0, best.pipeline, best.config)]
        _, self.best_pipeline_, self.best_config_ = self.ensemble_[0]
        self.evaluation_ = plan.kind
        self.leaderboard_ = leaderboard(
            trials, self.metric_, dummy_loss=dummy_loss, ensemble=ensemble
        )
        self.target_name_ = str(y.name) if isinstance(y, pd.Series) and y.name else "target"
        self.input_schema_ = input_schema(frame, self.column_types_)
        self.versions_ = fitted_versions()
        self.fit_seconds_ = time.monotonic() - start
        return self

    def _check_settings(self, owner: str) -> tuple[float, int, int]:
        """The checked ``time_budget``, ``n_jobs`` (-1: every core) and seed (drawn when
        ``random_state`` is None); every other parameter is checked here too."""
        budget = check_float(
            owner, "time_budget", self.time_budget, minimum=0, exclusive_minimum=True
        )
        n_jobs = check_int(owner, "n_jobs", self.n_jobs, minimum=-1)
        if n_jobs == 0:
            raise InvalidParameterError(
                f"The 'n_jobs' parameter of {owner} must be an int >= 1 or -1; got 0."
            )
        if n_jobs == -1:
            import os

            n_jobs = os.cpu_count() or 1
        check_int(owner, "max_trials", self.max_trials, minimum=1, optional=True)
        check_int(owner, "cv", self.cv, minimum=2, optional=True)
        check_int(owner, "ensemble_size", self.ensemble_size, minimum=0)
        check_float(
            owner,
            "trial_timeout",
            self.trial_timeout,
            minimum=0,
            exclusive_minimum=True,
            optional=True,
        )
        check_float(
            owner,
            "memory_limit_mb",
            self.memory_limit_mb,
            minimum=0,
            exclusive_minimum=True,
            optional=True,
        )
        check_bool(owner, "show_progress", self.show_progress, optional=True)
        make_strategy(self.strategy, owner=owner)  # an unknown name fails here, listing the names
        seed = self.random_state
        if isinstance(seed, np.random.RandomState):
            seed = int(seed.randint(2**31 - 1))
        seed = check_int(owner, "random_state", seed, minimum=0, optional=True)
        if seed is None:
            seed = int(np.random.default_rng().integers(2**31 - 1))
        return budget, n_jobs, seed

    def _encode_target(self, target: np.ndarray) -> tuple[np.ndarray, int]:
        if self._task == REGRESSION:
            return target, 0
        self._labels = LabelEncoder().fit(target)
        self.classes_ = self._labels.classes_
        return self._labels.transform(target), len(self.classes_)

    def export(self, path: str | Path, *, format: str = "script") -> Path:
        """Write the model out: ``format="script"``, a standalone Python script that refits the
        winning pipeline and predicts; ``format="mlflow"``, an MLflow pyfunc model folder (with
        signature and input example) that ``mlflow.pyfunc.load_model`` loads and ``mlflow
        models serve`` serves (needs ``sweepml[mlflow]``)."""
        check_is_fitted(self, "best_pipeline_")
        if format == "mlflow":
            from sweepml.integrations import mlflow_saver

            return mlflow_saver("save_tabular_model")(self, path)
        if format != "script":
            raise param_error(
                f"{type(self).__name__}.export", "format", "'script' or 'mlflow'", format
            )
        board = self.leaderboard_
        same = board[board["config"].apply(lambda config: config == self.best_config_)]
        scored = (
            f", validation {self.metric_.name} "
            f"{same.iloc[0][f'validation {self.metric_.name}']:.6g} ({self.evaluation_})"
            if len(same)
            else ""
        )
        summary = (
            f"{type(self).__name__} pipeline found by sweepml: {self.best_config_['model']}"
            f"{scored}."
        )
        text = pipeline_script(
            [(weight, pipeline) for weight, pipeline, _ in self.ensemble_],
            self.column_types_,
            task=self._task,
            target=self.target_name_,
            summary=summary,
            stacker=getattr(self, "stacker_", None),
        )
        target = Path(path)
        target.write_text(text, encoding="utf-8")
        return target

    def save(self, path: str | Path) -> Path:
        """Save the fitted estimator with joblib. Loading a model file runs code from it: load
        only files you trust."""
        check_is_fitted(self, "best_pipeline_")
        import joblib

        target = Path(path)
        joblib.dump(self, target)
        return target

    # -- predict --------------------------------------------------------------------------------
    def _input(self, X: Any, owner: str) -> pd.DataFrame:
        check_is_fitted(self, "best_pipeline_")
        frame = as_frame(X, owner=owner)
        if hasattr(self, "feature_names_in_"):
            expected = list(self.feature_names_in_)
            missing = [c for c in expected if c not in frame.columns]
            extra = [c for c in frame.columns if c not in expected]
            if missing:
                raise InvalidParameterError(
                    f"{owner}: X lacks columns seen in fit: {missing} (it has "
                    f"{list(frame.columns)})."
                )
            if extra:  # an ID or a later-added column: the exported script ignores them too
                warnings.warn(
                    f"{owner}: ignoring columns not seen in fit: {extra}.",
                    UserWarning,
                    stacklevel=3,
                )
            return frame if list(frame.columns) == expected else frame[expected]
        if frame.shape[1] != self.n_features_in_:
            raise InvalidParameterError(
                f"{owner}: X has {frame.shape[1]} features, but {type(self).__name__} is "
                f"expecting {self.n_features_in_} features as input."
            )
        return frame

    def _blend(self, frame: pd.DataFrame) -> np.ndarray:
        return self.blend_members(frame, [pipeline for _, pipeline, _ in self.ensemble_])

    def blend_members(self, rows: Any, members: Sequence[Any]) -> np.ndarray:
        """The ensemble's output for ``rows`` (class probabilities, or regression values): the
        stack layer's when there is one, else the members' weighted average. ``members`` stand
        for the fitted pipelines of ``ensemble_``, in its order, with their ``predict_proba`` /
        ``predict`` and ``classes_`` (``sweepml serve`` passes compiled ones); ``rows`` is what
        they take, already checked: a DataFrame, or its columns by name."""
        n_rows = len(rows) if isinstance(rows, pd.DataFrame) else len(next(iter(rows.values())))
        outputs = []
        for pipeline in members:
            if self._task == CLASSIFICATION:
                output = np.zeros((n_rows, len(self.classes_)))
                output[:, np.asarray(pipeline.classes_, dtype=int)] = pipeline.predict_proba(rows)
            else:
                output = np.asarray(pipeline.predict(rows), dtype=float)
            outputs.append(output)
        stacker = getattr(self, "stacker_", None)
        if stacker is not None:
            features = stack_features(outputs, self._task)
            if self._task == CLASSIFICATION:
                return np.asarray(stacker.predict_proba(features))
            return np.asarray(stacker.predict(features), dtype=float)
        weights = [weight for weight, _, _ in self.ensemble_]
        blend = np.asarray(sum(w * o for w, o in zip(weights, outputs)))
        if self._task == CLASSIFICATION:  # members' float32 probabilities drift off a sum of 1
            blend = blend / blend.sum(axis=1, keepdims=True)
        return blend

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (the most probable class) or values (regression)."""
        blend = self._blend(self._input(X, f"{type(self).__name__}.predict"))
        if self._task == CLASSIFICATION:
            return self._labels.inverse_transform(np.argmax(blend, axis=1))
        return blend

    def metric_score(self, X: Any, y: Any) -> float:
        """The fit's metric (``metric_``) on ``X``, ``y``, as the metric reads (a ROC AUC, a
        log loss, an RMSE ...); ``score`` gives accuracy / R^2 as scikit-learn's convention."""
        owner = f"{type(self).__name__}.metric_score"
        frame = self._input(X, owner)
        target = check_target(y, task=self._task, n_rows=len(frame), owner=owner, min_classes=1)
        blend = self._blend(frame)
        if self._task == REGRESSION:
            return self.metric_.compute(target, blend)
        unknown = sorted(set(map(str, target)) - set(map(str, self.classes_)))
        if unknown:
            raise InvalidParameterError(
                f"{owner}: y has labels not seen in fit: {unknown[:10]}; known are "
                f"{list(map(str, self.classes_))[:20]}."
            )
        codes = self._labels.transform(target)
        if not self.metric_.needs_proba:
            blend = np.argmax(blend, axis=1)
        try:
            return self.metric_.compute(codes, blend)
        except ValueError as exc:  # e.g. ROC AUC of a sample with one class
            message = f"{owner}: {self.metric_.name} is undefined here: {exc}"
            raise InvalidParameterError(message) from exc


def load_model(path: str | Path) -> _AutoEstimator:
    """Load an estimator saved with ``save``. This runs code from the file (it is a pickle): load
    only files you trust."""
    import joblib

    file = Path(path)
    if not file.is_file():
        raise InvalidParameterError(f"Model file {str(file)!r} does not exist.")
    try:
        model = checked_load(str(file), lambda: joblib.load(file))
    except InvalidParameterError:
        raise
    except Exception as exc:
        raise InvalidParameterError(
            f"{str(file)!r} is not a model saved by sweepml (loading failed: {exc})."
        ) from exc
    if not isinstance(model, _AutoEstimator):
        raise InvalidParameterError(
            f"{str(file)!r} holds a {type(model).__name__}, not a sweepml model."
        )
    return model


def _fingerprint(frame: pd.DataFrame, target: np.ndarray) -> str:
    """A short hash of the data, so that a storage resumes the fit of the same table only."""
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    digest.update(pd.util.hash_array(np.asarray(target, dtype=object)).tobytes())
    return digest.hexdigest()[:12]


class AutoClassifier(ClassifierMixin, _AutoEstimator):
    """Search preprocessing + model + hyperparameters for a classification table.

    Example:
        >>> from sklearn.datasets import load_breast_cancer
        >>> X, y = load_breast_cancer(return_X_y=True, as_frame=True)
        >>> model = AutoClassifier(time_budget=30, n_jobs=2, random_state=0).fit(X, y)
        ...  # doctest: +SKIP
        >>> model.leaderboard_.head()  # doctest: +SKIP
    """

    _task = CLASSIFICATION

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, one column per entry of ``classes_``."""
        return self._blend(self._input(X, f"{type(self).__name__}.predict_proba"))


class AutoRegressor(RegressorMixin, _AutoEstimator):
    """Search preprocessing + model + hyperparameters for a regression table.

    Example:
        >>> from sklearn.datasets import load_diabetes
        >>> X, y = load_diabetes(return_X_y=True, as_frame=True)
        >>> model = AutoRegressor(max_trials=20, random_state=0).fit(X, y)  # doctest: +SKIP
    """

    _task = REGRESSION
