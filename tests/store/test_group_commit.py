"""SQLite group commit: batch only when commits take CPU the requests need.

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


async def _latencies(store: SqliteStore, job: Callable[[sqlite3.Connection], None]) -> list[float]:
    """Ten writes, one every SPACING seconds (an open-loop caller), each timed."""

    async def one() -> float:
        t0 = time.perf_counter()
        await store.write(job)
        return time.perf_counter() - t0

    tasks = []
    for _ in range(10):
        tasks.append(asyncio.create_task(one()))
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


async def test_cpu_heavy_commits_are_shared(store: SqliteStore) -> None:
    # Each write burns 20 ms of CPU: commits take 2/3 of a core, so the
    # writer holds the next commit until INTERVAL after the previous one and
    # the writes arriving meanwhile share it.
    try:
        lat = await _latencies(store, lambda conn: _busy_wait(0.02))
    finally:
        await store.close()
    assert lat[0] < INTERVAL / 2, lat  # an idle writer commits at once
    assert max(lat) > INTERVAL / 2, lat
