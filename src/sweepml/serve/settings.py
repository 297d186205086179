"""What one ``sweepml serve`` worker is told: the model file and the limits, and how the
settings travel to the workers of ``--workers N`` (an environment variable). Apart from the
application, so the process that supervises the workers imports neither the model's libraries
nor the web framework's."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

__all__ = [
    "SETTINGS_VARIABLE",
    "ServeSettings",
    "settings_environment",
    "settings_from_environment",
]

SETTINGS_VARIABLE = "SWEEPML_SERVE_SETTINGS"  # how `--workers N` hands the settings to workers


@dataclass(frozen=True)
class ServeSettings:
    """What a worker needs: the model file, the request limits, the most rows one model call
    takes from requests that arrive together (1: each request alone), the threads one model
    call may use, and whether a tabular model's members are predicted through their compiled
    form (``sweepml.tabular.compiled``: the same numbers, checked at load).

    One thread by default: a saved model keeps the threads of its refit (every CPU that was idle
    then), and a one-row call only waits for the others. On 2 cores a LightGBM pipeline answered
    one row in 9.7 ms (p50, before members were compiled) with one thread against 11.4-12.7 ms
    with two, at the same 1,000-row throughput (``benchmarks/RESULTS.md``); a server scales by
    ``--workers``."""

    model: str
    max_rows: int = 100_000
    max_body_mb: float = 32.0
    timeout: float = 60.0
    max_batch_rows: int = 1_000
    threads: int = 1
    compiled: bool = True

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)


def settings_environment(settings: ServeSettings) -> dict[str, str]:
    """The environment that hands ``settings`` to the workers."""
    return {SETTINGS_VARIABLE: json.dumps(asdict(settings))}


def settings_from_environment() -> ServeSettings:
    """A worker's settings, as ``settings_environment`` handed them over."""
    return ServeSettings(**json.loads(os.environ[SETTINGS_VARIABLE]))
