import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DASK_BIN = Path(sys.executable).parent


@pytest.fixture
def run_python(tmp_path):
    """Run a Python snippet in a fresh interpreter (for crash, kill and import tests)."""

    def run(code: str, *, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
        script = tmp_path / "snippet.py"
        script.write_text(code)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        done = subprocess.run(
            [sys.executable, str(script)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=tmp_path,
            env=env,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"exit {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done

    return run


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for this test session (``.ci/run`` installs Debian's package)."""
    if not os.environ.get("SWEEPML_REQUIRE_POSTGRES"):
        pytest.importorskip("psycopg")
    from sweepml.testing.postgres import ServerUnavailable, temporary_server

    try:
        server = temporary_server(durable=False)
        dsn = server.__enter__()
    except ServerUnavailable as exc:
        if os.environ.get("SWEEPML_REQUIRE_POSTGRES"):  # CI installs the server: run, not skip
            raise
        pytest.skip(str(exc))
    yield dsn
    server.__exit__(None, None, None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A `dask scheduler` and two `dask worker` processes on 127.0.0.1, started and stopped by
    pid (so that tests can kill either)."""

    def __init__(self, tmp: Path) -> None:
        import distributed

        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        # a killed worker must surface at once (KilledWorker), so that our retry policy decides
        self.env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
        self.tmp = tmp
        self.logs = []
        self.scheduler = self._spawn(
            "scheduler", [str(DASK_BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port",
                          str(self.port), "--no-dashboard"])  # fmt: skip
        self.workers = [self.add_worker(i) for i in range(2)]
        with distributed.Client(self.address, timeout="20s") as client:
            client.wait_for_workers(2, timeout=60)

    def _spawn(self, name, args):
        log = (self.tmp / f"{name}.log").open("w")
        self.logs.append(log)
        return subprocess.Popen(args, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def add_worker(self, i):
        return self._spawn(
            f"worker{i}", [str(DASK_BIN / "dask"), "worker", self.address, "--nthreads", "1",
                           "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"])  # fmt: skip

    def stop(self):
        for process in [*self.workers, self.scheduler]:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)
        for log in self.logs:
            log.close()


@pytest.fixture
def cluster(tmp_path):
    pytest.importorskip("distributed")
    running = Cluster(tmp_path)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def wait_for_trials():
    """``wait(db, status, at_least=1, timeout=30)``: poll a SQLite study file until ``at_least``
    trials have ``status``; returns how many did."""
    return _wait_for_trials


def _wait_for_trials(db, status, at_least=1, timeout=30.0):
    import sqlite3
    import time

    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline and count < at_least:
        time.sleep(0.1)
        try:
            with sqlite3.connect(db) as conn:
                count = conn.execute(
                    "SELECT COUNT(*) FROM trials WHERE status = ?", (status,)
                ).fetchone()[0]
        except sqlite3.OperationalError:  # not created yet, or mid-creation
            pass
    return count
