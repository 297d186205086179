"""Trials on a Dask cluster: the driver keeps the strategy and the storage, workers run trials.

Each Dask task runs one trial (or a small batch of cheap ones) and returns its results; they
stream back to the driver as they finish. Per-trial limits hold on the cluster too: with a
``trial_timeout`` or ``trial_memory_mb``, the task runs the trial under the same supervisor as the
local executor (a fresh child process of the worker, killed at its deadline). Without limits the
trial runs in the worker's own thread, which costs nothing extra.

Faults are ours to judge, not Dask's: a worker that dies mid-trial surfaces at once as
``KilledWorker`` when the scheduler allows no retries (``distributed.scheduler.allowed-failures:
0``, set on a LocalCluster we start; set it on your scheduler too), and the trial is submitted
again up to ``max_retries`` times, then recorded LOST. A scheduler that goes away ends the search
with ``ClusterLost``; everything finished is in the storage and the same call resumes.

Dask is imported only here, and only when a Dask executor is created.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sweepml._main_guard import refuse_unguarded
from sweepml._validation import check_bool
from sweepml.exceptions import InvalidParameterError, SweepmlError
from sweepml.execution.base import Executor
from sweepml.objective import ObjectiveRunner, TrialResult, TrialTask
from sweepml.trial import TrialStatus

__all__ = ["ClusterLost", "DaskExecutor"]

logger = logging.getLogger(__name__)

_CONNECT_SECONDS = 5.0


class ClusterLost(SweepmlError):
    """The Dask scheduler went away mid-search; finished trials are saved, resume later."""


_RUNNERS: dict[str, ObjectiveRunner] = {}  # on a worker: unpickled runners by token


def run_batch(shipped: tuple[str, bytes], tasks: Sequence[TrialTask]) -> list[TrialResult]:
    """What a Dask task runs on a worker: its trials, one after the other.

    The objective travels as cloudpickle bytes (Dask would pickle it by reference whenever plain
    pickle can, so a module only the driver has would fail to load); each worker unpickles it
    once."""
    token, blob = shipped
    runner = _RUNNERS.get(token)
    if runner is None:
        import cloudpickle

        runner = _RUNNERS[token] = cloudpickle.loads(blob)
    return [_run_one(runner, task) for task in tasks]


def _run_one(runner: ObjectiveRunner, task: TrialTask) -> TrialResult:
    if task.timeout is None and task.memory_mb is None:
        return runner(task, lambda step, value: None)
    import multiprocessing

    from sweepml.execution.local import LocalExecutor

    # Dask's nanny starts workers as daemon processes, which multiprocessing forbids to have
    # children. The trial's child is tied to the worker anyway (it asks the kernel to kill it
    # when the worker dies), so it may be started as a child of this daemon.
    config = multiprocessing.current_process()._config  # type: ignore[attr-defined]
    was_daemon = config.get("daemon")
    config["daemon"] = False
    try:
        supervisor = LocalExecutor(1)
        supervisor.start(runner)
        supervisor.submit(task)
        while True:
            results = supervisor.wait(None)
            if results:
                return results[0]
    finally:
        config["daemon"] = was_daemon


def _import_probe(modules: Sequence[str]) -> Callable[[], dict[str, str]]:
    """A function for ``client.run`` that reports which modules a worker cannot import.

    It is built inside this function so that cloudpickle ships it by value: a worker without
    sweepml can still run it and say so."""

    def probe() -> dict[str, str]:
        import importlib

        missing = {}
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception as exc:  # any import failure is what we report
                missing[name] = f"{type(exc).__name__}: {exc}"
        return missing

    return probe


@dataclass
class _Batch:
    tasks: list[TrialTask]
    attempt: int = 0


class DaskExecutor(Executor):
    """Trials as Dask tasks on a cluster.

    Args:
        cluster: a scheduler address (``"tcp://host:8786"``), a ``distributed.Client``, or None
            for a ``LocalCluster`` of ``n_workers`` single-threaded worker processes.
        n_workers: workers of the LocalCluster (ignored with an address or a client: every
            worker thread of the cluster runs trials).
        batch_size: trials per Dask task; more than 1 amortizes Dask's per-task cost (tens of
            milliseconds) for trials that take milliseconds.
        max_retries: how many times a trial whose worker died is submitted again before it is
            recorded LOST.
        dashboard: for the LocalCluster started here: serve Dask's dashboard (on 127.0.0.1 and a
            free port, printed when the search starts). Off by default: it shows call stacks
            and logs to whoever reaches the port. The cluster itself listens on 127.0.0.1 only.

    Example:
        >>> sweepml.minimize(objective, space, n_trials=100, executor="dask",
        ...                  cluster="tcp://10.0.0.5:8786")  # doctest: +SKIP
    """

    name = "dask"
    enforces_limits = True

    def __init__(
        self,
        cluster: Any = None,
        *,
        n_workers: int = 1,
        batch_size: int = 1,
        max_retries: int = 2,
        dashboard: bool = False,
    ) -> None:
        super().__init__(n_workers)
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise InvalidParameterError(
                f"The 'batch_size' parameter of DaskExecutor must be an int >= 1; got "
                f"{batch_size!r}."
            )
        if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
            raise InvalidParameterError(
                f"The 'max_retries' parameter of DaskExecutor must be an int >= 0; got "
                f"{max_retries!r}."
            )
        self.cluster, self.batch_size, self.max_retries = cluster, batch_size, max_retries
        self.dashboard = check_bool("DaskExecutor", "dashboard", dashboard)
        self._local_workers = n_workers  # n_workers becomes the cluster's slots once started
        self._client: Any = None
        self._owned: list[Any] = []  # what we started and must close: client, LocalCluster
        self._runner_future: Any = None
        self._queued: list[TrialTask] = []
        self._futures: dict[Any, _Batch] = {}
        self.address = ""

    # -- connecting ---------------------------------------------------------------------------
    def start(self, runner: ObjectiveRunner) -> None:
        try:
            import distributed
        except ImportError:
            raise InvalidParameterError(
                "executor='dask' needs Dask: pip install 'sweepml[dask]'."
            ) from None
        import hashlib

        blob = _pickled(runner)
        self._client = self._connect(distributed)
        try:
            self.address = self._client.scheduler.address
            threads = sum(self._client.nthreads().values())
            if threads < 1:
                raise SweepmlError(f"The Dask cluster at {self.address} has no workers.")
            self.n_workers = threads * self.batch_size
            self._check_workers(runner)
            shipped = (hashlib.sha1(blob).hexdigest(), blob)
            self._runner_future = self._client.scatter(shipped, broadcast=True, hash=False)
        except BaseException:
            self.shutdown()  # close what we opened before the search could start
            raise
        logger.info("Dask cluster at %s: %d worker threads.", self.address, threads)

    def _connect(self, distributed: Any) -> Any:
        if isinstance(self.cluster, distributed.Client):
            return self.cluster
        import dask

        if self.cluster is None:
            # its workers are spawned, and import the main script again
            refuse_unguarded("executor='dask' with a local cluster")
            # Nothing reachable from another machine: scheduler, workers and their HTTP servers
            # on 127.0.0.1; and unless a dashboard is asked for, those servers answer no route
            # (Dask's /info pages show logs and call stacks to anyone who reaches the port).
            quiet: dict[str, object] = {} if self.dashboard else {
                "distributed.scheduler.http.routes": [],
                "distributed.worker.http.routes": [],
            }  # fmt: skip
            with dask.config.set({"distributed.scheduler.allowed-failures": 0, **quiet}):
                local = distributed.LocalCluster(
                    n_workers=self._local_workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address="127.0.0.1:0",  # a free port: never clash with another
                    scheduler_kwargs={"dashboard": self.dashboard},
                )
            self._owned.append(local)
            client = distributed.Client(local)
            self._owned.insert(0, client)
            if self.dashboard:
                sys.stderr.write(f"Dask dashboard: {client.dashboard_link}\n")
            return client
        if not isinstance(self.cluster, str):
            raise InvalidParameterError(
                f"The 'cluster' parameter must be a scheduler address like 'tcp://host:8786', a "
                f"distributed.Client, or None for a local cluster; got {self.cluster!r}."
            )
        started = time.monotonic()
        try:
            client = distributed.Client(self.cluster, timeout=f"{_CONNECT_SECONDS}s")
        except (OSError, TimeoutError) as exc:
            raise SweepmlError(
                f"Could not reach the Dask scheduler at {self.cluster!r} within "
                f"{time.monotonic() - started:.0f} s: {exc}. Check the address and that "
                f"'dask scheduler' is running there."
            ) from None
        self._owned.insert(0, client)
        return client

    def _check_workers(self, runner: ObjectiveRunner) -> None:
        """Every worker must import sweepml and the objective's module; name those that cannot."""
        modules = ["sweepml"]
        module = getattr(runner.objective, "__module__", None)
        if module and module != "__main__" and not _pickled_by_value(runner.objective):
            modules.append(module)
        answers = self._client.run(_import_probe(modules))
        broken = {worker: missing for worker, missing in answers.items() if missing}
        if broken:
            worker, missing = next(iter(sorted(broken.items())))
            name, error = next(iter(missing.items()))
            raise SweepmlError(
                f"Dask worker {worker} cannot import {name!r} ({error}); {len(broken)} of "
                f"{len(answers)} workers have this problem. Install sweepml (and the objective's "
                f"module) in the workers' environment, or define the objective in the script "
                f"that runs the search."
            )

    # -- running ------------------------------------------------------------------------------
    def submit(self, task: TrialTask) -> None:
        assert self._client is not None, "start() must be called before submit()"
        self._queued.append(task)

    def _flush(self) -> None:
        """Send what is queued, ``batch_size`` trials to a Dask task."""
        while self._queued:
            chunk, self._queued = self._queued[: self.batch_size], self._queued[self.batch_size :]
            self._send(_Batch(chunk))

    def _send(self, batch: _Batch) -> None:
        numbers = "-".join(str(t.number) for t in batch.tasks)
        future = self._client.submit(
            run_batch,
            self._runner_future,
            batch.tasks,
            key=f"sweepml-trials-{numbers}-{batch.attempt}-{id(self)}",
            pure=False,
            retries=0,
        )
        self._futures[future] = batch

    @property
    def n_running(self) -> int:
        return len(self._queued) + sum(len(b.tasks) for b in self._futures.values())

    def wait(self, timeout: float | None) -> list[TrialResult]:
        import distributed

        self._flush()
        if not self._futures:
            return []
        try:
            done, _ = distributed.wait(
                list(self._futures),
                timeout=None if timeout is None else max(timeout, 0.001),
                return_when="FIRST_COMPLETED",
            )
        except (TimeoutError, distributed.TimeoutError):
            done = set()
        except Exception as exc:  # futures cancelled under us: the scheduler connection is gone
            raise self._lost() from exc
        results: list[TrialResult] = []
        for future in done:
            results += self._harvest(future)
        return results

    def _harvest(self, future: Any) -> list[TrialResult]:
        import distributed

        batch = self._futures.pop(future)
        if future.status == "finished":
            return list(future.result())
        if future.status == "cancelled" or self._client.status not in ("running", "connecting"):
            self._futures[future] = batch  # still ours: cancel() records it INTERRUPTED
            raise self._lost()
        error = future.exception()
        if isinstance(error, distributed.KilledWorker):
            if batch.attempt < self.max_retries:
                logger.warning(
                    "A worker died running trials %s; submitting them again (%d/%d).",
                    [t.number for t in batch.tasks],
                    batch.attempt + 1,
                    self.max_retries,
                )
                self._send(_Batch(batch.tasks, batch.attempt + 1))
                return []
            reason = (
                f"The Dask worker running this trial died {batch.attempt + 1} times "
                f"(max_retries={self.max_retries}): {error}"
            )
            return [TrialResult(t.number, TrialStatus.LOST, error=reason) for t in batch.tasks]
        reason = f"The Dask task failed outside the objective: {type(error).__name__}: {error}"
        return [TrialResult(t.number, TrialStatus.FAILED, error=reason) for t in batch.tasks]

    def _lost(self) -> ClusterLost:
        return ClusterLost(
            f"Lost the Dask scheduler at {self.address}; finished trials are saved. Start the "
            f"cluster again and run the same search to resume."
        )

    def cancel(self, reason: str) -> list[TrialResult]:
        results = [
            TrialResult(t.number, TrialStatus.INTERRUPTED, error=reason) for t in self._queued
        ]
        self._queued = []
        for future, batch in list(self._futures.items()):
            del self._futures[future]
            if future.status == "finished":
                results += future.result()
                continue
            if self._client is not None and self._client.status == "running":
                future.cancel()
            results += [
                TrialResult(t.number, TrialStatus.INTERRUPTED, error=reason) for t in batch.tasks
            ]
        return results

    def shutdown(self) -> None:
        super().shutdown()
        lost = self._client is not None and self._client.status != "running"
        quiet = logging.getLogger("distributed")
        level = quiet.level
        if lost:  # closing a client whose scheduler is gone logs its reconnect loop's traceback
            quiet.setLevel(logging.CRITICAL)
        try:
            for owned in self._owned:
                try:
                    owned.close()
                except Exception:  # a scheduler that is already gone cannot be closed politely
                    logger.debug("Closing %r failed.", owned, exc_info=True)
        finally:
            quiet.setLevel(level)
        self._owned = []
        self._client = None


def _pickled(runner: ObjectiveRunner) -> bytes:
    import cloudpickle

    try:
        return cloudpickle.dumps(runner)
    except Exception as exc:
        raise InvalidParameterError(
            f"The objective cannot be pickled to send it to Dask workers ({type(exc).__name__}: "
            f"{exc}). Define it as a module-level function and open files, locks or connections "
            f"inside it rather than capturing them."
        ) from None


def _pickled_by_value(objective: Any) -> bool:
    """Whether cloudpickle ships ``objective`` itself (so workers need not import its module)."""
    import cloudpickle

    module = getattr(objective, "__module__", None)
    by_value = cloudpickle.list_registry_pickle_by_value()
    qualname = getattr(objective, "__qualname__", "")
    return module in by_value or "<locals>" in qualname or "<lambda>" in qualname
