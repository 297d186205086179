"""Local worker processes: one fresh process per trial, supervised by the driver.

Why one process per trial and not a pool: a pool worker killed by a segfault or the OOM killer
breaks its neighbours' futures (and ProcessPoolExecutor then refuses all work); a fresh process per
trial costs ~11 ms with fork and isolates every trial. The driver enforces the limits:

- wall clock: the trial runs in its own session and process group, so on timeout SIGTERM, a short
  grace, then SIGKILL reach whatever it spawned too;
- memory: ``RLIMIT_AS`` in the child (what it had at start + ``memory_mb``) turns a runaway
  allocation into a MemoryError, and the driver watches the child's RSS as a backstop;
- the child asks the kernel to SIGKILL it if the driver dies, so no orphan runs on after a crash.
"""

from __future__ import annotations

import contextlib
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

from sweepml.execution.base import Executor
from sweepml.objective import ObjectiveRunner, TrialResult, TrialTask
from sweepml.trial import TrialStatus

__all__ = ["LocalExecutor"]

_GRACE_SECONDS = 0.5
_WATCH_PERIOD = 0.2  # seconds between RSS checks when a memory limit is set
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


def _child_main(
    runner: ObjectiveRunner, task: TrialTask, conn: Connection, parent_pid: int | None
) -> None:
    os.setsid()
    _die_with_parent()  # with forkserver the parent is the server, which dies with the driver
    if parent_pid is not None and os.getppid() != parent_pid:  # the driver died before the
        os._exit(1)  # death signal was armed
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
    send(("done", result))
    conn.close()


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

    def start(self, runner: ObjectiveRunner) -> None:
        self._runner = runner

    @property
    def n_running(self) -> int:
        return len(self._running)

    def submit(self, task: TrialTask) -> None:
        assert self._runner is not None, "start() must be called before submit()"
        receive, send = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(
            target=_child_main,
            args=(
                self._runner,
                task,
                send,
                os.getpid() if self.start_method != "forkserver" else None,
            ),
            name=f"sweepml-trial-{task.number}",
            daemon=False,
        )
        process.start()
        send.close()
        baseline = _proc_status_kib(os.getpid(), "VmRSS") or 0
        self._running[task.number] = _Running(task, process, receive, time.monotonic(), baseline)

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
        """Remove a trial from the running set and build its result."""
        run = self._running.pop(number)
        self._drain(run)
        if status is not None:
            _kill_group(run.process)
        run.process.join(timeout=5)
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
        """Seconds until a limit must be checked again (a trial's deadline, or the watchdog)."""
        pauses = [
            run.started + run.task.timeout - now
            for run in self._running.values()
            if run.task.timeout is not None
        ]
        if any(run.task.memory_mb is not None for run in self._running.values()):
            pauses.append(_WATCH_PERIOD)
        return min(pauses) if pauses else None

    def _collect(self) -> list[TrialResult]:
        results: list[TrialResult] = []
        now = time.monotonic()
        for number, run in list(self._running.items()):
            self._drain(run)
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


def _kill_group(process: BaseProcess) -> None:
    """SIGTERM the trial's process group, wait a short grace, then SIGKILL it."""
    pid = process.pid
    if pid is None:
        return
    for sig, grace in ((signal.SIGTERM, _GRACE_SECONDS), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            try:  # not yet its own group leader (killed right after start)
                os.kill(pid, sig)
            except ProcessLookupError:
                return
        process.join(timeout=grace)
        if not process.is_alive():
            # the group may still hold children the trial spawned
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            return


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
