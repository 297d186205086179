"""Search quality: median best value after 50/100/200 evaluations over 20 seeds, for random, tpe
and evolution, on Branin (optimum 0.397887), Hartmann-6 (-3.32237) and a conditional model-choice
space on the `vehicle` table (3-fold CV error of five model families with their hyperparameters).

    python benchmarks/quality.py [--seeds 20] [--budgets 50 100 200] [--problems ...] [--jobs 2]

Every (problem, strategy, seed) search runs serially in its own process; `--jobs` runs that many
searches side by side. Lower is better everywhere.
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"  # one thread per search, before numpy loads its runtimes

import argparse
import statistics
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

import sweepml
from sweepml import Choice, Float, Int
from sweepml.testing.objectives import (
    BRANIN_OPTIMUM,
    HARTMANN6_OPTIMUM,
    branin,
    branin_space,
    hartmann6,
    hartmann6_space,
)

STRATEGIES = ("random", "tpe", "evolution")
DATA_DIR = Path(__file__).parents[1] / "../shared/bench/data"
_TABLE: dict[str, np.ndarray] = {}

MODEL_SPACE = sweepml.Space(
    {
        "scale": Choice([True, False]),
        "model": Choice(
            {
                "logistic": {"lr_C": Float(1e-3, 1e3, log=True)},
                "svm": {
                    "svm_C": Float(2**-5, 2**15, log=True),
                    "svm_gamma": Float(2**-15, 8, log=True),
                },
                "knn": {
                    "knn_k": Int(1, 50, log=True),
                    "knn_weights": Choice(["uniform", "distance"]),
                },
                "tree": {"tree_depth": Int(1, 20), "tree_min_leaf": Int(1, 20)},
                "forest": {
                    "rf_trees": Int(10, 50, log=True),
                    "rf_max_features": Float(0.1, 1.0),
                    "rf_min_leaf": Int(1, 10),
                },
            }
        ),
    }
)


def model_error(config) -> float:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    if not _TABLE:
        import pandas as pd

        frame = pd.read_parquet(DATA_DIR / "vehicle.parquet")
        _TABLE["X"] = frame.drop(columns="target").to_numpy(dtype=float)
        _TABLE["y"] = frame["target"].astype("category").cat.codes.to_numpy()
    model = config["model"]
    if model == "logistic":
        est = LogisticRegression(C=config["lr_C"], max_iter=200)
    elif model == "svm":
        est = SVC(C=config["svm_C"], gamma=config["svm_gamma"], max_iter=2_000)
    elif model == "knn":
        est = KNeighborsClassifier(n_neighbors=config["knn_k"], weights=config["knn_weights"])
    elif model == "tree":
        est = DecisionTreeClassifier(
            max_depth=config["tree_depth"], min_samples_leaf=config["tree_min_leaf"], random_state=0
        )
    else:
        est = RandomForestClassifier(
            n_estimators=config["rf_trees"],
            max_features=config["rf_max_features"],
            min_samples_leaf=config["rf_min_leaf"],
            random_state=0,
        )
    if config["scale"]:
        est = make_pipeline(StandardScaler(), est)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        folds = StratifiedKFold(3, shuffle=True, random_state=0)
        return 1.0 - float(cross_val_score(est, _TABLE["X"], _TABLE["y"], cv=folds).mean())


PROBLEMS = {
    "branin": (branin, branin_space, BRANIN_OPTIMUM),
    "hartmann6": (hartmann6, hartmann6_space, HARTMANN6_OPTIMUM),
    "vehicle-models": (model_error, lambda: MODEL_SPACE, None),
}


def one_search(problem: str, strategy: str, seed: int, n_trials: int) -> tuple[list[float], float]:
    objective, make_space, _ = PROBLEMS[problem]
    start = time.perf_counter()
    study = sweepml.minimize(
        objective,
        make_space(),
        strategy=strategy,
        n_trials=n_trials,
        executor="serial",
        seed=seed,
        show_progress=False,
    )
    values = [t.value if t.value is not None else float("inf") for t in study.trials]
    return list(np.minimum.accumulate(values)), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budgets", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    n_trials = max(args.budgets)
    jobs = [
        (p, s, seed, n_trials)
        for p in args.problems
        for s in STRATEGIES
        for seed in range(args.seeds)
    ]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = dict(zip([j[:3] for j in jobs], pool.map(one_search, *zip(*jobs))))
    header = " | ".join(f"after {b}" for b in args.budgets)
    print(f"median best value over {args.seeds} seeds (lower is better)")
    print()
    print(f"| problem | optimum | strategy | {header} | seconds per search |")
    print("|---|---|---|" + "---|" * len(args.budgets) + "---|")
    for problem in args.problems:
        optimum = PROBLEMS[problem][2]
        for strategy in STRATEGIES:
            runs = [results[(problem, strategy, seed)] for seed in range(args.seeds)]
            cells = [f"{statistics.median(r[0][b - 1] for r in runs):.4f}" for b in args.budgets]
            secs = statistics.median(r[1] for r in runs)
            shown = "-" if optimum is None else f"{optimum:g}"
            print(f"| {problem} | {shown} | {strategy} | {' | '.join(cells)} | {secs:.1f} |")


if __name__ == "__main__":
    main()
