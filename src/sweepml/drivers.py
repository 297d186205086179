"""Drivers: the processes that run a search, and how they tell a dead one from a busy one.

Several drivers may run one study (on one machine through SQLite, on many through PostgreSQL).
Each beats a heartbeat into the storage while its search runs, and says so when the search ends.
A trial left RUNNING is taken over (marked INTERRUPTED and run again) only when the driver running
it is dead:

- its search has ended (it said so; or, in this very process, it is no longer running: a search
  that stopped on a storage error may not have been able to say so);
- on the same machine (same boot and process namespace), the kernel says so at once: the pid is
  gone, or now belongs to a process that started at another time;
- on another machine, its heartbeat is older than ``LEASE_SECONDS`` (60 s); on this one, older
  than ``LOCAL_LEASE_SECONDS`` (10 min: the process lives on after its search stopped without
  saying so, a notebook kernel say). Beats come every ``HEARTBEAT_SECONDS`` (5 s) from the search
  loop, or from a thread when trials run inside the driver (the serial executor), so a long trial
  does not make its driver look dead. A driver on another machine whose loop stalls for over a
  minute (a strategy's ask that long) is taken for dead and its trials run again: duplicated
  work, never a lost result, since a finished trial is never overwritten.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable

from sweepml._procfs import process_start
from sweepml.storage.base import DriverInfo, DriverStatus

__all__ = [
    "HEARTBEAT_SECONDS",
    "LEASE_SECONDS",
    "LOCAL_LEASE_SECONDS",
    "Heartbeat",
    "ended_here",
    "is_alive",
    "running_here",
    "this_driver",
]

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
#: a driver on another machine silent this long is taken for dead (12 missed beats)
LEASE_SECONDS = 60.0
#: on this machine the kernel vouches for the process; silence this long means its search
#: stopped without saying so (a storage error) while the process lives on (a notebook kernel)
LOCAL_LEASE_SECONDS = 600.0


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii") as file:
            return file.read().strip()
    except OSError:
        return ""


def _machine() -> str:
    """Names this kernel boot and pid namespace; pids are comparable only within one."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    if not boot:  # not Linux: the host name is the best we have
        return f"host:{socket.gethostname()}"
    return f"{boot}/{namespace}"


def this_driver() -> DriverInfo:
    """A fresh identity for the search starting in this process."""
    pid = os.getpid()
    host = socket.gethostname()
    return DriverInfo(
        id=f"{host}:{pid}:{secrets.token_hex(4)}",
        host=host,
        machine=_machine(),
        pid=pid,
        pid_start=process_start(pid),
        started_at=time.time(),
    )


#: ids of the drivers whose search is running in this process right now
_RUNNING_HERE: set[str] = set()


def running_here(driver: DriverInfo) -> None:
    """Note that ``driver``'s search runs in this process (until ``ended_here``)."""
    _RUNNING_HERE.add(driver.id)


def ended_here(driver: DriverInfo) -> None:
    _RUNNING_HERE.discard(driver.id)


def is_alive(status: DriverStatus, me: DriverInfo, *, lease: float = LEASE_SECONDS) -> bool:
    """Whether the driver in ``status`` may still be running its trials."""
    other = status.driver
    if other.id == me.id:
        return True
    if status.ended:
        return False
    if other.machine == me.machine:
        if other.pid == me.pid and other.pid_start == me.pid_start:  # this very process
            return other.id in _RUNNING_HERE
        return _process_lives(other) and status.idle < max(lease, LOCAL_LEASE_SECONDS)
    return status.idle < lease


def _process_lives(driver: DriverInfo) -> bool:
    if driver.pid_start is not None:
        return process_start(driver.pid) == driver.pid_start
    try:  # no start times (not Linux): a pid that exists is taken as alive
        os.kill(driver.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Heartbeat:
    """Records this driver alive every ``interval`` seconds through ``beat`` (the storage's).

    The search loop calls ``tick`` on each turn, which beats when one is due. When trials run
    inside the driver (the serial executor) a turn can last as long as a trial, so ``start`` beats
    from a daemon thread instead; the thread is not used otherwise, because the local executor
    forks trial processes and a fork beside a running thread can inherit a lock mid-use.

    ``latest`` holds the drivers the study has seen, as of the last beat. A failing beat is
    logged, not raised: a storage that stays broken shows up in the loop's own writes.
    """

    def __init__(
        self, beat: Callable[[], list[DriverStatus]], *, interval: float = HEARTBEAT_SECONDS
    ) -> None:
        self._beat = beat
        self.interval = interval
        self.latest: list[DriverStatus] = beat()
        self._last = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> None:
        """Beat if the last beat is ``interval`` seconds old (and no thread beats)."""
        if self._thread is None and time.monotonic() - self._last >= self.interval:
            self._safe_beat()

    def beat_now(self) -> None:
        """Beat at once (to hear of a driver that started since the last beat)."""
        self._safe_beat()

    def _safe_beat(self) -> None:
        self._last = time.monotonic()
        try:
            self.latest = self._beat()
        except Exception as exc:  # noqa: BLE001 - reported, and retried next interval
            logger.warning("Heartbeat failed: %s", exc)

    def start(self) -> None:
        """Beat from a daemon thread from now on."""
        self._thread = threading.Thread(target=self._run, name="sweepml-heartbeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._safe_beat()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
