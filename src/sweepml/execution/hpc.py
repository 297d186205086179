"""Searches on HPC batch systems: Dask workers as SLURM or PBS jobs (dask-jobqueue), and a guard
that stops a search before its own allocation ends, so that the next job resumes it cleanly.

The driver runs where the batch commands work (a login node, or inside a job); dask-jobqueue
submits worker jobs that connect back to it. Pass the cluster to ``minimize(cluster=...)``
through a client: ``minimize(..., cluster=distributed.Client(batch_cluster("slurm", ...)))``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sweepml.callbacks import SearchCallback
from sweepml.exceptions import InvalidParameterError, SweepmlError

if TYPE_CHECKING:
    from sweepml.study import Study

__all__ = [
    "SYSTEMS",
    "WalltimeGuard",
    "WorkerJob",
    "batch_cluster",
    "job_script",
    "parse_walltime",
]

#: batch system -> (dask-jobqueue class name, the command that submits a job)
SYSTEMS = {"slurm": ("SLURMCluster", "sbatch"), "pbs": ("PBSCluster", "qsub")}


def _cluster_class(system: str) -> tuple[Any, str]:
    if system not in SYSTEMS:
        raise InvalidParameterError(
            f"The batch system must be one of {sorted(SYSTEMS)}; got {system!r}."
        )
    ctrl_c = signal.getsignal(signal.SIGINT)
    try:
        import dask_jobqueue
    except ImportError:
        raise InvalidParameterError(
            "Batch-system clusters need dask-jobqueue: pip install 'sweepml[hpc]'."
        ) from None
    finally:
        # importing dask_jobqueue makes Ctrl-C call sys.exit() (its runner module does it for
        # its own processes): the user's Ctrl-C must stay a KeyboardInterrupt that stops the
        # search and keeps finished trials
        if threading.current_thread() is threading.main_thread() and ctrl_c is not None:
            signal.signal(signal.SIGINT, ctrl_c)
    class_name, command = SYSTEMS[system]
    return getattr(dask_jobqueue, class_name), command


@dataclass(frozen=True)
class WorkerJob:
    """One batch job of Dask workers: ``cores`` single-threaded workers (one trial per core),
    its memory, walltime and where it runs (``queue``, ``account``, extra ``job_extra``
    directives such as ``--gres=gpu:1``, the workers' ``python``)."""

    cores: int
    memory: str
    walltime: str
    queue: str | None = None
    account: str | None = None
    job_extra: tuple[str, ...] = ()
    python: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "job_extra", tuple(self.job_extra or ()))
        parse_walltime(self.walltime)  # the same check for every batch system


def _make(system: str, job: WorkerJob) -> Any:
    cls, _ = _cluster_class(system)
    options: dict[str, Any] = {
        "cores": job.cores,
        "processes": job.cores,
        "memory": job.memory,
        "walltime": job.walltime,
        "queue": job.queue,
        "account": job.account,
        "job_extra_directives": list(job.job_extra),
        "scheduler_options": {"dashboard_address": ":0"},
    }
    if job.python:
        options["python"] = job.python
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):  # our retry policy
        return cls(**options)


def job_script(system: str, **job: Any) -> str:
    """The batch script one worker job would run, without submitting anything; ``job`` holds
    the fields of ``WorkerJob``.

    Example:
        >>> script = job_script("slurm", cores=8, memory="16GB", walltime="02:00")  # doctest: +SKIP
    """
    cluster = _make(system, WorkerJob(**job))
    try:
        return str(cluster.job_script())
    finally:
        cluster.close()


def batch_cluster(system: str, *, jobs: int, **job: Any) -> Any:
    """A dask-jobqueue cluster of ``jobs`` batch jobs described by ``job`` (``WorkerJob``'s
    fields: cores, memory, walltime, queue, account, job_extra, python).

    Raises a clear error when the batch system's submit command (``sbatch``, ``qsub``) is not on
    this machine (dask-jobqueue would only log the failed submission and wait for workers that
    never come).

    Example:
        >>> cluster = batch_cluster("slurm", jobs=4, cores=32, memory="64GB",
        ...                         walltime="04:00:00", queue="compute")  # doctest: +SKIP
        >>> sweepml.minimize(objective, space, n_trials=2000,
        ...                  cluster=distributed.Client(cluster))  # doctest: +SKIP
    """
    spec = WorkerJob(**job)
    _, command = _cluster_class(system)
    if shutil.which(command) is None:
        raise SweepmlError(
            f"'{command}' is not on this machine's PATH, so no {system.upper()} job can be "
            f"submitted. Run the search on a login node of the cluster (or inside a job), or use "
            f"job_script() to see what would be submitted."
        )
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise InvalidParameterError(f"The 'jobs' parameter must be an int >= 1; got {jobs!r}.")
    cluster = _make(system, spec)
    cluster.scale(jobs=jobs)
    return cluster


def parse_walltime(text: str) -> float:
    """Seconds in a batch walltime: ``HH:MM:SS``, ``MM:SS``, ``D-HH:MM:SS`` or plain seconds.

    Example:
        >>> parse_walltime("1-02:00:00")
        93600.0
    """
    if not re.fullmatch(r"(\d+-)?\d+(:\d+){0,2}", str(text).strip()):
        raise InvalidParameterError(
            f"A walltime must look like HH:MM:SS, D-HH:MM:SS, MM:SS or seconds; got {text!r}."
        )
    days, _, clock = str(text).strip().rpartition("-")
    seconds = 0
    for part in clock.split(":"):  # [s], [m, s] or [h, m, s]
        seconds = seconds * 60 + int(part)
    return float(seconds + int(days or 0) * 86400)


class WalltimeGuard(SearchCallback):
    """Stop a search ``margin`` seconds before its batch allocation ends.

    Trials still running then are recorded INTERRUPTED and run again first when the next job
    resumes the study (same command, same storage), so nothing is lost. The end comes from
    ``end_time`` (epoch seconds), from ``walltime`` counted from now, or from the environment
    (``SLURM_JOB_END_TIME``, set by SLURM inside a job).

    Example:
        >>> guard = WalltimeGuard(walltime="04:00:00", margin=600)
        >>> sweepml.minimize(objective, space, storage="s.db", n_trials=10_000,
        ...                  callbacks=[guard])  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        walltime: str | None = None,
        end_time: float | None = None,
        margin: float = 300.0,
    ) -> None:
        if end_time is None and walltime is not None:
            end_time = time.time() + parse_walltime(walltime)
        if end_time is None and os.environ.get("SLURM_JOB_END_TIME", "").isdigit():
            end_time = float(os.environ["SLURM_JOB_END_TIME"])
        if end_time is None:
            raise InvalidParameterError(
                "WalltimeGuard needs walltime= or end_time=, or to run inside a SLURM job "
                "(SLURM_JOB_END_TIME)."
            )
        if margin < 0:
            raise InvalidParameterError(f"WalltimeGuard's margin must be >= 0; got {margin!r}.")
        self.end_time, self.margin = float(end_time), float(margin)

    @property
    def seconds_left(self) -> float:
        return self.end_time - time.time()

    def should_stop(self, study: Study) -> bool:
        return self.seconds_left <= self.margin
