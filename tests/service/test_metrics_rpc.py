"""The standard gRPC server metrics after real calls of each kind, the build
info, store availability on a tampered log and the checkpoint age (both
backends): what a dashboard built for go-grpc-prometheus reads."""

from __future__ import annotations

import asyncio
import platform
from pathlib import Path

import grpc
import pytest
from prometheus_client import REGISTRY, generate_latest

from anshin.v1 import events_pb2, events_pb2_grpc, posture_pb2_grpc, verdicts_pb2, verdicts_pb2_grpc
from rules.load import RuleSet
from server.config import Config
from server.main import build_app
from server.metrics import LogSampler
from server.version import version
from tests.conftest import TEST_NOW, FixedClock, RunningServer, key_files
from tests.service.test_check_login_service import valid_request
from tests.service.test_events_service import registration
from tests.service.test_verdict_log_service import at, login
from tests.store.test_log_forgery import _attacker

SERIES = ("started", "received", "sent", "handled_ok", "handled_invalid", "handled_count")


def value(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def counts(grpc_type: str, service: str, method: str) -> dict[str, float]:
    """The method's standard series now (the registry is shared by the tests: deltas)."""
    labels = {"grpc_type": grpc_type, "grpc_service": service, "grpc_method": method}
    return {
        "started": value("grpc_server_started_total", labels),
        "received": value("grpc_server_msg_received_total", labels),
        "sent": value("grpc_server_msg_sent_total", labels),
        "handled_ok": value("grpc_server_handled_total", {**labels, "grpc_code": "OK"}),
        "handled_invalid": value(
            "grpc_server_handled_total", {**labels, "grpc_code": "INVALID_ARGUMENT"}
        ),
        "handled_count": value("grpc_server_handling_seconds_count", labels),
    }


def grown(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before[k] for k in SERIES}


async def test_a_unary_call_answered_and_refused(server: RunningServer) -> None:
    method = ("unary", "anshin.v1.PostureService", "CheckLogin")
    before = counts(*method)
    stub = posture_pb2_grpc.PostureServiceStub(server.channel)
    await stub.CheckLogin(valid_request())
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.CheckLogin(valid_request(customer_id=""))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # Two started, received and timed; one reply sent (a refusal sends none).
    assert grown(before, counts(*method)) == {
        "started": 2, "received": 2, "sent": 1, "handled_ok": 1, "handled_invalid": 1,
        "handled_count": 2,
    }  # fmt: skip
    text = generate_latest(REGISTRY).decode()
    assert "anshin_rpc_requests_total" not in text  # the home-made names are gone
    assert "anshin_rpc_duration_seconds" not in text


async def test_a_server_stream_counts_each_message_sent(server: RunningServer) -> None:
    at(server, 1)
    for i in range(3):
        await login(server, f"c-{i}", f"d-{i}", TEST_NOW, compliant=True)
    method = ("server_stream", "anshin.v1.VerdictLogService", "QueryVerdicts")
    before = counts(*method)
    stream = verdicts_pb2_grpc.VerdictLogServiceStub(server.channel).QueryVerdicts(
        verdicts_pb2.QueryVerdictsRequest(page_size=1, oldest_first=True)
    )
    pages = [page async for page in stream]
    assert len(pages) >= 3  # one entry a page: several messages on one call
    assert grown(before, counts(*method)) == {
        "started": 1, "received": 1, "sent": len(pages), "handled_ok": 1, "handled_invalid": 0,
        "handled_count": 1,
    }  # fmt: skip


async def test_a_client_stream_counts_each_message_received(server: RunningServer) -> None:
    method = ("client_stream", "anshin.v1.EventService", "IngestEvents")
    before = counts(*method)
    batches = [
        events_pb2.IngestEventsRequest(
            events=[events_pb2.EventEnvelope(registration=registration()) for _ in range(2)]
        )
        for _ in range(3)
    ]
    resp = await events_pb2_grpc.EventServiceStub(server.channel).IngestEvents(iter(batches))
    assert resp.accepted == 6
    assert grown(before, counts(*method)) == {
        "started": 1, "received": 3, "sent": 1, "handled_ok": 1, "handled_invalid": 0,
        "handled_count": 1,
    }  # fmt: skip


async def test_build_info_names_this_version(server: RunningServer) -> None:
    lines = [
        line
        for line in generate_latest(REGISTRY).decode().splitlines()
        if line.startswith("anshin_build_info{")
    ]
    assert len(lines) == 1, lines
    assert f'version="{version()}"' in lines[0]
    assert f'python="{platform.python_version()}"' in lines[0]
    assert f'grpc="{grpc.__version__}"' in lines[0]
    assert lines[0].endswith(" 1.0")


async def test_store_available_turns_0_when_the_log_is_read_only(
    server: RunningServer, tmp_path: Path, rules: RuleSet
) -> None:
    at(server, 1)
    await login(server, "c-1", "dev-1", TEST_NOW, compliant=True)
    await login(server, "c-2", "dev-2", TEST_NOW, compliant=False)
    assert value("anshin_store_available") == 1
    assert value("anshin_log_read_only") == 0
    await server.app.stop(0)  # type: ignore[attr-defined]
    with _attacker(server.db_url) as conn:  # someone with the database blanks the head
        conn.execute("UPDATE log_head SET key_id = '', signature = '' WHERE id = 1")
    app = await build_app(
        Config(listen="127.0.0.1:0", db=server.db_url, **key_files(server.db_url, tmp_path)),
        rules=rules,
        clock=FixedClock(TEST_NOW),
    )
    try:
        assert value("anshin_store_available") == 0
        assert value("anshin_log_read_only") == 1
        assert app.metrics_sampler is not None
        await app.metrics_sampler.sample()  # reads still succeed: still unavailable
        assert value("anshin_store_available") == 0
    finally:
        await app.stop(0)


async def test_checkpoint_age_and_log_head(server: RunningServer) -> None:
    at(server, 1)
    await login(server, "c-1", "dev-1", TEST_NOW, compliant=True)
    await login(server, "c-2", "dev-2", TEST_NOW, compliant=True)
    store = server.app.store  # type: ignore[attr-defined]
    checkpoint = None
    for _ in range(100):  # a quiet log is checkpointed within about a second
        checkpoint = await store.latest_checkpoint()
        if checkpoint is not None and checkpoint.seq == 2:
            break
        await asyncio.sleep(0.1)
    assert checkpoint is not None and checkpoint.seq == 2
    signed_at = checkpoint.created_us / 1_000_000
    await LogSampler(store, wall=lambda: signed_at + 90).sample()
    assert value("anshin_log_checkpoint_age_seconds") == pytest.approx(90, abs=1e-3)
    assert value("anshin_log_checkpoint_seq") == 2
    assert value("anshin_log_head_seq") == 2
    # The app's own sampler, on the wall clock: the checkpoint was just made.
    await server.app.metrics_sampler.sample()  # type: ignore[attr-defined]
    assert 0 <= value("anshin_log_checkpoint_age_seconds") < 60
