"""Write Fashion-MNIST as one compressed npz (about 30 MiB) for runs on another machine.

Reads Debian's ``dataset-fashion-mnist`` (installs it with apt-get when missing and running as
root) and writes ``benchmarks/data/fashion_mnist.npz`` with uint8 ``x_train`` (60000 x 28 x 28),
``y_train``, ``x_test`` (10000 x 28 x 28), ``y_test``. The file is made, never committed.

Run:
    python benchmarks/make_fashion_npz.py
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np

from sweepml.nas.data import FASHION_MNIST_DIR, load_fashion_mnist

OUT = Path(__file__).resolve().parent / "data" / "fashion_mnist.npz"


def main() -> None:
    if not FASHION_MNIST_DIR.is_dir() and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", "dataset-fashion-mnist"], check=True,
                       env=env)  # fmt: skip
    split = load_fashion_mnist()
    OUT.parent.mkdir(exist_ok=True)
    np.savez_compressed(
        OUT,
        x_train=np.round(split.x_train * 255).astype(np.uint8),
        y_train=split.y_train.astype(np.uint8),
        x_test=np.round(split.x_test * 255).astype(np.uint8),
        y_test=split.y_test.astype(np.uint8),
    )
    print(f"wrote {OUT} ({OUT.stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
