"""Ensemble selection (Caruana et al. 2004): greedily add, with replacement, the model whose
validation predictions most improve the averaged ensemble's metric."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sweepml.tabular.metrics import Metric

__all__ = ["ensemble_selection"]


def ensemble_selection(
    predictions: Sequence[np.ndarray], y: np.ndarray, metric: Metric, *, size: int = 25
) -> np.ndarray:
    """Weights (summing to 1) over ``predictions`` from ``size`` greedy rounds with replacement.

    Rounds stop early once adding any model makes the ensemble worse, so a single strong model
    keeps weight 1.
    """
    counts = np.zeros(len(predictions))
    current: np.ndarray | None = None
    best_loss = np.inf
    for step in range(size):
        losses = [
            metric.loss(y, p if current is None else (current * step + p) / (step + 1))
            for p in predictions
        ]
        choice = int(np.argmin(losses))
        if losses[choice] > best_loss:
            break
        best_loss = losses[choice]
        counts[choice] += 1
        p = predictions[choice]
        current = p.copy() if current is None else (current * step + p) / (step + 1)
    return counts / counts.sum()
