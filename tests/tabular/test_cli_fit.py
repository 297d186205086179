"""`sweepml fit` and `sweepml predict` end to end, in subprocesses."""

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

SWEEPML = [sys.executable, "-m", "sweepml.cli.main"]


def cli(*args, cwd):
    return subprocess.run(
        [*SWEEPML, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120
    )


@pytest.fixture
def table(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.choice(["x", "y", "z"], 200)})
    frame["label"] = np.where(frame["a"] + (frame["b"] == "x") > 0.3, "high", "low")
    frame.to_csv(tmp_path / "train.csv", index=False)
    return frame


def test_fit_then_predict(tmp_path, table):
    done = cli(
        "fit",
        "train.csv",
        "--target",
        "label",
        "--max-trials",
        2,
        "--seed",
        0,
        "--model",
        "m.joblib",
        "-o",
        "pipeline.py",
        "--test",
        "train.csv",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "task classification" in done.stdout and "validation roc_auc" in done.stdout
    assert re.search(r"Test on train.csv: roc_auc [0-9.]+, accuracy [0-9.]+", done.stdout)
    assert (tmp_path / "pipeline.py").exists() and (tmp_path / "m.joblib").exists()
    done = cli("predict", "m.joblib", "train.csv", "-o", "out.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out.columns) == ["prediction", "proba_high", "proba_low"] and len(out) == 200
    table.drop(columns="a").to_csv(tmp_path / "broken.csv", index=False)
    done = cli("predict", "m.joblib", "broken.csv", cwd=tmp_path)
    assert done.returncode == 2 and "lacks columns seen in fit: ['a']" in done.stderr
    table.assign(id=range(200)).to_csv(tmp_path / "with_id.csv", index=False)
    done = cli("predict", "m.joblib", "with_id.csv", "-o", "out2.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr  # an ID column is ignored, with one warning
    assert done.stderr.count("warning") == 1
    assert "ignoring columns the model was not trained on: ['id']" in done.stderr
    assert pd.read_csv(tmp_path / "out2.csv").equals(out)


def test_fit_without_an_output_saves_the_model_beside_the_data(tmp_path, table):
    done = cli("fit", "train.csv", "--target", "label", "--max-trials", 1, "-v", 0, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"Model saved to {'train.model.joblib'}" in done.stdout
    assert (tmp_path / "train.model.joblib").exists()


def test_fit_input_errors_exit_2(tmp_path, table):
    (tmp_path / "notes.json").write_text("{}")
    cases = [
        (["fit", "train.csv", "--target", "nope"], "Target column 'nope' is not in"),
        (["fit", "notes.json", "--target", "label"], "must be .csv or .parquet"),
        (["fit", "missing.csv", "--target", "label"], "does not exist"),
        (
            ["fit", "train.csv", "--target", "label", "--metric", "auc", "--max-trials", 1],
            "The option --metric must be one of",
        ),
        (["fit", "train.csv", "--target", "label", "--time", 0], "The option --time must be"),
        (["fit", "train.csv", "--target", "label", "--jobs", 0], "The option --jobs must be"),
        (["predict", "notes.json", "train.csv"], "not a model saved by sweepml"),
    ]
    for args, message in cases:
        done = cli(*args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr and "Traceback" not in done.stderr, (args, done.stderr)
        if "--time" in args or "--jobs" in args:  # refused before the banner
            assert done.stdout == "", done.stdout
