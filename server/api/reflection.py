"""The standard gRPC services around Anshin's own: health (``grpc.health.v1``
with ``List``) and server reflection in both versions tools speak
(``grpc.reflection.v1`` — grpcurl and current clients — and ``v1alpha``).

grpcio-health-checking's servicer answers Check and Watch but not List; the
subclass here answers List from the same status map, so the two never
disagree. grpcio-reflection ships v1alpha only. v1 is the same protocol
under another package name (its messages are field for field those of
v1alpha), so one servicer answers both: v1 requests are read with the v1alpha
classes. Its descriptor file is registered under the v1 names so that
reflection can describe itself.

Anshin's own files are served as protoc wrote them *with* source info
(``anshin.v1.source_info``), so ``grpcurl describe`` shows the .proto
comments; the ``_pb2`` modules' embedded descriptors carry none.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha._async import ReflectionServicer as _AsyncReflection
from grpc_reflection.v1alpha._base import _collect_transitive_dependencies

V1ALPHA = "grpc.reflection.v1alpha.ServerReflection"
V1 = "grpc.reflection.v1.ServerReflection"
V1_FILE = "grpc/reflection/v1/reflection.proto"


class ListingHealthServicer(health.aio.HealthServicer):
    """The grpc.health.v1 servicer, with ``List``: every registered service's
    status, the server's own as ``""``."""

    async def List(
        self, request: health_pb2.HealthListRequest, context: Any
    ) -> health_pb2.HealthListResponse:
        return health_list(self._server_status)


def health_list(statuses: Mapping[str, int]) -> health_pb2.HealthListResponse:
    resp = health_pb2.HealthListResponse()
    for name, status in dict(statuses).items():  # a snapshot: List is non-atomic by contract
        resp.statuses[name].status = status
    return resp


@cache
def source_files() -> dict[str, bytes]:
    """Anshin's .proto files as FileDescriptorProtos with source info, by name."""
    from anshin.v1 import source_info

    fds = descriptor_pb2.FileDescriptorSet.FromString(
        base64.b64decode("".join(source_info.DESCRIPTOR_SET_BASE64))
    )
    return {f.name: f.SerializeToString() for f in fds.file}


@cache
def register_v1() -> None:
    """Put reflection v1's file into the default pool (once): v1alpha's, renamed."""
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName(V1_FILE)
        return
    except KeyError:
        pass
    fdp = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(fdp)
    fdp.name = V1_FILE
    fdp.package = "grpc.reflection.v1"
    fdp.options.Clear()
    for message in fdp.message_type:
        for field in message.field:
            if field.type_name.startswith(".grpc.reflection.v1alpha."):
                field.type_name = ".grpc.reflection.v1." + field.type_name.rsplit(".", 1)[1]
    for service in fdp.service:
        for method in service.method:
            for attr in ("input_type", "output_type"):
                name = getattr(method, attr)
                setattr(method, attr, ".grpc.reflection.v1." + name.rsplit(".", 1)[1])
    pool.Add(fdp)


class Reflection(_AsyncReflection):
    """v1alpha's servicer, answering Anshin's files with their source info."""

    def _answer_file(self, request: Any, descriptor: Any) -> Any:
        files: dict[str, Any] = {}
        _collect_transitive_dependencies(descriptor, files)
        with_info = source_files()
        out = []
        for name, d in files.items():
            if name in with_info:
                out.append(with_info[name])
            else:
                fdp = descriptor_pb2.FileDescriptorProto()
                d.CopyToProto(fdp)
                out.append(fdp.SerializeToString())
        return reflection_pb2.ServerReflectionResponse(
            file_descriptor_response=reflection_pb2.FileDescriptorResponse(
                file_descriptor_proto=out
            ),
            original_request=request,
        )

    def _file_by_filename(self, request: Any, filename: str) -> Any:
        try:
            return self._answer_file(request, self._pool.FindFileByName(filename))
        except KeyError:
            return super()._file_by_filename(request, filename)

    def _file_containing_symbol(self, request: Any, fully_qualified_name: str) -> Any:
        try:
            descriptor = self._find_file(fully_qualified_name)
        except KeyError:
            return super()._file_containing_symbol(request, fully_qualified_name)
        return self._answer_file(request, descriptor)

    def _find_file(self, symbol: str) -> Any:
        """The file defining ``symbol``: a service, message, enum, field, enum
        value — or a method (``anshin.v1.PostureService.CheckLogin``), which
        the pool's FindFileContainingSymbol does not look up (upb), and which
        ``grpcurl describe SERVICE.METHOD`` asks for."""
        try:
            return self._pool.FindFileContainingSymbol(symbol)
        except KeyError:
            return self._pool.FindMethodByName(symbol).containing_service.file  # or KeyError


def _v1_handlers(servicer: Reflection) -> dict[str, grpc.RpcMethodHandler]:
    method = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    return {"ServerReflectionInfo": method}


def add_health_and_reflection(server: Any, service_names: Iterable[str]) -> ListingHealthServicer:
    """Register health (with List) and reflection v1 + v1alpha on ``server``
    (a grpc.aio server, or the guard wrapping one); the health servicer, for
    the statuses to be set."""
    register_v1()
    servicer = ListingHealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    reflection = Reflection((*service_names, health.SERVICE_NAME, V1, V1ALPHA))
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(reflection, server)
    # Registered, as the generated add_*_to_server functions register v1alpha,
    # rather than as a generic handler: the guard then wraps it at start-up and
    # its grpc_server_started_total series exist from 0 like every other method's.
    server.add_registered_method_handlers(V1, _v1_handlers(reflection))
    return servicer
