"""Driver overhead per trial on a no-op objective: sweepml's loop against Optuna's own ask/tell loop
with the same sampler (target: ratio <= 1.2).

    python benchmarks/overhead.py [--trials 100 1000] [--repeats 3]

sweepml runs serially in process (executor="serial"), with in-memory and with SQLite storage;
Optuna runs `study.ask()` / `study.tell()` on its in-memory storage. Both sample the same
4-parameter mixed space (two floats, one log int, one categorical) with the same seed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import optuna

import sweepml
from sweepml import Choice, Float, Int

SPACE = sweepml.Space(
    {
        "x": Float(-5, 5),
        "lr": Float(1e-5, 1e-1, log=True),
        "units": Int(8, 512, log=True),
        "act": Choice(["relu", "tanh", "elu"]),
    }
)


def noop(config):
    return config["x"] ** 2


def optuna_sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True, constant_liar=True)


def run_optuna(strategy: str, n_trials: int, seed: int) -> float:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        study = optuna.create_study(sampler=optuna_sampler(strategy, seed))
        for _ in range(n_trials):
            trial = study.ask()
            config = {
                "x": trial.suggest_float("x", -5, 5),
                "lr": trial.suggest_float("lr", 1e-5, 1e-1, log=True),
                "units": trial.suggest_int("units", 8, 512, log=True),
                "act": trial.suggest_categorical("act", ["relu", "tanh", "elu"]),
            }
            study.tell(trial, noop(config))
        return time.perf_counter() - start


def run_sweepml(strategy: str, n_trials: int, seed: int, storage: str | None) -> float:
    start = time.perf_counter()
    sweepml.minimize(
        noop,
        SPACE,
        strategy=strategy,
        n_trials=n_trials,
        executor="serial",
        storage=storage,
        seed=seed,
        show_progress=False,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"optuna {optuna.__version__}, sweepml {sweepml.__version__}; median of {args.repeats}")
    print()
    print(
        "| strategy | trials | optuna s | sweepml (memory) s | ratio | sweepml (sqlite) s | ratio |"
    )
    print("|---|---|---|---|---|---|---|")
    for strategy in ("random", "tpe"):
        for n in args.trials:
            opt, mem, sql = [], [], []
            for repeat in range(args.repeats):
                opt.append(run_optuna(strategy, n, repeat))
                mem.append(run_sweepml(strategy, n, repeat, None))
                with tempfile.TemporaryDirectory() as tmp:
                    sql.append(run_sweepml(strategy, n, repeat, str(Path(tmp) / "b.db")))
            o, m, s = (statistics.median(v) for v in (opt, mem, sql))
            print(f"| {strategy} | {n} | {o:.3f} | {m:.3f} | {m / o:.2f} | {s:.3f} | {s / o:.2f} |")


if __name__ == "__main__":
    main()
