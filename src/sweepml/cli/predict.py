"""``sweepml predict MODEL NEW.csv -o predictions.csv``: predictions of a saved model."""

from __future__ import annotations

import argparse
import warnings
from typing import Any


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "predict",
        help="predict a table with a model saved by `sweepml fit --model`",
        description="Check NEW's columns against the training columns (columns the model "
        "was not trained on, such as an ID, are ignored with a warning) and write predictions "
        "(and class probabilities for a classifier) to a CSV file. MODEL is a pickle: loading "
        "it runs code from it, so load only model files you made or trust like code.",
    )
    parser.add_argument(
        "model", metavar="MODEL", help="model file from `sweepml fit --model` (a pickle)"
    )
    parser.add_argument("data", metavar="NEW", help="table to predict (.csv or .parquet)")
    parser.add_argument("-o", "--output", default="predictions.csv", metavar="FILE")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from sweepml.cli.fit import read_table
    from sweepml.tabular import AutoClassifier, load_model

    model = load_model(args.model)
    table = read_table(args.data)
    target = getattr(model, "target_name_", None)
    if target in table.columns:  # a labelled table: ignore its target column
        table = table.drop(columns=target)
    trained_on = getattr(model, "feature_names_in_", None)
    if trained_on is not None:  # an ID or a later-added column: say so once, then drop it
        extra = [c for c in table.columns if c not in set(trained_on)]
        if extra:
            warnings.warn(f"ignoring columns the model was not trained on: {extra}.", stacklevel=1)
            table = table.drop(columns=extra)
    result = pd.DataFrame({"prediction": model.predict(table)})
    if isinstance(model, AutoClassifier):
        proba = model.predict_proba(table)
        for i, label in enumerate(model.classes_):
            result[f"proba_{label}"] = proba[:, i]
    result.to_csv(args.output, index=False)
    print(f"Wrote {len(result)} predictions to {args.output}")
    return 0
