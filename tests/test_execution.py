"""Failures are contained: every way a trial can go wrong becomes a status; the search goes on."""

import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import sweepml
from sweepml import Choice, Space, TrialStatus
from sweepml.exceptions import InvalidParameterError
from sweepml.execution import LocalExecutor, SerialExecutor, make_executor
from sweepml.execution._cgroups import available as cgroups_available


def misbehave(config):
    kind = config["kind"]
    if kind == "sleep":
        time.sleep(30)
    elif kind == "alloc":
        return float(np.ones(2 * 1024**3 // 8).sum())  # 2 GiB at once
    elif kind == "grow":
        chunks = []
        for _ in range(10_000):
            chunks.append(bytearray(16 * 1024**2))  # 16 MiB at a time
    elif kind == "segfault":
        ctypes.string_at(0)
    elif kind == "exit":
        os._exit(3)
    elif kind == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif kind == "raise":
        raise ValueError("bad config")
    elif kind == "child":  # blocked in a grandchild: the timeout must reach it too
        os.system("sleep 30")
    return 1.0


def run_kinds(kinds, **kwargs):
    space = Space({"kind": Choice(kinds)})
    study = sweepml.minimize(
        misbehave, space, strategy="grid", n_trials=len(kinds), seed=0, **kwargs
    )
    return {t.config["kind"]: t for t in study.trials}


def test_each_failure_gets_its_status_and_the_search_goes_on():
    start = time.monotonic()
    trials = run_kinds(
        ["ok", "sleep", "alloc", "grow", "segfault", "exit", "sigkill", "raise", "child"],
        n_workers=2,
        trial_timeout=3,  # the memory cases end in ~0.4 s; the margin is for a loaded machine
        trial_memory_mb=512,
    )
    elapsed = time.monotonic() - start
    expected = {
        "ok": TrialStatus.OK,
        "sleep": TrialStatus.TIMEOUT,
        "alloc": TrialStatus.MEMOUT,
        "grow": TrialStatus.MEMOUT,
        "segfault": TrialStatus.CRASHED,
        "exit": TrialStatus.CRASHED,
        "sigkill": TrialStatus.CRASHED,
        "raise": TrialStatus.FAILED,
        "child": TrialStatus.TIMEOUT,
    }
    got = {k: t.status for k, t in trials.items()}
    assert got == expected, {k: (t.status, t.error, t.duration) for k, t in trials.items()}
    assert "SIGSEGV" in trials["segfault"].error
    assert "exited with code 3" in trials["exit"].error
    assert "ValueError: bad config" in trials["raise"].error
    assert "trial_timeout=3" in trials["sleep"].error
    assert trials["sleep"].duration < 5
    assert elapsed < 30


def test_timeout_kills_the_whole_process_group(tmp_path):
    pid_file = tmp_path / "grandchild.pid"

    def spawner(config):
        import subprocess

        child = subprocess.Popen(["sleep", "60"])  # would outlive the trial without group kills
        pid_file.write_text(str(child.pid))
        time.sleep(30)

    sweepml.minimize(spawner, {"a": [1]}, n_trials=1, trial_timeout=0.5, strategy="random")
    pid = int(pid_file.read_text())
    time.sleep(0.2)
    stat = Path(f"/proc/{pid}/stat")
    state = stat.read_text().split()[2] if stat.exists() else "gone"
    assert state in ("gone", "Z")  # dead (a zombie until its new parent reaps it)


def test_memory_error_in_process_counts_as_memout():
    def objective(config):
        raise MemoryError("pretend")

    study = sweepml.minimize(objective, {"a": [1]}, n_trials=1, strategy="random")
    assert study.trials[0].status is TrialStatus.MEMOUT


def test_intermediate_values_reach_the_record_even_on_timeout():
    def objective(config, trial):
        for step in range(3):
            trial.report(step, float(step))
        time.sleep(30)

    study = sweepml.minimize(
        objective, {"a": [1]}, n_trials=1, trial_timeout=1.0, strategy="random"
    )
    trial = study.trials[0]
    assert trial.status is TrialStatus.TIMEOUT
    assert trial.intermediate == ((0, 0.0), (1, 1.0), (2, 2.0))


def test_parallel_workers_overlap():
    start = time.monotonic()
    study = sweepml.minimize(
        lambda c: time.sleep(0.5) or 1.0,
        {"a": sweepml.Float(0, 1)},
        n_trials=4,
        n_workers=2,
        strategy="random",
        seed=0,
    )
    assert len(study.trials) == 4
    assert time.monotonic() - start < 1.9  # 2 x 0.5 s rounds, not 4


def test_auto_executor_choice_and_serial_limits():
    assert isinstance(make_executor("auto", n_workers=1, needs_limits=False), SerialExecutor)
    assert isinstance(make_executor("auto", n_workers=1, needs_limits=True), LocalExecutor)
    assert isinstance(make_executor("auto", n_workers=3, needs_limits=False), LocalExecutor)
    with pytest.raises(InvalidParameterError, match="cannot enforce trial_timeout"):
        make_executor("serial", n_workers=1, needs_limits=True)
    with pytest.raises(InvalidParameterError, match="'n_workers' parameter of minimize must be 1"):
        make_executor("serial", n_workers=2, needs_limits=False)
    names = r"one of \['auto', 'serial', 'local', 'dask'\]"
    with pytest.raises(InvalidParameterError, match=names):
        make_executor("threads", n_workers=1, needs_limits=False)


def test_spawn_start_method_runs_module_level_objectives():
    from sweepml.testing.objectives import sphere

    study = sweepml.minimize(
        sphere,
        {"x": sweepml.Float(-1, 1)},
        n_trials=2,
        strategy="random",
        executor=LocalExecutor(1, start_method="spawn"),
        seed=0,
    )
    assert [t.status for t in study.trials] == [TrialStatus.OK] * 2


def spawn_and_end(config):
    """Start processes every way an objective can (fork, Popen, a new session, a double fork),
    then end as the config says."""
    marker = str(config["marker"])
    subprocess.Popen(["sleep", marker])
    subprocess.Popen(["sleep", marker], start_new_session=True)
    subprocess.Popen(["sh", "-c", f"(setsid sleep {marker} &); exit 0"])
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", marker])
    if config.get("settle", True):
        time.sleep(0.3)  # the driver sees them (without cgroups it can only kill what it saw)
    end = config["end"]
    if end == "hang":
        time.sleep(60)
    elif end == "crash":
        os._exit(3)
    elif end == "interrupt":
        raise KeyboardInterrupt
    return 1.0


def live_processes_with(arg):
    """Processes (not zombies) whose command line holds ``arg``."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if arg.encode() in cmdline and state != "Z":
            found.append(int(pid))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process trees from /proc")
@pytest.mark.parametrize("end", ["return", "hang", "crash", "interrupt"])
@pytest.mark.parametrize("cgroups", [True, False], ids=["cgroups", "no-cgroups"])
def test_a_trial_leaves_no_process_behind(end, cgroups, monkeypatch):
    if not cgroups:  # the fallback: the process group, the tree, and the processes it saw
        monkeypatch.setattr("sweepml.execution.local.CgroupParent.find", lambda: None)
    marker = f"{os.getpid() % 1000}.{['return', 'hang', 'crash', 'interrupt'].index(end) + 1}37"
    space = {"marker": sweepml.Const(marker), "end": sweepml.Const(end)}
    study = sweepml.minimize(
        spawn_and_end, space, strategy="random", n_trials=3, n_workers=3, trial_timeout=2, seed=0
    )
    expected = {
        "return": TrialStatus.OK,
        "hang": TrialStatus.TIMEOUT,
        "crash": TrialStatus.CRASHED,
        "interrupt": TrialStatus.FAILED,
    }[end]
    assert [t.status for t in study.trials] == [expected] * 3
    time.sleep(0.2)
    assert live_processes_with(marker) == []
    if end == "interrupt":  # the objective's own KeyboardInterrupt is a failure with its cause
        assert "KeyboardInterrupt" in study.trials[0].error
        assert "spawn_and_end" in study.trials[0].error


def test_an_unpicklable_objective_with_spawn_is_a_clear_error():
    with pytest.raises(InvalidParameterError, match="start_method='spawn'.*cannot be pickled"):
        sweepml.minimize(lambda c: c["x"], {"x": sweepml.Float(0, 1)}, n_trials=1,
                         executor=LocalExecutor(1, start_method="spawn"))  # fmt: skip


UNGUARDED = """
import sweepml
from sweepml.execution import LocalExecutor

def f(config):
    return config["x"] ** 2

study = sweepml.minimize(f, {{"x": sweepml.Float(-1, 1)}}, n_trials=4, strategy="random",
                         executor={executor}, n_workers=2, seed=0)
print("best", round(study.best.value, 6))
"""


@pytest.mark.parametrize(
    "executor, works",
    [("'local'", True), ("LocalExecutor(2, start_method='spawn')", False), ("'dask'", False)],
)
def test_a_script_without_a_main_guard_works_or_stops_with_one_message(run_python, executor, works):
    if executor == "'dask'":
        pytest.importorskip("distributed")
    done = run_python(UNGUARDED.format(executor=executor), check=False, timeout=120)
    if works:  # fork imports nothing again
        assert done.returncode == 0 and "best" in done.stdout, done.stderr
    else:
        assert done.returncode == 1
        assert "UnguardedScriptError" in done.stderr and 'if __name__ == "__main__":' in (
            done.stderr
        )
        assert "bootstrapping" not in done.stderr and "BrokenPipeError" not in done.stderr


@pytest.mark.skipif(not cgroups_available(), reason="no cgroup this process may create")
def test_a_trial_that_crashes_at_once_leaves_no_process_behind():
    # no time for the driver to see them: only the trial's cgroup holds what it started
    marker = f"{os.getpid() % 1000}.537"
    space = {"marker": sweepml.Const(marker), "end": sweepml.Const("crash"),
             "settle": sweepml.Const(False)}  # fmt: skip
    study = sweepml.minimize(spawn_and_end, space, strategy="random", n_trials=6, n_workers=3,
                             seed=0)  # fmt: skip
    assert [t.status for t in study.trials] == [TrialStatus.CRASHED] * 6
    time.sleep(0.2)
    assert live_processes_with(marker) == []


ORPHAN_SCRIPT = """
import os, pathlib, time
import sweepml
from sweepml.execution import LocalExecutor

def objective(config):
    pathlib.Path({folder!r}, str(os.getpid())).touch()
    time.sleep(60)
    return 0.0

if __name__ == "__main__":
    sweepml.minimize(objective, {{"x": sweepml.Float(0, 1)}}, n_trials=4, trial_timeout=120,
                     executor=LocalExecutor(2, start_method="forkserver"), seed=0)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split(")")[-1].split()[0] == "Z")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux process tree")
def test_trials_of_a_killed_driver_end_with_it_under_forkserver(tmp_path):
    folder = tmp_path / "pids"
    folder.mkdir()
    script = tmp_path / "search.py"
    script.write_text(ORPHAN_SCRIPT.format(folder=str(folder)))
    driver = subprocess.Popen([sys.executable, str(script)])
    deadline = time.monotonic() + 60
    while len(list(folder.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    trials = [int(p.name) for p in folder.iterdir()]
    assert len(trials) == 2, "both trials should be running"
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    until = time.monotonic() + 10  # the trials notice within half a second
    while any(_alive(pid) for pid in trials) and time.monotonic() < until:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in trials)
