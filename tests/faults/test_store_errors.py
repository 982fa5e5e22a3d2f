"""Each backend tells "the database cannot serve this now" (StoreError →
UNAVAILABLE, retry) from "this is a bug" (anything else → INTERNAL, logged
with its traceback), on reads as on writes, and keeps serving after either."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from server.store.errors import StoreError
from server.store.postgres import PgConn, PostgresStore
from server.store.sqlite import SqliteStore
from tests.store.test_sqlite_store import record

# -- SQLite ----------------------------------------------------------------------


async def test_sqlite_reads_locked_is_store_error_a_bug_stays_a_bug(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db", busy_timeout_ms=100)
    holder = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        # A read that needs the lock (as a read of a locked file does): SQLITE_BUSY.
        with pytest.raises(StoreError, match="read failed: database is locked"):
            await store.read(lambda c: c.execute("BEGIN IMMEDIATE"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        await store.read(lambda c: c.execute("SELECT * FROM no_such_table"))
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.count_verdicts()


async def test_sqlite_writer_survives_an_error_without_a_result_code(tmp_path: Path) -> None:
    """An error sqlite3 raises without a result code must reach its caller, not
    end the writer thread (after which no write would ever be answered)."""
    store = SqliteStore(tmp_path / "a.db")

    def fails(conn: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("made here, no sqlite_errorcode")

    with pytest.raises(sqlite3.OperationalError, match="made here"):
        await asyncio.wait_for(store.write(fails), 10)
    assert await asyncio.wait_for(store.append_verdict(record()), 10) == 1
    await store.close()


# -- PostgreSQL ------------------------------------------------------------------


async def test_postgres_read_only_is_store_error_a_bug_stays_a_bug(
    pg_url: str, tmp_path: Path
) -> None:
    """A read-only transaction (the URL reaches a standby after a failover)
    cannot serve a write now: UNAVAILABLE. A bad statement is a bug."""
    import psycopg

    store = PostgresStore(pg_url, log_key_file=tmp_path / "log-signing.key")

    def write_read_only(conn: PgConn, _chain: object) -> None:
        conn.execute("SET TRANSACTION READ ONLY")
        conn.execute("INSERT INTO schema_migrations VALUES (999, 'x', 0)")

    with pytest.raises(StoreError, match="read-only transaction"):
        await store.write(write_read_only)
    with pytest.raises(psycopg.errors.UndefinedTable):
        await store.read(lambda c: c.execute("SELECT * FROM no_such_table"))
    await store.close()
