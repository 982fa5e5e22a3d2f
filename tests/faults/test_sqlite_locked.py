"""Issue 7, item 5: a *locked* SQLite store is UNAVAILABLE within the busy
timeout, nothing of the refused call is stored, and the service serves again
by itself once the lock is gone."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import grpc

from anshin.v1 import events_pb2, events_pb2_grpc
from tests.conftest import TEST_NOW
from tests.faults.conftest import StartServer, log_key
from tests.faults.support import (
    Writes,
    assert_claims_whole,
    assert_log_verifies,
    assert_served_once,
    assert_writes_succeed,
    counts,
    expect_unavailable,
    server_rows,
)
from tests.service.test_claims_service import CUSTOMER, record_history, ts

BUSY_MS = 300


@contextlib.contextmanager
def locked(path: Path, how: str = "EXCLUSIVE") -> Iterator[sqlite3.Connection]:
    """Another connection (an operator's sqlite3 shell, another process) holding
    the database's write lock until the block ends."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"BEGIN {how}")
    try:
        yield conn
    finally:
        conn.execute("ROLLBACK")
        conn.close()


async def test_locked_database_is_unavailable_then_serves_again(
    start_server: StartServer, tmp_path: Path
) -> None:
    db = tmp_path / "anshin.db"
    server = await start_server(f"sqlite:///{db}", sqlite_busy_timeout_ms=BUSY_MS)
    await record_history(server)  # so that the claim below is approved
    rows = server_rows(server)
    writes = Writes.new()
    before = counts(rows)
    with locked(db):
        for name, call in writes.calls(server.channel):
            # The busy timeout, not the default 5 s nor the caller's 20 s deadline.
            took = await expect_unavailable(call, name, within=BUSY_MS / 1000 + 2.0)
            assert took >= BUSY_MS / 1000 * 0.8, f"{name} did not wait for the lock"
        # Reads need no write lock (WAL): they are still served meanwhile.
        coverage = await events_pb2_grpc.EventServiceStub(server.channel).GetCoverage(
            events_pb2.GetCoverageRequest(
                customer_id=CUSTOMER, policy_id="HNB", as_of=ts(TEST_NOW)
            ),
            timeout=5,
        )
        assert coverage is not None
        assert counts(rows) == before, "a refused call left something behind"
    # The lock is gone: the same requests are served, without a restart.
    claim = await assert_writes_succeed(writes, server.channel)
    assert_served_once(rows, before, claim)
    assert_claims_whole(rows)
    assert_log_verifies(server.db_url, log_key(server.db_url, tmp_path))


async def test_queued_writes_fail_together_and_the_next_batch_commits(
    start_server: StartServer, tmp_path: Path
) -> None:
    """Concurrent calls waiting behind one locked writer: each is UNAVAILABLE
    (none hangs past about two busy timeouts, none half-written), and the
    writer thread survives to commit what comes after."""
    import asyncio

    db = tmp_path / "anshin.db"
    server = await start_server(f"sqlite:///{db}", sqlite_busy_timeout_ms=BUSY_MS)
    await record_history(server, incidents=8)
    rows = server_rows(server)
    batch = [Writes.new(k) for k in range(8)]
    before = counts(rows)
    started = time.monotonic()
    with locked(db, "IMMEDIATE"):
        results = await asyncio.gather(
            *(call(20.0) for w in batch for _, call in w.calls(server.channel)),
            return_exceptions=True,
        )
    took = time.monotonic() - started
    codes = {r.code() if isinstance(r, grpc.aio.AioRpcError) else "OK" for r in results}
    assert codes == {grpc.StatusCode.UNAVAILABLE}, codes
    assert took < 2 * BUSY_MS / 1000 + 3.0, took
    assert counts(rows) == before
    for w in batch:
        await assert_writes_succeed(w, server.channel)
    assert counts(rows)["claims"] == before["claims"] + len(batch)
    assert_claims_whole(rows)
    assert_log_verifies(server.db_url, log_key(server.db_url, tmp_path))
