"""The connection the shared SQL runs on: sqlite3's, or PostgreSQL's wrapper
(``server/store/postgres/connection.py: PgConn``) with the same interface."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class Connection(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...

    def executemany(self, sql: str, params: Any) -> Any: ...


# Rows per IN (…) list: far below SQLite's bound-parameter limit.
IN_CHUNK = 500


def marks(n: int) -> str:
    """``?,?,…`` for an IN list of ``n`` values."""
    return ",".join("?" * n)


def insert_many(head: str, width: int, rows: int) -> str:
    """``head`` (``INSERT INTO t (…)``) with ``rows`` groups of ``width`` marks:
    many rows in one statement."""
    group = "(" + ",".join("?" * width) + ")"
    return f"{head} VALUES {','.join([group] * rows)}"
