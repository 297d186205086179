"""A throwaway PostgreSQL server for tests and benchmarks of the ``postgres`` storage.

It runs from the server binaries of the machine (Debian's ``postgresql`` package, or any
``pg_ctl`` found through ``PG_BINDIR``, ``pg_config`` or ``/usr/lib/postgresql/*/bin``) in a fresh
temporary folder, listens on a Unix socket in that folder only (no TCP port), trusts local
connections, and is stopped and deleted on exit. As root it runs as the ``postgres`` user, since
PostgreSQL refuses to run as root.

Example:
    >>> with temporary_server() as dsn:  # doctest: +SKIP
    ...     storage = PostgresStorage(dsn)
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["ServerUnavailable", "create_database", "find_bindir", "temporary_server"]


class ServerUnavailable(RuntimeError):
    """No PostgreSQL server binaries here (or no user to run them as)."""


def find_bindir() -> Path:
    """The folder holding ``pg_ctl`` and ``initdb``."""
    candidates = [os.environ.get("PG_BINDIR", "")]
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        candidates.append(
            subprocess.run(
                ["pg_config", "--bindir"], capture_output=True, text=True, check=True
            ).stdout.strip()
        )
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in candidates:
        if folder and (Path(folder) / "pg_ctl").exists() and (Path(folder) / "initdb").exists():
            return Path(folder)
    raise ServerUnavailable(
        "No PostgreSQL server found (pg_ctl and initdb); on Debian: apt-get install postgresql."
    )


@contextlib.contextmanager
def temporary_server(*, durable: bool = True) -> Iterator[str]:
    """Start a server; yield its connection URL (database ``postgres``, user ``sweepml``).

    ``durable=False`` turns off fsync, for tests that need speed, not crash safety.
    """
    bindir = find_bindir()
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            raise ServerUnavailable("Running as root needs runuser to start PostgreSQL.")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="sweepml-pg-"))
    data, sockets = root / "data", root / "run"
    sockets.mkdir()
    if as_postgres:
        for path in (root, sockets):
            shutil.chown(path, "postgres", "postgres")
    options = f"-c listen_addresses='' -k {sockets}" + ("" if durable else " -c fsync=off")
    try:
        _run([*as_postgres, str(bindir / "initdb"), "-D", str(data), "-U", "sweepml",
              "--auth=trust", "-E", "UTF8", "--no-sync"])  # fmt: skip
        _run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"),
              "-w", "-t", "60", "-o", options, "start"])  # fmt: skip
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    try:
        yield f"postgresql://sweepml@/postgres?host={sockets}&port=5432"
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            _run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                  "-w", "stop"])  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


def create_database(dsn: str) -> str:
    """A new, empty database on the server of ``dsn``; returns its URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return dsn.replace("/postgres?", f"/{name}?", 1)


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise ServerUnavailable(
            f"{' '.join(command[-3:])} failed ({done.returncode}): {done.stderr.strip()}"
        )
