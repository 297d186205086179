import multiprocessing
import os
import sqlite3
import time

import pytest

from sweepml.exceptions import InvalidParameterError, StorageError
from sweepml.storage import MemoryStorage, SqliteStorage, open_storage
from sweepml.testing import StorageConformance


class TestMemoryStorage(StorageConformance):
    def make_storage(self, tmp_path):
        return MemoryStorage()


class TestSqliteStorage(StorageConformance):
    def make_storage(self, tmp_path):
        return SqliteStorage(tmp_path / "s.db")

    def reopen(self, storage, tmp_path):
        storage.close()
        return SqliteStorage(tmp_path / "s.db", create=False)

    def spec(self, tmp_path):
        return str(tmp_path / "s.db")


def test_sqlite_file_is_wal_and_versioned(tmp_path):
    SqliteStorage(tmp_path / "s.db").close()
    conn = sqlite3.connect(tmp_path / "s.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT version FROM schema_version").fetchone()[0] == 2


def _open_at(path, start, results):
    while time.time() < start:  # every process reaches the open in the same few microseconds
        pass
    try:
        SqliteStorage(path).close()
        results.put("ok")
    except StorageError as exc:
        results.put(str(exc))


def test_processes_that_create_one_file_together_all_open_it(tmp_path):
    # switching a new file to WAL raced: the losers got "database is locked" at once (about
    # one round in three before the retry)
    context = multiprocessing.get_context("spawn" if os.name == "nt" else "fork")
    for round_ in range(8):
        path, results = tmp_path / f"s{round_}.db", context.Queue()
        start = time.time() + 0.3
        openers = [context.Process(target=_open_at, args=(path, start, results)) for _ in range(6)]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join(timeout=60)
        assert [results.get(timeout=5) for _ in openers] == ["ok"] * 6
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.close()


def test_missing_folder(tmp_path):
    with pytest.raises(StorageError, match="folder .*nope.* does not exist"):
        SqliteStorage(tmp_path / "nope" / "s.db")


def test_read_only_file(tmp_path):
    path = tmp_path / "s.db"
    SqliteStorage(path).close()
    os.chmod(path, 0o444)
    with pytest.raises(StorageError, match="read-only"):
        SqliteStorage(path)


def test_foreign_sqlite_database_is_refused_untouched(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE people (name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(StorageError, match=r"not a sweepml one \(its tables: \['people'\]\)"):
        SqliteStorage(path)


def test_folder_as_path(tmp_path):
    with pytest.raises(StorageError, match="is a folder"):
        SqliteStorage(tmp_path)


def test_missing_file_when_reading(tmp_path):
    with pytest.raises(StorageError, match="does not exist"):
        SqliteStorage(tmp_path / "x.db", create=False)


def test_open_storage_forms(tmp_path):
    assert isinstance(open_storage(None), MemoryStorage)
    assert isinstance(open_storage(str(tmp_path / "a.db")), SqliteStorage)
    assert isinstance(open_storage(f"sqlite:///{tmp_path / 'b.db'}"), SqliteStorage)
    with pytest.raises(InvalidParameterError, match="'storage' parameter of minimize"):
        open_storage(42)


class TestPostgresStorage(StorageConformance):
    @pytest.fixture(autouse=True)
    def _server(self, postgres_server):
        self.server = postgres_server

    def make_storage(self, tmp_path):
        from sweepml.storage.postgres import PostgresStorage
        from sweepml.testing.postgres import create_database

        self.url = create_database(self.server)
        return PostgresStorage(self.url)

    def reopen(self, storage, tmp_path):
        from sweepml.storage.postgres import PostgresStorage

        storage.close()
        return PostgresStorage(self.url)

    def spec(self, tmp_path):
        return self.url


@pytest.mark.parametrize("content", [b"x", b"hello, this is text\n" * 50])
def test_a_file_that_is_not_sqlite_is_named_as_such(tmp_path, content):
    path = tmp_path / "s.db"
    path.write_bytes(content)
    with pytest.raises(StorageError, match=r"not a SQLite file at all \(\d+ bytes?"):
        SqliteStorage(path)
    assert path.read_bytes() == content  # untouched


def test_postgres_without_psycopg_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(StorageError, match=r"pip install 'sweepml\[postgres\]'"):
        open_storage("postgresql://nobody@/nowhere")
