"""Several drivers on one study, and resumes: nothing lost, nothing run twice, nothing repeated."""

import collections
import json
import os
import sqlite3
import subprocess
import sys

import pytest

import sweepml
from sweepml import TrialStatus
from sweepml._procfs import process_start
from sweepml.drivers import ended_here, is_alive, running_here, this_driver
from sweepml.storage import DriverInfo, DriverStatus, SqliteStorage

SPACE = {"x": sweepml.Float(-1, 1), "y": sweepml.Float(-1, 1)}


def bowl(config):
    return (config["x"] - 0.3) ** 2 + config["y"] ** 2


def configs(study):
    return [json.dumps(t.config, sort_keys=True) for t in study.trials]


@pytest.mark.parametrize("strategy", ["random", "tpe", "evolution", "grid", "hyperband"])
def test_a_resumed_search_continues_the_uninterrupted_sequence(tmp_path, strategy):
    def run(n, db):
        objective = bowl
        if strategy == "hyperband":

            def objective(config, budget):
                return bowl(config) / budget

        return sweepml.minimize(
            objective, SPACE, strategy=strategy, n_trials=n, storage=db, seed=3, study_name="s"
        )

    whole = run(40, tmp_path / "whole.db")
    run(15, tmp_path / "parts.db")
    run(28, tmp_path / "parts.db")
    parts = run(40, tmp_path / "parts.db")
    assert configs(parts) == configs(whole)
    assert [t.budget for t in parts.trials] == [t.budget for t in whole.trials]


DRIVER = """
import sys, time, sweepml

def objective(config):
    time.sleep({sleep})
    return (config["x"] - 0.3) ** 2 + config["y"] ** 2

sweepml.minimize(objective, {{"x": sweepml.Float(-1, 1), "y": sweepml.Float(-1, 1)}},
                 strategy="{strategy}", n_trials={n}, storage="{db}", study_name="shared",
                 seed=0, n_workers={workers})
"""


def start_driver(tmp_path, name, *, strategy="random", n=60, sleep=0.0, workers=1, db=None):
    script = tmp_path / f"{name}.py"
    db = db or tmp_path / "shared.db"
    script.write_text(DRIVER.format(strategy=strategy, n=n, db=db, sleep=sleep, workers=workers))
    return subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.fixture(params=["sqlite", "postgres"])
def shared_storage(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "shared.db")
    from sweepml.testing.postgres import create_database

    return create_database(request.getfixturevalue("postgres_server"))


@pytest.mark.parametrize("strategy", ["random", "tpe"])
def test_several_drivers_on_one_new_study_record_every_trial_once(
    tmp_path, strategy, shared_storage
):
    drivers = [
        start_driver(tmp_path, f"d{i}", strategy=strategy, n=60, sleep=0.03, db=shared_storage)
        for i in range(4)
    ]
    for driver in drivers:
        _, err = driver.communicate(timeout=120)
        assert driver.returncode == 0, err
    study = sweepml.load_study(shared_storage)
    trials = study.trials
    assert len(trials) == 60  # n_trials counts every driver's trials
    assert all(t.status is TrialStatus.OK for t in trials)
    assert len({t.number for t in trials}) == 60
    assert len(set(configs(study))) == 60  # one seed, four drivers: no config drawn twice
    assert len({t.driver for t in trials}) >= 2


def test_a_second_driver_leaves_a_live_drivers_running_trials_alone(tmp_path, wait_for_trials):
    first = start_driver(tmp_path, "slow", n=6, sleep=1.5, workers=2)
    db = tmp_path / "shared.db"
    assert wait_for_trials(db, "RUNNING") >= 1
    joined = sweepml.minimize(
        bowl, SPACE, strategy="random", n_trials=8, storage=db, study_name="shared", seed=0
    )
    _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    trials = sweepml.load_study(db).trials
    assert not [t for t in trials if t.status is TrialStatus.INTERRUPTED]
    assert collections.Counter(t.status for t in trials) == {TrialStatus.OK: 8}
    assert joined.name == "shared"


def test_a_dead_drivers_trials_are_run_again_once(tmp_path, wait_for_trials):
    driver = start_driver(tmp_path, "doomed", n=20, sleep=0.4, workers=2)
    db = tmp_path / "shared.db"
    assert wait_for_trials(db, "OK", at_least=3) >= 3
    driver.kill()
    driver.wait()
    before = {t.number: t for t in sweepml.load_study(db).trials}
    running = [n for n, t in before.items() if t.status is TrialStatus.RUNNING]
    assert running, "the kill should land while trials run"
    survivors = [start_driver(tmp_path, f"s{i}", n=20, sleep=0.05) for i in range(2)]
    for survivor in survivors:
        _, err = survivor.communicate(timeout=60)
        assert survivor.returncode == 0, err
    after = sweepml.load_study(db).trials
    for number in running:
        retries = [t for t in after if t.retry_of == number]
        assert len(retries) == 1 and retries[0].config == before[number].config
    assert sum(t.status is TrialStatus.OK for t in after) == 20
    assert len({t.number for t in after}) == len(after)


def status(driver, idle):
    return DriverStatus(driver, idle)


def test_liveness_by_end_mark_kernel_and_heartbeat():
    me = this_driver()
    dead_pid = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    gone = DriverInfo("gone", me.host, me.machine, int(dead_pid), 1, 0.0)
    recycled = DriverInfo("old", me.host, me.machine, me.pid, (me.pid_start or 0) + 1, 0.0)
    neighbour = DriverInfo("next", me.host, me.machine, os.getppid(), process_start(os.getppid()),
                           0.0)  # fmt: skip
    remote = DriverInfo("remote", "elsewhere", "another-boot", 1, 5, 0.0)
    assert not is_alive(status(gone, 0.0), me)  # the kernel says it is gone, however fresh
    assert not is_alive(status(recycled, 0.0), me)  # the pid now belongs to another process
    assert is_alive(status(neighbour, 61.0), me, lease=60)  # lives: the kernel vouches for it
    assert not is_alive(status(neighbour, 601.0), me, lease=60)  # lives, but its search stopped
    assert not is_alive(DriverStatus(neighbour, 0.0, ended=True), me)  # said it ended
    assert is_alive(status(remote, 10.0), me, lease=60)
    assert not is_alive(status(remote, 61.0), me, lease=60)
    # an earlier search of this very process: alive only while it runs
    earlier = DriverInfo("earlier", me.host, me.machine, me.pid, me.pid_start, 0.0)
    assert not is_alive(status(earlier, 0.0), me)
    running_here(earlier)
    try:
        assert is_alive(status(earlier, 0.0), me)
    finally:
        ended_here(earlier)


def test_a_remote_driver_silent_past_its_lease_loses_its_trials(tmp_path):
    db = tmp_path / "s.db"
    sweepml.minimize(bowl, SPACE, strategy="random", n_trials=2, storage=db, study_name="s", seed=0)
    storage = SqliteStorage(db)
    remote = DriverInfo("remote:1:aa", "elsewhere", "another-boot", 1, 5, 0.0)
    storage.beat("s", remote)
    for _ in range(2):
        number = storage.reserve_number("s")
        storage.add_trial("s", sweepml.TrialRecord(number, {"x": 0.1, "y": 0.2}, driver=remote.id))
    storage.close()
    resumed = sweepml.minimize(
        bowl, SPACE, strategy="random", n_trials=4, storage=db, study_name="s", seed=0
    )
    assert [t.status for t in resumed.trials[2:]] == [TrialStatus.RUNNING] * 2  # lease holds
    with sqlite3.connect(db) as conn:  # its last beat is now ten minutes old
        conn.execute("UPDATE drivers SET last_seen = last_seen - 600 WHERE id = ?", (remote.id,))
    resumed = sweepml.minimize(
        bowl, SPACE, strategy="random", n_trials=4, storage=db, study_name="s", seed=0
    )
    trials = resumed.trials
    assert [t.status for t in trials[2:4]] == [TrialStatus.INTERRUPTED] * 2
    assert "remote:1:aa" in trials[2].error
    assert sorted(t.retry_of for t in trials if t.retry_of is not None) == [2, 3]
    assert sum(t.status is TrialStatus.OK for t in trials) == 4


def test_a_version_1_file_is_migrated_and_resumed(tmp_path):
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    conn.executescript(
        """
        PRAGMA application_id=1398230348;
        CREATE TABLE schema_version (version INTEGER NOT NULL);
        INSERT INTO schema_version VALUES (1);
        CREATE TABLE studies (name TEXT PRIMARY KEY, direction TEXT NOT NULL, space TEXT NOT NULL,
            meta TEXT NOT NULL, created_at REAL NOT NULL);
        CREATE TABLE trials (study TEXT NOT NULL REFERENCES studies(name), number INTEGER NOT NULL,
            status TEXT NOT NULL, config TEXT NOT NULL, value REAL, metrics TEXT NOT NULL,
            intermediate TEXT NOT NULL, error TEXT, budget REAL, info TEXT NOT NULL,
            retry_of INTEGER, started_at REAL, finished_at REAL, PRIMARY KEY (study, number));
        """
    )
    space = sweepml.Space.from_dict(SPACE).to_dict()
    conn.execute(
        "INSERT INTO studies VALUES ('s', 'minimize', ?, ?, 1.0)",
        (json.dumps(space), json.dumps({"seed": 0})),
    )
    for number, state in enumerate(["OK", "OK", "RUNNING"]):
        conn.execute(
            "INSERT INTO trials VALUES ('s', ?, ?, ?, ?, '{}', '[]', NULL, NULL, '{}', NULL, 1, 2)",
            (number, state, json.dumps({"x": 0.1 * number, "y": 0.0}), 0.5),
        )
    conn.commit()
    conn.close()
    study = sweepml.minimize(
        bowl, SPACE, strategy="random", n_trials=5, storage=db, study_name="s", seed=0
    )
    trials = study.trials
    assert [t.status for t in trials[:3]] == [
        TrialStatus.OK,
        TrialStatus.OK,
        TrialStatus.INTERRUPTED,
    ]
    assert trials[3].retry_of == 2 and sum(t.status is TrialStatus.OK for t in trials) == 5


def test_many_processes_create_one_new_file_at_once(tmp_path):
    db = tmp_path / "fresh.db"
    code = (
        "import sys; from sweepml.storage import SqliteStorage, StudyInfo\n"
        "from sweepml.exceptions import StudyExistsError\n"
        f"s = SqliteStorage({str(db)!r})\n"
        "try:\n"
        "    s.create_study(StudyInfo('s', 'minimize', {}, 1.0))\n"
        "except StudyExistsError:\n"
        "    pass\n"
        "print(s.reserve_number('s'))\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(8)
    ]
    numbers = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        numbers.append(int(out))
    assert sorted(numbers) == list(range(8))
