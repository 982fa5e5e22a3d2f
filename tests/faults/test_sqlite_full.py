"""Issue 7, item 5: a *full* disk under the SQLite store is UNAVAILABLE,
nothing is half-written (no decision without its ledger reservation, nor the
reverse; the log verifies), and once space is freed the service writes again
by itself.

The disk is real: the database lives on a small tmpfs, filled up by a ballast
file, as when logs or backups fill a volume. Mounting needs root (as in CI
and this project's containers); elsewhere the test is skipped, saying why.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from tests.faults.conftest import StartServer, log_key
from tests.faults.support import (
    Writes,
    assert_claims_whole,
    assert_log_verifies,
    assert_served_once,
    assert_writes_succeed,
    counts,
    server_rows,
)
from tests.service.test_claims_service import INCIDENTS, record_history

FS_BYTES = 24 * 1024 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={FS_BYTES}", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill up (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Write a ballast file until the disk is full; returns it."""
    ballast = disk / "ballast"
    chunk = b"\0" * (256 * 1024)
    with ballast.open("wb", buffering=0) as f:
        with contextlib.suppress(OSError):
            while True:
                f.write(chunk)
        small = b"\0" * 4096  # the last pages
        try:
            while True:
                f.write(small)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return ballast


async def test_full_disk_is_unavailable_nothing_half_written_then_serves_again(
    start_server: StartServer, small_disk: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{small_disk}/anshin.db"
    server = await start_server(url, sqlite_busy_timeout_ms=300)
    await record_history(server, incidents=INCIDENTS)
    rows = server_rows(server)
    ballast = fill(small_disk)

    # Mixed concurrent writes until the store refuses: some may still fit (in
    # pages and WAL space already allocated), then every commit needs room. Each
    # claim its own incident (the refused ones are approved once space is back).
    refused: list[Writes] = []
    stored = 0
    for n in range(INCIDENTS // 6):
        batch = [Writes.new(6 * n + k) for k in range(6)]
        results = await asyncio.gather(
            *(call(20.0) for w in batch for _, call in w.calls(server.channel)),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, grpc.aio.AioRpcError):
                assert result.code() == grpc.StatusCode.UNAVAILABLE, result
            else:
                assert not isinstance(result, BaseException), result
                stored += 1
        refused += [
            w
            for k, w in enumerate(batch)
            if any(isinstance(r, grpc.aio.AioRpcError) for r in results[3 * k : 3 * k + 3])
        ]
        if all(isinstance(r, grpc.aio.AioRpcError) for r in results):
            break
    else:
        pytest.fail(f"the full disk never refused a write ({stored} calls stored)")
    assert refused
    assert_claims_whole(rows)
    assert_log_verifies(url, log_key(url, tmp_path))

    # Space is freed (the ballast deleted): the refused requests, sent again,
    # are stored — by the same process, without a restart.
    ballast.unlink()
    before = counts(rows)
    claim = await assert_writes_succeed(refused[-1], server.channel)
    assert_served_once(rows, before, claim)
    for writes in refused[:-1]:
        await assert_writes_succeed(writes, server.channel)
    assert_claims_whole(rows)
    assert_log_verifies(url, log_key(url, tmp_path))
    assert os.statvfs(small_disk).f_bfree > 0
