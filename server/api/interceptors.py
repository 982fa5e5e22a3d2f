"""Server interceptors: request id, authentication, limits, access log, error mapping.

Before a handler runs: the request id is bound, the caller is authenticated
and authorized by the role table and rate-limited (:mod:`server.security.auth`),
a call whose deadline has already passed is answered DEADLINE_EXCEEDED
without doing any work, and the request is parsed here, not by grpc
(``server/api/deserialize.py``: malformed bytes are INVALID_ARGUMENT like any
bad field) and screened for card numbers, metadata included
(``server/wire/card_guard.py``), before anything reads, logs or stores it.
The caller, as ``"identity (role)"``, goes into the request context, so
every log entry records who asked. Every call is counted and timed in the
standard gRPC server metrics (``server/metrics.py``) by the status the caller
saw, and its messages counted as grpc reads and writes them.

Every error a handler (or the gate) ends with becomes its gRPC status here,
through ``server/api/status.py``: the families of ``server.errors`` with
their google.rpc details. Anything else is logged with its traceback and
answered INTERNAL without internals.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import structlog
import uuid_utils
from google.protobuf.message import Message

from server.api.deserialize import message_class, parse
from server.api.status import Answer, abort, answer
from server.errors import Violations
from server.logs import emit, get_logger
from server.metrics import MethodMetrics, RpcMetrics
from server.pii import contains_pan
from server.request_context import RequestContext, set_request
from server.security.auth import Denied, Gate
from server.security.identity import LOCAL_CALLER
from server.wire.card_guard import metadata_violations, request_violations

log = get_logger("anshin.rpc")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_QUIET = ("/grpc.health.v1.Health/", "/grpc.reflection.")
# How health checks and reflection end when nothing is wrong: a Watch or a
# reflection stream ends by the client cancelling it.
_QUIET_CODES = frozenset({"OK", "CANCELLED"})
_LOCAL = str(LOCAL_CALLER)


def _request_id(metadata: Any) -> str:
    for key, value in metadata or ():
        if (
            key == "x-request-id"
            and isinstance(value, str)
            and _REQUEST_ID.match(value)
            and not contains_pan(value)  # refused by screen_metadata, never logged
        ):
            return value
    return str(uuid_utils.uuid7())


def _handler_code(context: grpc.aio.ServicerContext) -> str:
    """The status a handler's own abort set (as the caller sees it)."""
    code = context.code()
    return code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"


def _grpc_type(handler: grpc.RpcMethodHandler) -> str:
    """The ``grpc_type`` label: go-grpc-prometheus's names for the four kinds."""
    if handler.unary_unary is not None:
        return "unary"
    if handler.unary_stream is not None:
        return "server_stream"
    if handler.stream_unary is not None:
        return "client_stream"
    return "bidi_stream"


def _counted(convert: Callable[[Any], Any] | None, counter: Any) -> Callable[[Any], Any]:
    """A (de)serializer that counts each message it converts: grpc calls it
    once per message received or sent, whether the handler returns, yields
    or writes with ``context.write``."""
    if convert is None:

        def same(message: Any) -> Any:
            counter.inc()
            return message

        return same

    def counting(message: Any) -> Any:
        counter.inc()
        return convert(message)

    return counting


def screen_metadata(metadata: Any) -> None:
    """INVALID_ARGUMENT when a metadata key or value holds a card number."""
    v = Violations()
    metadata_violations(metadata or (), v)
    v.raise_if_any()


def _admit(request_type: type[Message] | None) -> Callable[[Any], Any]:
    """What turns a received request into what the handler is given: parsed
    (:func:`parse`) and screened for card numbers, or the bytes unchanged for
    a method that takes them undecoded (IngestEvents: its bulk workers parse
    and screen each event)."""
    if request_type is None:
        return lambda raw: raw

    def admit(raw: bytes) -> Message:
        request = parse(request_type, raw)
        v = Violations()
        request_violations(request, raw, v)
        v.raise_if_any()
        return request

    return admit


async def _admitted(requests: AsyncIterator[Any], admit: Callable[[Any], Any]) -> Any:
    """A client stream, each message admitted as it is read: a malformed one
    ends the stream with INVALID_ARGUMENT."""
    async for raw in requests:
        yield admit(raw)


class RequestInterceptor(grpc.aio.ServerInterceptor):
    """The per-call guard. Installed with :class:`GuardedServer`, it wraps each
    method's handler once at registration; as a grpc.aio interceptor (tests)
    it wraps on first use."""

    def __init__(self, gate: Gate | None = None, metrics: RpcMetrics | None = None) -> None:
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}
        self._gate = gate if gate is not None and not gate.anonymous_local else None
        self._metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = details.method
        cached = self._wrapped.get(method)
        if cached is not None:
            return cached
        handler = await continuation(details)
        if handler is None:
            return handler
        wrapped = self.wrap(method, handler)
        self._wrapped[method] = wrapped
        return wrapped

    def wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        quiet = method.startswith(_QUIET)
        gate = self._gate
        metrics = self._metrics
        request_type = message_class(handler.request_deserializer)
        admit = _admit(request_type)
        # Parsed in the call (admit), not by grpc; a custom deserializer stays.
        deserializer = None if request_type is not None else handler.request_deserializer
        serializer = handler.response_serializer
        meter: MethodMetrics | None = None
        if metrics is not None:
            meter = metrics.method(method, _grpc_type(handler))
            deserializer = _counted(deserializer, meter.received)
            serializer = _counted(serializer, meter.sent)

        def end(code: str, started: float, exc: BaseException | None = None) -> None:
            seconds = time.perf_counter() - started
            if meter is not None:
                meter.handled(code, seconds)
            ms = round(seconds * 1000, 3)
            if exc is not None:
                log.error("rpc", method=method, code=code, ms=ms, exc_info=exc)
            elif not quiet or code not in _QUIET_CODES:  # a refused probe is worth a line
                emit(log, "info", "rpc", method=method, code=code, ms=ms)

        async def fail(exc: Exception, context: grpc.aio.ServicerContext, started: float) -> None:
            """End the call with the status ``exc`` maps to (raises AbortError)."""
            told: Answer = answer(exc)
            end(told.code.name, started, None if told.expected else exc)
            await abort(context, told)

        async def begin(context: grpc.aio.ServicerContext) -> float:
            """Bind the request; refuse it (abort) before any work if it may not run."""
            started = time.perf_counter()
            if meter is not None:
                meter.started.inc()
            metadata = context.invocation_metadata()
            rid = _request_id(metadata)
            structlog.contextvars.bind_contextvars(request_id=rid)
            context.set_trailing_metadata((("x-request-id", rid),))
            caller = _LOCAL
            if gate is not None:
                try:
                    caller = str(
                        gate.admit(method, metadata, context.auth_context(), context.peer())
                    )
                except Denied as denied:
                    who = str(denied.caller) if denied.caller else "unauthenticated"
                    structlog.contextvars.bind_contextvars(caller=who)
                    refused = answer(denied)
                    end(refused.code.name, started)
                    trailing: tuple[tuple[str, str | bytes], ...] = (
                        ("x-request-id", rid),
                        *refused.trailing(),
                    )
                    await context.abort(refused.code, refused.message, trailing_metadata=trailing)
            structlog.contextvars.bind_contextvars(caller=caller)
            set_request(RequestContext(request_id=rid, method=method, caller=caller))
            remaining = context.time_remaining()
            if remaining is not None and remaining <= 0:
                end("DEADLINE_EXCEEDED", started)
                await context.abort(
                    grpc.StatusCode.DEADLINE_EXCEEDED, "the deadline passed before the call began"
                )
            return started

        def screen(context: grpc.aio.ServicerContext) -> None:
            screen_metadata(context.invocation_metadata())

        if handler.unary_unary is not None:
            inner = handler.unary_unary

            async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                started = await begin(context)
                try:
                    screen(context)
                    response = await inner(admit(request), context)
                except grpc.aio.AbortError:
                    end(_handler_code(context), started)
                    raise
                except asyncio.CancelledError:
                    end("CANCELLED", started)  # the caller's deadline passed or it went away
                    raise
                except Exception as exc:
                    await fail(exc, context, started)
                    raise
                end("OK", started)
                return response

            return grpc.unary_unary_rpc_method_handler(unary, deserializer, serializer)

        if handler.unary_stream is not None:
            inner_us = handler.unary_stream

            async def unary_stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
                started = await begin(context)
                try:
                    screen(context)
                    stream = inner_us(admit(request), context)
                    if inspect.isawaitable(stream):  # a handler writing with context.write
                        await stream
                    else:
                        async for item in stream:
                            yield item
                except grpc.aio.AbortError:
                    end(_handler_code(context), started)
                    raise
                except asyncio.CancelledError:
                    end("CANCELLED", started)
                    raise
                except Exception as exc:
                    await fail(exc, context, started)
                end("OK", started)

            return grpc.unary_stream_rpc_method_handler(unary_stream, deserializer, serializer)

        if handler.stream_unary is not None:
            inner_su = handler.stream_unary

            async def stream_unary(request_iter: Any, context: grpc.aio.ServicerContext) -> Any:
                started = await begin(context)
                try:
                    screen(context)
                    requests = (
                        request_iter if request_type is None else _admitted(request_iter, admit)
                    )
                    response = await inner_su(requests, context)
                except grpc.aio.AbortError:
                    end(_handler_code(context), started)
                    raise
                except asyncio.CancelledError:
                    end("CANCELLED", started)
                    raise
                except Exception as exc:
                    await fail(exc, context, started)
                    raise
                end("OK", started)
                return response

            return grpc.stream_unary_rpc_method_handler(stream_unary, deserializer, serializer)

        if handler.stream_stream is not None:
            inner_ss = handler.stream_stream

            async def stream_stream(request_iter: Any, context: grpc.aio.ServicerContext) -> Any:
                started = await begin(context)
                try:
                    screen(context)
                    requests = (
                        request_iter if request_type is None else _admitted(request_iter, admit)
                    )
                    stream = inner_ss(requests, context)
                    if inspect.isawaitable(stream):
                        await stream
                    else:
                        async for item in stream:
                            yield item
                except grpc.aio.AbortError:
                    end(_handler_code(context), started)
                    raise
                except asyncio.CancelledError:
                    end("CANCELLED", started)
                    raise
                except Exception as exc:
                    await fail(exc, context, started)
                end("OK", started)

            return grpc.stream_stream_rpc_method_handler(stream_stream, deserializer, serializer)
        return handler


class _GuardedGenericHandler(grpc.GenericRpcHandler):
    def __init__(self, inner: grpc.GenericRpcHandler, guard: RequestInterceptor) -> None:
        self._inner = inner
        self._guard = guard
        self._wrapped: dict[str, grpc.RpcMethodHandler | None] = {}

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method = details.method
        if method in self._wrapped:
            return self._wrapped[method]
        handler = self._inner.service(details)
        wrapped = None if handler is None else self._guard.wrap(method, handler)
        self._wrapped[method] = wrapped
        return wrapped


class GuardedServer:
    """What the generated ``add_*Servicer_to_server`` functions register with:
    every method handler is wrapped by the guard once, here, instead of by a
    grpc.aio interceptor, whose chain grpc.aio awaits again on every call.
    """

    def __init__(self, server: grpc.aio.Server, guard: RequestInterceptor) -> None:
        self._server = server
        self._guard = guard

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        self._server.add_generic_rpc_handlers(
            tuple(_GuardedGenericHandler(h, self._guard) for h in handlers)
        )

    def add_registered_method_handlers(
        self, service: str, handlers: dict[str, grpc.RpcMethodHandler]
    ) -> None:
        self._server.add_registered_method_handlers(
            service,
            {name: self._guard.wrap(f"/{service}/{name}", h) for name, h in handlers.items()},
        )
