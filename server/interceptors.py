"""Server interceptors: request id, structured access log, error mapping.

Domain exceptions become gRPC statuses here, once, instead of in every
servicer: ValidationError → INVALID_ARGUMENT with BadRequest details,
ConflictError → ALREADY_EXISTS, StoreError → UNAVAILABLE. Anything else is
logged with its traceback and answered INTERNAL without internals.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import structlog
import uuid_utils
from grpc_status import rpc_status

from server.errors import ConflictError, NotFoundError, ValidationError, bad_request_status
from server.logs import emit, get_logger
from server.request_context import RequestContext, set_request
from server.store.base import StoreError

log = get_logger("anshin.rpc")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_QUIET = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def _request_id(metadata: Any) -> str:
    for key, value in metadata or ():
        if key == "x-request-id" and isinstance(value, str) and _REQUEST_ID.match(value):
            return value
    return str(uuid_utils.uuid7())


def _code_name(exc: Exception) -> str:
    """The gRPC status the caller sees, as the access log records it."""
    if isinstance(exc, ValidationError):
        return "INVALID_ARGUMENT"
    if isinstance(exc, ConflictError):
        return "ALREADY_EXISTS"
    if isinstance(exc, NotFoundError):
        return "NOT_FOUND"
    if isinstance(exc, StoreError):
        return "UNAVAILABLE"
    return "INTERNAL"


async def _abort_for(exc: Exception, context: grpc.aio.ServicerContext) -> None:
    if isinstance(exc, ValidationError):
        await context.abort_with_status(rpc_status.to_status(bad_request_status(exc)))
    if isinstance(exc, ConflictError):
        await context.abort(grpc.StatusCode.ALREADY_EXISTS, str(exc))
    if isinstance(exc, NotFoundError):
        await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
    if isinstance(exc, StoreError):
        await context.abort(grpc.StatusCode.UNAVAILABLE, "store unavailable, retry later")
    await context.abort(grpc.StatusCode.INTERNAL, "internal error")


class RequestInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self) -> None:
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}

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
        wrapped = self._wrap(method, handler)
        self._wrapped[method] = wrapped
        return wrapped

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        quiet = method.startswith(_QUIET)

        def begin(context: grpc.aio.ServicerContext) -> tuple[str, Any, float]:
            rid = _request_id(context.invocation_metadata())
            token = set_request(RequestContext(request_id=rid, method=method))
            structlog.contextvars.bind_contextvars(request_id=rid)
            context.set_trailing_metadata((("x-request-id", rid),))
            return rid, token, time.perf_counter()

        def end(code: str, started: float, exc: BaseException | None = None) -> None:
            ms = round((time.perf_counter() - started) * 1000, 3)
            if exc is not None:
                log.error("rpc", method=method, code=code, ms=ms, exc_info=exc)
            elif not quiet:
                emit(log, "info", "rpc", method=method, code=code, ms=ms)

        if handler.unary_unary is not None:
            inner = handler.unary_unary

            async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                _, _, started = begin(context)
                try:
                    response = await inner(request, context)
                except (ValidationError, ConflictError, NotFoundError, StoreError) as exc:
                    end(_code_name(exc), started)
                    await _abort_for(exc, context)
                    raise
                except grpc.aio.AbortError:
                    end("ABORTED_BY_HANDLER", started)
                    raise
                except Exception as exc:
                    end("INTERNAL", started, exc)
                    await _abort_for(exc, context)
                    raise
                end("OK", started)
                return response

            return grpc.unary_unary_rpc_method_handler(
                unary, handler.request_deserializer, handler.response_serializer
            )

        if handler.unary_stream is not None:
            inner_us = handler.unary_stream

            async def unary_stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
                _, _, started = begin(context)
                try:
                    async for item in inner_us(request, context):
                        yield item
                except (ValidationError, ConflictError, NotFoundError, StoreError) as exc:
                    end(_code_name(exc), started)
                    await _abort_for(exc, context)
                except grpc.aio.AbortError:
                    raise
                except Exception as exc:
                    end("INTERNAL", started, exc)
                    await _abort_for(exc, context)
                end("OK", started)

            return grpc.unary_stream_rpc_method_handler(
                unary_stream, handler.request_deserializer, handler.response_serializer
            )

        if handler.stream_unary is not None:
            inner_su = handler.stream_unary

            async def stream_unary(request_iter: Any, context: grpc.aio.ServicerContext) -> Any:
                _, _, started = begin(context)
                try:
                    response = await inner_su(request_iter, context)
                except (ValidationError, ConflictError, NotFoundError, StoreError) as exc:
                    end(_code_name(exc), started)
                    await _abort_for(exc, context)
                    raise
                except grpc.aio.AbortError:
                    raise
                except Exception as exc:
                    end("INTERNAL", started, exc)
                    await _abort_for(exc, context)
                    raise
                end("OK", started)
                return response

            return grpc.stream_unary_rpc_method_handler(
                stream_unary, handler.request_deserializer, handler.response_serializer
            )
        return handler
