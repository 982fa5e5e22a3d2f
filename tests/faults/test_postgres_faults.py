"""Issue 7, item 5 on PostgreSQL: connections the server ended are replaced
without a caller noticing; locked tables, and a database gone away, are
UNAVAILABLE within a bounded time with nothing half-written; the service
serves again by itself when the database does; an unreachable database at
start-up is a clear refusal.

The cluster itself is never stopped (other tests and people use it): its
connections are ended with ``pg_terminate_backend`` (what a restart does to
them), and "down" is a proxy in front of it going away.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import grpc
import psycopg

from anshin.v1 import posture_pb2_grpc
from server.store.postgres import split_url
from tests.conftest import db_rows
from tests.e2e.conftest import ANSHIN, ROOT, free_port, server_env
from tests.faults.conftest import StartServer, log_key
from tests.faults.support import (
    Writes,
    assert_claims_whole,
    assert_log_verifies,
    assert_served_once,
    assert_writes_succeed,
    counts,
    expect_unavailable,
    login,
    server_rows,
)
from tests.faults.tcp_proxy import TcpProxy
from tests.service.test_claims_service import record_history

OUTAGE = 8.0  # seconds


def _backends(pg_url: str, app_name: str) -> set[int]:
    rows = db_rows(
        pg_url, "SELECT pid FROM pg_stat_activity WHERE application_name = ?", (app_name,)
    )
    return {int(r[0]) for r in rows}


async def test_connections_ended_by_the_server_are_replaced_unseen(
    start_server: StartServer, pg_url: str, tmp_path: Path
) -> None:
    """After a restart every pooled connection is dead. None of them may
    reach a caller as UNAVAILABLE: each is found dead when taken from the
    pool and replaced, one call after another and many at once."""
    app_name = f"anshin-fault-{uuid.uuid4().hex[:12]}"
    server = await start_server(f"{pg_url}&application_name={app_name}&pool_min=4")
    await record_history(server, incidents=5)
    rows = server_rows(server)
    old = _backends(pg_url, app_name)
    assert len(old) >= 4, old  # the pool holds connections to lose
    ended = db_rows(
        pg_url,
        # With a timeout, returns once each backend has exited.
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = ?",
        (app_name,),
    )
    assert ended and all(r[0] is True for r in ended), ended
    assert not _backends(pg_url, app_name) & old

    writes = Writes.new()
    before = counts(rows)
    claim = await assert_writes_succeed(writes, server.channel)  # one after another
    assert_served_once(rows, before, claim)

    db_rows(
        pg_url,
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = ?",
        (app_name,),
    )
    many = [Writes.new(k) for k in range(1, 5)]
    await asyncio.gather(*(assert_writes_succeed(w, server.channel) for w in many))  # at once
    assert not _backends(pg_url, app_name) & old
    assert_claims_whole(rows)
    assert_log_verifies(server.db_url, log_key(server.db_url, tmp_path))


async def test_locked_tables_are_unavailable_within_the_lock_timeout_then_serve(
    start_server: StartServer, pg_url: str, tmp_path: Path
) -> None:
    """Another session (an operator's migration, a stuck maintenance job)
    holds the log head and the events table: writes and the reads that need
    them are UNAVAILABLE after the lock timeout, not whenever it lets go."""
    server = await start_server(pg_url, pg_lock_timeout_ms=300)
    await record_history(server)
    rows = server_rows(server)
    writes = Writes.new()
    before = counts(rows)
    holder = psycopg.connect(split_url(pg_url)[0])
    try:
        holder.execute("LOCK TABLE log_head, events IN ACCESS EXCLUSIVE MODE")
        for name, call in writes.calls(server.channel):
            # 300 ms, not the 5 s default nor the 20 s deadline.
            await expect_unavailable(call, name, within=2.5)
    finally:
        holder.rollback()
        holder.close()
    assert counts(rows) == before, "a refused call left something behind"
    claim = await assert_writes_succeed(writes, server.channel)
    assert_served_once(rows, before, claim)
    assert_claims_whole(rows)
    assert_log_verifies(server.db_url, log_key(server.db_url, tmp_path))


def _through(url: str, port: int) -> str:
    parsed = urlparse(url)
    user = parsed.netloc.rpartition("@")[0]
    return urlunparse(
        parsed._replace(netloc=f"{user}@127.0.0.1:{port}" if user else f"127.0.0.1:{port}")
    )


async def test_database_gone_is_unavailable_and_service_returns_with_it(
    start_server: StartServer, pg_url: str, tmp_path: Path
) -> None:
    parsed = urlparse(pg_url)
    proxy = TcpProxy((parsed.hostname or "127.0.0.1", parsed.port or 5432))
    proxy.up()
    try:
        pool_timeout = 1.0
        server = await start_server(_through(pg_url, proxy.port) + f"&pool_timeout={pool_timeout}")
        await record_history(server)

        def rows(sql: str) -> list[tuple[object, ...]]:  # straight, not through the proxy
            return db_rows(pg_url, sql)

        writes = Writes.new()
        before = counts(rows)

        proxy.down()
        down_at = time.monotonic()
        for name, call in writes.calls(server.channel):
            await expect_unavailable(call, name, within=pool_timeout + 3.0)
        assert counts(rows) == before, "a refused call left something behind"
        # An outage long enough for reconnection attempts to have backed off
        # (1 s, 2 s, 4 s, …), callers meanwhile still told UNAVAILABLE.
        posture = posture_pb2_grpc.PostureServiceStub(server.channel)
        while time.monotonic() - down_at < OUTAGE:
            await expect_unavailable(
                lambda t: posture.CheckLogin(login(), timeout=t), "CheckLogin", within=4.0
            )
            await asyncio.sleep(0.5)

        proxy.up()
        # The same process serves again as soon as it can reach the database,
        # not when a backed-off reconnection attempt happens to come round.
        started = time.monotonic()
        while True:
            try:
                await posture.CheckLogin(login(), timeout=10)
                break
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.UNAVAILABLE, exc
                assert time.monotonic() - started < 15, (
                    "not serving 15 s after the database returned"
                )
                await asyncio.sleep(0.2)
        recovered_in = time.monotonic() - started
        assert recovered_in < pool_timeout + 1.5, f"serving again only after {recovered_in:.1f} s"
        before = counts(rows)
        claim = await assert_writes_succeed(writes, server.channel)
        assert_served_once(rows, before, claim)
        assert_claims_whole(rows)
        assert_log_verifies(pg_url, log_key(server.db_url, tmp_path))
    finally:
        proxy.down()


def test_unreachable_database_at_start_up_is_a_clear_refusal(tmp_path: Path) -> None:
    """Nothing to serve from: exit 1 at once with one line saying why (the
    orchestrator restarts it; a balancer never sends it a call), rather than
    a process that looks healthy and answers UNAVAILABLE to everything."""
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/test"
    started = time.monotonic()
    done = subprocess.run(
        [*ANSHIN, "serve", "--listen", f"127.0.0.1:{free_port()}", "--db", url],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
        env=server_env(url, tmp_path),
    )
    assert done.returncode == 5, done.stdout + done.stderr  # ran and failed (exit_codes)
    assert "cannot connect to PostgreSQL" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert time.monotonic() - started < 30
