"""``AutoClassifier`` and ``AutoRegressor``: scikit-learn estimators that search pipelines.

A fit: check the table, infer column kinds, score a dummy model, search the pipeline space with
the core (each trial in its own process under the per-trial limits; every family's default first),
select a weighted ensemble from the best trials' validation predictions, and refit its members on
all training rows while they fit in the time left. Everything happens inside ``time_budget``.

Fitted attributes: ``ensemble_`` ((weight, pipeline, config) triples, heaviest first),
``best_pipeline_`` / ``best_config_`` (the heaviest member), ``leaderboard_``, ``metric_``,
``column_types_``, ``evaluation_``, ``classes_`` (classifier), ``n_features_in_``,
``feature_names_in_`` (DataFrame input), ``fit_seconds_``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.validation import check_is_fitted

from sweepml._validation import check_bool, check_float, check_int
from sweepml.callbacks import SearchCallback
from sweepml.exceptions import InvalidParameterError
from sweepml.execution import LocalExecutor
from sweepml.search import minimize
from sweepml.space import Space
from sweepml.strategies import ASHA, Warmstart, make_strategy
from sweepml.tabular.bagging import BAG_FOLDS, BAG_RESERVE, choose_for_bagging
from sweepml.tabular.components import CLASSIFICATION, REGRESSION
from sweepml.tabular.data import as_frame, check_target, infer_column_types
from sweepml.tabular.ensemble import ensemble_selection
from sweepml.tabular.evaluation import (
    PipelineObjective,
    fit_seconds_on,
    is_partial,
    plan_evaluation,
)
from sweepml.tabular.export import pipeline_script
from sweepml.tabular.metrics import default_metric, get_metric
from sweepml.tabular.pipeline_space import build_pipeline, pipeline_space
from sweepml.tabular.portfolio import portfolio_configs
from sweepml.tabular.progress import FitProgress
from sweepml.tabular.stacking import fit_stacker, stack_features
from sweepml.trial import TrialRecord, TrialStatus

__all__ = ["AutoClassifier", "AutoRegressor", "load_model"]

logger = logging.getLogger(__name__)

SEARCH_MARGIN = 1.0  # seconds kept free at the end for bookkeeping (leaderboard, cleanup)
REFIT_SAFETY = 1.2  # the refit's estimated seconds are multiplied by this before it is chosen


def refit_seconds(record: TrialRecord, train_fraction: float) -> float:
    """Estimated seconds to refit a trial's pipeline on all rows, with a safety margin."""
    return fit_seconds_on(record, train_fraction) * REFIT_SAFETY


def _rank_key(record: TrialRecord) -> tuple[bool, float, int]:
    """Best first: trials on all rows before successive halving's smaller budgets, then the
    lowest loss, then the earliest trial."""
    return (is_partial(record), math.inf if record.value is None else record.value, record.number)


def _ranked(trials: list[TrialRecord]) -> list[TrialRecord]:
    """The successful trials, best first."""
    return sorted((t for t in trials if t.status is TrialStatus.OK), key=_rank_key)


class _RefitGuard(SearchCallback):
    """Ends the search when the refit of the best pipeline so far (among those scored on all the
    search's rows) would no longer fit in time."""

    def __init__(self, deadline: float, train_fraction: float) -> None:
        self.deadline, self.train_fraction = deadline, train_fraction
        self.best: TrialRecord | None = None

    def on_trial_end(self, study: Any, record: TrialRecord) -> None:
        if (
            record.status is TrialStatus.OK
            and not is_partial(record)
            and (self.best is None or _rank_key(record) < _rank_key(self.best))
        ):
            self.best = record

    def should_stop(self, study: Any) -> bool:
        if self.best is None:
            return False
        needed = refit_seconds(self.best, self.train_fraction) + SEARCH_MARGIN
        if time.monotonic() + needed >= self.deadline:
            logger.info("search stopped: the best pipeline's refit needs ~%.1f s", needed)
            return True
        return False


FALLBACK = "extra_trees"
DEFAULT_TRIAL_SHARE = 0.25  # trial_timeout=None: a trial gets at most this share of the search
MIN_TRIAL_SECONDS = 5.0
HALVING_MIN_SHARE = 1 / 9  # successive halving on large data: 1/9, 1/3, then all search rows
HALVING_ETA = 3
STACK_MIN_SECONDS = 3.0  # time that must be left to try the stack layer
ENSEMBLE_CANDIDATES = 20  # best trials whose validation predictions enter ensemble selection
#: share of the time budget kept from a cross-validated search for the members' refit and the
#: stack layer (a holdout search keeps ``BAG_RESERVE``, for bagging too)
ENSEMBLE_RESERVE = 0.1
_TRIAL_MODULES = ("sweepml.tabular.evaluation", "lightgbm")


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
        """Search pipelines for ``X``, ``y`` within ``time_budget`` seconds and refit the best."""
        start = time.monotonic()
        owner = f"{type(self).__name__}.fit"
        settings = self._check_settings(owner)
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
        seed = settings["seed"]
        self._refit_threads = settings["n_jobs"]
        plan = plan_evaluation(encoded, self._task, seed, cv=self.cv)
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
        dummy_loss = self._score_dummy(objective)
        space = pipeline_space(self._task, n_rows=len(frame), n_features=frame.shape[1])
        deadline = None if self.max_trials is not None else start + settings["time_budget"]
        search_deadline = deadline
        if deadline is not None and self.ensemble_size >= 2:  # time for the ensemble's steps
            reserve = BAG_RESERVE if len(plan.folds) == 1 else ENSEMBLE_RESERVE
            search_deadline = deadline - reserve * settings["time_budget"]
        study_name = f"{type(self).__name__}-{_fingerprint(frame, encoded)}"
        with _prediction_store(self.storage, study_name) as predictions:
            objective.prediction_dir = predictions
            study = self._search(
                objective, space, frame, study_name, settings, search_deadline, deadline
            )
            trials = study.trials if study is not None else []
            self.ensemble_, ensemble_loss = self._build_ensemble(
                trials, objective, space, frame, encoded, deadline, settings
            )
        if not self.ensemble_:
            pipeline, config = self._refit(
                trials, frame, encoded, plan.train_fraction, deadline, seed
            )
            self.ensemble_ = [(1.0, pipeline, config)]
        _, self.best_pipeline_, self.best_config_ = self.ensemble_[0]
        self.evaluation_ = plan.kind
        self.leaderboard_ = self._leaderboard(trials, dummy_loss, ensemble_loss)
        self.target_name_ = str(y.name) if isinstance(y, pd.Series) and y.name else "target"
        self.fit_seconds_ = time.monotonic() - start
        return self

    def _check_settings(self, owner: str) -> dict[str, Any]:
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
        return {"time_budget": budget, "n_jobs": n_jobs, "seed": seed}

    def _encode_target(self, target: np.ndarray) -> tuple[np.ndarray, int]:
        if self._task == REGRESSION:
            return target, 0
        self._labels = LabelEncoder().fit(target)
        self.classes_ = self._labels.classes_
        return self._labels.transform(target), len(self.classes_)

    def _dummy(self) -> Any:
        """The baseline: class priors, or the mean."""
        if self._task == CLASSIFICATION:
            return DummyClassifier(strategy="prior")
        return DummyRegressor(strategy="mean")

    def _score_dummy(self, objective: PipelineObjective) -> float:
        dummy = self._dummy()
        losses = []
        for train, valid in objective.plan.folds:
            dummy.fit(objective.X.iloc[train], objective.y[train])
            losses.append(
                self.metric_.loss(
                    objective.y[valid], objective.predict(dummy, objective.X.iloc[valid])
                )
            )
        return float(np.mean(losses))

    def _search(
        self,
        objective: PipelineObjective,
        space: Space,
        frame: pd.DataFrame,
        study_name: str,
        settings: dict[str, Any],
        search_deadline: float | None,
        deadline: float | None,
    ) -> Any:
        """The search proper: portfolio first, then the strategy, until ``search_deadline`` (or
        earlier, when the best pipeline's refit would no longer fit before ``deadline``)."""
        search_budget = None
        if search_deadline is not None:
            search_budget = search_deadline - time.monotonic() - SEARCH_MARGIN
            if search_budget < 0.5:
                warnings.warn(
                    f"time_budget={self.time_budget} leaves no time to search; the model is the "
                    f"dummy baseline. Give a larger time_budget.",
                    UserWarning,
                    stacklevel=3,
                )
                return None
        trial_timeout = self.trial_timeout
        if search_budget is not None:
            # by default no trial may take more than a quarter of the search: one slow config
            # (an SVM with a huge C) must not hold a worker for the whole budget
            share_limit = max(search_budget * DEFAULT_TRIAL_SHARE, MIN_TRIAL_SECONDS)
            trial_timeout = min(trial_timeout or share_limit, search_budget)
        # the learned portfolio first, then the default of every family (measured: left out of
        # the portfolio's datasets, the defaults carry it; see benchmarks/learn_portfolio.py)
        warm = portfolio_configs(self._task, space)
        for name in space["model"].options:  # type: ignore[union-attr]
            default = pipeline_space(
                self._task, n_rows=len(frame), n_features=frame.shape[1], models=[name]
            ).default()
            if default not in warm:
                warm.append(default)
        train_fraction = objective.plan.train_fraction
        strategy: Any = Warmstart(self.strategy, warm)
        if objective.plan.subsampled:  # large data: successive halving on the sample size
            strategy = ASHA(strategy, min_budget=HALVING_MIN_SHARE, eta=HALVING_ETA)
        progress = FitProgress(
            enabled=self.show_progress,
            n_trials=self.max_trials,
            time_budget=search_budget,
            metric=self.metric_,
        )
        callbacks: list[SearchCallback] = [progress]
        if deadline is not None:
            callbacks.append(_RefitGuard(deadline, train_fraction))
        try:
            return minimize(
                objective,
                space,
                strategy=strategy,
                n_trials=self.max_trials,
                time_budget=search_budget,
                n_workers=settings["n_jobs"],
                executor=_trial_executor(settings["n_jobs"]),
                trial_timeout=trial_timeout,
                trial_memory_mb=self.memory_limit_mb,
                storage=self.storage,
                study_name=study_name,
                seed=settings["seed"],
                show_progress=False,
                callbacks=callbacks,
            )
        finally:
            progress.close()

    def _build_ensemble(
        self,
        trials: list[TrialRecord],
        objective: PipelineObjective,
        space: Space,
        frame: pd.DataFrame,
        target: np.ndarray,
        deadline: float | None,
        settings: dict[str, Any],
    ) -> tuple[list[tuple[float, Any, dict[str, Any]]], float | None]:
        """Ensemble selection over the best trials' validation predictions (after a holdout
        search, again over the bagged out-of-fold predictions when at least two pipelines could
        be bagged in time), then the refit of the chosen members on all rows (in order of
        weight, each only if its refit fits in the time left).

        Returns the fitted members as (weight, pipeline, config) and the validation loss of
        their weighted average, or of the stack layer when it is kept (None when fewer than two
        members were refit).
        """
        assert objective.prediction_dir is not None
        self.ensemble_evaluation_ = objective.plan.kind
        self.stacker_: Any = None
        if self.ensemble_size < 2:  # 0 or 1 round: the best pipeline alone
            return [], None
        y_valid = objective.y[objective.validation_rows]
        candidates, predictions = _saved_predictions(trials, objective.prediction_dir, y_valid)
        if not candidates:
            return [], None
        weights = ensemble_selection(predictions, y_valid, self.metric_, size=self.ensemble_size)
        out_of_fold = len(objective.plan.folds) > 1  # predictions cover every row
        if not out_of_fold:
            bagged = self._bag(candidates, weights, objective, space, target, deadline, settings)
            if len(bagged) >= 2:
                candidates = [t for t, _ in bagged]
                predictions = [oof for _, oof in bagged]
                y_valid = objective.y
                weights = ensemble_selection(
                    predictions, y_valid, self.metric_, size=self.ensemble_size
                )
                self.ensemble_evaluation_ = f"{BAG_FOLDS}-fold out-of-fold (bagged)"
                out_of_fold = True
        kept = self._refit_members(
            candidates, weights, frame, target, objective.plan.train_fraction, deadline, settings
        )
        if not kept:
            return [], None
        total = sum(weights[i] for i, _ in kept)
        members = [
            (weights[i] / total, pipeline, dict(candidates[i].config)) for i, pipeline in kept
        ]
        if len(members) < 2:
            return members, None
        blend = sum(weights[i] / total * predictions[i] for i, _ in kept)
        blend_loss = self.metric_.loss(y_valid, blend)
        if out_of_fold and (deadline is None or deadline - time.monotonic() > STACK_MIN_SECONDS):
            stacked = fit_stacker(
                [predictions[i] for i, _ in kept],
                y_valid,
                task=self._task,
                metric=self.metric_,
                n_classes=objective.n_classes,
                seed=settings["seed"],
            )
            if stacked is not None and stacked[1] < blend_loss:
                self.stacker_ = stacked[0]
                return members, stacked[1]
        return members, blend_loss

    def _refit_members(
        self,
        candidates: list[TrialRecord],
        weights: np.ndarray,
        frame: pd.DataFrame,
        target: np.ndarray,
        train_fraction: float,
        deadline: float | None,
        settings: dict[str, Any],
    ) -> list[tuple[int, Any]]:
        """(candidate index, pipeline refit on all rows) for the weighted candidates, heaviest
        first, each only if its estimated refit time fits in what is left."""
        order = sorted(
            (i for i in range(len(candidates)) if weights[i] > 0), key=lambda i: -weights[i]
        )
        kept = []
        for i in order:
            left = math.inf if deadline is None else deadline - time.monotonic()
            if refit_seconds(candidates[i], train_fraction) <= left:
                config = dict(candidates[i].config)
                kept.append((i, self._fit_config(config, frame, target, settings["seed"])))
        return kept

    def _bag(
        self,
        ranked: list[TrialRecord],
        weights: np.ndarray,
        objective: PipelineObjective,
        space: Space,
        target: np.ndarray,
        deadline: float | None,
        settings: dict[str, Any],
    ) -> list[tuple[TrialRecord, np.ndarray]]:
        """Cross-validate the pipelines worth keeping on the search's rows (half the time left,
        the other half is the refit's); returns each finished one with its out-of-fold
        predictions, in the order of ``ranked``."""
        seconds = None
        if deadline is not None:
            seconds = (deadline - time.monotonic() - SEARCH_MARGIN) / 2
            if seconds < 1.0:
                return []
        holdout_train_share = len(objective.plan.folds[0][0]) / len(objective.y)
        chosen = choose_for_bagging(
            ranked,
            weights,
            seconds=seconds,
            holdout_train_share=holdout_train_share,
            n_jobs=settings["n_jobs"],
        )
        if len(chosen) < 2:
            return []
        bagging = objective.refolded(
            plan_evaluation(target, self._task, settings["seed"], cv=BAG_FOLDS)
        )
        with tempfile.TemporaryDirectory(prefix="sweepml-bagged-") as folder:
            bagging.prediction_dir = Path(folder)
            return self._run_bagging(bagging, ranked, chosen, space, seconds, settings)

    def _run_bagging(
        self,
        bagging: PipelineObjective,
        ranked: list[TrialRecord],
        chosen: list[TrialRecord],
        space: Space,
        seconds: float | None,
        settings: dict[str, Any],
    ) -> list[tuple[TrialRecord, np.ndarray]]:
        assert bagging.prediction_dir is not None
        study = minimize(
            bagging,
            space,
            strategy=Warmstart("random", [t.config for t in chosen]),
            n_trials=len(chosen),
            time_budget=seconds,
            n_workers=settings["n_jobs"],
            executor=_trial_executor(settings["n_jobs"]),
            trial_timeout=seconds,
            trial_memory_mb=self.memory_limit_mb,
            seed=settings["seed"],
            show_progress=False,
        )
        done = {
            json.dumps(t.config, sort_keys=True): bagging.prediction_dir / f"{t.number}.npy"
            for t in study.trials
            if t.status is TrialStatus.OK
        }
        bagged = []
        for trial in ranked:
            path = done.get(json.dumps(trial.config, sort_keys=True))
            prediction = None if path is None else read_prediction(path)
            if prediction is not None:
                bagged.append((trial, prediction))
        logger.info("bagged %d of %d chosen pipelines", len(bagged), len(chosen))
        return bagged

    def _refit(
        self,
        trials: list[TrialRecord],
        frame: pd.DataFrame,
        target: np.ndarray,
        train_fraction: float,
        deadline: float | None,
        seed: int,
    ) -> tuple[Any, dict[str, Any]]:
        """Refit the best trial whose estimated refit time fits in what is left."""
        ranked = _ranked(trials)
        for trial in ranked:
            if (
                deadline is None
                or time.monotonic() + refit_seconds(trial, train_fraction) <= deadline
            ):
                return self._fit_config(dict(trial.config), frame, target, seed), dict(trial.config)
        for trial in ranked if deadline is not None else []:
            # no refit on all rows fits: the best pipeline on as many rows as the time allows,
            # if that is at least as many as it was scored with
            assert deadline is not None
            left = deadline - time.monotonic() - SEARCH_MARGIN
            n_rows = int(len(frame) * left / max(refit_seconds(trial, train_fraction), 1e-9))
            n_rows = min(n_rows, len(frame) - 1)
            if n_rows >= train_fraction * (trial.budget or 1.0) * len(frame) and n_rows >= 2:
                rows = _subsample(target, n_rows, self._task, seed)
                warnings.warn(
                    f"The best pipeline is refit on {n_rows} of {len(frame)} rows to stay "
                    f"within time_budget; a larger time_budget refits it on all of them.",
                    UserWarning,
                    stacklevel=3,
                )
                config = dict(trial.config)
                return self._fit_config(config, frame.iloc[rows], target[rows], seed), config
        if not ranked and (deadline is None or deadline - time.monotonic() > 1.0):
            space = pipeline_space(
                self._task, n_rows=len(frame), n_features=frame.shape[1], models=[FALLBACK]
            )
            warnings.warn(
                "No pipeline finished during the search; fitting the default "
                "ExtraTrees pipeline instead.",
                UserWarning,
                stacklevel=3,
            )
            config = space.default()
            return self._fit_config(config, frame, target, seed), config
        warnings.warn(
            "No searched pipeline can be refit within time_budget; the model is the "
            "dummy baseline. Give a larger time_budget.",
            UserWarning,
            stacklevel=3,
        )
        dummy = self._dummy()
        return dummy.fit(frame, target), {"model": "dummy"}

    def _fit_config(
        self, config: dict[str, Any], frame: pd.DataFrame, target: np.ndarray, seed: int
    ) -> Any:
        """Fit ``config``'s pipeline in the driver, with the model using all ``n_jobs`` threads
        (trials use one each; a refit runs alone)."""
        pipeline = build_pipeline(config, self.column_types_, self._task, seed)
        model = pipeline.steps[-1][1]
        for threads in ("n_jobs", "thread_count"):
            if threads in model.get_params():
                model.set_params(**{threads: self._refit_threads})
                break
        start = time.monotonic()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipeline.fit(frame, target)
        logger.info(
            "refit %s on %d rows in %.1f s", config["model"], len(frame), time.monotonic() - start
        )
        return pipeline

    def _leaderboard(
        self, trials: list[TrialRecord], dummy_loss: float, ensemble_loss: float | None
    ) -> pd.DataFrame:
        """Every successful pipeline, the dummy (trial -1) and the ensemble (trial -2), best
        first; successive halving's trials on a share of the rows ("data share" < 1) come last."""
        sign = -1.0 if self.metric_.greater_is_better else 1.0
        rows = [
            {
                "trial": t.number,
                "pipeline": t.config["model"],
                f"validation {self.metric_.name}": sign * (t.value or 0.0),
                "fit seconds": t.metrics.get("fit_seconds"),
                "predict seconds": t.metrics.get("predict_seconds"),
                "data share": t.budget or 1.0,
                "config": dict(t.config),
                "_loss": t.value,
                "_partial": is_partial(t),
            }
            for t in trials
            if t.status is TrialStatus.OK
        ]
        rows.append(
            {
                "trial": -1,
                "pipeline": "dummy",
                f"validation {self.metric_.name}": sign * dummy_loss,
                "config": {"model": "dummy"},
                "data share": 1.0,
                "_loss": dummy_loss,
                "_partial": False,
            }
        )
        if ensemble_loss is not None:
            members = {
                f"{config['model']} #{i}": round(weight, 4)
                for i, (weight, _, config) in enumerate(self.ensemble_)
            }
            summary: dict[str, Any] = {"members": members}
            if self.stacker_ is not None:  # the weights then only say how members were chosen
                summary["stacker"] = type(self.stacker_).__name__
            rows.append(
                {
                    "trial": -2,
                    "pipeline": "ensemble",
                    f"validation {self.metric_.name}": sign * ensemble_loss,
                    "config": summary,
                    "data share": 1.0,
                    "_loss": ensemble_loss,
                    "_partial": False,
                }
            )
        board = pd.DataFrame(rows)
        board = board.sort_values(["_partial", "_loss", "trial"])
        board = board.drop(columns=["_loss", "_partial"])
        board.insert(0, "rank", range(1, len(board) + 1))
        return board.reset_index(drop=True)

    def export(self, path: str | Path) -> Path:
        """Write a standalone Python script that refits the winning pipeline and predicts."""
        check_is_fitted(self, "best_pipeline_")
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
            return frame[expected]
        if frame.shape[1] != self.n_features_in_:
            raise InvalidParameterError(
                f"{owner}: X has {frame.shape[1]} features, but {type(self).__name__} is "
                f"expecting {self.n_features_in_} features as input."
            )
        return frame

    def _blend(self, frame: pd.DataFrame) -> np.ndarray:
        """The ensemble's output: class probabilities, or regression values; the stack layer's
        when there is one, else the members' weighted average."""
        outputs = []
        for _, pipeline, _ in self.ensemble_:
            if self._task == CLASSIFICATION:
                output = np.zeros((len(frame), len(self.classes_)))
                output[:, np.asarray(pipeline.classes_, dtype=int)] = pipeline.predict_proba(frame)
            else:
                output = np.asarray(pipeline.predict(frame), dtype=float)
            outputs.append(output)
        stacker = getattr(self, "stacker_", None)
        if stacker is not None:
            features = stack_features(outputs, self._task)
            if self._task == CLASSIFICATION:
                return np.asarray(stacker.predict_proba(features))
            return np.asarray(stacker.predict(features), dtype=float)
        weights = [weight for weight, _, _ in self.ensemble_]
        return np.asarray(sum(w * o for w, o in zip(weights, outputs)))

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
        model = joblib.load(file)
    except Exception as exc:
        raise InvalidParameterError(
            f"{str(file)!r} is not a model saved by sweepml (loading failed: {exc})."
        ) from exc
    if not isinstance(model, _AutoEstimator):
        raise InvalidParameterError(
            f"{str(file)!r} holds a {type(model).__name__}, not a sweepml model."
        )
    return model


@contextlib.contextmanager
def _prediction_store(storage: Any, study_name: str) -> Iterator[Path]:
    """The folder where trials leave their validation predictions for ensemble selection: beside
    a SQLite storage file (``<file>.predictions/<study>``), so that a resumed fit ensembles the
    trials of its earlier runs too; otherwise a temporary folder, removed after the fit."""
    if isinstance(storage, str | os.PathLike):
        path = os.fspath(storage).removeprefix("sqlite:///")
        folder = Path(path + ".predictions") / study_name
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix="sweepml-") as folder_name:
        yield Path(folder_name)


def _subsample(target: np.ndarray, n_rows: int, task: str, seed: int) -> np.ndarray:
    """Sorted positions of a seeded subsample of ``n_rows`` rows, stratified when possible."""
    from sklearn.model_selection import train_test_split

    positions = np.arange(len(target))
    stratify = target if task == CLASSIFICATION else None
    try:
        rows, _ = train_test_split(
            positions, train_size=n_rows, stratify=stratify, random_state=seed
        )
    except ValueError:  # a class too rare to stratify
        rows, _ = train_test_split(positions, train_size=n_rows, random_state=seed)
    return np.sort(rows)


def _saved_predictions(
    trials: list[TrialRecord], folder: Path, y_valid: np.ndarray
) -> tuple[list[TrialRecord], list[np.ndarray]]:
    """The best ``ENSEMBLE_CANDIDATES`` trials that left validation predictions in ``folder``,
    with those predictions (an earlier run's of another split is skipped)."""
    candidates: list[TrialRecord] = []
    predictions: list[np.ndarray] = []
    for trial in _ranked(trials):
        if len(candidates) >= ENSEMBLE_CANDIDATES:
            break
        prediction = read_prediction(folder / f"{trial.number}.npy")
        if prediction is not None and len(prediction) == len(y_valid):
            candidates.append(trial)
            predictions.append(prediction)
    return candidates, predictions


def read_prediction(path: Path) -> np.ndarray | None:
    """A trial's saved validation predictions, or None when it left none.

    The file is read as plain numbers (never unpickled). One that is not what a trial writes (a
    float array of one or two dimensions) is left out with a warning naming it, and the fit goes
    on without that trial in the ensemble.
    """
    if not path.exists():
        return None
    try:
        prediction = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        reason = str(exc).split("\n")[0]
    else:
        if prediction.dtype.kind in "fiu" and prediction.ndim in (1, 2):
            return np.asarray(prediction, dtype=float)
        reason = f"a {prediction.dtype} array of {prediction.ndim} dimensions"
    warnings.warn(
        f"Ignoring {str(path)!r}: it is not a prediction file sweepml wrote ({reason}); its "
        f"trial is left out of the ensemble.",
        stacklevel=2,
    )
    return None


def _trial_executor(n_jobs: int) -> LocalExecutor:
    """One process per trial from a forkserver, not fork: the driver refits LightGBM and
    HistGradientBoosting (OpenMP), and a trial forked from a process that used GNU OpenMP can
    hang in it."""
    return LocalExecutor(n_jobs, start_method="forkserver", preload=_TRIAL_MODULES)


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
