"""Architecture search and final training on Fashion-MNIST on one GPU, in under 10 minutes.

``ImageClassifier`` searches PNAS cells (3 blocks) with ``--strategy`` (``pnas``: every child
trained on its own for ``--epochs``; ``enas``, ``darts``, ``random_ws``: one weight-sharing
supernet trained for ``--epochs``, ``--trials`` then being the children re-scored at the end) on
a sample of the training images (``--search-size``, 20% of it held out for validation), then
trains the best cell network from scratch on all 60,000 training images for
``--final-epochs``, with AMP and channels_last on CUDA. It prints the search's best validation
accuracy, the test accuracy on the 10,000 test images (Auto-Keras published 91.84%) and the
final training's throughput in images per second (training steps only, evaluation excluded).
The search stops launching trials after ``--search-seconds``, which keeps the whole run inside
the limit.

Data: ``python benchmarks/make_fashion_npz.py`` writes benchmarks/data/fashion_mnist.npz (about
30 MiB, made, never committed); carry that file to the GPU machine.

Run:
    python benchmarks/gpu_nas.py                           # CUDA when present, else the CPU
    python benchmarks/gpu_nas.py --strategy enas --epochs 10 --trials 50
    python benchmarks/gpu_nas.py --quick --device cpu      # a 1-minute smoke run on a CPU
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=HERE / "data" / "fashion_mnist.npz")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--strategy", default="pnas",
                        choices=["pnas", "enas", "darts", "random_ws"])  # fmt: skip
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--search-size", type=int, default=20000)
    parser.add_argument("--search-seconds", type=float, default=300)
    parser.add_argument("--final-epochs", type=int, default=30)
    parser.add_argument("--filters", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny settings for a smoke run")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    if args.quick:
        args.trials, args.epochs, args.search_size, args.final_epochs = 3, 1, 1000, 1
        args.filters, args.search_seconds = 8, 60

    import torch

    from sweepml.nas.image import ImageClassifier

    if not args.data.is_file():
        raise SystemExit(f"{args.data} is missing: run python benchmarks/make_fashion_npz.py")
    data = np.load(args.data)
    x_train, y_train = data["x_train"], data["y_train"].astype(np.int64)
    x_test, y_test = data["x_test"], data["y_test"].astype(np.int64)
    if args.quick:
        x_train, y_train = x_train[:2000], y_train[:2000]
    model = ImageClassifier(
        max_trials=args.trials, time_budget=args.search_seconds, space="pnas",
        strategy="random" if args.strategy == "random_ws" else args.strategy,
        weight_sharing=args.strategy == "random_ws",
        epochs=args.epochs, final_epochs=args.final_epochs, search_size=args.search_size,
        filters=args.filters, batch_size=args.batch_size, seed=args.seed, device=args.device,
    )  # fmt: skip
    device = model.device
    name = torch.cuda.get_device_name(0) if device.startswith("cuda") else "CPU"
    print(f"device: {device} ({name}), torch {torch.__version__}", flush=True)
    started = time.perf_counter()
    model.fit(x_train, y_train)
    total = time.perf_counter() - started
    search = total - model.fit_.seconds  # everything before the final training
    test = model.evaluate(x_test, y_test)
    figures = {
        "device": name,
        "strategy": args.strategy,
        "trials": len(model.study_.trials),
        "search_seconds": round(search, 1),
        "search_best_val_accuracy": round(model.search_accuracy_, 4),
        "best_config": model.best_config_,
        "parameters": model.fit_.parameters,
        "final_epochs": model.fit_.epochs,
        "final_seconds": round(model.fit_.seconds, 1),
        "final_images_per_second": round(model.fit_.images_per_second),
        "test_accuracy": round(test["accuracy"], 4),
        "total_seconds": round(total, 1),
    }
    print(json.dumps(figures, indent=2))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
