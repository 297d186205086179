"""The Dask executor against a real cluster: a `dask scheduler` and two `dask worker` processes
on 127.0.0.1, started and stopped by pid."""

import signal
import socket
import sys
import threading
import time

import pytest

distributed = pytest.importorskip("distributed")

import sweepml  # noqa: E402
from sweepml import Float, TrialStatus  # noqa: E402
from sweepml.exceptions import InvalidParameterError, SweepmlError  # noqa: E402
from sweepml.testing.objectives import slow_sphere  # noqa: E402

SPACE = {"x": Float(-2, 2), "y": Float(-2, 2)}


def test_a_search_survives_a_worker_killed_mid_trial(cluster, tmp_path):
    def kill_one_worker():
        time.sleep(1.5)
        cluster.workers[0].send_signal(signal.SIGKILL)

    killer = threading.Thread(target=kill_one_worker)
    killer.start()
    space = {**SPACE, "sleep": [0.4]}
    study = sweepml.minimize(slow_sphere, space, strategy="random", n_trials=12,
                             cluster=cluster.address, storage=tmp_path / "s.db", seed=0,
                             show_progress=False)  # fmt: skip
    killer.join()
    assert cluster.workers[0].poll() == -signal.SIGKILL
    trials = study.trials
    assert len(trials) == 12
    assert all(t.status is TrialStatus.OK for t in trials), study.status_counts()
    assert sorted(t.number for t in trials) == list(range(12))


def test_trial_limits_hold_on_the_workers(cluster):
    space = {**SPACE, "sleep": [0.0, 5.0]}
    study = sweepml.minimize(slow_sphere, space, strategy="grid", n_trials=4,
                             cluster=cluster.address, trial_timeout=1.0, seed=0,
                             show_progress=False)  # fmt: skip
    by_sleep = {t.config["sleep"]: t.status for t in study.trials}
    assert by_sleep == {0.0: TrialStatus.OK, 5.0: TrialStatus.TIMEOUT}


def test_a_lost_scheduler_stops_the_search_and_the_same_call_resumes(cluster, tmp_path):
    def kill_scheduler():
        time.sleep(1.5)
        cluster.scheduler.send_signal(signal.SIGKILL)

    killer = threading.Thread(target=kill_scheduler)
    killer.start()
    space = {**SPACE, "sleep": [0.3]}
    run = lambda address: sweepml.minimize(  # noqa: E731
        slow_sphere, space, strategy="random", n_trials=20, cluster=address,
        storage=tmp_path / "s.db", study_name="resumable", seed=0, show_progress=False,
    )  # fmt: skip
    with pytest.raises(SweepmlError, match="Lost the Dask scheduler at tcp://127.0.0.1"):
        run(cluster.address)
    killer.join()
    saved = sweepml.load_study(tmp_path / "s.db", "resumable").trials
    finished = [t for t in saved if t.status is TrialStatus.OK]
    assert finished and len(finished) < 20
    study = run(None)  # resume on a local cluster: same record, same study
    assert sum(t.status is TrialStatus.OK for t in study.trials) == 20


def test_an_unreachable_scheduler_fails_fast_and_names_the_address():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    started = time.monotonic()
    with pytest.raises(SweepmlError, match=f"Could not reach the Dask scheduler at '{address}'"):
        sweepml.minimize(slow_sphere, SPACE, n_trials=2, cluster=address, show_progress=False)
    assert time.monotonic() - started < 15


def test_an_objective_that_cannot_be_pickled_is_named():
    lock = threading.Lock()

    def holds_a_lock(config):
        with lock:
            return config["x"]

    with pytest.raises(InvalidParameterError, match="cannot be pickled .* module-level function"):
        sweepml.minimize(holds_a_lock, SPACE, n_trials=2, executor="dask", show_progress=False)


def test_workers_that_cannot_import_the_objective_module_are_named(cluster, tmp_path):
    (tmp_path / "only_here.py").write_text("def objective(config):\n    return config['x']\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import only_here

        with pytest.raises(SweepmlError, match=r"Dask worker tcp://127\.0\.0\.1:\d+ cannot import "
                                               r"'only_here' \(ModuleNotFoundError"):  # fmt: skip
            sweepml.minimize(only_here.objective, SPACE, n_trials=2, cluster=cluster.address,
                             show_progress=False)  # fmt: skip
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("only_here", None)


def test_a_local_cluster_runs_closures_and_batches_cheap_trials():
    from sweepml.execution.dask import DaskExecutor

    offset = 1.0
    executor = DaskExecutor(n_workers=2, batch_size=4)
    for n_trials in (20, 8):  # one executor object serves two searches, each its own cluster
        study = sweepml.minimize(lambda c: (c["x"] - offset) ** 2, SPACE, strategy="random",
                                 n_trials=n_trials, executor=executor, seed=0,
                                 show_progress=False)  # fmt: skip
        assert study.status_counts() == {"OK": n_trials}
        assert executor.n_workers == 2 * 4  # 2 single-threaded workers, 4 trials per task


class _Probe(sweepml.SearchCallback):
    """Reads the cluster's addresses, and asks its HTTP server for Dask's pages, while the
    search runs."""

    def __init__(self, executor):
        self.executor, self.info, self.pages = executor, None, {}

    def on_trial_end(self, study, record):
        if self.info is not None:
            return
        import urllib.error
        import urllib.request

        self.info = self.executor._client.scheduler_info()
        port = self.info.get("services", {}).get("dashboard")
        for page in ("/status", "/health", "/info/main/workers.html", "/info/logs"):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{page}", timeout=10) as r:
                    self.pages[page] = r.status
            except urllib.error.HTTPError as error:
                self.pages[page] = error.code
            except OSError:
                self.pages[page] = None  # nothing listens


def test_a_local_cluster_listens_on_loopback_only_and_serves_no_dashboard():
    from sweepml.execution.dask import DaskExecutor

    executor = DaskExecutor(n_workers=2)
    probe = _Probe(executor)
    sweepml.minimize(lambda c: c["x"] ** 2, SPACE, strategy="random", n_trials=2,
                     executor=executor, callbacks=[probe], seed=0)  # fmt: skip
    addresses = [probe.info["address"], *probe.info["workers"]]
    assert all(a.startswith("tcp://127.0.0.1:") for a in addresses), addresses
    # Dask's HTTP server may run (on loopback), but it serves none of its pages
    assert set(probe.pages.values()) <= {404, None}, probe.pages
