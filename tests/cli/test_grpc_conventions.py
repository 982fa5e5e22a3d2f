"""The standard gRPC services as tools use them (issue 21 item 5): Health/List,
server reflection v1 and v1alpha, and descriptors that carry the .proto
comments, read the way grpcurl reads them (both backends, as every server test)."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2

from anshin.v1 import operator_pb2, operator_pb2_grpc
from server.api.reflection import V1, V1ALPHA, health_list
from server.version import version
from tests.conftest import RunningServer

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def _reflect(
    channel: grpc.aio.Channel, service: str, request: reflection_pb2.ServerReflectionRequest
) -> reflection_pb2.ServerReflectionResponse:
    """One request on the reflection stream of ``service`` (v1 or v1alpha); the
    two are wire-identical, so one message class reads both."""
    call = channel.stream_stream(
        f"/{service}/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )(iter([request]))
    replies = [r async for r in call]
    assert len(replies) == 1
    return replies[0]


def _files(
    resp: reflection_pb2.ServerReflectionResponse,
) -> dict[str, descriptor_pb2.FileDescriptorProto]:
    out = {}
    for raw in resp.file_descriptor_response.file_descriptor_proto:
        fdp = descriptor_pb2.FileDescriptorProto.FromString(raw)
        out[fdp.name] = fdp
    return out


def _service_comment(fdp: descriptor_pb2.FileDescriptorProto, service: str, method: str) -> str:
    """The leading comment of ``service.method``, found as grpcurl finds it:
    through the source_code_info location path [6 (service), i, 2 (method), j]."""
    si = next(i for i, s in enumerate(fdp.service) if s.name == service)
    mi = next(j for j, m in enumerate(fdp.service[si].method) if m.name == method)
    for loc in fdp.source_code_info.location:
        if list(loc.path) == [6, si, 2, mi]:
            return loc.leading_comments
    return ""


async def test_reflection_v1_and_v1alpha_list_the_same_services(server: RunningServer) -> None:
    ask = reflection_pb2.ServerReflectionRequest(list_services="")
    listed = {}
    for version_name in (V1, V1ALPHA):
        resp = await _reflect(server.channel, version_name, ask)
        listed[version_name] = {s.name for s in resp.list_services_response.service}
    assert listed[V1] == listed[V1ALPHA]
    assert {V1, V1ALPHA, "grpc.health.v1.Health", "anshin.v1.PostureService"} <= listed[V1]


async def test_describe_over_v1_carries_the_proto_comments(server: RunningServer) -> None:
    resp = await _reflect(
        server.channel,
        V1,
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="anshin.v1.PostureService"),
    )
    files = _files(resp)
    posture = files["anshin/v1/posture.proto"]
    comment = _service_comment(posture, "PostureService", "CheckLogin")
    assert comment.strip(), "no leading comment: descriptors served without source info"
    # The dependencies come along, as grpcurl needs them to describe messages.
    assert "google/protobuf/timestamp.proto" in files


async def test_reflection_describes_itself_under_v1(server: RunningServer) -> None:
    resp = await _reflect(
        server.channel, V1, reflection_pb2.ServerReflectionRequest(file_containing_symbol=V1)
    )
    fdp = _files(resp)["grpc/reflection/v1/reflection.proto"]
    assert fdp.package == "grpc.reflection.v1"
    method = fdp.service[0].method[0]
    assert method.input_type == ".grpc.reflection.v1.ServerReflectionRequest"
    unknown = await _reflect(
        server.channel, V1, reflection_pb2.ServerReflectionRequest(file_containing_symbol="no.Such")
    )
    assert unknown.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]


async def test_health_list_agrees_with_check(server: RunningServer) -> None:
    stub = health_pb2_grpc.HealthStub(server.channel)
    listed = await stub.List(health_pb2.HealthListRequest())
    assert {"", "anshin.v1.PostureService", "anshin.v1.VerdictLogService"} <= set(listed.statuses)
    for name, status in listed.statuses.items():
        checked = await stub.Check(health_pb2.HealthCheckRequest(service=name))
        assert checked.status == status.status, name


def test_health_list_is_the_status_map() -> None:
    resp = health_list({"": SERVING, "a": NOT_SERVING})
    assert {k: v.status for k, v in resp.statuses.items()} == {"": SERVING, "a": NOT_SERVING}
    assert not health_list({}).statuses


async def test_get_status_names_the_server_version(server: RunningServer) -> None:
    status = await operator_pb2_grpc.OperatorServiceStub(server.channel).GetStatus(
        operator_pb2.GetStatusRequest()
    )
    assert status.server_version == version() != ""


# What `grpcurl describe SYMBOL` asks file_containing_symbol for, and the file
# that must come back: a service, a method (SERVICE.METHOD), a message, an enum.
SYMBOLS = {
    "anshin.v1.PostureService": "anshin/v1/posture.proto",
    "anshin.v1.PostureService.CheckLogin": "anshin/v1/posture.proto",
    "anshin.v1.CheckLoginRequest": "anshin/v1/posture.proto",
    "anshin.v1.Outcome": "anshin/v1/common.proto",
}


@pytest.mark.parametrize("reflection", [V1, V1ALPHA])
async def test_every_kind_of_symbol_is_found(server: RunningServer, reflection: str) -> None:
    for symbol, file in SYMBOLS.items():
        resp = await _reflect(
            server.channel,
            reflection,
            reflection_pb2.ServerReflectionRequest(file_containing_symbol=symbol),
        )
        assert not resp.HasField("error_response"), (symbol, resp.error_response)
        files = _files(resp)
        assert file in files, symbol
        if symbol.endswith(".CheckLogin"):  # what describe prints: the method's comment
            assert _service_comment(files[file], "PostureService", "CheckLogin").strip()
    missing = await _reflect(
        server.channel,
        reflection,
        reflection_pb2.ServerReflectionRequest(
            file_containing_symbol="anshin.v1.PostureService.NoSuchMethod"
        ),
    )
    assert missing.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]
