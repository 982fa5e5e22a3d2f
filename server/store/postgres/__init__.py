"""The PostgreSQL backend: several processes (and hosts) on one database."""

from __future__ import annotations

from server.store.postgres.connection import (
    PgConn,
    connect,
    connect_readonly,
    current_schema_version,
    migrate,
    shadowed_schema,
    split_url,
    where,
)
from server.store.postgres.log_reader import PostgresLogReader
from server.store.postgres.store import PostgresStore

__all__ = [
    "PgConn",
    "PostgresLogReader",
    "PostgresStore",
    "connect",
    "connect_readonly",
    "current_schema_version",
    "migrate",
    "shadowed_schema",
    "split_url",
    "where",
]
