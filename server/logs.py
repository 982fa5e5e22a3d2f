"""structlog configuration: one JSON object per line, request id on every line.

The request id is bound in a contextvar by the request interceptor; grpc.aio
runs each RPC in its own task, so every line logged while serving a request
carries that request's id.

:func:`emit` writes a line exactly as the configured pipeline would, without
structlog's per-call machinery: it is used for the per-request lines (the
access log), where that machinery was a measurable share of a request's cost.
Whenever the pipeline is not the one :func:`configure_logging` set up (tests
capturing logs, another configuration), it hands the call to structlog.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog
from structlog.contextvars import STRUCTLOG_KEY_PREFIX, STRUCTLOG_KEY_PREFIX_LEN

_LEVELS = logging.getLevelNamesMapping()
# Method names that add_log_level writes unchanged as the level.
_PLAIN_LEVELS = frozenset({"debug", "info", "warning", "error", "critical"})


def _orjson_dumps(obj: Any, default: Any) -> str:
    return orjson.dumps(obj, default=default).decode()


class _Pipeline:
    """What configure_logging configured, to recognise it and to write like it."""

    __slots__ = ("factory", "flush", "min_level", "processors", "renderer", "write")

    def __init__(
        self,
        processors: list[Any],
        renderer: Any,
        factory: Any,
        out: Any,
        min_level: int,
    ) -> None:
        self.processors = processors
        self.renderer = renderer
        self.factory = factory
        self.write = out.write
        self.flush = out.flush
        self.min_level = min_level


_pipeline: _Pipeline | None = None


def configure_logging(level: str = "info", *, stream: Any = None) -> None:
    global _pipeline
    out = stream if stream is not None else sys.stdout
    renderer = structlog.processors.JSONRenderer(serializer=_orjson_dumps)
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        renderer,
    ]
    min_level = _LEVELS[level.upper()]
    factory = structlog.WriteLoggerFactory(file=out)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(min_level),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    _pipeline = _Pipeline(processors, renderer, factory, out, min_level)
    _route_stdlib_logging(out, min_level, processors[:-1], renderer)


def _route_stdlib_logging(out: Any, min_level: int, chain: list[Any], renderer: Any) -> None:
    """Libraries that log through the standard library (psycopg_pool's
    reconnect warnings, asyncio, grpc) write the same JSON lines as Anshin,
    with their logger's name, instead of Python's plain-text fallback."""
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *chain],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    handler.set_name("anshin")
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if h.get_name() != "anshin"]
    root.addHandler(handler)
    root.setLevel(min_level)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


def _json_default(obj: Any) -> Any:
    # structlog's JSONRenderer fallback: __structlog__() if defined, else repr().
    try:
        return obj.__structlog__()
    except AttributeError:
        return repr(obj)


def emit(logger: Any, level: str, event: str, **kw: Any) -> None:
    """``getattr(logger, level)(event, **kw)`` for a logger without bound context.

    The line is the one the configured pipeline renders (the event's keys, then
    ``event``, the structlog contextvars such as ``request_id``, ``level`` and
    an ISO-8601 UTC ``timestamp``), written and flushed at once.
    """
    p = _pipeline
    config = structlog.get_config() if p is not None else None
    if (
        p is None
        or config is None
        or level not in _PLAIN_LEVELS
        or "exc_info" in kw
        or config["processors"] is not p.processors
        or p.processors[-1] is not p.renderer
        or len(p.processors) != 5
        or config["logger_factory"] is not p.factory
    ):
        getattr(logger, level)(event, **kw)
        return
    if _LEVELS[level.upper()] < p.min_level:
        return
    event_dict = kw
    event_dict["event"] = event
    ctx = contextvars.copy_context()
    for k in ctx:
        if k.name.startswith(STRUCTLOG_KEY_PREFIX) and ctx[k] is not Ellipsis:
            event_dict.setdefault(k.name[STRUCTLOG_KEY_PREFIX_LEN:], ctx[k])
    event_dict["level"] = level
    event_dict["timestamp"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    p.write(orjson.dumps(event_dict, default=_json_default).decode() + "\n")
    p.flush()
