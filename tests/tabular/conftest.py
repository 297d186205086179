"""Shared helpers of the tabular tests."""

import subprocess
import sys
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
