"""Standard toy objectives with known optima, as sweepml objectives (config dict -> float)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from sweepml.space import Float, Space

__all__ = [
    "BRANIN_OPTIMUM",
    "HARTMANN6_OPTIMUM",
    "branin",
    "branin_space",
    "hartmann6",
    "hartmann6_space",
    "sphere",
]

BRANIN_OPTIMUM = 0.397887
HARTMANN6_OPTIMUM = -3.32237


def branin(config: Mapping[str, Any]) -> float:
    """Branin-Hoo on x1 in [-5, 10], x2 in [0, 15]; minimum 0.397887 at three points."""
    x1, x2 = config["x1"], config["x2"]
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10


def branin_space() -> Space:
    return Space({"x1": Float(-5, 10), "x2": Float(0, 15)})


_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(config: Mapping[str, Any]) -> float:
    """Hartmann-6 on [0, 1]^6 (keys x1..x6); minimum -3.32237."""
    x = np.array([config[f"x{i}"] for i in range(1, 7)])
    return float(-np.sum(_H6_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


def hartmann6_space() -> Space:
    return Space({f"x{i}": Float(0, 1) for i in range(1, 7)})


def sphere(config: Mapping[str, Any]) -> float:
    """Sum of squares of every numeric entry; minimum 0 at the origin."""
    return float(sum(v * v for v in config.values() if isinstance(v, int | float)))


def slow_sphere(config: Mapping[str, Any]) -> float:
    """``sphere`` after sleeping ``config["sleep"]`` seconds (default 0.3): a trial that is
    still running when a test kills its worker."""
    import time

    time.sleep(float(config.get("sleep", 0.3)))
    return sphere({k: v for k, v in config.items() if k != "sleep"})
