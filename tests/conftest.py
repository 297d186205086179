import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


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
