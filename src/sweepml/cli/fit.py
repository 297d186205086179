"""``sweepml fit DATA --target COLUMN``: tabular AutoML on a CSV or Parquet file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sweepml.exceptions import InvalidParameterError

TASKS = ("auto", "classification", "regression")
MAX_CLASSES_FOR_AUTO = 20  # integer targets with more distinct values are taken as regression


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "fit",
        help="search a model for a table (CSV or Parquet) and a target column",
        description="Search preprocessing, model and hyperparameters for DATA within --time "
        "seconds, print the leaderboard, and save the model and/or its pipeline as a script.",
    )
    parser.add_argument("data", metavar="DATA", help="training table (.csv or .parquet)")
    parser.add_argument("--target", required=True, metavar="COLUMN", help="column to predict")
    parser.add_argument("--task", choices=TASKS, default="auto")
    parser.add_argument(
        "--time",
        type=float,
        default=60.0,
        metavar="S",
        help="time budget in seconds for the whole fit (default 60)",
    )
    parser.add_argument(
        "--max-trials",
        type=int,
        metavar="N",
        help="a budget in trials instead of seconds (reproducible with --jobs 1)",
    )
    parser.add_argument("--metric", metavar="M", help="metric to optimize")
    parser.add_argument("--cv", type=int, metavar="K", help="k-fold cross-validation")
    parser.add_argument("--jobs", type=int, default=1, metavar="N", help="parallel trials")
    parser.add_argument("--seed", type=int, metavar="S", help="random seed")
    parser.add_argument("-o", "--output", metavar="pipeline.py", help="write the pipeline script")
    parser.add_argument(
        "--model",
        metavar="model.joblib",
        help="save the fitted model (default, when neither this nor -o is given: "
        "DATA's name with .model.joblib, beside DATA); it is a pickle: load only your own",
    )
    parser.add_argument("--test", metavar="FILE", help="a table to score the model on")
    parser.add_argument("-v", "--verbose", type=int, choices=(0, 1, 2), default=1)
    parser.set_defaults(run=run, flags=FLAGS)


#: the estimator's parameters, named as the flags that set them (for error messages)
FLAGS = {
    "time_budget": "--time",
    "max_trials": "--max-trials",
    "metric": "--metric",
    "cv": "--cv",
    "n_jobs": "--jobs",
    "random_state": "--seed",
}


def read_table(path: str) -> Any:
    """A CSV or Parquet file as a DataFrame, or a clear error."""
    import pandas as pd

    file = Path(path)
    if not file.is_file():
        raise InvalidParameterError(f"Data file {path!r} does not exist.")
    suffix = file.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(file)
        if suffix in (".csv", ".txt"):
            return pd.read_csv(file)
    except Exception as exc:
        raise InvalidParameterError(f"Cannot read {path!r} as {suffix[1:]}: {exc}") from exc
    raise InvalidParameterError(
        f"Data file {path!r} must be .csv or .parquet; got {suffix or 'no extension'!r}."
    )


def infer_task(target: Any) -> str:
    """Classification for labels (strings, bools, few integers), regression for numbers."""
    from pandas.api import types as ptypes

    if not ptypes.is_numeric_dtype(target) or ptypes.is_bool_dtype(target):
        return "classification"
    values = target.dropna()
    integral = bool((values == values.round()).all())
    if integral and values.nunique() <= MAX_CLASSES_FOR_AUTO:
        return "classification"
    return "regression"


def run(args: argparse.Namespace) -> int:
    import logging

    from sweepml.tabular import AutoClassifier, AutoRegressor

    table = read_table(args.data)
    if args.target not in table.columns:
        raise InvalidParameterError(
            f"Target column {args.target!r} is not in {args.data!r}; its columns are "
            f"{list(map(str, table.columns))}."
        )
    X, y = table.drop(columns=args.target), table[args.target]
    task = infer_task(y) if args.task == "auto" else args.task
    cls = AutoClassifier if task == "classification" else AutoRegressor
    model = cls(
        time_budget=args.time,
        metric=args.metric,
        n_jobs=args.jobs,
        random_state=args.seed,
        max_trials=args.max_trials,
        cv=args.cv,
        show_progress=None if args.verbose else False,
    )
    model._check_settings("fit")  # bad flags are reported before any output
    if args.output is None and args.model is None:  # a fit is never thrown away
        args.model = str(Path(args.data).with_suffix(".model.joblib"))
    budget = f"{args.max_trials} trials" if args.max_trials else f"{args.time:g} s"
    if args.verbose:
        print(
            f"sweepml fit: {args.data} ({len(table)} rows, {X.shape[1]} features), target "
            f"{args.target!r}, task {task}, budget {budget}, {args.jobs} job(s)"
        )
    if args.verbose >= 2:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    model.fit(X, y)
    if args.verbose:
        print(model.column_types_.report())
        print(
            f"Evaluation: {model.evaluation_} (ensemble selected on "
            f"{model.ensemble_evaluation_}), metric {model.metric_.name}; "
            f"fit took {model.fit_seconds_:.1f} s"
        )
        print(model.leaderboard_.drop(columns="config").head(10).to_string(index=False))
    if args.test:
        test = read_table(args.test)
        if args.target not in test.columns:
            raise InvalidParameterError(f"Target column {args.target!r} is not in {args.test!r}.")
        X_test, y_test = test.drop(columns=args.target), test[args.target]
        kind = "accuracy" if task == "classification" else "R^2"
        print(
            f"Test on {args.test}: {model.metric_.name} {model.metric_score(X_test, y_test):.6g}, "
            f"{kind} {model.score(X_test, y_test):.4f}"
        )
    if args.output:
        print(f"Pipeline script written to {model.export(args.output)}")
    if args.model:
        print(f"Model saved to {model.save(args.model)} (loading it runs code: share with care)")
    sys.stdout.flush()
    return 0
