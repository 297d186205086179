"""Executors run trials: in the driver (``serial``), in supervised worker processes (``local``,
one process per trial) or on a Dask cluster (``dask``, imported only when asked for)."""

from __future__ import annotations

from typing import Any

from sweepml.exceptions import InvalidParameterError
from sweepml.execution.base import Executor
from sweepml.execution.local import LocalExecutor
from sweepml.execution.serial import SerialExecutor

__all__ = ["EXECUTOR_NAMES", "Executor", "LocalExecutor", "SerialExecutor", "make_executor"]

EXECUTOR_NAMES = ("auto", "serial", "local", "dask")


def make_executor(
    spec: str | Executor,
    *,
    n_workers: int,
    needs_limits: bool,
    owner: str = "minimize",
    cluster: Any = None,
) -> Executor:
    """Resolve ``executor=`` of minimize: "auto" is Dask when a ``cluster`` is given, serial for
    one worker without per-trial limits (no overhead, easiest to debug), and local worker
    processes otherwise."""
    if cluster is not None and spec not in ("auto", "dask"):
        raise InvalidParameterError(
            f"The 'cluster' parameter of {owner} is for executor='dask'; got executor={spec!r}."
        )
    if spec == "dask" or (spec == "auto" and cluster is not None):
        from sweepml.execution.dask import DaskExecutor

        return DaskExecutor(cluster, n_workers=n_workers)
    if isinstance(spec, Executor):
        if needs_limits and not spec.enforces_limits:
            raise InvalidParameterError(
                f"The {type(spec).__name__} passed to {owner} cannot enforce trial_timeout or "
                f"trial_memory_mb; use executor='local'."
            )
        return spec
    if spec not in EXECUTOR_NAMES:
        raise InvalidParameterError(
            f"The 'executor' parameter of {owner} must be one of {list(EXECUTOR_NAMES)} or an "
            f"Executor; got {spec!r}."
        )
    if spec == "auto":
        spec = "local" if n_workers > 1 or needs_limits else "serial"
    if spec == "serial":
        if n_workers > 1:
            raise InvalidParameterError(
                f"executor='serial' runs one trial at a time, so the 'n_workers' parameter of "
                f"{owner} must be 1 with it; got {n_workers}. Use executor='local'."
            )
        if needs_limits:
            raise InvalidParameterError(
                f"executor='serial' runs trials inside the driver and cannot enforce "
                f"trial_timeout or trial_memory_mb ({owner}); use executor='local'."
            )
        return SerialExecutor()
    return LocalExecutor(n_workers)
