"""Shared helpers of the tabular tests."""

import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest


@pytest.fixture
def run_exported():
    """Run an exported script on ``train.csv`` (fit) and again on it (predict) in its folder;
    return the predictions it wrote, after checking that it succeeded."""

    def run(script: Path) -> pd.DataFrame:
        done = subprocess.run(
            [sys.executable, str(script), "train.csv", "train.csv", "pred.csv"],
            cwd=script.parent,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return pd.read_csv(script.parent / "pred.csv")

    return run


@pytest.fixture
def fit_context():
    """A ``FitContext`` for ``frame``: one job, seed 0, ``seconds`` from now to its deadline."""
    from sweepml.tabular.context import FitClock, FitContext
    from sweepml.tabular.data import infer_column_types
    from sweepml.tabular.metrics import get_metric

    def make(frame: pd.DataFrame, task: str = "classification", metric: str = "log_loss",
             seconds: float = 60.0):  # fmt: skip
        return FitContext(
            task=task,
            metric=get_metric(metric, task, owner="test"),
            columns=infer_column_types(frame),
            seed=0,
            n_jobs=1,
            clock=FitClock.starting(time.monotonic(), seconds),
            time_budget=seconds,
        )

    return make
