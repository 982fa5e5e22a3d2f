"""A real `anshin serve` process on SQLite: a disk that fails writes (I/O
errors) is UNAVAILABLE and recovers by itself; `--sqlite-busy-timeout-ms`
reaches the store; a bad value is refused at start-up."""

from __future__ import annotations

import resource
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest

from anshin.v1 import events_pb2, events_pb2_grpc
from tests.conftest import TEST_NOW, create_database, db_rows
from tests.e2e.conftest import ANSHIN, ROOT, free_port, server_env, wait_serving
from tests.e2e.test_fault_kill9 import _history
from tests.faults.support import (
    Writes,
    assert_claims_whole,
    assert_log_verifies,
    assert_served_once,
    assert_writes_succeed,
    counts,
    expect_unavailable,
)
from tests.faults.test_sqlite_locked import locked
from tests.service.test_claims_service import CUSTOMER, ts

pytestmark = pytest.mark.slow


@dataclass
class Served:
    proc: subprocess.Popen[str]
    address: str
    url: str
    lines: list[str] = field(default_factory=list)

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        return db_rows(self.url, sql)


@pytest.fixture
def serve(tmp_path: Path, rules_dir: Path) -> Iterator[Served]:
    """`anshin serve` on a SQLite file with a 300 ms busy timeout. Its output
    goes through a pipe, not a file: the I/O test makes file writes fail."""
    url = f"sqlite:///{tmp_path}/anshin.db"
    create_database(url)
    address = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen(
        [
            *ANSHIN,
            "serve",
            "--listen",
            address,
            "--db",
            url,
            "--rules",
            str(rules_dir),
            "--sqlite-busy-timeout-ms",
            "300",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env=server_env(url, tmp_path),
    )
    served = Served(proc, address, url)
    assert proc.stdout is not None
    stdout = proc.stdout
    reader = threading.Thread(target=lambda: served.lines.extend(stdout), daemon=True)
    reader.start()
    try:
        wait_serving(address)
        with grpc.insecure_channel(address) as ch:
            _history(ch, CUSTOMER)  # the claims below are approved
        yield served
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        reader.join(timeout=10)


async def test_failing_disk_is_unavailable_then_serves_again(serve: Served, tmp_path: Path) -> None:
    """Every file write of the server fails (EFBIG: its file-size limit
    lowered to 0 from outside, as a disk failing writes or gone read-only
    would): SQLite's I/O errors are UNAVAILABLE, reads still served."""
    writes = Writes.new()
    before = counts(serve.rows)
    soft, hard = resource.prlimit(serve.proc.pid, resource.RLIMIT_FSIZE)
    async with grpc.aio.insecure_channel(serve.address) as channel:
        resource.prlimit(serve.proc.pid, resource.RLIMIT_FSIZE, (0, hard))
        try:
            for name, call in writes.calls(channel):
                await expect_unavailable(call, name, within=5.0)
            coverage = await events_pb2_grpc.EventServiceStub(channel).GetCoverage(
                events_pb2.GetCoverageRequest(
                    customer_id=CUSTOMER, policy_id="HNB", as_of=ts(TEST_NOW)
                ),
                timeout=10,
            )
            assert len(coverage.periods) == 1
        finally:
            resource.prlimit(serve.proc.pid, resource.RLIMIT_FSIZE, (soft, hard))
        assert counts(serve.rows) == before, "a failed write left something behind"
        claim = await assert_writes_succeed(writes, channel)
    assert_served_once(serve.rows, before, claim)
    assert_claims_whole(serve.rows)
    assert_log_verifies(serve.url, tmp_path / "log-signing.key")
    assert serve.proc.poll() is None, "the server died"
    events = [line for line in serve.lines if "store_unavailable" in line]
    assert events and "disk I/O error" in events[0], events
    assert any("store_recovered" in line for line in serve.lines)


async def test_busy_timeout_flag_reaches_the_store(serve: Served, tmp_path: Path) -> None:
    writes = Writes.new()
    async with grpc.aio.insecure_channel(serve.address) as channel:
        with locked(tmp_path / "anshin.db"):
            for name, call in writes.calls(channel):
                # 300 ms from the flag, not the 5 s default.
                await expect_unavailable(call, name, within=2.5)
        await assert_writes_succeed(writes, channel)
