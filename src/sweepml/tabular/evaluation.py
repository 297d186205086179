"""How a pipeline config is scored during the search (PoSH auto-sklearn's policy).

Holdout (a third of the rows) from 1,000 rows up, stratified k-fold cross-validation below; on more
than 45,000 rows the search runs on a 30,000-row subsample. The objective returns the metric as a
loss to minimize, with the score, fit and predict seconds beside it as metrics.

A trial fits with one thread: the search runs ``n_jobs`` trials at once, one per core. Families
whose native code sizes its own thread pool (HistGradientBoosting's OpenMP, BLAS in the MLP and
linear models) are held to one thread too: two HistGradientBoosting fits at once with two OpenMP
threads each took 5.6 s on two cores, with one thread each 0.5 s (``benchmarks/threads.py
--pairs``, 1,000 rows).
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from threadpoolctl import threadpool_limits

from sweepml.objective import Trial
from sweepml.tabular.components import CLASSIFICATION, MODELS
from sweepml.tabular.data import ColumnTypes
from sweepml.tabular.metrics import Metric
from sweepml.tabular.pipeline_space import build_pipeline
from sweepml.trial import TrialRecord

__all__ = [
    "EvaluationPlan",
    "PipelineObjective",
    "dummy_model",
    "fit_pipeline_early",
    "fit_seconds_on",
    "is_partial",
    "plan_evaluation",
    "score_dummy",
    "split_rows",
]

HOLDOUT_MIN_ROWS = 1_000
HOLDOUT_FRACTION = 0.33
# a binary table whose holdout would hold fewer minority rows than this is cross-validated
# instead, up to CV_RARE_CLASS_MAX_ROWS rows: with a dozen positives in the holdout, the search
# picks whichever of its hundreds of configs ranks those few best (measured on
# keel_winequality_red_4, 53 positives: validation ROC AUC 0.88, test 0.63)
HOLDOUT_MIN_MINORITY = 50
CV_RARE_CLASS_MAX_ROWS = 10_000
SUBSAMPLE_ABOVE = 45_000
SUBSAMPLE_ROWS = 30_000
MAX_FOLDS = 5
TRIAL_THREADS = 1  # threads of one trial's fit, native thread pools included


@dataclass(frozen=True)
class EvaluationPlan:
    """Which rows the search uses and how it splits them."""

    rows: np.ndarray  # indices of the training rows the search sees
    folds: tuple[tuple[np.ndarray, np.ndarray], ...]  # (train, validation) positions in ``rows``
    n_total: int  # rows of the whole training set (the final refit sees them all)

    @property
    def kind(self) -> str:
        return "holdout" if len(self.folds) == 1 else f"{len(self.folds)}-fold CV"

    @property
    def subsampled(self) -> bool:
        """True when the search sees a subsample of the training rows (large data)."""
        return len(self.rows) < self.n_total

    @property
    def train_fraction(self) -> float:
        """Share of all training rows one fold's fit sees (to predict the cost of the refit)."""
        return len(self.folds[0][0]) / self.n_total


def plan_evaluation(
    y: np.ndarray, task: str, seed: int, *, cv: int | None = None
) -> EvaluationPlan:
    n_rows = len(y)
    rng = np.random.default_rng(seed)
    stratify = task == CLASSIFICATION
    rows = np.arange(n_rows)
    if n_rows > SUBSAMPLE_ABOVE:
        if stratify:
            rows, _ = split_rows(rows, y, seed, train_size=SUBSAMPLE_ROWS)
            rows = np.sort(rows)
        else:
            rows = np.sort(rng.choice(n_rows, SUBSAMPLE_ROWS, replace=False))
    y_rows = y[rows]
    positions = np.arange(len(rows))
    if cv is None and len(rows) >= HOLDOUT_MIN_ROWS and not _too_few_minority_rows(y_rows, task):
        train, valid = split_rows(
            positions, y_rows if stratify else None, seed, test_size=HOLDOUT_FRACTION
        )
        return EvaluationPlan(rows, ((np.sort(train), np.sort(valid)),), n_rows)
    n_folds = cv or MAX_FOLDS
    if stratify:
        smallest = int(np.min(np.unique(y_rows, return_counts=True)[1]))
        n_folds = max(2, min(n_folds, smallest))
        splitter: Any = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
        if smallest < 2:  # a class with one row cannot be stratified
            splitter = KFold(n_folds, shuffle=True, random_state=seed)
    else:
        splitter = KFold(min(n_folds, len(rows)), shuffle=True, random_state=seed)
    folds = tuple((train, valid) for train, valid in splitter.split(positions, y_rows))
    return EvaluationPlan(rows, folds, n_rows)


def _too_few_minority_rows(y: np.ndarray, task: str) -> bool:
    """True for a binary table small enough to cross-validate whose holdout would hold fewer
    than ``HOLDOUT_MIN_MINORITY`` rows of its rarer class."""
    if task != CLASSIFICATION or len(y) > CV_RARE_CLASS_MAX_ROWS:
        return False
    counts = np.unique(y, return_counts=True)[1]
    return len(counts) == 2 and counts.min() * HOLDOUT_FRACTION < HOLDOUT_MIN_MINORITY


def split_rows(
    positions: np.ndarray, y: np.ndarray | None, seed: int, **size: Any
) -> tuple[np.ndarray, np.ndarray]:
    """``train_test_split`` of ``positions``, stratified by ``y`` when given and possible: a class
    with a single row cannot be stratified, and a real table may have one."""
    if y is not None:
        try:
            return tuple(train_test_split(positions, stratify=y, random_state=seed, **size))
        except ValueError:
            pass
    return tuple(train_test_split(positions, random_state=seed, **size))


def is_partial(record: TrialRecord) -> bool:
    """True for a successive-halving trial fit on a share of the rows (``budget`` < 1)."""
    return record.budget is not None and record.budget < 1.0


def fit_seconds_on(record: TrialRecord, seen_share: float, share: float = 1.0) -> float:
    """Estimated seconds to fit ``record``'s pipeline on ``share`` of the training rows, from its
    trial's fit on ``seen_share`` of them (times a successive-halving ``budget``), as fit time
    grows with rows ** the family's ``fit_scaling``; infinite when the trial has no fit time."""
    seen = seen_share * (record.budget or 1.0)
    family = MODELS.get(record.config.get("model", ""))
    exponent = family.fit_scaling if family is not None else 1.0
    return float(record.metrics.get("fit_seconds", math.inf)) * (share / seen) ** exponent


class PipelineObjective:
    """The objective the search minimizes: fit the config's pipeline on each fold, score it."""

    def __init__(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        *,
        columns: ColumnTypes,
        task: str,
        metric: Metric,
        plan: EvaluationPlan,
        n_classes: int,
        seed: int,
    ) -> None:
        self.X, self.y = X.iloc[plan.rows].reset_index(drop=True), y[plan.rows]
        self.columns, self.task, self.metric = columns, task, metric
        self.plan, self.n_classes, self.seed = plan, n_classes, seed
        #: where each trial leaves its validation predictions (for ensemble selection), if set
        self.prediction_dir: Path | None = None

    def refolded(self, plan: EvaluationPlan) -> PipelineObjective:
        """This objective over the same rows, split by ``plan`` instead (for bagging)."""
        if not np.array_equal(plan.rows, self.plan.rows):
            raise ValueError("a refolded objective must cover the same rows")
        other = copy.copy(self)
        other.plan, other.prediction_dir = plan, None
        return other

    @property
    def validation_rows(self) -> np.ndarray:
        """Positions (in the search's rows) that the saved validation predictions cover, in order:
        the holdout rows, or every row (out-of-fold) under cross-validation."""
        if len(self.plan.folds) == 1:
            return self.plan.folds[0][1]
        return np.arange(len(self.y))

    def predict(self, pipeline: Any, X: pd.DataFrame) -> np.ndarray:
        """Values (regression) or probabilities of every class (classification)."""
        if self.task != CLASSIFICATION:
            return np.asarray(pipeline.predict(X), dtype=float)
        proba = np.zeros((len(X), self.n_classes))
        proba[:, pipeline.classes_.astype(int)] = pipeline.predict_proba(X)
        # some models' rows sum to 1 only up to float32 rounding, which log_loss warns about
        total = proba.sum(axis=1, keepdims=True)
        return np.divide(proba, total, out=np.full_like(proba, 1 / self.n_classes), where=total > 0)

    def training_rows(self, train: np.ndarray, budget: float | None) -> np.ndarray:
        """``train``, or a seeded (stratified when possible) share ``budget`` of it."""
        if budget is None or budget >= 1.0:
            return train
        size = max(int(round(budget * len(train))), min(len(train), 20))
        stratify = self.y[train] if self.task == CLASSIFICATION else None
        part, _ = split_rows(train, stratify, self.seed, train_size=size)
        return np.sort(part)

    def __call__(
        self, config: Mapping[str, Any], trial: Trial | None = None, budget: float | None = None
    ) -> dict[str, Any]:
        """Score ``config``, with ``TRIAL_THREADS`` threads; ``budget`` (successive halving on
        large data) is the share of each fold's training rows to fit on. Only full-budget trials
        save their predictions."""
        with threadpool_limits(limits=TRIAL_THREADS):
            return self._score(config, trial, budget)

    def _score(
        self, config: Mapping[str, Any], trial: Trial | None, budget: float | None
    ) -> dict[str, Any]:
        losses, fit_seconds, predict_seconds = [], 0.0, 0.0
        rounds: list[int] = []
        shape = (len(self.y), self.n_classes) if self.task == CLASSIFICATION else (len(self.y),)
        out_of_fold = np.zeros(shape)
        full = budget is None or budget >= 1.0
        component = MODELS[config["model"]]
        # early stopping needs a validation set large enough to trust: a holdout (1,000 rows and
        # up); on smaller tables, cross-validated, boosting trains the rounds it is given
        # (measured: benchmarks/RESULTS.md, issue 15)
        early = component.fit_early is not None and len(self.plan.folds) == 1
        for fold, (fold_train, valid) in enumerate(self.plan.folds):
            train = self.training_rows(fold_train, budget)
            pipeline = build_pipeline(config, self.columns, self.task, self.seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # convergence chatter from the search's trials
                start = time.perf_counter()
                if not early:
                    pipeline.fit(self.X.iloc[train], self.y[train])
                else:
                    seconds = _fold_seconds(trial, len(self.plan.folds) - fold)
                    used = _fit_early(pipeline, component, self, train, valid, seconds)
                    if used is not None:
                        rounds.append(used)
                fit_seconds += time.perf_counter() - start
                start = time.perf_counter()
                prediction = self.predict(pipeline, self.X.iloc[valid])
                predict_seconds += time.perf_counter() - start
            losses.append(self.metric.loss(self.y[valid], prediction))
            out_of_fold[valid] = prediction
        if self.prediction_dir is not None and trial is not None and full:
            np.save(self.prediction_dir / f"{trial.number}.npy", out_of_fold[self.validation_rows])
        loss = float(np.mean(losses))
        result = {
            "value": loss,
            "score": -loss if self.metric.greater_is_better else loss,
            "fit_seconds": fit_seconds / len(self.plan.folds),
            "predict_seconds": predict_seconds / len(self.plan.folds),
        }
        if len(rounds) == len(self.plan.folds):  # what the refit on all rows trains
            result["rounds"] = int(round(float(np.mean(rounds))))
        return result


#: share of the time a trial has left per fold that early-stopped boosting may spend training
#: (the rest is preprocessing, prediction and the fold's share of the margin)
_FOLD_TIME_SHARE = 0.8


def _fold_seconds(trial: Trial | None, folds_left: int) -> float:
    """Seconds boosting may train on this fold before it stops with the rounds it has."""
    left = None if trial is None else trial.time_left()
    if left is None:
        return math.inf
    return _FOLD_TIME_SHARE * left / max(folds_left, 1)


def _fit_early(
    pipeline: Any,
    component: Any,
    objective: PipelineObjective,
    train: np.ndarray,
    valid: np.ndarray,
    seconds: float,
) -> int | None:
    """``fit_pipeline_early`` on the objective's ``train`` rows, stopping on its ``valid`` rows;
    None when the library refused the evaluation set (a class of the validation rows absent
    from the training rows) and the pipeline was fit as configured instead."""
    X, y = objective.X, objective.y
    try:
        return fit_pipeline_early(
            pipeline, component, X.iloc[train], y[train], X.iloc[valid], y[valid], seconds=seconds
        )
    except Exception:  # noqa: BLE001 - the plain fit below decides whether the config works
        pipeline.fit(X.iloc[train], y[train])
        return None


def fit_pipeline_early(
    pipeline: Any,
    component: Any,
    X_train: pd.DataFrame,
    y_train: np.ndarray,
    X_valid: pd.DataFrame,
    y_valid: np.ndarray,
    *,
    seconds: float,
) -> int:
    """Fit ``pipeline`` on ``X_train`` with early stopping on ``X_valid`` (see
    ``components/early_stopping.py``); the rounds used. Raises what the library raises when it
    refuses the evaluation set."""
    steps, model = pipeline.steps[:-1], pipeline.steps[-1][1]
    X_fit = X_train
    if steps:
        preprocess = pipeline[:-1]  # the same step objects: fitting it fits them in ``pipeline``
        X_fit = preprocess.fit_transform(X_train, y_train)
        X_valid = preprocess.transform(X_valid)
    return int(component.fit_early(model, X_fit, y_train, X_valid, y_valid, seconds=seconds))


def dummy_model(task: str) -> Any:
    """The baseline: class priors, or the mean."""
    if task == CLASSIFICATION:
        return DummyClassifier(strategy="prior")
    return DummyRegressor(strategy="mean")


def score_dummy(objective: PipelineObjective, task: str, metric: Metric) -> float:
    """The baseline's validation loss under the search's own plan (the leaderboard's trial -1)."""
    dummy = dummy_model(task)
    losses = []
    for train, valid in objective.plan.folds:
        dummy.fit(objective.X.iloc[train], objective.y[train])
        prediction = objective.predict(dummy, objective.X.iloc[valid])
        losses.append(metric.loss(objective.y[valid], prediction))
    return float(np.mean(losses))
