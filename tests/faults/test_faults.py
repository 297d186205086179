"""Fault injection (marker ``faults``; part of the default run, so CI runs it): drivers and
workers killed at random (seeded) moments, several drivers on one study, a full disk, a database
locked by another process, a Dask worker and the scheduler killed. Each checks that every
finished trial is there once, unchanged, and that the search can finish.

``benchmarks/faults.py`` runs the same at a larger scale and prints the figures.
"""

import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

import sweepml
from sweepml.exceptions import StorageError, SweepmlError
from sweepml.testing.faults import DriverFleet, audit

pytestmark = pytest.mark.faults

SPACE = {"x": sweepml.Float(-1, 1), "y": sweepml.Float(-1, 1)}


@pytest.fixture(params=["sqlite", "postgres"])
def storage_url(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "faults.db")
    from sweepml.testing.postgres import create_database

    return create_database(request.getfixturevalue("postgres_server"))


@pytest.mark.parametrize(
    "strategy, workers, seed", [("random", 1, 0), ("tpe", 2, 1), ("evolution", 1, 2)]
)
def test_drivers_killed_at_random_lose_nothing(tmp_path, storage_url, strategy, workers, seed):
    fleet = DriverFleet(storage_url, tmp_path, drivers=3, n_trials=120, pause=0.02,
                        workers=workers, strategy=strategy, seed=seed)  # fmt: skip
    result = fleet.run(kills=4, rng=random.Random(seed), between=(0.15, 0.5))
    assert fleet.kills >= 1
    assert result.ok, result
    assert result.finished == 120


def _trial_processes(parent):
    """The trial processes below a driver (its children, by /proc)."""
    found = []
    for task in os.listdir(f"/proc/{parent}/task"):
        with open(f"/proc/{parent}/task/{task}/children") as file:
            found += [int(p) for p in file.read().split()]
    return found


def slow_bowl(config):
    time.sleep(0.2)
    return (config["x"] - 0.3) ** 2 + config["y"] ** 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds workers through /proc")
def test_workers_killed_at_random_are_recorded_and_the_search_finishes(tmp_path):
    rng = random.Random(3)
    stop = threading.Event()
    killed = []

    def killer():
        while not stop.wait(rng.uniform(0.1, 0.4)):
            workers = _trial_processes(os.getpid())
            if workers:
                victim = rng.choice(workers)
                try:
                    os.kill(victim, signal.SIGKILL)
                    killed.append(victim)
                except ProcessLookupError:
                    pass

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        study = sweepml.minimize(slow_bowl, SPACE, strategy="random", n_trials=30, n_workers=3,
                                 executor="local", storage=tmp_path / "s.db", seed=0)  # fmt: skip
    finally:
        stop.set()
        thread.join()
    counts = study.status_counts()
    assert killed and counts.get("CRASHED", 0) >= 1, counts
    assert sum(counts.values()) == 30 and set(counts) <= {"OK", "CRASHED"}
    assert audit(study.trials, n_trials=30).ok


def _fill(path, room):
    """Fill the file system of ``path`` but for ``room`` bytes."""
    free = os.statvfs(path.parent).f_bavail * os.statvfs(path.parent).f_frsize
    with open(path, "wb") as file:
        file.write(b"\0" * max(free - room, 0))


def wordy(config):
    return {"value": config["x"] ** 2, "notes": "x" * 2000}  # a large record: the disk fills


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts a small tmpfs (needs root)")
def test_a_full_disk_stops_the_search_clearly_and_it_resumes_when_there_is_room(tmp_path):
    volume = tmp_path / "volume"
    volume.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(volume)],
                             capture_output=True, text=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        db = volume / "s.db"
        run = lambda: sweepml.minimize(wordy, SPACE, strategy="random", n_trials=400,  # noqa: E731
                                       storage=db, seed=0)  # fmt: skip
        sweepml.minimize(wordy, SPACE, strategy="random", n_trials=5, storage=db, seed=0)
        _fill(volume / "filler", room=300_000)
        with pytest.raises(StorageError, match="full.*every trial recorded so far is kept"):
            run()
        seen = {t.number: t for t in sweepml.load_study(db).trials if t.status.finished}
        assert len(seen) > 5
        (volume / "filler").unlink()
        study = run()
        result = audit(study.trials, n_trials=400, seen=seen)
        assert result.ok, result
    finally:
        subprocess.run(["umount", "-l", str(volume)], check=False)


LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


def test_a_database_locked_by_another_process_for_seconds_only_slows_the_search(tmp_path):
    db = tmp_path / "s.db"
    sweepml.minimize(slow_bowl, SPACE, strategy="random", n_trials=3, storage=db, seed=0)
    seen = {t.number: t for t in sweepml.load_study(db).trials}
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(db), "3"],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert locker.stdout.readline().strip() == "locked"
    started = time.monotonic()
    study = sweepml.minimize(slow_bowl, SPACE, strategy="random", n_trials=12, storage=db, seed=0)
    locker.wait(timeout=30)
    assert time.monotonic() - started >= 2.5  # it waited for the lock, then went on
    result = audit(study.trials, n_trials=12, seen=seen)
    assert result.ok, result


def _trials_so_far(db, study):
    """The study's trials, or none while the storage file or study does not exist yet."""
    try:
        return sweepml.load_study(db, study).trials
    except Exception:  # noqa: BLE001 - not created yet, or locked for a moment
        return []


def test_a_killed_dask_worker_and_scheduler_lose_nothing(cluster, tmp_path):
    pytest.importorskip("distributed")
    rng = random.Random(4)
    db = tmp_path / "s.db"
    space = {**SPACE, "sleep": [0.3]}
    from sweepml.testing.objectives import slow_sphere

    def run(address):
        return sweepml.minimize(slow_sphere, space, strategy="random", n_trials=24,
                                cluster=address, storage=db, study_name="dask", seed=0,
                                show_progress=False)  # fmt: skip

    def killer():
        # once a trial has finished (a loaded machine starts the cluster slowly), then later
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
            t.status.finished for t in _trials_so_far(db, "dask")
        ):
            time.sleep(0.1)
        time.sleep(rng.uniform(0.3, 1.0))
        cluster.workers[0].send_signal(signal.SIGKILL)
        time.sleep(rng.uniform(0.8, 1.5))
        cluster.scheduler.send_signal(signal.SIGKILL)

    thread = threading.Thread(target=killer)
    thread.start()
    with pytest.raises(SweepmlError, match="Lost the Dask scheduler"):
        run(cluster.address)
    thread.join()
    seen = {t.number: t for t in sweepml.load_study(db, "dask").trials if t.status.finished}
    assert seen
    study = run(None)  # the same call on a local cluster resumes
    result = audit(study.trials, n_trials=24, seen=seen)
    assert result.ok, result
    assert study.status_counts().get("OK") == 24
