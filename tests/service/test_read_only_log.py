"""A server whose verdict log was changed behind its back (issue 17): it starts,
serves reads to the auditor, refuses every write with FAILED_PRECONDITION, and
says so in health, GetStatus and the metrics (both backends)."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY

from anshin.v1 import (
    operator_pb2,
    operator_pb2_grpc,
    posture_pb2_grpc,
    verdicts_pb2,
    verdicts_pb2_grpc,
)
from rules.load import RuleSet
from server.config import Config
from server.main import build_app
from tests.conftest import TEST_NOW, FixedClock, RunningServer, db_rows, key_files
from tests.service.test_check_login_service import valid_request
from tests.service.test_verdict_log_service import at, login
from tests.store.test_log_forgery import _attacker

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def _health(channel: grpc.aio.Channel, service: str) -> int:
    resp = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=service)
    )
    return int(resp.status)


async def test_tampered_log_serves_reads_and_refuses_writes(
    server: RunningServer, tmp_path: Path, rules: RuleSet
) -> None:
    at(server, 1)
    first = await login(server, "c-1", "dev-1", TEST_NOW, compliant=True)
    await login(server, "c-2", "dev-2", TEST_NOW, compliant=False)
    assert await _health(server.channel, "anshin.log_integrity") == SERVING
    status = await operator_pb2_grpc.OperatorServiceStub(server.channel).GetStatus(
        operator_pb2.GetStatusRequest()
    )
    assert not status.HasField("log_integrity")
    await server.app.stop(0)
    # Someone with the database blanks the head (to hide a rewrite).
    with _attacker(server.db_url) as conn:
        conn.execute("UPDATE log_head SET key_id = '', signature = '' WHERE id = 1")
    app = await build_app(
        Config(listen="127.0.0.1:0", db=server.db_url, **key_files(server.db_url, tmp_path)),
        rules=rules,
        clock=FixedClock(TEST_NOW),
    )
    await app.server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")
    try:
        for name in ("", "anshin.v1.PostureService", "anshin.v1.ClaimService",
                     "anshin.v1.EventService", "anshin.log_integrity"):  # fmt: skip
            assert await _health(channel, name) == NOT_SERVING, name
        assert await _health(channel, "anshin.v1.VerdictLogService") == SERVING
        assert REGISTRY.get_sample_value("anshin_log_read_only") == 1
        status = await operator_pb2_grpc.OperatorServiceStub(channel).GetStatus(
            operator_pb2.GetStatusRequest()
        )
        assert status.log_integrity.read_only
        assert status.log_integrity.first_bad_seq == 2
        assert "no signature" in status.log_integrity.reason
        # A write: refused, naming the entry; nothing is appended.
        before = db_rows(server.db_url, "SELECT COUNT(*) FROM verdicts")
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await posture_pb2_grpc.PostureServiceStub(channel).CheckLogin(valid_request())
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "read-only" in (refused.value.details() or "")
        # A read: served (its access record goes to the process log instead).
        stub = verdicts_pb2_grpc.VerdictLogServiceStub(channel)
        entry = await stub.GetVerdict(verdicts_pb2.GetVerdictRequest(id=first))
        assert entry.id == first
        assert db_rows(server.db_url, "SELECT COUNT(*) FROM verdicts") == before
    finally:
        await channel.close()
        await app.stop(0)
