"""Random vs regularized evolution vs REINFORCE controller vs PNAS at equal numbers of trained
architectures: the seed's NAS-vs-random and PNAS-vs-NAS comparisons at our scale.

Every strategy searches the same PNAS cell space (3 blocks, 8 operations; the network stacks the
cell as normal and reduction cell, N = 1, F = 8 filters) on MNIST-1D made by its generator
(4,000 training signals split 3,200 / 800 for training and validation, standardized, as 1 x 40
images). Each architecture is trained for 2 epochs (AdamW, cosine schedule, batch 128) from the
same seed, one CPU thread per process. PNAS (beam 33) trains 33 one-block, 33 two-block and 33
three-block cells, then refines full cells; the others search 3-block cells only. The figure of
merit is the mean of the top-5 validation accuracies among the trained architectures, over
seeds.

Run:
    python benchmarks/nas_strategies.py --seeds 3 --trials 100 --jobs 2   # ~25 min on 2 cores
    python benchmarks/nas_strategies.py --table-only                      # table + plot again
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
STRATEGIES = ("random", "evolution", "reinforce", "pnas")
BLOCKS, FILTERS, EPOCHS, BATCH = 3, 8, 2, 128

_DATA: dict[str, object] = {}


def _data():
    if not _DATA:
        import torch

        from sweepml.nas.data import load_mnist1d
        from sweepml.nas.train import ImageData

        split = load_mnist1d()
        x = (split.x_train - split.x_train.mean()) / split.x_train.std()
        x_t = torch.tensor(x[:, None])  # N x 1 x 1 x 40
        y_t = torch.tensor(split.y_train)
        _DATA["data"] = ImageData(x_t[:3200], y_t[:3200], x_t[3200:], y_t[3200:])
    return _DATA["data"]


def objective(config: dict) -> dict:
    from sweepml.nas.build import build
    from sweepml.nas.train import train

    fit = train(build(config, (1, 1, 40), 10, seed=0, filters=FILTERS), _data(),
                epochs=EPOCHS, batch_size=BATCH)  # fmt: skip
    return fit.as_metrics()


def _strategy(name: str):
    from sweepml.nas.pnas import PNAS

    return PNAS(beam=33) if name == "pnas" else name


def run_one(job: tuple[str, int, int]) -> dict:
    import torch

    import sweepml
    from sweepml.nas.pnas import cell_blocks
    from sweepml.nas.spaces import pnas_space

    name, seed, trials = job
    torch.set_num_threads(1)
    started = time.perf_counter()
    study = sweepml.maximize(objective, pnas_space(BLOCKS), strategy=_strategy(name), seed=seed,
                             n_trials=trials, executor="serial", show_progress=False)  # fmt: skip
    values = [t.value for t in study.trials if t.value is not None]
    return {
        "strategy": name,
        "seed": seed,
        "values": values,
        "blocks": [cell_blocks(t.config) for t in study.trials if t.value is not None],
        "failed": sum(t.value is None for t in study.trials),
        "seconds": time.perf_counter() - started,
    }


def top_k_curve(values: list[float], k: int = 5) -> np.ndarray:
    """Mean of the k best values among the first n trained, for n = k .. len(values)."""
    return np.array([np.mean(sorted(values[:n])[-k:]) for n in range(k, len(values) + 1)])


def table(runs: list[dict]) -> str:
    lines = [
        "| strategy | top-5 mean val acc (mean ± sd over seeds) | best | mean of all trained "
        "| top-5 after 50 | seconds per run |",
        "|---|---|---|---|---|---|",
    ]
    for name in STRATEGIES:
        mine = [r for r in runs if r["strategy"] == name]
        if not mine:
            continue
        top5 = [np.mean(sorted(r["values"])[-5:]) for r in mine]
        half = [np.mean(sorted(r["values"][:50])[-5:]) for r in mine]
        lines.append(
            f"| {name} | {np.mean(top5):.4f} ± {np.std(top5):.4f} "
            f"| {np.mean([max(r['values']) for r in mine]):.4f} "
            f"| {np.mean([np.mean(r['values']) for r in mine]):.4f} "
            f"| {np.mean(half):.4f} | {np.mean([r['seconds'] for r in mine]):.0f} |"
        )
    return "\n".join(lines)


def plot(runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name in STRATEGIES:
        curves = [top_k_curve(r["values"]) for r in runs if r["strategy"] == name]
        if not curves:
            continue
        n = min(len(c) for c in curves)
        mean = np.mean([c[:n] for c in curves], axis=0)
        ax.plot(np.arange(5, 5 + n), mean, label=name)
    ax.set_xlabel("architectures trained")
    ax.set_ylabel("mean of top-5 validation accuracy")
    ax.set_title("MNIST-1D, PNAS cell space (B=3), 2 epochs each")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    parser.add_argument("--table-only", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / "nas_strategies.jsonl")
    args = parser.parse_args()
    if not args.table_only:
        jobs = [(name, seed, args.trials) for seed in range(args.seeds) for name in args.strategies]
        args.out.unlink(missing_ok=True)
        with multiprocessing.get_context("forkserver").Pool(args.jobs) as pool:
            for run in pool.imap_unordered(run_one, jobs):
                with args.out.open("a") as handle:
                    handle.write(json.dumps(run) + "\n")
                print(f"{run['strategy']:>10} seed {run['seed']}: top-5 "
                      f"{np.mean(sorted(run['values'])[-5:]):.4f} in {run['seconds']:.0f} s",
                      flush=True)  # fmt: skip
    runs = [json.loads(line) for line in args.out.read_text().splitlines()]
    print(table(runs))
    plot(runs, args.out.with_suffix(".png"))


if __name__ == "__main__":
    main()
