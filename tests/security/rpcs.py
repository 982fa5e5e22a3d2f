"""Every RPC the server can serve, from the proto descriptors, and a generic caller."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2

import anshin.v1
from server.api.reflection import V1, register_v1


def _service_descriptors() -> list[ServiceDescriptor]:
    services: dict[str, ServiceDescriptor] = {}
    modules = [
        importlib.import_module(f"anshin.v1.{m.name}")
        for m in pkgutil.iter_modules(anshin.v1.__path__)
        if m.name.endswith("_pb2")
    ]
    for module in [*modules, health_pb2, reflection_pb2]:
        for svc in module.DESCRIPTOR.services_by_name.values():
            services[svc.full_name] = svc
    # Reflection v1: served from v1alpha's descriptors renamed (server/api/reflection.py).
    register_v1()
    v1 = descriptor_pool.Default().FindServiceByName(V1)
    services[v1.full_name] = v1
    return [services[k] for k in sorted(services)]


@dataclass(frozen=True)
class Rpc:
    service: str
    path: str  # "/pkg.Service/Method"
    method: MethodDescriptor

    @property
    def id(self) -> str:
        return self.path.rsplit(".", 1)[-1]


ALL_RPCS = [
    Rpc(svc.full_name, f"/{svc.full_name}/{m.name}", m)
    for svc in _service_descriptors()
    for m in svc.methods
]


def _empty(descriptor: Any) -> Any:
    return message_factory.GetMessageClass(descriptor)()


def invoke(
    channel: grpc.Channel, rpc: Rpc, metadata: Any = (), timeout: float = 10.0
) -> grpc.StatusCode:
    """Call ``rpc`` with an empty request; the status code (OK if it succeeded)."""
    m = rpc.method
    request = _empty(m.input_type)
    ser = type(request).SerializeToString
    de = _empty(m.output_type).__class__.FromString
    try:
        if not m.client_streaming and not m.server_streaming:
            channel.unary_unary(rpc.path, ser, de)(request, metadata=metadata, timeout=timeout)
        elif not m.client_streaming:
            it = channel.unary_stream(rpc.path, ser, de)(
                request, metadata=metadata, timeout=timeout
            )
            if rpc.path.endswith("/Watch"):  # never ends by itself
                next(it)
                it.cancel()
            else:
                list(it)
        elif not m.server_streaming:
            channel.stream_unary(rpc.path, ser, de)(
                iter([request]), metadata=metadata, timeout=timeout
            )
        else:
            it = channel.stream_stream(rpc.path, ser, de)(
                iter([request]), metadata=metadata, timeout=timeout
            )
            next(it)
            it.cancel()
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK
