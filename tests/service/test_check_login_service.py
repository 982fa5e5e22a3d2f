"""CheckLogin through a real in-process gRPC server and SQLite store."""

from __future__ import annotations

from datetime import timedelta

import grpc
import orjson
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from anshin.v1 import posture_pb2, posture_pb2_grpc
from tests.conftest import TEST_NOW, RunningServer

WIN11_EDGE_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/137.0.0.0 Safari/537.36 Edg/137.0.0.0"
)


def ts(dt) -> Timestamp:  # type: ignore[no-untyped-def]
    t = Timestamp()
    t.FromDatetime(dt)
    return t


def valid_request(**overrides: object) -> posture_pb2.CheckLoginRequest:
    req = posture_pb2.CheckLoginRequest(
        customer_id="cust-1",
        device_id="dev-1",
        login_time=ts(TEST_NOW - timedelta(minutes=1)),
        user_agent=WIN11_EDGE_UA,
        token_status=posture_pb2.TOKEN_STATUS_ACTIVE,
    )
    for k, v in overrides.items():
        if isinstance(v, Timestamp):
            getattr(req, k).CopyFrom(v)
        else:
            setattr(req, k, v)
    return req


async def count(server: RunningServer) -> int:
    return await server.app.store.count_verdicts()  # type: ignore[attr-defined]


def violations(err: grpc.aio.AioRpcError) -> dict[str, str]:
    status = rpc_status.from_call(err)
    assert status is not None, "INVALID_ARGUMENT must carry google.rpc.Status details"
    out = {}
    for detail in status.details:
        br = error_details_pb2.BadRequest()
        assert detail.Unpack(br)
        out.update({v.field: v.description for v in br.field_violations})
    return out


async def test_verdict_is_logged_before_reply_with_inputs(server: RunningServer) -> None:
    stub = posture_pb2_grpc.PostureServiceStub(server.channel)
    resp = await stub.CheckLogin(valid_request())
    assert resp.verdict_id
    record = await server.app.store.get_verdict(resp.verdict_id)  # type: ignore[attr-defined]
    assert record is not None
    inputs = orjson.loads(record.inputs)
    assert inputs["user_agent"] == WIN11_EDGE_UA
    assert inputs["customer_id"] == "cust-1"
    assert record.kind == "login_posture"
    assert record.outcome == posture_pb2.PostureVerdict.Name(resp.verdict).removeprefix(
        "POSTURE_VERDICT_"
    )
    assert record.rules_digest == resp.rules.digest
    assert {c.check_id for c in resp.checks} == {
        "os.supported",
        "browser.supported",
        "browser.latest",
        "antivirus",
        "phishwall",
        "token",
    }


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"customer_id": ""}, "customer_id"),
        ({"device_id": ""}, "device_id"),
        ({"user_agent": ""}, "user_agent"),
        ({"user_agent": "x" * (1024 * 1024)}, "user_agent"),
        ({"user_agent": "Mozilla/5.0\x00"}, "user_agent"),
        ({"customer_id": "c" * 129}, "customer_id"),
        ({"token_status": posture_pb2.TOKEN_STATUS_UNSPECIFIED}, "token_status"),
        ({"token_status": 99}, "token_status"),
        ({"login_time": ts(TEST_NOW + timedelta(days=1))}, "login_time"),
        ({"login_time": ts(TEST_NOW.replace(year=1999))}, "login_time"),
        ({"max_touch_points": -1}, "max_touch_points"),
    ],
)
async def test_bad_input_is_invalid_argument_naming_the_field_and_writes_nothing(
    server: RunningServer, overrides: dict[str, object], field: str
) -> None:
    stub = posture_pb2_grpc.PostureServiceStub(server.channel)
    before = await count(server)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.CheckLogin(valid_request(**overrides))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in violations(info.value)
    assert await count(server) == before


async def test_missing_login_time_and_nested_bad_fields_are_all_named(
    server: RunningServer,
) -> None:
    stub = posture_pb2_grpc.PostureServiceStub(server.channel)
    req = valid_request()
    req.ClearField("login_time")
    req.phishwall.installed = True
    req.phishwall.client_version = "4.x; DROP TABLE"
    req.antivirus.wsc_product_state = 0x1000000
    req.client_hints.platform = "p" * 2000
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.CheckLogin(req)
    named = violations(info.value)
    assert {
        "login_time",
        "phishwall.client_version",
        "antivirus.wsc_product_state",
        "client_hints.platform",
    } <= set(named)
    assert await count(server) == 0


async def test_request_id_is_echoed(server: RunningServer) -> None:
    stub = posture_pb2_grpc.PostureServiceStub(server.channel)
    call = stub.CheckLogin(valid_request(), metadata=(("x-request-id", "req-abc-123"),))
    resp = await call
    trailing = dict(await call.trailing_metadata())
    assert trailing["x-request-id"] == "req-abc-123"
    record = await server.app.store.get_verdict(resp.verdict_id)  # type: ignore[attr-defined]
    assert record is not None and record.request_id == "req-abc-123"


async def test_get_posture_returns_last_verdict_per_device(server: RunningServer) -> None:
    stub = posture_pb2_grpc.PostureServiceStub(server.channel)
    first = await stub.CheckLogin(valid_request(login_time=ts(TEST_NOW - timedelta(days=3))))
    second = await stub.CheckLogin(valid_request(login_time=ts(TEST_NOW - timedelta(days=1))))
    # Arrives later but happened earlier: event time decides, not arrival.
    await stub.CheckLogin(valid_request(login_time=ts(TEST_NOW - timedelta(days=2))))
    other = await stub.CheckLogin(valid_request(device_id="dev-2"))
    resp = await stub.GetPosture(posture_pb2.GetPostureRequest(customer_id="cust-1"))
    by_device = {d.device_id: d.verdict_id for d in resp.devices}
    assert by_device == {"dev-1": second.verdict_id, "dev-2": other.verdict_id}
    assert first.verdict_id not in by_device.values()
    # As of before the second login, the first is the last one seen.
    as_of = await stub.GetPosture(
        posture_pb2.GetPostureRequest(
            customer_id="cust-1", as_of=ts(TEST_NOW - timedelta(days=2, hours=12))
        )
    )
    assert [d.verdict_id for d in as_of.devices] == [first.verdict_id]


async def test_health_serving_and_reflection_lists_posture_service(server: RunningServer) -> None:
    health = health_pb2_grpc.HealthStub(server.channel)
    resp = await health.Check(health_pb2.HealthCheckRequest(service=""))
    assert resp.status == health_pb2.HealthCheckResponse.SERVING
    resp = await health.Check(health_pb2.HealthCheckRequest(service="anshin.v1.PostureService"))
    assert resp.status == health_pb2.HealthCheckResponse.SERVING
    refl = reflection_pb2_grpc.ServerReflectionStub(server.channel)
    call = refl.ServerReflectionInfo()
    await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
    await call.done_writing()
    names = set()
    async for r in call:
        names |= {s.name for s in r.list_services_response.service}
    assert "anshin.v1.PostureService" in names


async def test_release_health_turns_not_serving_when_data_is_stale(server: RunningServer) -> None:
    health = health_pb2_grpc.HealthStub(server.channel)
    req = health_pb2.HealthCheckRequest(service="anshin.release_data")
    assert (await health.Check(req)).status == health_pb2.HealthCheckResponse.SERVING
    # The shipped browser data is as of 2026-11-12: stale 30 days later.
    server.clock.now = TEST_NOW + timedelta(days=1000)
    await server.app.refresh_release_health()  # type: ignore[attr-defined]
    assert (await health.Check(req)).status == health_pb2.HealthCheckResponse.NOT_SERVING


async def test_stale_release_data_is_logged_once_a_minute_not_per_login(
    server: RunningServer,
) -> None:
    from structlog.testing import capture_logs

    stub = posture_pb2_grpc.PostureServiceStub(server.channel)
    stale_at = TEST_NOW + timedelta(days=1000)
    server.clock.now = stale_at
    # The newest Edge the data knows (157): an older one would FAIL on what the
    # data shows; this one can only be UNKNOWN while the data is not current.
    req = valid_request(
        login_time=ts(stale_at - timedelta(minutes=1)),
        user_agent=WIN11_EDGE_UA.replace("137.0.0.0", "157.0.0.0"),
    )
    with capture_logs() as logs:
        replies = [await stub.CheckLogin(req) for _ in range(3)]
    assert all(any(c.reason == "release_data_stale" for c in r.checks) for r in replies), (
        "each verdict still says why it is UNKNOWN"
    )
    warned = [x for x in logs if x["event"] == "release_data_stale"]
    assert len(warned) == 1, warned
    assert warned[0]["verdict_id"] == replies[0].verdict_id
    assert warned[0]["held_back"] == 0 and "browser.latest" in warned[0]["checks"]
