"""Trial containment by cgroup (Linux): a trial and every process it starts stay in one cgroup.

A process group misses what a trial starts in a new session, and a process tree loses what is
orphaned when the trial crashes (the kernel hands it to init). A cgroup does neither: membership
passes to every descendant, however detached, and the kernel kills the whole group in one write
(``cgroup.kill``, cgroup v2 on Linux >= 5.14) or freezes it so that it can be killed without a
fork racing the kill (the v1 ``freezer``, or v2's ``cgroup.freeze``).

It is used where this process may create cgroups below its own (root, or a delegated subtree as
systemd gives user services), on a cgroup2 hierarchy or else the v1 freezer one; elsewhere the
local executor falls back to the process group and the processes it saw (``local.py``). The
executor's cgroups live in ``sweepml-<pid>-<token>`` below the driver's own cgroup; empty ones
left by a driver that was killed are removed by the next one.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import time
from pathlib import Path

from sweepml._procfs import process_start

__all__ = ["CgroupParent", "TrialCgroup", "available", "join"]

_PREFIX = "sweepml-"


def _mounts() -> dict[str, Path]:
    """Mount points: "2" for the cgroup2 hierarchy, "freezer" for the v1 freezer one."""
    found: dict[str, Path] = {}
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        before, _, after = line.partition(" - ")
        fields, rest = before.split(), after.split()
        if len(fields) < 5 or len(rest) < 3:
            continue
        if rest[0] == "cgroup2":
            found.setdefault("2", Path(fields[4]))
        elif rest[0] == "cgroup" and "freezer" in rest[2].split(","):
            found.setdefault("freezer", Path(fields[4]))
    return found


def _own_paths() -> dict[str, str]:
    """This process's cgroup in each hierarchy ("2" for cgroup2, else by controller)."""
    found: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        number, controllers, path = line.split(":", 2)
        if number == "0" and controllers == "":
            found["2"] = path
        for controller in controllers.split(","):
            if controller:
                found[controller] = path
    return found


class TrialCgroup:
    """The cgroup of one trial."""

    def __init__(self, path: Path, version: int) -> None:
        self.path, self.version = path, version

    @property
    def procs(self) -> str:
        """The file a trial process writes its pid to, to join (``join``)."""
        return str(self.path / "cgroup.procs")

    def _members(self) -> list[int]:
        try:
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def kill(self) -> None:
        """SIGKILL every process in the cgroup."""
        if self.version == 2 and (self.path / "cgroup.kill").exists():
            with contextlib.suppress(OSError):
                (self.path / "cgroup.kill").write_text("1")
            return
        state, frozen, thawed = (
            ("cgroup.freeze", "1", "0") if self.version == 2 else
            ("freezer.state", "FROZEN", "THAWED")
        )  # fmt: skip
        with contextlib.suppress(OSError):
            (self.path / state).write_text(frozen)
        for pid in self._members():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            (self.path / state).write_text(thawed)  # killed processes die once thawed

    def remove(self, wait: float = 1.0) -> bool:
        """Delete the cgroup once its processes have exited (up to ``wait`` s)."""
        until = time.monotonic() + wait
        pause = 0.0005
        while True:
            try:
                self.path.rmdir()
                return True
            except FileNotFoundError:
                return True
            except OSError:
                if time.monotonic() >= until:
                    return False
                if self._members():
                    self.kill()  # a straggler forked before the kill reached it
                time.sleep(pause)
                pause = min(pause * 2, 0.02)


def join(procs: str) -> bool:
    """In a trial process: move this process into its cgroup (before it starts anything)."""
    try:
        with open(procs, "w") as file:
            file.write(str(os.getpid()))
    except OSError:
        return False
    return True


class CgroupParent:
    """The folder of one executor's trial cgroups."""

    def __init__(self, path: Path, version: int) -> None:
        self.path, self.version = path, version
        self._pending: list[TrialCgroup] = []  # not yet removable (processes still exiting)

    @classmethod
    def find(cls) -> CgroupParent | None:
        """A new folder below this process's cgroup, or None where none can be made."""
        mounts, own = _mounts(), _own_paths()
        for key, version in (("2", 2), ("freezer", 1)):
            if key not in mounts or key not in own:
                continue
            base = mounts[key] / own[key].lstrip("/")
            _remove_stale(base)
            path = base / f"{_PREFIX}{os.getpid()}-{secrets.token_hex(3)}"
            try:
                path.mkdir()
            except OSError:
                continue
            return cls(path, version)
        return None

    def trial(self, number: int) -> TrialCgroup | None:
        path = self.path / f"trial-{number}-{secrets.token_hex(2)}"
        try:
            path.mkdir()
        except OSError:
            return None
        return TrialCgroup(path, self.version)

    def release(self, cgroup: TrialCgroup) -> None:
        """Kill what is left in a trial's cgroup and delete it (later, if it is still busy)."""
        cgroup.kill()
        if not cgroup.remove(wait=0.2):
            self._pending.append(cgroup)

    def close(self) -> None:
        for cgroup in self._pending:
            cgroup.kill()
            cgroup.remove()
        self._pending.clear()
        with contextlib.suppress(OSError):
            self.path.rmdir()


def available() -> bool:
    """Whether trials here get cgroups (this process may create cgroups below its own)."""
    parent = CgroupParent.find()
    if parent is None:
        return False
    parent.close()
    return True


def _remove_stale(base: Path) -> None:
    """Delete the empty cgroups of executors whose driver process is gone."""
    try:
        entries = list(base.iterdir())
    except OSError:
        return
    for entry in entries:
        match = re.fullmatch(rf"{_PREFIX}(\d+)-[0-9a-f]+", entry.name)
        if match is None or process_start(int(match.group(1))) is not None:
            continue
        for child in list(entry.iterdir()) if entry.is_dir() else []:
            if child.is_dir():
                with contextlib.suppress(OSError):
                    child.rmdir()
        with contextlib.suppress(OSError):
            entry.rmdir()
