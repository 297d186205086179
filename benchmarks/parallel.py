"""Parallel efficiency of the local executor: 2 workers against 1 (targets: >= 1.9x on sleeps).

    python benchmarks/parallel.py [--data-dir ../shared/bench/data]

(1) 20 trials that sleep 0.5 s; (2) 16 CPU-bound scikit-learn fits (random forests and gradient
boosting on the spam table, one thread each). Both runs draw the same configs (random search,
same seed), so the work is identical; the figure is wall-clock speedup and models per hour.
"""

from __future__ import annotations

import os

# One thread per trial, set before numpy/scikit-learn load their OpenMP and BLAS runtimes: the
# speedup must come from our workers, not from library threads.
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["OPENBLAS_NUM_THREADS"] = "1"

import argparse
import time
from pathlib import Path

import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.model_selection import cross_val_score

import sweepml
from sweepml import Choice, Float, Int

DATA: dict[str, object] = {}


def sleeper(config):
    time.sleep(0.5)
    return config["x"]


SLEEP_SPACE = sweepml.Space({"x": Float(0, 1)})

FIT_SPACE = sweepml.Space(
    {
        "model": Choice(
            {
                "rf": {"rf_trees": Int(50, 150), "rf_max_features": Float(0.1, 0.5)},
                "hgb": {"hgb_lr": Float(0.02, 0.3, log=True), "hgb_iter": Int(50, 150)},
            }
        )
    }
)


def fit(config):
    X, y = DATA["X"], DATA["y"]
    if config["model"] == "rf":
        model = RandomForestClassifier(
            n_estimators=config["rf_trees"],
            max_features=config["rf_max_features"],
            n_jobs=1,
            random_state=0,
        )
    else:
        model = HistGradientBoostingClassifier(
            learning_rate=config["hgb_lr"], max_iter=config["hgb_iter"], random_state=0
        )
    return 1 - cross_val_score(model, X, y, cv=3).mean()


def timed(objective, space, n_trials: int, workers: int) -> tuple[float, int]:
    start = time.perf_counter()
    study = sweepml.minimize(
        objective,
        space,
        strategy="random",
        n_trials=n_trials,
        n_workers=workers,
        executor="local",
        seed=0,
        show_progress=False,
    )
    ok = sum(t.status is sweepml.TrialStatus.OK for t in study.trials)
    return time.perf_counter() - start, ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", default=str(Path(__file__).parents[1] / "../shared/bench/data")
    )
    args = parser.parse_args()
    frame = pd.read_parquet(Path(args.data_dir) / "spam.parquet")
    DATA["X"], DATA["y"] = frame.drop(columns="target").to_numpy(), frame["target"].to_numpy()
    print(f"cores: {os.cpu_count()}")
    print()
    columns = ["workload", "trials", "1 worker s", "2 workers s", "speedup", "efficiency"]
    print("| " + " | ".join(columns) + " | models/hour (2 workers) |")
    print("|---|---|---|---|---|---|---|")
    for label, objective, space, n in (
        ("sleep 0.5 s", sleeper, SLEEP_SPACE, 20),
        ("sklearn fits (spam, 3-fold CV)", fit, FIT_SPACE, 16),
    ):
        one, ok1 = timed(objective, space, n, 1)
        two, ok2 = timed(objective, space, n, 2)
        assert ok1 == ok2 == n, (ok1, ok2)
        speedup = one / two
        print(
            f"| {label} | {n} | {one:.2f} | {two:.2f} | {speedup:.2f}x | {speedup / 2:.0%} "
            f"| {n / two * 3600:.0f} |"
        )


if __name__ == "__main__":
    main()
