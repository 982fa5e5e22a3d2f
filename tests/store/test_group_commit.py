"""SQLite group commit: batch only when commits take CPU the requests need,
and only while the event loop is producing writes that could join the batch.

A server with CPU to spare must commit each write at once (the p99 of a
login check at a moderate rate depends on it); a server whose commits eat a
large share of a core must let writes share commits. What counts is the
writer's CPU time, not its wall time: waiting for a slow fsync costs the
requests nothing.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from server.store.sqlite import SqliteStore

INTERVAL = 0.4  # far longer than any commit here: a delayed write is obvious
SPACING = 0.03


def _busy_wait(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


async def _latencies(
    store: SqliteStore, job: Callable[[sqlite3.Connection], None], *, loop_busy: bool = False
) -> list[float]:
    """Ten writes, one every SPACING seconds (an open-loop caller), each timed.

    ``loop_busy``: the event loop spends the time between writes computing
    (as a server's loop does serving other requests) instead of sleeping.
    """

    async def one() -> float:
        t0 = time.perf_counter()
        await store.write(job)
        return time.perf_counter() - t0

    tasks = []
    for _ in range(10):
        tasks.append(asyncio.create_task(one()))
        if loop_busy:
            for _ in range(3):  # the write is submitted, then handed to the writer
                await asyncio.sleep(0)
            _busy_wait(SPACING / 3)  # shorter: the writer's CPU share stays high
        else:
            await asyncio.sleep(SPACING)
    return list(await asyncio.gather(*tasks))


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    # Closed by each test, on its own event loop. The rate trigger is out of
    # reach here: only the CPU-share trigger is under test.
    return SqliteStore(tmp_path / "gc.db", busy_rate=1e9, busy_commit_interval=INTERVAL)


async def test_slow_io_without_cpu_does_not_delay_commits(store: SqliteStore) -> None:
    # Each write waits 20 ms (as for a slow disk) but uses no CPU: the writer
    # is busy 2/3 of its wall time, yet nothing is gained by holding commits.
    try:
        lat = await _latencies(store, lambda conn: time.sleep(0.02))
    finally:
        await store.close()
    assert max(lat) < INTERVAL / 2, lat


def _count_commits(store: SqliteStore) -> list[str]:
    """Every COMMIT the writer runs from now on (one per batch)."""
    commits: list[str] = []
    store._writer_conn.set_trace_callback(
        lambda sql: commits.append(sql) if sql == "COMMIT" else None
    )
    return commits


async def test_cpu_heavy_commits_are_shared_while_the_loop_is_busy(store: SqliteStore) -> None:
    # Each write burns 20 ms of CPU: commits take most of a core, and the
    # event loop is busy between writes (serving other requests), so the
    # writer holds the next commit until INTERVAL after the previous one and
    # the writes arriving meanwhile share it.
    commits = _count_commits(store)
    try:
        lat = await _latencies(store, lambda conn: _busy_wait(0.02), loop_busy=True)
    finally:
        await store.close()
    assert lat[0] < INTERVAL / 2, lat  # an idle writer commits at once
    assert len(commits) <= 5, (commits, lat)  # ten writes, shared commits


async def test_an_idle_loop_is_not_kept_waiting(store: SqliteStore) -> None:
    # The same CPU-heavy commits, but the event loop has nothing else to do
    # between writes: no other write can join a held commit, so each one
    # commits at once (holding it would only idle the core).
    try:
        lat = await _latencies(store, lambda conn: _busy_wait(0.02))
    finally:
        await store.close()
    assert max(lat) < INTERVAL / 2, lat


async def test_a_closed_loop_of_callers_commits_when_all_are_waiting(tmp_path: Path) -> None:
    # Under the rate trigger (far more than busy_rate appends a second), a
    # pool of callers each waiting for its own write: once all of them wait,
    # the loop is idle and the held commit goes ahead long before INTERVAL.
    store = SqliteStore(tmp_path / "gc.db", busy_rate=1.0, busy_commit_interval=INTERVAL)

    async def caller() -> float:
        worst = 0.0
        for _ in range(5):
            t0 = time.perf_counter()
            await store.write(lambda conn: None)
            worst = max(worst, time.perf_counter() - t0)
        return worst

    try:
        worst = await asyncio.gather(*(caller() for _ in range(8)))
    finally:
        await store.close()
    assert max(worst) < INTERVAL / 2, worst
