"""Conformance suites and toy objectives for testing strategies, storages and executors.

A third-party plug-in reuses a suite by subclassing it in its own tests::

    class TestMyStrategy(StrategyConformance):
        def make_strategy(self):
            return MyStrategy()
"""

from sweepml.testing.conformance import StorageConformance, StrategyConformance
from sweepml.testing.objectives import branin, hartmann6, sphere

__all__ = ["StorageConformance", "StrategyConformance", "branin", "hartmann6", "sphere"]
