"""Durable study records: the protocol, SQLite, and an in-memory twin."""

from __future__ import annotations

import os
from pathlib import Path

from sweepml.exceptions import InvalidParameterError
from sweepml.storage.base import DriverInfo, DriverStatus, Storage, StudyInfo
from sweepml.storage.memory import MemoryStorage
from sweepml.storage.sqlite import SqliteStorage

__all__ = [
    "DriverInfo",
    "DriverStatus",
    "MemoryStorage",
    "SqliteStorage",
    "Storage",
    "StudyInfo",
    "open_storage",
]

StorageLike = Storage | str | os.PathLike[str] | None


def open_storage(spec: StorageLike, *, create: bool = True, owner: str = "minimize") -> Storage:
    """A storage from None (in memory), a path or ``sqlite:///path`` (SQLite), a
    ``postgresql://`` URL (PostgreSQL, extra ``postgres``), or an instance."""
    if spec is None:
        return MemoryStorage()
    if isinstance(spec, Storage):
        return spec
    if isinstance(spec, str) and spec.startswith(("postgresql://", "postgres://")):
        from sweepml.storage.postgres import PostgresStorage

        return PostgresStorage(spec)
    if isinstance(spec, str | os.PathLike):
        path = os.fspath(spec)
        if path.startswith("sqlite:///"):
            path = path[len("sqlite:///") :]
        if path:
            return SqliteStorage(Path(path), create=create)
    raise InvalidParameterError(
        f"The 'storage' parameter of {owner} must be None, a file path, 'sqlite:///path', a "
        f"'postgresql://...' URL or a Storage; got {spec!r}."
    )
