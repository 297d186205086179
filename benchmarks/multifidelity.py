"""Anytime best-score curves of random, tpe, hyperband, asha and bohb at equal total compute.

Two tasks on the public ``satellite`` table (6,435 rows, 6 classes; a fixed 60/20/20
train/validation/test split), both minimizing validation log loss:

- ``mlp``: a PyTorch MLP (depth, width, learning rate, weight decay, dropout, batch size) with the
  number of epochs as the budget (1, 3, 9, 27 with eta = 3);
- ``lgbm``: LightGBM (six hyperparameters, learning rate included) with the number of boosting
  rounds as the budget (3, 9, 27, 81, 243).

Compute is counted in budget units trained (epochs or boosting rounds: the sum of the trials'
budgets), so the comparison does not depend on the machine; wall seconds are recorded too. The
incumbent at any moment is the best validation loss among trials run at the full budget, the only
ones a user would deploy, so random search and TPE (always full budget) and the multi-fidelity
methods are judged alike. Every strategy gets ``--full-evals`` full-budget trainings' worth of
compute per seed.

Run:
    python benchmarks/multifidelity.py --task mlp --seeds 10 --jobs 2    # ~15 min on 2 cores
    python benchmarks/multifidelity.py --task lgbm --seeds 10 --jobs 2   # ~20 min on 2 cores
    python benchmarks/multifidelity.py --task mlp --table-only           # table + plot again
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "bench" / "data" / "satellite.parquet"
STRATEGIES = ("random", "tpe", "hyperband", "asha", "bohb")
ETA = 3
BUDGETS = {"lgbm": (3, 243), "mlp": (1, 27)}  # (min, max) budget of each task
UNITS = {"lgbm": "boosting rounds", "mlp": "epochs"}

_DATA: dict[str, object] = {}


def _split() -> tuple[np.ndarray, ...]:
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
    return x_train, y_train, x_val, y_val, x_test, y_test


def _load() -> dict[str, object]:
    """The split and LightGBM datasets, built once per process (re-used by every trial)."""
    if _DATA:
        return _DATA
    import lightgbm as lgb

    x_train, y_train, x_val, y_val, x_test, y_test = _split()
    settings = {"verbose": -1, "feature_pre_filter": False}  # min_child_samples is searched
    train = lgb.Dataset(x_train, y_train, free_raw_data=False, params=settings)
    _DATA.update(
        train=train,
        x_val=x_val,
        y_val=y_val,
        x_test=x_test,
        y_test=y_test,
        classes=len(set(y_train)),
    )
    return _DATA


def lgbm_space():
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


def lgbm_objective(config: dict, budget: float | None = None) -> dict:
    """Validation (and test) log loss of LightGBM after ``budget`` boosting rounds."""
    import lightgbm as lgb
    from sklearn.metrics import log_loss

    data = _load()
    rounds = int(budget) if budget is not None else BUDGETS["lgbm"][1]
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


_TENSORS: dict[str, object] = {}


def mlp_space():
    from sweepml import Choice, Float, Int, Space

    return Space(
        {
            "depth": Int(1, 3),
            "width": Int(16, 256, log=True),
            "learning_rate": Float(1e-4, 1e-1, log=True),
            "weight_decay": Float(1e-6, 1e-2, log=True),
            "dropout": Float(0.0, 0.5),
            "batch_size": Choice([128, 256, 512]),
        }
    )


def mlp_objective(config: dict, budget: float | None = None) -> dict:
    """Validation (and test) log loss of an MLP after ``budget`` epochs of Adam."""
    import torch
    from sklearn.preprocessing import StandardScaler
    from torch import nn

    torch.set_num_threads(1)
    if not _TENSORS:
        x_train, y_train, x_val, y_val, x_test, y_test = _split()
        scaler = StandardScaler().fit(x_train)
        as_x = lambda a: torch.tensor(scaler.transform(a), dtype=torch.float32)  # noqa: E731
        _TENSORS.update(x_train=as_x(x_train), y_train=torch.tensor(y_train),
                        x_val=as_x(x_val), y_val=torch.tensor(y_val),
                        x_test=as_x(x_test), y_test=torch.tensor(y_test))  # fmt: skip
    d = _TENSORS
    epochs = int(budget) if budget is not None else BUDGETS["mlp"][1]
    torch.manual_seed(0)
    layers, width = [], d["x_train"].shape[1]
    for _ in range(config["depth"]):
        layers += [nn.Linear(width, config["width"]), nn.ReLU(), nn.Dropout(config["dropout"])]
        width = config["width"]
    net = nn.Sequential(*layers, nn.Linear(width, 6))
    optimizer = torch.optim.Adam(net.parameters(), lr=config["learning_rate"],
                                 weight_decay=config["weight_decay"])  # fmt: skip
    generator = torch.Generator().manual_seed(0)
    n = len(d["x_train"])
    for _ in range(epochs):
        net.train()
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, config["batch_size"]):
            batch = order[start : start + config["batch_size"]]
            optimizer.zero_grad()
            nn.functional.cross_entropy(net(d["x_train"][batch]), d["y_train"][batch]).backward()
            optimizer.step()
    net.eval()
    with torch.no_grad():
        val = nn.functional.cross_entropy(net(d["x_val"]), d["y_val"]).item()
        test = nn.functional.cross_entropy(net(d["x_test"]), d["y_test"]).item()
    if not np.isfinite(val):
        raise FloatingPointError("the validation loss is not finite")
    return {"value": val, "test_loss": test, "epochs": epochs}


TASKS = {"lgbm": (lgbm_space, lgbm_objective), "mlp": (mlp_space, mlp_objective)}


class _ComputeCap:
    """Stops the search once the trials have used the compute (budget units) allowed."""

    def __init__(self, limit: float, full: float) -> None:
        self.limit, self.full, self.used = limit, full, 0.0

    def on_trial_end(self, study, record) -> None:
        self.used += record.budget if record.budget is not None else self.full

    def should_stop(self, study) -> bool:
        return self.used >= self.limit


def run_one(job: tuple[str, str, int, int, int]) -> dict:
    import sweepml
    from sweepml.callbacks import SearchCallback
    from sweepml.strategies import ASHA, BOHB, Hyperband

    task, name, seed, full_evals, low = job
    high = BUDGETS[task][1]
    space, objective = TASKS[task]
    fidelity = {"min_budget": low, "max_budget": high, "eta": ETA}
    strategy = {
        "random": "random",
        "tpe": "tpe",
        "hyperband": Hyperband(**fidelity),
        "asha": ASHA(**fidelity),
        "bohb": BOHB(**fidelity),
    }[name]
    cap = type("Cap", (_ComputeCap, SearchCallback), {})(full_evals * high, high)
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
            budget = t.budget if t.budget is not None else high
            trials.append([budget, t.value, t.metrics["test_loss"], t.duration])
    return {"task": task, "strategy": name, "seed": seed, "seconds": seconds, "trials": trials}


def anytime(run: dict, grid: np.ndarray, full: float) -> tuple[np.ndarray, np.ndarray]:
    """Incumbent validation and test loss (best full-budget trial so far) at each compute."""
    used, best_val, best_test = 0.0, np.inf, np.inf
    points = []
    for budget, val, test, _ in run["trials"]:
        used += budget
        if budget >= full and val < best_val:
            best_val, best_test = val, test
        points.append((used, best_val, best_test))
    used_at = np.array([p[0] for p in points])
    last = np.searchsorted(used_at, grid, side="right") - 1  # the last trial done by then
    val_curve = np.where(last >= 0, np.array([p[1] for p in points])[last], np.inf)
    test_curve = np.where(last >= 0, np.array([p[2] for p in points])[last], np.inf)
    return val_curve, test_curve


def table(task: str, runs: list[dict], full_evals: int, name: str) -> str:
    full = BUDGETS[task][1]
    total = full_evals * full
    grid = np.linspace(0, total, 401)
    curves = {}
    for strategy in STRATEGIES:
        mine = [r for r in runs if r["strategy"] == strategy]
        if mine:
            vals = np.array([anytime(r, grid, full)[0] for r in mine])
            tests = np.array([anytime(r, grid, full)[1] for r in mine])
            curves[strategy] = (vals, tests, mine)
    target = float(np.median(curves["random"][0][:, -1]))
    lines = [
        f"Task {task}. Compute per run: {full_evals} x {full} = {total} {UNITS[task]}; "
        f"{len(curves['random'][2])} seeds; target = random search's final median validation "
        f"log loss {target:.4f}.",
        "",
        "| strategy | trials (median) | final val loss (median) | final test loss (median) | "
        "compute to reach random's final (median curve) | seeds reaching it within 1/3 | "
        "wall s / run |",
        "|---|---|---|---|---|---|---|",
    ]
    for strategy, (vals, tests, mine) in curves.items():
        median = np.median(vals, axis=0)
        hit = np.nonzero(median <= target)[0]
        share = f"{grid[hit[0]] / total:.2f}" if len(hit) else "not reached"
        third = grid <= total / 3
        per_seed = int(np.sum(np.min(np.where(third, vals, np.inf), axis=1) <= target))
        lines.append(
            f"| {strategy} | {np.median([len(r['trials']) for r in mine]):.0f} | "
            f"{np.median(vals[:, -1]):.4f} | {np.median(tests[:, -1]):.4f} | {share} | "
            f"{per_seed}/{len(mine)} | {np.median([r['seconds'] for r in mine]):.0f} |"
        )
    _plot(task, grid, curves, total, name)
    return "\n".join(lines)


def _plot(task: str, grid: np.ndarray, curves: dict, total: float, name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for strategy, (vals, _, _) in curves.items():
        finite = np.where(np.isfinite(vals), vals, np.nan)
        with warnings.catch_warnings():  # before any full-budget trial a column is all NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            median = np.nanmedian(finite, axis=0)
            low, high = np.nanpercentile(finite, [25, 75], axis=0)
        ax.plot(grid / total, median, label=strategy)
        ax.fill_between(grid / total, low, high, alpha=0.15)
    ax.axvline(1 / 3, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel(f"compute used (share of the total, in {UNITS[task]})")
    ax.set_ylabel("incumbent validation log loss")
    title = {"lgbm": "LightGBM, rounds as budget", "mlp": "MLP, epochs as budget"}[task]
    ladder = f"budgets {BUDGETS[task][0]}..{BUDGETS[task][1]}"
    ax.set_title(f"{title} ({ladder}), satellite: median and IQR over seeds", fontsize=10)
    finite_all = np.concatenate([v[np.isfinite(v)] for v, _, _ in curves.values()])
    ax.set_ylim(np.percentile(finite_all, 1) * 0.98, np.percentile(finite_all, 90))
    ax.legend()
    fig.tight_layout()
    fig.savefig(HERE / f"multifidelity_{name}.png", dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(TASKS), default="mlp")
    parser.add_argument("--min-budget", type=int, help="the smallest budget (default per task)")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--full-evals", type=int, default=40)
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    name = args.task
    if args.min_budget is not None:
        BUDGETS[args.task] = (args.min_budget, BUDGETS[args.task][1])
        name += f"_min{args.min_budget}"
    out = HERE / f"multifidelity_{name}.jsonl"
    if not args.table_only:
        jobs = [
            (args.task, s, seed, args.full_evals, BUDGETS[args.task][0])
            for seed in range(args.seeds)
            for s in args.strategies
        ]
        out.write_text("")
        with multiprocessing.get_context("forkserver").Pool(args.jobs) as pool:
            for run in pool.imap_unordered(run_one, jobs):
                with out.open("a") as file:
                    file.write(json.dumps(run) + "\n")
                print(f"{run['strategy']:>9} seed {run['seed']}: {len(run['trials'])} trials, "
                      f"{run['seconds']:.0f} s", flush=True)  # fmt: skip
    runs = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    print(table(args.task, runs, args.full_evals, name))


if __name__ == "__main__":
    main()
