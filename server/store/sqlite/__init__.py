"""The SQLite backend: one file, one writer thread doing group commit."""

from __future__ import annotations

from server.store.sqlite.connection import connect, current_schema_version, migrate
from server.store.sqlite.log_reader import SqliteLogReader
from server.store.sqlite.store import SqliteStore

__all__ = ["SqliteLogReader", "SqliteStore", "connect", "current_schema_version", "migrate"]
