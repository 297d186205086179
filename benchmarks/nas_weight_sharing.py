"""What weight sharing buys at our scale: search seconds to find an architecture of a given
validation accuracy, ENAS, DARTS and random search with weight sharing (Li & Talwalkar 2019)
against the strategies that train every child (``nas_strategies.py``'s runs).

Same task as ``nas_strategies.py``: MNIST-1D from its generator (3,200 / 800 signals as 1 x 40
images), the PNAS cell space (3 blocks, 8 operations), N = 1, F = 8, batch 128, AdamW, one CPU
thread per process, two processes at once. The weight-sharing searches train one supernet
(ENAS and random WS: one child per batch, 100 epochs = 2,500 steps; DARTS: 20 epochs, each step
running every operation). At milestones the search's current answer is derived (ENAS/random:
the best of the last 50 children re-scored on the validation split under the shared weights;
DARTS: the discretized cell) and then trained on its own for 2 epochs exactly as every trial of
``nas_strategies.py`` is: that standalone validation accuracy is what the table compares. Search
seconds count the supernet training and the derivation, not that measuring retrain.

For the strategies that train every child, the seconds to reach an accuracy are the number of
children trained until the first one reaches it, times that run's mean seconds per child.

Run:
    python benchmarks/nas_weight_sharing.py --seeds 3 --jobs 2      # ~25 min on 2 cores
    python benchmarks/nas_weight_sharing.py --table-only
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FILTERS, BATCH, EPOCHS, BLOCKS = 8, 128, 2, 3
SHARED_EPOCHS, SHARED_MILESTONES = 100, (10, 25, 50, 100)
DARTS_EPOCHS, DARTS_MILESTONES = 20, (5, 10, 20)
THRESHOLDS = (0.75, 0.80, 0.85, 0.88)
METHODS = ("enas", "random_ws", "darts")


def _data():
    import torch

    from sweepml.nas.data import load_mnist1d
    from sweepml.nas.train import ImageData

    split = load_mnist1d()
    x = (split.x_train - split.x_train.mean()) / split.x_train.std()
    x_t = torch.tensor(x[:, None])
    y_t = torch.tensor(split.y_train)
    return ImageData(x_t[:3200], y_t[:3200], x_t[3200:], y_t[3200:])


def standalone(config: dict, data) -> float:
    """The derived architecture trained on its own, as every nas_strategies.py trial is."""
    from sweepml.nas.build import build
    from sweepml.nas.train import train

    return train(build(config, (1, 1, 40), 10, seed=0, filters=FILTERS), data, epochs=EPOCHS,
                 batch_size=BATCH).val_accuracy  # fmt: skip


def run_one(job: tuple[str, int]) -> dict:
    import torch

    import sweepml
    from sweepml.callbacks import SearchCallback
    from sweepml.nas import SharedWeights, darts_search
    from sweepml.nas.spaces import pnas_space

    method, seed = job
    torch.set_num_threads(1)
    data = _data()
    space = pnas_space(BLOCKS)
    points = []  # (supernet epochs, search seconds, derived config, shared-weight accuracy)
    started = time.perf_counter()
    if method == "darts":
        study = darts_search(data, space, epochs=DARTS_EPOCHS, filters=FILTERS, batch_size=BATCH,
                             seed=seed, device="cpu")  # fmt: skip
        total = 0.0
        for trial in study.trials:
            total += trial.metrics["seconds"]
            epoch = trial.info["epoch"] + 1
            if epoch in DARTS_MILESTONES or trial is study.trials[-1]:
                points.append((epoch, total, dict(trial.config), trial.value))
        skips = [t.metrics["skips"] for t in study.trials]
    else:
        steps_per_epoch = -(-len(data.x_train) // BATCH)
        total_steps = SHARED_EPOCHS * steps_per_epoch
        shared = SharedWeights(data, space, filters=FILTERS, batch_size=BATCH, seed=seed,
                               device="cpu", total_steps=total_steps)  # fmt: skip
        milestones = {e * steps_per_epoch: e for e in SHARED_MILESTONES}

        class Milestones(SearchCallback):
            def on_trial_end(self, study, record) -> None:
                if shared.step in milestones:
                    config, accuracy = shared.derive(study, candidates=50)
                    points.append((milestones[shared.step], time.perf_counter() - started,
                                   config, accuracy))  # fmt: skip

        sweepml.maximize(shared, space, strategy="enas" if method == "enas" else "random",
                         n_trials=SHARED_EPOCHS * steps_per_epoch, seed=seed, executor="serial",
                         callbacks=[Milestones()], show_progress=False)  # fmt: skip
        skips = []
    search_seconds = time.perf_counter() - started
    results = [
        {"epochs": e, "seconds": s, "config": c, "shared_accuracy": a,
         "standalone_accuracy": standalone(c, data)}
        for e, s, c, a in points
    ]  # fmt: skip
    return {"method": method, "seed": seed, "points": results, "seconds": search_seconds,
            "skips": skips}  # fmt: skip


def _reach_seconds(run: dict, threshold: float) -> float | None:
    """Seconds a run needed until its answer first reached ``threshold``."""
    if "points" in run:
        hits = [p["seconds"] for p in run["points"] if p["standalone_accuracy"] >= threshold]
        return min(hits) if hits else None
    per_child = run["seconds"] / len(run["values"])
    for i, value in enumerate(run["values"]):
        if value >= threshold:
            return (i + 1) * per_child
    return None


def table(shared_runs: list[dict], trained_runs: list[dict]) -> str:
    lines = [
        "| method | seeds | search s (total) | final answer's standalone val acc | "
        + " | ".join(f"s to reach {t:.2f} (median; reached/seeds)" for t in THRESHOLDS)
        + " |",
        "|---|---|---|---|" + "---|" * len(THRESHOLDS),
    ]
    groups = [(m, [r for r in shared_runs if r["method"] == m]) for m in METHODS]
    groups += [(s, [r for r in trained_runs if r["strategy"] == s])
               for s in ("random", "evolution", "reinforce", "pnas")]  # fmt: skip
    for name, runs in groups:
        if not runs:
            continue
        if "points" in runs[0]:
            final = [r["points"][-1]["standalone_accuracy"] for r in runs]
            label = {"random_ws": "random + weight sharing"}.get(name, name)
        else:
            final = [max(r["values"]) for r in runs]
            label = f"{name} (trains each child; best of {len(runs[0]['values'])})"
        cells = []
        for threshold in THRESHOLDS:
            reached = [s for r in runs if (s := _reach_seconds(r, threshold)) is not None]
            cells.append(f"{np.median(reached):.0f} ({len(reached)}/{len(runs)})" if reached
                         else f"- (0/{len(runs)})")  # fmt: skip
        lines.append(
            f"| {label} | {len(runs)} | {np.mean([r['seconds'] for r in runs]):.0f} "
            f"| {np.mean(final):.4f} ± {np.std(final):.4f} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


def milestones_table(shared_runs: list[dict]) -> str:
    lines = ["| method | supernet epochs | search s (mean) | shared-weight val acc | "
             "standalone val acc (mean over seeds) |", "|---|---|---|---|---|"]  # fmt: skip
    for method in METHODS:
        runs = [r for r in shared_runs if r["method"] == method]
        if not runs:
            continue
        for i, point in enumerate(runs[0]["points"]):
            mine = [r["points"][i] for r in runs if len(r["points"]) > i]
            lines.append(
                f"| {method} | {point['epochs']} | {np.mean([p['seconds'] for p in mine]):.0f} "
                f"| {np.mean([p['shared_accuracy'] for p in mine]):.4f} "
                f"| {np.mean([p['standalone_accuracy'] for p in mine]):.4f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--table-only", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / "nas_weight_sharing.jsonl")
    parser.add_argument("--trained", type=Path, default=HERE / "nas_strategies.jsonl")
    args = parser.parse_args()
    if not args.table_only:
        jobs = [(method, seed) for method in args.methods for seed in range(args.seeds)]
        args.out.unlink(missing_ok=True)
        with multiprocessing.get_context("forkserver").Pool(args.jobs) as pool:
            for run in pool.imap_unordered(run_one, jobs):
                with args.out.open("a") as handle:
                    handle.write(json.dumps(run) + "\n")
                final = run["points"][-1]
                print(f"{run['method']:>10} seed {run['seed']}: standalone "
                      f"{final['standalone_accuracy']:.4f} after {run['seconds']:.0f} s",
                      flush=True)  # fmt: skip
    shared_runs = [json.loads(line) for line in args.out.read_text().splitlines()]
    trained_runs = [json.loads(line) for line in args.trained.read_text().splitlines()]
    print(table(shared_runs, trained_runs))
    print()
    print(milestones_table(shared_runs))


if __name__ == "__main__":
    main()
