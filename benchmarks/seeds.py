"""sweepml on the public benchmark tables over several seeds, beside LightGBM's and AutoGluon's
figures from PEERS.md: is a win (or a loss) more than seed noise, and does every fit keep inside
``time_budget x 1.05 + 5 s``?

    python benchmarks/seeds.py --seeds 0 1 2 [--budget 60] [--datasets spam,vehicle,...]
        [--out benchmarks/out/seeds.jsonl] [--table-only]

Each fit runs in its own process, on ../shared/bench/run.py's split and scoring (the test rows
are the benchmark's), with 2 jobs. Prints one JSON line per fit, then a Markdown table:
mean +- standard deviation over seeds, min and max, the peers' single runs, and the slowest fit.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
BENCH = HERE.parent / "../shared/bench"
DATASETS = (
    "breast_cancer,spam,credit_data,synthetic_200k,digits,vehicle,satellite,diabetes,diamonds"
)
PRIMARY = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}


def _module(name: str, path: Path):  # noqa: ANN202 - a loaded script
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fit_once(dataset: str, seed: int, budget: float) -> dict:
    """One fit with ``random_state=seed``, scored as run.py scores it."""
    import numpy as np

    import sweepml

    run = _module("bench_run", BENCH / "run.py")
    task, X_train, y_train, X_test, y_test, _ = run.load_split(str(BENCH / "data"), dataset)
    cls = sweepml.AutoRegressor if task == "regression" else sweepml.AutoClassifier
    model = cls(
        time_budget=budget,
        metric=PRIMARY[task],
        n_jobs=2,
        random_state=seed,
        show_progress=False,
    )
    start = time.monotonic()
    model.fit(X_train, y_train)
    fit_seconds = time.monotonic() - start
    proba = None if task == "regression" else model.predict_proba(X_test)
    n_classes = 0 if task == "regression" else int(np.max(y_train)) + 1
    scores = run.score(task, y_test, model.predict(X_test), proba, n_classes)
    return {
        "dataset": dataset,
        "task": task,
        "seed": seed,
        "fit_seconds": round(fit_seconds, 2),
        "evaluation": model.evaluation_,
        "ensemble": model.ensemble_evaluation_,
        "stacked": model.stacker_ is not None,
        "trials": int((model.leaderboard_["trial"] >= 0).sum()),
        **scores,
    }


def table(records: list[dict], budget: float) -> list[str]:
    bench_table = _module("bench_table", HERE / "bench_table.py")
    _, peers = bench_table.read_peers(BENCH / "PEERS.md")
    lines = [
        "| dataset | metric | sweepml mean +- sd | min | max | LightGBM | AutoGluon "
        "| slowest fit (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    limit = budget * 1.05 + 5
    for dataset in DATASETS.split(","):
        rows = [r for r in records if r["dataset"] == dataset]
        if not rows:
            continue
        metric = PRIMARY[rows[0]["task"]]
        values = [r[metric] for r in rows]
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        peer = peers.get(dataset, {}).get("values", {})

        def cell(tool: str, peer: dict = peer) -> str:
            value = peer.get(tool)
            return f"{value[0]:.4g}" if value else "-"

        slowest = max(r["fit_seconds"] for r in rows)
        lines.append(
            f"| {dataset} | {metric} | {statistics.mean(values):.4g} +- {sd:.2g} "
            f"| {min(values):.4g} | {max(values):.4g} | {cell('lightgbm')} | {cell('autogluon')} "
            f"| {slowest:.1f}{'' if slowest <= limit else ' OVER'} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--datasets", default=DATASETS)
    parser.add_argument("--out", default=str(HERE / "out" / "seeds.jsonl"))
    parser.add_argument("--table-only", action="store_true", help="summarize --out, run nothing")
    parser.add_argument("--worker", nargs=2, metavar=("DATASET", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(fit_once(args.worker[0], int(args.worker[1]), args.budget)))
        return
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not args.table_only:
        for dataset in args.datasets.split(","):
            for seed in args.seeds:
                done = subprocess.run(
                    [sys.executable, __file__, "--worker", dataset, str(seed),
                     "--budget", str(args.budget)],
                    capture_output=True,
                    text=True,
                )  # fmt: skip
                if done.returncode != 0:
                    print(f"{dataset} seed {seed} failed:\n{done.stderr[-2000:]}", flush=True)
                    continue
                line = done.stdout.strip().splitlines()[-1]
                print(line, flush=True)
                with out.open("a") as file:
                    file.write(line + "\n")
    records = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    print("\n".join(table(records, args.budget)))


if __name__ == "__main__":
    main()
