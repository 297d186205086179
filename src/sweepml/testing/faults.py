"""Fault injection for searches: several driver processes on one study, killed with SIGKILL at
random (seeded) moments and restarted, then an audit of the record.

Used by ``tests/faults`` and ``benchmarks/faults.py``; a storage plug-in can run it against its
own backend. The audit checks what "nothing lost" means:

- every trial that finished is there once, and unchanged since it was first seen finished;
- every evaluation the objective completed is recorded under its trial number, with the value
  it returned when that trial finished (else it is INTERRUPTED: its driver died first);
- no logical trial (a trial and its retries) finished twice, every INTERRUPTED trial was run
  again exactly once, nothing is left RUNNING, and together the drivers ran ``n_trials``.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sweepml.storage import open_storage
from sweepml.trial import TrialRecord, TrialStatus

__all__ = ["Audit", "DriverFleet", "audit"]

STUDY = "faults"

_DRIVER = """
import sys, time
import sweepml

storage, log, n_trials, pause, workers, strategy = sys.argv[1:7]

def objective(config, trial):
    time.sleep(float(pause))
    value = (config["x"] - 0.3) ** 2 + config["y"] ** 2
    with open(log, "a") as file:  # one write: lines of several processes never interleave
        file.write(f"{{trial.number}} {{value!r}}\\n")
    return value

if __name__ == "__main__":
    sweepml.minimize(objective, {{"x": sweepml.Float(-1, 1), "y": sweepml.Float(-1, 1)}},
                     strategy=strategy, n_trials=int(n_trials), n_workers=int(workers),
                     storage=storage, study_name="{study}", seed={seed}, show_progress=False)
"""


@dataclass
class Audit:
    """What the record holds after the faults, and what is wrong with it (all zero when right)."""

    recorded: int = 0
    finished: int = 0
    interrupted: int = 0
    evaluations: int = 0
    lost: int = 0  #: finished or evaluated trials missing from the record
    duplicated: int = 0  #: logical trials finished more than once
    changed: int = 0  #: finished trials whose record changed, or disagrees with the evaluation
    not_retried: int = 0  #: INTERRUPTED trials with no retry, or with several
    left_running: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        wrong = self.lost + self.duplicated + self.changed + self.not_retried + self.left_running
        return wrong == 0 and not self.problems


def audit(
    trials: list[TrialRecord],
    *,
    n_trials: int,
    seen: dict[int, TrialRecord] | None = None,
    log: Path | None = None,
) -> Audit:
    """Check the final record ``trials`` against the finished trials ``seen`` earlier and the
    objective's evaluation ``log`` (lines "number value")."""
    result = Audit(recorded=len(trials))
    by_number = {t.number: t for t in trials}
    result.duplicated += len(trials) - len(by_number)
    finished = [t for t in trials if t.status.finished]
    result.finished, result.left_running = (
        len(finished),
        sum(t.status is TrialStatus.RUNNING for t in trials),
    )
    if len(finished) != n_trials:
        result.problems.append(f"{len(finished)} trials finished, not {n_trials}")
    retries = Counter(t.retry_of for t in trials if t.retry_of is not None)
    interrupted = [t for t in trials if t.status is TrialStatus.INTERRUPTED]
    result.interrupted = len(interrupted)
    result.not_retried = sum(retries[t.number] != 1 for t in interrupted)
    roots = Counter(_root(t, by_number) for t in finished)
    result.duplicated += sum(count - 1 for count in roots.values() if count > 1)
    for number, old in (seen or {}).items():
        now = by_number.get(number)
        if now is None:
            result.lost += 1
            result.problems.append(f"trial {number} was finished and is gone")
        elif now != old:
            result.changed += 1
            result.problems.append(f"trial {number} changed: {old} -> {now}")
    for number, value in _evaluations(log):
        result.evaluations += 1
        record = by_number.get(number)
        if record is None:
            result.lost += 1
            result.problems.append(f"trial {number} was evaluated and is not recorded")
        elif record.status is TrialStatus.OK and record.value != value:
            result.changed += 1
            result.problems.append(f"trial {number}: evaluated {value}, recorded {record.value}")
    return result


def _root(trial: TrialRecord, by_number: dict[int, TrialRecord]) -> int:
    while trial.retry_of is not None and trial.retry_of in by_number:
        trial = by_number[trial.retry_of]
    return trial.number


def _evaluations(log: Path | None) -> list[tuple[int, float]]:
    if log is None or not log.exists():
        return []
    found = []
    for line in log.read_text().splitlines():
        number, value = line.split()
        found.append((int(number), float(value)))
    return found


class DriverFleet:
    """``drivers`` processes running one search on ``storage``; kill them, restart them.

    Args:
        storage: a SQLite path or a PostgreSQL URL all drivers open.
        folder: where the driver script and the evaluation log go.
        n_trials: the study's ``n_trials`` (every driver is started with it).
        pause: seconds each evaluation sleeps, so that kills land mid-search.
        workers: each driver's ``n_workers`` (more than 1: trials in worker processes).
    """

    def __init__(
        self,
        storage: str,
        folder: Path,
        *,
        drivers: int = 4,
        n_trials: int = 1000,
        pause: float = 0.02,
        workers: int = 1,
        strategy: str = "random",
        seed: int = 0,
    ) -> None:
        self.storage, self.folder = storage, folder
        self.script = folder / "driver.py"
        self.script.write_text(_DRIVER.format(study=STUDY, seed=seed))
        self.log = folder / "evaluations.log"
        self.args = [storage, str(self.log), str(n_trials), str(pause), str(workers), strategy]
        self.n_trials = n_trials
        self.processes = [self._start() for _ in range(drivers)]
        self.kills = 0
        self.seen: dict[int, TrialRecord] = {}
        self.failures: list[str] = []

    def _start(self) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, str(self.script), *self.args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    @property
    def alive(self) -> list[subprocess.Popen[str]]:
        return [p for p in self.processes if p.poll() is None]

    def kill_one(self, rng: random.Random) -> bool:
        """SIGKILL a running driver chosen by ``rng``, note what is finished, start another."""
        alive = self.alive
        if not alive:
            return False
        victim = rng.choice(alive)
        victim.kill()
        victim.wait()
        self.kills += 1
        self.snapshot()
        self.processes[self.processes.index(victim)] = self._start()
        return True

    def snapshot(self) -> None:
        """Remember every finished trial as it is now (it must never change)."""
        storage = open_storage(self.storage)  # the drivers may not have created it yet
        try:
            if storage.get_study(STUDY) is not None:
                for trial in storage.trials(STUDY):
                    if trial.status.finished:
                        self.seen.setdefault(trial.number, trial)
        finally:
            storage.close()

    def wait(self, timeout: float = 600.0) -> None:
        """Wait for every driver; one that failed (not killed by us) is noted."""
        deadline = time.monotonic() + timeout
        for process in self.processes:
            try:
                _, err = process.communicate(timeout=max(deadline - time.monotonic(), 1.0))
            except subprocess.TimeoutExpired:
                process.kill()
                _, err = process.communicate()
                self.failures.append(f"a driver did not finish in {timeout:g} s: {err[-500:]}")
                continue
            if process.returncode != 0:
                self.failures.append(f"a driver exited {process.returncode}: {err[-2000:]}")

    def run(self, *, kills: int, rng: random.Random, between: tuple[float, float]) -> Audit:
        """Kill ``kills`` drivers at random moments ``between`` seconds apart, let the search
        finish, then audit the record."""
        while self.kills < kills and self.alive:
            time.sleep(rng.uniform(*between))
            self.kill_one(rng)
        self.wait()
        storage = open_storage(self.storage, create=False)
        try:
            trials = storage.trials(STUDY)
        finally:
            storage.close()
        result = audit(trials, n_trials=self.n_trials, seen=self.seen, log=self.log)
        result.problems += self.failures
        return result
