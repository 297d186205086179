"""ENAS (Pham et al. 2018): the REINFORCE controller searching children that share weights.

``ENAS`` is the ``reinforce`` controller with ENAS's settings, for a ``SharedWeights``
objective: each trial is one sampled child, rewarded with its validation-batch accuracy under
the shared weights, which then train one batch along that child, so training of the shared
weights and of the controller alternate batch by batch and the children that train the weights
are the controller's samples. ENAS alternates whole phases (an epoch of weights, then a few
hundred controller steps) with about as many controller samples as weight batches per epoch;
alternating per batch keeps that ratio and lets a study's record, budgets and resume cover the
whole search.

Run it with ``sweepml.maximize(SharedWeights(data, space), space, strategy="enas", ...)``, then
``shared.derive(study)`` and train the derived child from scratch (``ImageClassifier`` does all
three).
"""

from __future__ import annotations

from typing import ClassVar

from sweepml.nas.controller import Reinforce
from sweepml.strategies.base import register_strategy

__all__ = ["ENAS"]


@register_strategy("enas")
class ENAS(Reinforce):
    """The LSTM REINFORCE controller for weight-sharing searches.

    Args:
        hidden: LSTM units (ENAS: 100; 64 is ample for our spaces).
        learning_rate: Adam's step size (ENAS: 3.5e-4 over ~150,000 samples; ours see
            thousands).
        entropy_weight, baseline_decay: ENAS's exploration bonus and its slow baseline (0.99:
            a child's reward is one noisy validation batch).
        temperature, tanh_constant: ENAS's logit squashing.

    Example:
        >>> ENAS()  # doctest: +ELLIPSIS
        ENAS(hidden=64, learning_rate=0.001, ...)
    """

    needs_shared_weights: ClassVar[bool] = True

    def __init__(
        self,
        *,
        hidden: int = 64,
        learning_rate: float = 1e-3,
        entropy_weight: float = 0.01,
        baseline_decay: float = 0.99,
        temperature: float = 5.0,
        tanh_constant: float | None = 2.5,
    ) -> None:
        super().__init__(hidden=hidden, learning_rate=learning_rate, entropy_weight=entropy_weight,
                         baseline_decay=baseline_decay, temperature=temperature,
                         tanh_constant=tanh_constant)  # fmt: skip
