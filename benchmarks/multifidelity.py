"""Anytime best-score curves of random, tpe, hyperband, asha and bohb at equal total compute.

Task: LightGBM on the public ``satellite`` table (6,435 rows, 6 classes; a fixed 60/20/20
train/validation/test split), six hyperparameters, and the number of boosting rounds as the
budget (3, 9, 27, 81, 243 with eta = 3). The search minimizes validation log loss. Compute is
counted in boosting rounds trained (the sum of the trials' budgets), so the comparison does not
depend on the machine; wall seconds are recorded too. The incumbent at any moment is the best
validation loss among trials run at the full budget (243 rounds), the only ones a user would
deploy, so random search and TPE (always full budget) and the multi-fidelity methods are judged
alike. Every strategy gets ``--full-evals`` x 243 rounds per seed.

Run:
    python benchmarks/multifidelity.py --seeds 10 --jobs 2   # ~25 min on 2 cores
    python benchmarks/multifidelity.py --table-only          # table + plot from the saved runs
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "bench" / "data" / "satellite.parquet"
OUT = HERE / "multifidelity_runs.jsonl"
PLOT = HERE / "multifidelity.png"
STRATEGIES = ("random", "tpe", "hyperband", "asha", "bohb")
MIN_ROUNDS, MAX_ROUNDS, ETA = 3, 243, 3

_DATA: dict[str, object] = {}


def _load() -> dict[str, object]:
    """The split and LightGBM datasets, built once per process (re-used by every trial)."""
    if _DATA:
        return _DATA
    import lightgbm as lgb
    import pandas as pd
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelEncoder

    frame = pd.read_parquet(DATA)
    y = LabelEncoder().fit_transform(frame.pop("target"))
    x = frame.to_numpy(dtype=np.float64)
    x_train, x_rest, y_train, y_rest = train_test_split(
        x, y, test_size=0.4, stratify=y, random_state=0
    )
    x_val, x_test, y_val, y_test = train_test_split(
        x_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=0
    )
    train = lgb.Dataset(
        x_train, y_train, free_raw_data=False, params={"verbose": -1, "feature_pre_filter": False}
    )
    _DATA.update(
        train=train, x_val=x_val, y_val=y_val, x_test=x_test, y_test=y_test, classes=len(set(y))
    )
    return _DATA


def space():
    from sweepml import Float, Int, Space

    return Space(
        {
            "learning_rate": Float(0.005, 0.5, log=True),
            "num_leaves": Int(4, 256, log=True),
            "min_child_samples": Int(2, 200, log=True),
            "feature_fraction": Float(0.3, 1.0),
            "bagging_fraction": Float(0.3, 1.0),
            "lambda_l2": Float(1e-3, 10.0, log=True),
        }
    )


def objective(config: dict, budget: float | None = None) -> dict:
    """Validation (and test) log loss of LightGBM after ``budget`` boosting rounds."""
    import lightgbm as lgb
    from sklearn.metrics import log_loss

    data = _load()
    rounds = int(budget) if budget is not None else MAX_ROUNDS
    params = {
        **config,
        "objective": "multiclass",
        "num_class": data["classes"],
        "bagging_freq": 1,
        "num_threads": 1,
        "verbose": -1,
        "seed": 0,
    }
    booster = lgb.train(params, data["train"], num_boost_round=rounds)
    labels = list(range(data["classes"]))
    val = log_loss(data["y_val"], booster.predict(data["x_val"]), labels=labels)
    test = log_loss(data["y_test"], booster.predict(data["x_test"]), labels=labels)
    return {"value": val, "test_loss": test, "rounds": rounds}


class _ComputeCap:
    """Stops the search once the trials have used the compute (boosting rounds) allowed."""

    def __init__(self, limit: float) -> None:
        self.limit, self.used = limit, 0.0

    def on_trial_end(self, study, record) -> None:
        self.used += record.budget if record.budget is not None else MAX_ROUNDS

    def should_stop(self, study) -> bool:
        return self.used >= self.limit


def run_one(job: tuple[str, int, int]) -> dict:
    import sweepml
    from sweepml.callbacks import SearchCallback
    from sweepml.strategies import ASHA, BOHB, Hyperband

    name, seed, full_evals = job
    fidelity = {"min_budget": MIN_ROUNDS, "max_budget": MAX_ROUNDS, "eta": ETA}
    strategy = {
        "random": "random",
        "tpe": "tpe",
        "hyperband": Hyperband(**fidelity),
        "asha": ASHA(**fidelity),
        "bohb": BOHB(**fidelity),
    }[name]
    cap = type("Cap", (_ComputeCap, SearchCallback), {})(full_evals * MAX_ROUNDS)
    started = time.perf_counter()
    study = sweepml.minimize(
        objective,
        space(),
        strategy=strategy,
        n_trials=100_000,
        seed=seed,
        callbacks=[cap],
        show_progress=False,
        study_name=name,
    )
    seconds = time.perf_counter() - started
    trials = []
    for t in study.trials:
        if t.status is sweepml.TrialStatus.OK:
            budget = t.budget if t.budget is not None else MAX_ROUNDS
            trials.append([budget, t.value, t.metrics["test_loss"], t.duration])
    return {"strategy": name, "seed": seed, "seconds": seconds, "trials": trials}


def anytime(run: dict, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Incumbent validation and test loss (best full-budget trial so far) at each compute."""
    used, best_val, best_test = 0.0, np.inf, np.inf
    points = []
    for budget, val, test, _ in run["trials"]:
        used += budget
        if budget >= MAX_ROUNDS and val < best_val:
            best_val, best_test = val, test
        points.append((used, best_val, best_test))
    used_at = np.array([p[0] for p in points])
    last = np.searchsorted(used_at, grid, side="right") - 1  # the last trial done by then
    val_curve = np.where(last >= 0, np.array([p[1] for p in points])[last], np.inf)
    test_curve = np.where(last >= 0, np.array([p[2] for p in points])[last], np.inf)
    return val_curve, test_curve


def table(runs: list[dict], full_evals: int) -> str:
    total = full_evals * MAX_ROUNDS
    grid = np.linspace(0, total, 401)
    curves = {}
    for name in STRATEGIES:
        mine = [r for r in runs if r["strategy"] == name]
        if mine:
            vals = np.array([anytime(r, grid)[0] for r in mine])
            tests = np.array([anytime(r, grid)[1] for r in mine])
            curves[name] = (vals, tests, mine)
    target = float(np.median(curves["random"][0][:, -1]))
    lines = [
        f"Compute per run: {full_evals} x {MAX_ROUNDS} = {total} boosting rounds; "
        f"{len(curves['random'][2])} seeds; target = random search's final median validation "
        f"log loss {target:.4f}.",
        "",
        "| strategy | trials (median) | final val loss (median) | final test loss (median) | "
        "compute to reach random's final (median curve) | seeds reaching it within 1/3 | "
        "wall s / run |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, (vals, tests, mine) in curves.items():
        median = np.median(vals, axis=0)
        hit = np.nonzero(median <= target)[0]
        share = f"{grid[hit[0]] / total:.2f}" if len(hit) else "not reached"
        third = grid <= total / 3
        per_seed = int(np.sum(np.min(np.where(third, vals, np.inf), axis=1) <= target))
        lines.append(
            f"| {name} | {np.median([len(r['trials']) for r in mine]):.0f} | "
            f"{np.median(vals[:, -1]):.4f} | {np.median(tests[:, -1]):.4f} | {share} | "
            f"{per_seed}/{len(mine)} | {np.median([r['seconds'] for r in mine]):.0f} |"
        )
    _plot(grid, curves, total)
    return "\n".join(lines)


def _plot(grid: np.ndarray, curves: dict, total: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, (vals, _, _) in curves.items():
        finite = np.where(np.isfinite(vals), vals, np.nan)
        median = np.nanmedian(finite, axis=0)
        low, high = np.nanpercentile(finite, 25, axis=0), np.nanpercentile(finite, 75, axis=0)
        ax.plot(grid / total, median, label=name)
        ax.fill_between(grid / total, low, high, alpha=0.15)
    ax.axvline(1 / 3, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("compute used (share of random search's total, in boosting rounds)")
    ax.set_ylabel("incumbent validation log loss")
    ax.set_title("LightGBM on satellite: median and IQR over seeds")
    finite_all = np.concatenate([v[np.isfinite(v)] for v, _, _ in curves.values()])
    ax.set_ylim(np.percentile(finite_all, 1) * 0.98, np.percentile(finite_all, 90))
    ax.legend()
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--full-evals", type=int, default=40)
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    if not args.table_only:
        jobs = [(s, seed, args.full_evals) for seed in range(args.seeds) for s in args.strategies]
        OUT.write_text("")
        with multiprocessing.get_context("forkserver").Pool(args.jobs) as pool:
            for run in pool.imap_unordered(run_one, jobs):
                with OUT.open("a") as out:
                    out.write(json.dumps(run) + "\n")
                print(f"{run['strategy']:>9} seed {run['seed']}: {len(run['trials'])} trials, "
                      f"{run['seconds']:.0f} s", flush=True)  # fmt: skip
    runs = [json.loads(line) for line in OUT.read_text().splitlines() if line.strip()]
    print(table(runs, args.full_evals))


if __name__ == "__main__":
    main()
