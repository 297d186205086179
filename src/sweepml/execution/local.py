"""Local worker processes: one fresh process per trial, supervised by the driver.

Why one process per trial and not a pool: a pool worker killed by a segfault or the OOM killer
breaks its neighbours' futures (and ProcessPoolExecutor then refuses all work); a fresh process per
trial costs ~11 ms with fork and isolates every trial. The driver enforces the limits:

- wall clock: the trial runs in its own session and process group, so on timeout SIGTERM, a short
  grace, then SIGKILL reach whatever it spawned too;
- memory: ``RLIMIT_AS`` in the child (what it had at start + ``memory_mb``) turns a runaway
  allocation into a MemoryError, and the driver watches the child's RSS as a backstop;
- the child asks the kernel to SIGKILL it if the driver dies, so no orphan runs on after a crash;
  under forkserver, whose server outlives a killed driver while trials run, the trial watches the
  driver's pid and ends its process group within ``_POLL_SECONDS`` of the driver's death.

A trial leaves nothing behind. It is a child subreaper (Linux), so a process it starts stays in its
tree even after a double fork or ``setsid``; when the objective returns, the trial stops and kills
that whole tree before it sends its result. When the driver ends a trial (timeout, memory,
cancel) it kills the tree below it, the process group, and every descendant it saw while the
trial ran (for one that crashed, whose orphans the kernel hands to init). A process the trial
forked may hold the result pipe and the exit sentinel open; the driver never waits on them
alone: it reads results without blocking, notices a dead trial by ``waitpid`` within
``_POLL_SECONDS``, and every wait is bounded by the nearest deadline.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from sweepml._main_guard import defined_in_main, hidden_main, refuse_unguarded
from sweepml._procfs import become_subreaper, children, descendants, kill_processes, kill_tree
from sweepml.exceptions import InvalidParameterError
from sweepml.execution._cgroups import CgroupParent, TrialCgroup
from sweepml.execution._cgroups import join as join_cgroup
from sweepml.execution.base import Executor
from sweepml.objective import ObjectiveRunner, TrialResult, TrialTask
from sweepml.trial import TrialStatus

__all__ = ["LocalExecutor"]

logger = logging.getLogger(__name__)

_GRACE_SECONDS = 0.5
_WATCH_PERIOD = 0.2  # seconds between RSS checks when a memory limit is set
_POLL_SECONDS = 0.5  # at most this long between looks at a trial whose sentinel stays silent
_EXIT_SECONDS = 2.0  # a trial that sent its result, or got SIGKILL, exits within this
_MIB = 1024 * 1024


def _proc_status_kib(pid: int | str, field_name: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _die_with_parent() -> None:
    """Linux: have the kernel SIGKILL this process when its parent (the driver) exits."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return


def _watch_driver(driver_pid: int) -> None:
    """In a trial whose parent is not the driver (forkserver): end the trial's whole process
    group once the driver is gone. The death signal ties the trial to the fork server, and the
    server outlives a killed driver for as long as its trials run (measured: 30-40 s after a
    kill -9 of a tabular fit), so without this a trial would run on, unsupervised."""
    while True:
        time.sleep(_POLL_SECONDS)
        try:
            os.kill(driver_pid, 0)
        except (ProcessLookupError, PermissionError):  # gone (or its pid reused by another user)
            os.killpg(0, signal.SIGKILL)  # this trial's session: itself and what it started


def _child_main(
    runner: ObjectiveRunner,
    task: TrialTask,
    conn: Connection,
    parent_pid: int | None,
    cgroup_procs: str | None,
    driver_pid: int | None = None,
) -> None:
    if cgroup_procs is not None:  # first: everything this trial starts will be in it too
        join_cgroup(cgroup_procs)
    os.setsid()
    _die_with_parent()  # with fork the parent is the driver; with forkserver, the server
    if parent_pid is not None and os.getppid() != parent_pid:  # the driver died before the
        os._exit(1)  # death signal was armed
    if parent_pid is None and driver_pid is not None:
        import threading

        threading.Thread(target=_watch_driver, args=(driver_pid,), daemon=True).start()
    become_subreaper()
    if task.memory_mb is not None:
        import resource

        size_kib = _proc_status_kib("self", "VmSize") or 0
        limit = size_kib * 1024 + int(task.memory_mb * _MIB)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    def send(message: tuple[Any, ...]) -> None:
        try:
            conn.send(message)
        except (BrokenPipeError, ConnectionResetError):  # the driver stopped listening: it
            os._exit(0)  # cancelled this trial (end of the budget) and kills it anyway

    def report(step: int, value: float) -> None:
        send(("report", step, value))

    result = runner(task, report)
    _end_descendants()
    for stream in (sys.stdout, sys.stderr):  # what the objective printed is not lost when the
        with contextlib.suppress(Exception):  # driver ends this process after the result
            stream.flush()
    send(("done", result))
    conn.close()


def _end_descendants() -> None:
    """In a trial: kill every process the objective started and collect their exit statuses."""
    me = os.getpid()
    if not children(me):
        return
    kill_tree(me)
    until = time.monotonic() + 2.0
    while time.monotonic() < until:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.001)


@dataclass
class _Running:
    task: TrialTask
    process: BaseProcess
    conn: Connection
    started: float
    baseline_rss_kib: int
    curve: list[tuple[int, float]] = field(default_factory=list)
    result: TrialResult | None = None
    broken_pipe: str | None = None
    #: every process seen below the trial while it ran (pid -> start time)
    seen: dict[int, int] = field(default_factory=dict)
    cgroup: TrialCgroup | None = None


class LocalExecutor(Executor):
    """Trials in worker processes on this machine, ``n_workers`` at a time.

    Args:
        n_workers: trials that run at once.
        preload: modules the forkserver imports once for all trials (forkserver only).
        start_method: ``fork`` (default where available: fast, and objectives defined in
            ``__main__`` or as closures work) or ``forkserver``/``spawn`` (the objective must then
            be picklable). Prefer ``forkserver`` when the driver itself runs OpenMP code (LightGBM,
            HistGradientBoosting): GNU OpenMP is not fork-safe, and a forked trial that uses it
            after the driver did can hang.
    """

    name = "local"
    enforces_limits = True

    def __init__(
        self,
        n_workers: int = 1,
        *,
        start_method: str | None = None,
        preload: Sequence[str] = (),
    ) -> None:
        super().__init__(n_workers)
        methods = multiprocessing.get_all_start_methods()
        self.start_method = start_method or ("fork" if "fork" in methods else "spawn")
        self._ctx: Any = multiprocessing.get_context(self.start_method)
        if preload and self.start_method == "forkserver":
            # the server imports these once, so trials forked from it do not import them again
            self._ctx.set_forkserver_preload(list(preload))
        self._running: dict[int, _Running] = {}
        self._runner: ObjectiveRunner | None = None
        self._hide_main = False
        self._cgroups: CgroupParent | None = None  # where trial cgroups go, if cgroups can be used

    def start(self, runner: ObjectiveRunner) -> None:
        self._runner = runner
        if self._cgroups is None:
            self._cgroups = CgroupParent.find()
        # spawn and forkserver workers import the main script again; they need not when the
        # objective lives elsewhere, and must not when the script is unguarded (_main_guard.py)
        self._hide_main = False
        if self.start_method != "fork":
            self._hide_main = not defined_in_main(runner.objective)
            if not self._hide_main:
                refuse_unguarded(f"executor='local' with start_method={self.start_method!r}")
            _check_picklable(runner, self.start_method)

    @property
    def n_running(self) -> int:
        return len(self._running)

    def submit(self, task: TrialTask) -> None:
        assert self._runner is not None, "start() must be called before submit()"
        receive, send = self._ctx.Pipe(duplex=False)
        cgroup = None if self._cgroups is None else self._cgroups.trial(task.number)
        process = self._ctx.Process(
            target=_child_main,
            args=(
                self._runner,
                task,
                send,
                os.getpid() if self.start_method != "forkserver" else None,
                None if cgroup is None else cgroup.procs,
                os.getpid(),
            ),
            name=f"sweepml-trial-{task.number}",
            daemon=False,
        )
        with hidden_main() if self._hide_main else contextlib.nullcontext():
            process.start()
        send.close()
        baseline = _proc_status_kib(os.getpid(), "VmRSS") or 0
        self._running[task.number] = _Running(
            task, process, receive, time.monotonic(), baseline, cgroup=cgroup
        )

    # -- collecting results -------------------------------------------------------------------
    def _drain(self, run: _Running) -> None:
        """Read every message the trial has sent so far."""
        try:
            while run.result is None and run.conn.poll():
                message: Any = run.conn.recv()
                if message[0] == "report":
                    run.curve.append((message[1], message[2]))
                else:
                    run.result = message[1]
        except (EOFError, OSError) as exc:  # closed, or the child died mid-message
            run.broken_pipe = run.broken_pipe or repr(exc)

    def _reap(self, number: int, status: TrialStatus | None = None, error: str = "") -> TrialResult:
        """Remove a trial from the running set, end its processes and build its result."""
        run = self._running.pop(number)
        self._drain(run)
        if status is not None:  # the driver ends it: timeout, memory, cancel
            _end_trial(run, graceful=True)
        elif run.result is None or not _exited(run.process, _EXIT_SECONDS):
            _end_trial(run, graceful=False)  # it died on its own, or hangs after its result
        if run.cgroup is not None and self._cgroups is not None:
            self._cgroups.release(run.cgroup)  # whatever escaped the tree and the group
        run.conn.close()
        if status is None and run.result is not None:
            return run.result
        if status is None:
            status, error = TrialStatus.CRASHED, _death_message(run.process.exitcode)
        return TrialResult(number, status, intermediate=tuple(run.curve), error=error)

    def wait(self, timeout: float | None) -> list[TrialResult]:
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            results = self._collect()
            now = time.monotonic()
            if results or not self._running or (end is not None and now >= end):
                return results
            pause = self._next_check(now)
            if end is not None:
                pause = min(pause, end - now) if pause is not None else end - now
            handles: list[Any] = []
            for run in self._running.values():
                handles += [run.conn, run.process.sentinel]
            wait(handles, timeout=None if pause is None else max(pause, 0.0))

    def _next_check(self, now: float) -> float | None:
        """Seconds until a trial must be looked at again: its deadline, the memory watchdog, or
        the poll that notices a dead trial whose sentinel a forked process still holds."""
        pauses = [
            run.started + run.task.timeout - now
            for run in self._running.values()
            if run.task.timeout is not None
        ]
        if any(run.task.memory_mb is not None for run in self._running.values()):
            pauses.append(_WATCH_PERIOD)
        if self._running:
            pauses.append(_POLL_SECONDS)
        return min(pauses) if pauses else None

    def _collect(self) -> list[TrialResult]:
        results: list[TrialResult] = []
        now = time.monotonic()
        for number, run in list(self._running.items()):
            self._drain(run)
            if run.result is None and run.process.pid is not None:
                run.seen.update(descendants(run.process.pid))
            if run.result is not None or not run.process.is_alive():
                results.append(self._reap(number))
            elif run.task.timeout is not None and now - run.started > run.task.timeout:
                results.append(
                    self._reap(
                        number,
                        TrialStatus.TIMEOUT,
                        f"Killed after exceeding trial_timeout={run.task.timeout:g} s.",
                    )
                )
            elif run.task.memory_mb is not None and self._over_memory(run):
                results.append(
                    self._reap(
                        number,
                        TrialStatus.MEMOUT,
                        f"Killed for using more than trial_memory_mb={run.task.memory_mb:g} MiB "
                        f"of resident memory.",
                    )
                )
        return results

    @staticmethod
    def _over_memory(run: _Running) -> bool:
        rss = _proc_status_kib(run.process.pid or 0, "VmRSS")
        assert run.task.memory_mb is not None
        return rss is not None and rss - run.baseline_rss_kib > run.task.memory_mb * 1024

    def cancel(self, reason: str) -> list[TrialResult]:
        results = []
        for number, run in list(self._running.items()):
            self._drain(run)
            if run.result is not None:
                results.append(self._reap(number))
            else:
                results.append(self._reap(number, TrialStatus.INTERRUPTED, reason))
        return results

    def shutdown(self) -> None:
        super().shutdown()
        if self._cgroups is not None:
            self._cgroups.close()
            self._cgroups = None


def _check_picklable(runner: ObjectiveRunner, start_method: str) -> None:
    """spawn and forkserver send the objective to each trial process pickled: say so clearly
    before the first trial, not with a PicklingError from deep inside multiprocessing."""
    import pickle

    try:
        pickle.dumps(runner)
    except Exception as exc:  # noqa: BLE001 - pickling fails in many ways; all mean the same
        name = getattr(runner.objective, "__qualname__", repr(runner.objective))
        raise InvalidParameterError(
            f"With start_method={start_method!r} each trial process receives the objective "
            f"pickled, and {name!r} cannot be pickled ({type(exc).__name__}: {exc}). Define it "
            f"with def at the top level of a module, or use the 'fork' start method (the "
            f"default on Linux), which needs no pickling."
        ) from None


def _exited(process: BaseProcess, timeout: float) -> bool:
    """Wait up to ``timeout`` s for ``process`` to exit, by ``waitpid`` (its sentinel may be held
    open by a process it forked)."""
    until = time.monotonic() + timeout
    pause = 0.0005
    while process.is_alive():
        if time.monotonic() >= until:
            return False
        time.sleep(pause)
        pause = min(pause * 2, 0.02)
    return True


def _end_trial(run: _Running, *, graceful: bool) -> None:
    """End a trial's process and everything it started.

    ``graceful``: SIGTERM first and a short grace to clean up, then SIGKILL. The trial's own
    process is killed last, so that while the tree is walked the orphans it adopted (it is a
    subreaper) are still below it.
    """
    pid = run.process.pid
    if pid is None:
        return
    run.seen.update(descendants(pid))
    if graceful and run.process.is_alive():
        _signal_group(pid, signal.SIGTERM)
        kill_processes(run.seen, signal.SIGTERM)
        _exited(run.process, _GRACE_SECONDS)
    kill_tree(pid, run.seen)  # dead or not: its orphans moved to init, the seen ones are known
    _signal_group(pid, signal.SIGKILL)  # the group outlives its leader
    if not _exited(run.process, _EXIT_SECONDS):
        logger.warning("Trial process %d did not exit after SIGKILL.", pid)


def _signal_group(pid: int, sig: int) -> None:
    """Signal the trial's process group (it leads one: setsid), or the process alone if it has
    not called setsid yet."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _death_message(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"The trial's worker process died from {name} (exit code {exitcode})."
    return (
        f"The trial's worker process exited with code {exitcode} before returning a result "
        f"(os._exit, or a crash in native code)."
    )
