"""Each backend tells "the database cannot serve this now" (StoreError →
UNAVAILABLE, retry) from "this is a bug" (anything else → INTERNAL, logged
with its traceback), on reads as on writes, and keeps serving after either."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from server.store.base import StoreError
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
