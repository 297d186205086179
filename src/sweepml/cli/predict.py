"""``sweepml predict MODEL NEW.csv -o predictions.csv``: predictions of a saved model."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "predict",
        help="predict a table with a model saved by `sweepml fit --model`",
        description="Check NEW's columns against the training columns and write predictions "
        "(and class probabilities for a classifier) to a CSV file.",
    )
    parser.add_argument("model", metavar="MODEL", help="model file from `sweepml fit --model`")
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
    result = pd.DataFrame({"prediction": model.predict(table)})
    if isinstance(model, AutoClassifier):
        proba = model.predict_proba(table)
        for i, label in enumerate(model.classes_):
            result[f"proba_{label}"] = proba[:, i]
    result.to_csv(args.output, index=False)
    print(f"Wrote {len(result)} predictions to {args.output}")
    return 0
