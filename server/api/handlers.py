"""Registering a servicer with some methods' (de)serializers replaced.

IngestEvents receives its stream messages undecoded (bulk worker processes
decode them) and QueryVerdicts sends pages already encoded: their handlers
are the generated ones with no deserializer / serializer. The generated
``add_*Servicer_to_server`` function is run against a recorder to obtain the
service name and its handlers, the chosen ones are replaced, and the lot is
registered with the real server (through the guard: ``GuardedServer``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import grpc


class Registry(Protocol):
    def add_generic_rpc_handlers(self, handlers: Any) -> None: ...

    def add_registered_method_handlers(
        self, service: str, handlers: dict[str, grpc.RpcMethodHandler]
    ) -> None: ...


class _Recorder:
    def __init__(self) -> None:
        self.name = ""
        self.handlers: dict[str, grpc.RpcMethodHandler] = {}

    def add_generic_rpc_handlers(self, _: object) -> None:
        pass

    def add_registered_method_handlers(
        self, name: str, handlers: dict[str, grpc.RpcMethodHandler]
    ) -> None:
        self.name, self.handlers = name, dict(handlers)


def register_with(
    add_to_server: Callable[[Any, Any], None],
    servicer: object,
    server: Registry,
    replace: Mapping[str, grpc.RpcMethodHandler],
) -> None:
    """``add_to_server(servicer, server)``, with the handlers in ``replace`` instead."""
    recorder = _Recorder()
    add_to_server(servicer, recorder)
    handlers = {**recorder.handlers, **replace}
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(recorder.name, handlers),)
    )
    server.add_registered_method_handlers(recorder.name, handlers)
