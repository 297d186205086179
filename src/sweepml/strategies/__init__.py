"""Search strategies on the ask/tell protocol, available by name or as objects."""

from sweepml.strategies.base import (
    Outcome,
    Strategy,
    Suggestion,
    make_strategy,
    register_strategy,
    strategy_names,
)
from sweepml.strategies.evolution import RegularizedEvolution
from sweepml.strategies.grid import GridSearch
from sweepml.strategies.halving import SuccessiveHalving
from sweepml.strategies.portfolio import Warmstart
from sweepml.strategies.random import RandomSearch
from sweepml.strategies.tpe import CMAES, TPE

__all__ = [
    "CMAES",
    "TPE",
    "Warmstart",
    "GridSearch",
    "Outcome",
    "RandomSearch",
    "RegularizedEvolution",
    "SuccessiveHalving",
    "Strategy",
    "Suggestion",
    "make_strategy",
    "register_strategy",
    "strategy_names",
]
