"""What Linux's /proc says about processes (start times, process trees) and about the CPUs
(how many are idle).

Used to tell a live process from a recycled pid (a pid plus its start time names one process for
the life of a boot) and to find every process a trial started, wherever it moved (its own
session, a double fork). Elsewhere than Linux every function answers "unknown" (None or empty).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time

__all__ = [
    "become_subreaper",
    "children",
    "descendants",
    "idle_cpus",
    "kill_processes",
    "kill_tree",
    "process_start",
]

_PR_SET_CHILD_SUBREAPER = 36


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii") as file:
            return file.read()
    except (OSError, UnicodeDecodeError):
        return ""


def process_start(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks after boot), or None if there is no such
    process (or this is not Linux)."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return None
    try:  # the command name (field 2) may hold spaces and parentheses: split after the last ')'
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] == "Z":  # a zombie has ended; only its exit status is left to collect
            return None
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (all its threads')."""
    found: list[int] = []
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in threads:
        found += [int(p) for p in _read(f"/proc/{pid}/task/{tid}/children").split()]
    return found


def descendants(pid: int) -> dict[int, int]:
    """Every live process below ``pid``, as pid -> start time."""
    found: dict[int, int] = {}
    todo = children(pid)
    while todo:
        child = todo.pop()
        start = process_start(child)
        if child in found or start is None:
            continue
        found[child] = start
        todo += children(child)
    return found


def kill_processes(processes: dict[int, int], sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to each process that is still the one recorded (same pid, same start)."""
    for pid, start in processes.items():
        if process_start(pid) == start:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)


def kill_tree(root: int, recorded: dict[int, int] | None = None) -> dict[int, int]:
    """SIGKILL every process below ``root`` and the ``recorded`` ones; returns what it killed.

    Processes are stopped as they are found, so none can fork a new one between the walk and
    the kill; the walk repeats until it finds nothing new.
    """
    seen: dict[int, int] = dict(recorded or {})
    kill_processes(seen, signal.SIGSTOP)
    for _ in range(20):
        new = {pid: start for pid, start in descendants(root).items() if pid not in seen}
        for pid in seen:  # children of recorded processes that left root's tree
            new.update({p: s for p, s in descendants(pid).items() if p not in seen})
        if not new:
            break
        kill_processes(new, signal.SIGSTOP)
        seen.update(new)
    kill_processes(seen, signal.SIGKILL)
    return seen


def become_subreaper() -> bool:
    """Linux: orphans among this process's descendants become its children (not init's), so
    they stay in its tree and can be found and ended."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _cpu_times() -> tuple[int, int, int] | None:
    """(idle ticks, all ticks, number of CPUs) from /proc/stat, or None."""
    lines = _read("/proc/stat").splitlines()
    if not lines or not lines[0].startswith("cpu "):
        return None
    try:
        ticks = [int(x) for x in lines[0].split()[1:9]]  # user .. steal
    except ValueError:
        return None
    n_cpus = sum(1 for line in lines[1:] if line.startswith("cpu"))
    return ticks[3] + ticks[4], sum(ticks), n_cpus  # idle + iowait


def idle_cpus(window: float = 0.2) -> float | None:
    """How many CPUs were idle, on average, over the next ``window`` seconds (None where
    /proc/stat is not there to say)."""
    before = _cpu_times()
    if before is None:
        return None
    time.sleep(window)
    after = _cpu_times()
    if after is None or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1]) * after[2]
