"""Field validators shared by every service's request conversion.

Each returns the converted value (or None) and records a violation naming
the field path instead of raising, so one reply lists every problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from server.errors import Violations

T = TypeVar("T")

# Instants before this are not plausible for anything Anshin judges.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
# Clock skew tolerated between a reporter and the server.
MAX_FUTURE_SKEW = timedelta(minutes=5)
# google.protobuf.Timestamp's valid range (0001-01-01 to 9999-12-31T23:59:59Z).
_TIMESTAMP_SECONDS_MIN = -62135596800
_TIMESTAMP_SECONDS_MAX = 253402300799
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_VERSION = re.compile(r"^\d{1,6}(\.\d{1,9}){0,4}$")


def text(v: Violations, field: str, value: str, *, required: bool, max_bytes: int) -> str | None:
    if not value:
        if required:
            v.add(field, "required")
        return None
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        v.add(field, f"too long: {size} bytes, at most {max_bytes}")
        return None
    if _CONTROL.search(value):
        v.add(field, "contains control characters")
        return None
    return value


def identifier(v: Violations, field: str, value: str, *, required: bool = True) -> str | None:
    return text(v, field, value, required=required, max_bytes=128)


def version(v: Violations, field: str, value: str) -> str | None:
    if not value:
        return None
    if len(value) > 64 or not _VERSION.match(value):
        v.add(field, "not a dotted numeric version (e.g. 4.3.2)")
        return None
    return value


def instant(
    v: Violations,
    field: str,
    msg: Message,
    present: bool,
    *,
    required: bool,
    now: datetime,
    allow_future: timedelta = MAX_FUTURE_SKEW,
) -> datetime | None:
    if not present:
        if required:
            v.add(field, "required")
        return None
    assert isinstance(msg, Timestamp)
    nanos = msg.nanos
    if not 0 <= nanos < 1_000_000_000:
        v.add(field, "nanos out of range")
        return None
    # What msg.ToDatetime(tzinfo=UTC) returns (it raises for seconds outside
    # the Timestamp range), without its pure-Python overhead.
    seconds = msg.seconds
    if not _TIMESTAMP_SECONDS_MIN <= seconds <= _TIMESTAMP_SECONDS_MAX:
        v.add(field, "not a valid instant")
        return None
    dt = _EPOCH + timedelta(0, seconds, nanos // 1000)  # (days, seconds, microseconds)
    if dt < EARLIEST:
        v.add(field, f"before {EARLIEST.date()}: not plausible")
        return None
    if dt > now + allow_future:
        v.add(field, "in the future")
        return None
    return dt


def enum(v: Violations, field: str, value: int, known: Mapping[int, T]) -> T | None:
    """An enum that must be set to a value this server knows (not _UNSPECIFIED)."""
    if value == 0:
        v.add(field, "required (must not be _UNSPECIFIED)")
        return None
    if value not in known:
        v.add(field, f"unknown enum value {value}")
        return None
    return known[value]
