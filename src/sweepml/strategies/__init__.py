"""Search strategies on the ask/tell protocol, available by name or as objects."""

from sweepml.strategies.asha import ASHA
from sweepml.strategies.base import (
    Outcome,
    Strategy,
    Suggestion,
    make_strategy,
    register_strategy,
    strategy_names,
)
from sweepml.strategies.bohb import BOHB, FidelityTPE
from sweepml.strategies.evolution import RegularizedEvolution
from sweepml.strategies.grid import GridSearch
from sweepml.strategies.hyperband import Hyperband, SuccessiveHalving
from sweepml.strategies.portfolio import Warmstart
from sweepml.strategies.random import RandomSearch
from sweepml.strategies.tpe import CMAES, TPE

__all__ = [
    "ASHA",
    "BOHB",
    "FidelityTPE",
    "Hyperband",
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
