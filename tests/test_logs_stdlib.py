"""Lines that libraries log through the standard library (psycopg_pool's
reconnect warnings, asyncio's errors) come out as Anshin's JSON lines."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import orjson
import pytest
import structlog

from server import logs
from server.logs import configure_logging, get_logger


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    buf = io.StringIO()
    configure_logging("info", stream=buf)
    try:
        yield buf
    finally:
        root.handlers = handlers
        root.setLevel(level)
        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()
        logs._pipeline = None


def _lines(buf: io.StringIO) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in buf.getvalue().splitlines()]


def test_a_library_warning_is_a_json_line_with_its_logger_and_request(stream: io.StringIO) -> None:
    structlog.contextvars.bind_contextvars(request_id="r-1")
    logging.getLogger("psycopg.pool").warning("error connecting in %r: %s", "pool-1", "refused")
    logging.getLogger("psycopg.pool").debug("below the configured level")
    (line,) = _lines(stream)
    assert line["event"] == "error connecting in 'pool-1': refused"
    assert line["logger"] == "psycopg.pool"
    assert line["level"] == "warning"
    assert line["request_id"] == "r-1"
    assert str(line["timestamp"]).endswith("Z")


def test_a_library_traceback_stays_in_its_line(stream: io.StringIO) -> None:
    try:
        raise ZeroDivisionError("boom")
    except ZeroDivisionError:
        logging.getLogger("asyncio").exception("Task exception was never retrieved")
    get_logger("anshin.test").info("ours")
    first, second = _lines(stream)
    assert first["level"] == "error" and "ZeroDivisionError: boom" in str(first["exception"])
    assert second["event"] == "ours"


def test_configuring_twice_does_not_double_lines(stream: io.StringIO) -> None:
    configure_logging("info", stream=stream)
    logging.getLogger("grpc").warning("once")
    assert len(_lines(stream)) == 1
