"""Field validators shared by every service's request conversion.

Each returns the converted value (or None) and records a violation naming
the field path instead of raising, so one reply lists every problem.
"""

from __future__ import annotations

import re
import unicodedata
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


IDENTIFIER_MAX_BYTES = 128
# Combining marks one base character may carry (Vietnamese needs two).
_MAX_MARKS = 2
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Characters that render as nothing or as a blank although Unicode calls
# them letters, symbols or marks (a value of them looks empty, or like
# another identifier): the Hangul fillers (U+3164 and U+FFA0 are U+1160 after
# NFKC), the Braille blank, the combining grapheme joiner, the Khmer
# inherent vowels, the Mongolian variation selectors, the variation
# selectors and the musical null notehead (U+1D159, a symbol drawn as nothing;
# found by the second outside attack).
_INVISIBLE = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180f\u2800\u3164\uffa0"
    "\U0001d159"
    + "".join(chr(c) for c in range(0xFE00, 0xFE10))
    + "".join(chr(c) for c in range(0xE0100, 0xE01F0))
)


def identifier(v: Violations, field: str, value: str, *, required: bool = True) -> str | None:
    """An identifier of any RPC (customer, device, client event, token,
    service, analyst, series, verdict …) in its NFKC form, which is what is
    stored and compared: full-width "ｃ１" and "c1" are the same identifier.

    The alphabet, checked after normalising: letters, digits, marks after a
    base character (at most two in a row), punctuation, symbols, and the
    plain space between other characters. Refused: controls (C0, C1, NEL),
    format characters (bidi controls, zero-width space and joiners, soft
    hyphen, BOM), invisible characters of other categories (Hangul fillers,
    the Braille blank, the combining grapheme joiner, variation selectors:
    ``_INVISIBLE``), private-use and unassigned code points, any other space or
    line separator, leading or trailing spaces, a value of spaces only, and
    more than 128 bytes of UTF-8."""
    if not value:
        if required:
            v.add(field, "required")
        return None
    normal = unicodedata.normalize("NFKC", value) if not value.isascii() else value
    problem = identifier_problem(normal)
    if problem is not None:
        v.add(field, problem)
        return None
    return normal


def identifier_problem(value: str) -> str | None:
    """Why ``value`` (already NFKC) is not an identifier, or None."""
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > IDENTIFIER_MAX_BYTES:
        return f"too long: {size} bytes, at most {IDENTIFIER_MAX_BYTES}"
    if not value.strip(" "):
        return "spaces only"
    if value.isascii():
        if _ASCII_CONTROL.search(value):
            return "contains control characters"
    else:
        marks = 0
        for position, char in enumerate(value):
            if char in _INVISIBLE:
                return f"contains U+{ord(char):04X} (an invisible or blank character)"
            kind = unicodedata.category(char)
            if kind[0] == "C":
                return f"contains U+{ord(char):04X} (a control, format or unassigned character)"
            if kind[0] == "Z" and char != " ":
                return f"contains U+{ord(char):04X} (a space or separator other than U+0020)"
            if kind[0] == "M":
                marks += 1
                if position == 0:
                    return "starts with a combining mark"
                if marks > _MAX_MARKS:
                    return f"more than {_MAX_MARKS} combining marks on one character"
            else:
                marks = 0
    if value != value.strip(" "):
        return "leading or trailing spaces"
    return None


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
