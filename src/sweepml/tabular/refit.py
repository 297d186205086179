"""Refitting searched pipelines on all training rows, inside the time that is left.

Trials fit on the search's share of the rows, one thread each; the final model is fit again in
the driver on every row, with as many of the ``n_jobs`` threads as there are idle CPUs. A refit
is only started when its estimated time (the trial's fit time scaled by the family's measured
exponent, times ``REFIT_SAFETY``) fits before the deadline, so the fit ends on time on every
table. After a search on a subsample (large data) the best boosted pipeline's refit decides its
rounds again by early stopping on all rows (``fit_config_early``).

Why not always ``n_jobs`` threads: OpenMP threads spin at their barriers, and on a machine whose
cores are busy with other work a two-thread refit waits for a descheduled partner. Measured on two
cores each busy with another process (``benchmarks/threads.py --busy 2``): HistGradientBoosting on
10,000 rows took 4.0 s with two threads against 1.1 s with one, LightGBM 2.3 s against 0.7 s.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from sweepml._procfs import idle_cpus
from sweepml.tabular.components import CLASSIFICATION, MODELS, set_threads
from sweepml.tabular.context import REFIT_SAFETY, SEARCH_MARGIN, FitContext
from sweepml.tabular.evaluation import (
    dummy_model,
    fit_pipeline_early,
    fit_seconds_on,
    is_partial,
    split_rows,
)
from sweepml.tabular.pipeline_space import build_pipeline, pipeline_space, with_most_rounds
from sweepml.trial import TrialRecord, TrialStatus

__all__ = [
    "FALLBACK",
    "Refit",
    "fit_config",
    "fit_config_early",
    "rank_key",
    "ranked",
    "refit_best",
    "refit_config",
    "refit_members",
    "refit_seconds",
    "refit_threads",
]

logger = logging.getLogger(__name__)

FALLBACK = "extra_trees"  # fit when no searched pipeline finished
#: share of the rows an early-stopped refit (after a search on a subsample) holds out to stop on
ROUNDS_HOLDOUT = 0.1
#: share of the time left that an early-stopped refit may train for (the rest: its
#: preprocessing, and the ensemble's steps after it)
EARLY_REFIT_TIME_SHARE = 0.8
#: share of the time budget a search on a subsample leaves for what follows it, the
#: early-stopped refit first (in place of the ensemble's ``BAG_RESERVE``)
EARLY_REFIT_RESERVE = 0.4


def refit_config(record: TrialRecord) -> dict[str, Any]:
    """The config to refit a trial with: for boosting, the rounds the trial's early stopping
    kept (``rounds`` among its metrics) instead of the most it was allowed."""
    config = dict(record.config)
    component = MODELS.get(config.get("model", ""))
    rounds = record.metrics.get("rounds")
    if component is not None and component.rounds_param and isinstance(rounds, int) and rounds > 0:
        config[component.rounds_param] = rounds
    return config


def refit_seconds(record: TrialRecord, train_fraction: float) -> float:
    """Estimated seconds to refit a trial's pipeline on all rows, with a safety margin."""
    return fit_seconds_on(record, train_fraction) * REFIT_SAFETY


def rank_key(record: TrialRecord) -> tuple[bool, float, int]:
    """Best first: trials on all rows before successive halving's smaller budgets, then the
    lowest loss, then the earliest trial."""
    return (is_partial(record), math.inf if record.value is None else record.value, record.number)


def ranked(trials: list[TrialRecord]) -> list[TrialRecord]:
    """The successful trials, best first."""
    return sorted((t for t in trials if t.status is TrialStatus.OK), key=rank_key)


def families_first(
    trials: Sequence[TrialRecord], covered: Collection[Any] = ()
) -> list[TrialRecord]:
    """``trials`` with the first of each model family (``config["model"]``) not in ``covered``
    moved to the front, each part in its given order: on ranked trials, every family's best
    before a second setting of a family already in."""
    seen = set(covered)
    front: list[TrialRecord] = []
    rest: list[TrialRecord] = []
    for trial in trials:
        family = trial.config.get("model")
        (rest if family in seen else front).append(trial)
        seen.add(family)
    return front + rest


def refit_threads(n_jobs: int) -> int:
    """Threads for a refit in the driver: ``n_jobs``, fewer when fewer CPUs are idle (at least
    one; ``n_jobs`` where the idle CPUs cannot be read)."""
    idle = idle_cpus()
    if idle is None:
        return n_jobs
    return max(1, min(n_jobs, int(idle + 0.5)))


def fit_config(
    context: FitContext,
    config: dict[str, Any],
    frame: pd.DataFrame,
    target: np.ndarray,
    threads: int | None = None,
) -> Any:
    """Fit ``config``'s pipeline in the driver with ``threads`` threads (None: as many of
    ``n_jobs`` as are idle), native thread pools included (trials use one each; a refit runs
    alone); one for a family whose fit more threads only slow down."""
    family = MODELS.get(config["model"])
    if family is not None and not family.parallel_fit:
        threads = 1
    elif threads is None:
        threads = refit_threads(context.n_jobs)  # reads the idle CPUs over 0.2 s
    pipeline = _driver_pipeline(context, config, threads)
    start = time.monotonic()
    with warnings.catch_warnings(), threadpool_limits(limits=threads):
        warnings.simplefilter("ignore")
        pipeline.fit(frame, target)
    logger.info(
        "refit %s on %d rows with %d threads in %.1f s",
        config["model"], len(frame), threads, time.monotonic() - start,
    )  # fmt: skip
    return pipeline


def fit_config_early(
    context: FitContext,
    config: dict[str, Any],
    frame: pd.DataFrame,
    target: np.ndarray,
    *,
    seconds: float,
    rows_per_trial_row: float = 1.0,
    threads: int | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Refit a boosted ``config`` on all rows but ``ROUNDS_HOLDOUT`` of them, stopping early on
    the rows held out, or after ``seconds``; the pipeline and the config with the rounds it
    kept. It may train up to its space's most rounds times ``rows_per_trial_row`` (the rows
    of the refit per row of the trial's fit). Where the library refuses the held-out rows,
    ``config`` as given is fit on every row.

    For a search on a subsample (large data): its trials decide the rounds on 20,000 rows, and
    more rows carry more rounds. On synthetic_200k (150,000 training rows) the best trial, a
    CatBoost at learning rate 0.1, stopped at 299 rounds, test ROC AUC 0.9904 refit on all rows
    with them; stopping early on all rows it ran to 2,717 rounds (0.9932), where 1,000 rounds,
    the space's most, gave 0.9928.
    """
    threads = refit_threads(context.n_jobs) if threads is None else threads
    family = config["model"]
    component = MODELS[family]
    space = pipeline_space(
        context.task, n_rows=len(frame), n_features=frame.shape[1], models=[family]
    )
    rounds_param = component.rounds_param
    grown = with_most_rounds(config, space, scale=rows_per_trial_row)
    if component.fit_early is None or rounds_param is None or grown is config:
        return fit_config(context, config, frame, target, threads), config
    stratify = target if context.task == CLASSIFICATION else None
    fit, held_out = (
        np.sort(part)
        for part in split_rows(
            np.arange(len(frame)), stratify, context.seed, test_size=ROUNDS_HOLDOUT
        )
    )
    pipeline = _driver_pipeline(context, grown, threads)
    start = time.monotonic()
    try:
        with warnings.catch_warnings(), threadpool_limits(limits=threads):
            warnings.simplefilter("ignore")
            rounds = fit_pipeline_early(
                pipeline,
                component,
                frame.iloc[fit],
                target[fit],
                frame.iloc[held_out],
                target[held_out],
                seconds=seconds,
            )
    except Exception:  # noqa: BLE001 - the plain refit decides whether the config works
        return fit_config(context, config, frame, target, threads), config
    logger.info(
        "refit %s on %d rows with %d threads, stopping early at %d rounds, in %.1f s",
        family, len(fit), threads, rounds, time.monotonic() - start,
    )  # fmt: skip
    return pipeline, {**config, rounds_param: rounds}


def _driver_pipeline(context: FitContext, config: dict[str, Any], threads: int) -> Any:
    """``config``'s unfitted pipeline, its model set to ``threads`` threads."""
    pipeline = build_pipeline(config, context.columns, context.task, context.seed)
    set_threads(pipeline.steps[-1][1], threads)
    return pipeline


@dataclass(frozen=True)
class Refit:
    """A pipeline fit in the driver for the final model: the trial whose pipeline it is (None
    for the ``FALLBACK`` family's default or the dummy), the config it was fit with, and on how
    many of the training rows."""

    pipeline: Any
    config: dict[str, Any]
    trial: int | None
    n_rows: int


def refit_members(
    context: FitContext,
    candidates: list[TrialRecord],
    weights: np.ndarray,
    frame: pd.DataFrame,
    target: np.ndarray,
    train_fraction: float,
    best: Refit | None = None,
) -> list[tuple[int, Any, dict[str, Any]]]:
    """(candidate index, pipeline refit on all rows, the config it was refit with) for the
    weighted candidates, heaviest first, each only if its estimated refit time fits in what is
    left. ``best``, already refit on all rows, is reused for its trial, not fit again."""
    order = sorted((i for i in range(len(candidates)) if weights[i] > 0), key=lambda i: -weights[i])
    threads = refit_threads(context.n_jobs)  # read once: the members are refit one after another
    kept = []
    for i in order:
        if best is not None and best.trial == candidates[i].number and best.n_rows == len(frame):
            kept.append((i, best.pipeline, best.config))
        elif context.clock.allows(refit_seconds(candidates[i], train_fraction)):
            config = refit_config(candidates[i])
            kept.append((i, fit_config(context, config, frame, target, threads), config))
    return kept


def refit_best(
    context: FitContext,
    trials: list[TrialRecord],
    frame: pd.DataFrame,
    target: np.ndarray,
    train_fraction: float,
    *,
    rounds_on_all_rows: bool = False,
) -> Refit:
    """The floor of the final model, fit right after the search: the best trial's pipeline on
    all rows if that fits in what is left, else on as many rows as time allows if that is at
    least as many as it was scored with; else the next trial in rank order the same way; else
    (nothing finished) the ``FALLBACK`` family's default; else the dummy. Warnings
    (stacklevel 3) reach ``fit``'s caller. With ``rounds_on_all_rows`` (the search ran on a
    subsample) a boosted pipeline's refit on all rows decides its rounds again by early stopping,
    within the time left (``fit_config_early``).

    Why the best pipeline on fewer rows before the next one on all rows: on a busy machine the
    time left after the search may not hold the best pipeline's refit, and walking down the
    ranking for one that fits shipped a linear model (log loss 1.06) where the best trial,
    LightGBM's defaults, scored 0.89 and is worth more on two thirds of the rows.
    """
    clock = context.clock
    best_first = ranked(trials)
    for trial in best_first:
        config = refit_config(trial)
        if clock.allows(refit_seconds(trial, train_fraction)):
            if rounds_on_all_rows:
                seconds = max(clock.left() - SEARCH_MARGIN, 0.0) * EARLY_REFIT_TIME_SHARE
                pipeline, config = fit_config_early(
                    context,
                    config,
                    frame,
                    target,
                    seconds=seconds,
                    rows_per_trial_row=1 / train_fraction,
                )
            else:
                pipeline = fit_config(context, config, frame, target)
            return Refit(pipeline, config, trial.number, len(frame))
        n_rows = _rows_in_time(context, trial, len(frame), train_fraction)
        if n_rows is not None:
            rows = subsample(target, n_rows, context.task, context.seed)
            warnings.warn(
                f"The best pipeline is refit on {n_rows} of {len(frame)} rows to stay "
                f"within time_budget; a larger time_budget refits it on all of them.",
                UserWarning,
                stacklevel=3,
            )
            pipeline = fit_config(context, config, frame.iloc[rows], target[rows])
            return Refit(pipeline, config, trial.number, n_rows)
    if not best_first and clock.left() > 1.0:
        space = pipeline_space(
            context.task, n_rows=len(frame), n_features=frame.shape[1], models=[FALLBACK]
        )
        warnings.warn(
            "No pipeline finished during the search; fitting the default "
            "ExtraTrees pipeline instead.",
            UserWarning,
            stacklevel=3,
        )
        config = space.default()
        return Refit(fit_config(context, config, frame, target), config, None, len(frame))
    warnings.warn(
        "No searched pipeline can be refit within time_budget; the model is the "
        "dummy baseline. Give a larger time_budget.",
        UserWarning,
        stacklevel=3,
    )
    dummy = dummy_model(context.task).fit(frame, target)
    return Refit(dummy, {"model": "dummy"}, None, len(frame))


def _rows_in_time(
    context: FitContext, trial: TrialRecord, n_rows: int, train_fraction: float
) -> int | None:
    """How many rows ``trial``'s pipeline can be refit on in the time left (fewer than all),
    or None when that is fewer than it was scored with (or the fit has no deadline)."""
    if not context.clock.timed:
        return None
    left = context.clock.left() - SEARCH_MARGIN
    fit = int(n_rows * left / max(refit_seconds(trial, train_fraction), 1e-9))
    fit = min(fit, n_rows - 1)
    if fit >= train_fraction * (trial.budget or 1.0) * n_rows and fit >= 2:
        return fit
    return None


def subsample(target: np.ndarray, n_rows: int, task: str, seed: int) -> np.ndarray:
    """Sorted positions of a seeded subsample of ``n_rows`` rows, stratified when possible."""
    stratify = target if task == CLASSIFICATION else None
    rows, _ = split_rows(np.arange(len(target)), stratify, seed, train_size=n_rows)
    return np.sort(rows)
