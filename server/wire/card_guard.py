"""The card-number guard at the edge: every value of a request, by its descriptor.

Run on every request of every RPC before it is validated, logged or stored
(``server/api/interceptors.py``): every string (and bytes) field at any
depth, every repeated element, every map key and value, every 64-bit
integer, and every metadata key and value (``x-request-id`` among them,
which would otherwise be written to the access log and stored). A value is a
card number when :func:`server.pii.contains_pan` says so. The refusal names
where the number was and never the number: a map key or metadata key that
holds one is named by its position (``exclusions[<key 2>]``), never by
itself. What it cannot see is listed in docs/security.md ("Input guards").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from server.errors import Violations
from server.pii import PAN_MAX_DIGITS, PAN_MIN_DIGITS, contains_pan, digit_count

REFUSED = "looks like a card number (PAN): send the instrument token and the last four digits only"

_STRING = FieldDescriptor.TYPE_STRING
_BYTES = FieldDescriptor.TYPE_BYTES
_MESSAGE = FieldDescriptor.TYPE_MESSAGE
_WIDE_INTEGERS = frozenset(
    {
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED64,
    }
)

# The serialized message, as the prefilter reads it: an ASCII digit and any
# byte ≥ 0x80 (part of a non-ASCII character: a digit of another script, an
# invisible separator, a letter) count as a digit, ASCII separators (every
# ASCII character but letters and digits, see server/pii.py) vanish, letters
# break a run. Every card number a string field can carry becomes 13 or more
# "0"s in a row.
_PREFILTER = bytes(0x30 if (0x30 <= b <= 0x39 or b >= 0x80) else 0x78 for b in range(256))
_PREFILTER_DROP = bytes(b for b in range(128) if not chr(b).isalnum())
_RUN = b"0" * PAN_MIN_DIGITS
# A 64-bit integer of 13 digits (≥ 10**12 > 2**39) takes at least six varint
# bytes, the first five with the continuation bit set: five bytes ≥ 0x80 in a
# row. (Non-ASCII text has such runs too and is walked anyway.)
_WIDE_VARINT = re.compile(rb"[\x80-\xff]{5}")
_FIXED64 = frozenset({FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED64})


def may_hold_card(serialized: bytes, descriptor: Any = None) -> bool:
    """False when no field of the message these bytes encode can hold a card
    number (the common case for a login check: cheap, no walk): no run of 13
    digits in its text, no varint long enough for a 13-digit integer, and no
    fixed 64-bit field in its type (``descriptor``; any 8 bytes can be one)."""
    if _RUN in serialized.translate(_PREFILTER, _PREFILTER_DROP):
        return True
    if _WIDE_VARINT.search(serialized):
        return True
    return descriptor is not None and _has_fixed64(descriptor)


@functools.cache
def _has_fixed64(descriptor: Any, depth: int = 0) -> bool:
    """Whether a message of this type can carry a fixed64/sfixed64 at any depth."""
    for field in descriptor.fields:
        if field.type in _FIXED64:
            return True
        if field.type == _MESSAGE and depth < 32 and _has_fixed64(field.message_type, depth + 1):
            return True
    return False


# The most digits one request may carry: screening costs time in proportion
# to its digits (a value of a million one-digit groups is a million
# candidate groups), so a request past this is refused before any scan. The
# largest legitimate request in the examples and tests holds a few hundred
# (docs/security.md, "Input guards").
DIGIT_BUDGET = 20_000
TOO_MANY_DIGITS = (
    f"too many digits to screen for card numbers (more than {DIGIT_BUDGET} in one request)"
)
_ASCII_DIGITS = b"0123456789"


def _digits_upper_bound(serialized: bytes) -> int:
    """At least as many as the digits the request's text holds: its ASCII
    digits, plus one per two bytes ≥ 0x80 (a non-ASCII character takes two
    to four)."""
    ascii_digits = len(serialized) - len(serialized.translate(None, _ASCII_DIGITS))
    high = len(serialized) - len(serialized.translate(None, _HIGH_BYTES))
    return ascii_digits + high // 2


_HIGH_BYTES = bytes(range(0x80, 0x100))


def _text_fields(msg: Message, prefix: str = "") -> Iterator[tuple[str, str | bytes]]:
    """(path, value) for every string and bytes value at any depth, map keys
    included."""
    for field, value in msg.ListFields():
        path = f"{prefix}{field.name}"
        if field.type == _MESSAGE:
            entry = field.message_type
            if entry is not None and entry.GetOptions().map_entry:
                key_text = entry.fields_by_name["key"].type in (_STRING, _BYTES)
                value_field = entry.fields_by_name["value"]
                for position, key in enumerate(sorted(value), start=1):
                    name = f"{path}[<key {position}>]"
                    if key_text:
                        yield name, key
                    if value_field.type == _MESSAGE:
                        yield from _text_fields(value[key], f"{name}.")
                    elif value_field.type in (_STRING, _BYTES):
                        yield name, value[key]
            elif field.is_repeated:
                for i, item in enumerate(value):
                    yield from _text_fields(item, f"{path}[{i}].")
            else:
                yield from _text_fields(value, f"{path}.")
        elif field.type in (_STRING, _BYTES):
            if field.is_repeated:
                yield path, _joined(value)
            else:
                yield path, value


# Bytes of non-ASCII UTF-8 one request may carry (about 43,000–65,000
# Japanese characters; no field of the API holds anywhere near that). NFKC and
# the Unicode scan cost far more per character than the ASCII path, and some
# characters expand (½ → 1⁄2): an outside attack held the event loop ~0.5 s per
# 4 MB request of them. Counted on the serialized bytes, at C speed, first.
NON_ASCII_BUDGET = 128 * 1024
TOO_MUCH_TEXT = (
    "too much non-ASCII text to screen for card numbers "
    f"(more than {NON_ASCII_BUDGET} bytes in one request)"
)


def _non_ascii_bytes(value: str | bytes) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass")) - len(value)
    return len(value) - len(value.translate(None, _HIGH_BYTES))


def budget_violation(msg: Message, serialized: bytes, v: Violations) -> bool:
    """Refuse (naming the field holding the most) a request whose text holds
    more than NON_ASCII_BUDGET bytes of non-ASCII text, or more than
    DIGIT_BUDGET digits; True when refused."""
    high = len(serialized) - len(serialized.translate(None, _HIGH_BYTES))
    if high > NON_ASCII_BUDGET:
        counts = [(_non_ascii_bytes(value), path) for path, value in _text_fields(msg)]
        if sum(c for c, _ in counts) > NON_ASCII_BUDGET:
            v.add(max(counts)[1], TOO_MUCH_TEXT)
            return True
    if _digits_upper_bound(serialized) <= DIGIT_BUDGET:
        return False
    total = 0
    worst, worst_count = "request", -1
    for path, value in _text_fields(msg):
        count = digit_count(value) if isinstance(value, str) else digit_count(_text(value))
        total += count
        if count > worst_count:
            worst, worst_count = path, count
    if total <= DIGIT_BUDGET:
        return False
    v.add(worst, TOO_MANY_DIGITS)
    return True


def _text(value: str | bytes) -> str:
    """Bytes (a bytes field, a binary metadata value) as the text they may
    carry: UTF-8, any byte that does not decode counting as a separator, so
    that neither a UTF-8 separator nor a stray byte between digit groups
    hides a number."""
    if isinstance(value, str):
        return value
    return value.decode("utf-8", "replace").replace("\ufffd", " ")


def _any_text_is_pan(items: Any) -> bool:
    """Whether any element of a repeated string or bytes field holds a card
    number, in one scan: the elements joined by a letter, which ends a
    number (so none spans two elements) and matches no UUID."""
    return contains_pan(_joined(items))


def _joined(items: Any) -> str:
    """A repeated string or bytes field's elements as one text, joined by a
    letter (at C speed: no Python step per element)."""
    if items and isinstance(items[0], bytes):
        return _text(b"x".join(items))
    return "x".join(items)


def _integer_is_pan(value: int) -> bool:
    digits = str(abs(value))
    return PAN_MIN_DIGITS <= len(digits) <= PAN_MAX_DIGITS and contains_pan(digits)


def _scalar_is_pan(field: FieldDescriptor, value: Any) -> bool:
    if field.type in (_STRING, _BYTES):
        return contains_pan(_text(value))
    if field.type in _WIDE_INTEGERS:
        return _integer_is_pan(value)
    return False


def _key_name(key: Any, position: int, refused: bool) -> str:
    """How a map key appears in a field path: itself, or ``<key n>`` (its
    1-based position among the keys in sorted order) when it holds a number."""
    return f"<key {position}>" if refused else str(key)


def card_violations(msg: Message, v: Violations, prefix: str = "") -> None:
    """Add a violation for every place in ``msg`` that holds a card number."""
    for field, value in msg.ListFields():
        path = f"{prefix}{field.name}"
        if field.type == _MESSAGE:
            entry = field.message_type
            if entry is not None and entry.GetOptions().map_entry:
                _map_violations(entry, value, v, path)
            elif field.is_repeated:
                for i, item in enumerate(value):
                    card_violations(item, v, f"{path}[{i}].")
            else:
                card_violations(value, v, f"{path}.")
        elif field.is_repeated:
            if field.type in (_STRING, _BYTES) and not _any_text_is_pan(value):
                continue  # the common case, at C speed: no element holds one
            for i, item in enumerate(value):
                if _scalar_is_pan(field, item):
                    v.add(f"{path}[{i}]", REFUSED)
        elif _scalar_is_pan(field, value):
            v.add(path, REFUSED)


def _map_violations(entry: Any, mapping: Any, v: Violations, path: str) -> None:
    key_field = entry.fields_by_name["key"]
    value_field = entry.fields_by_name["value"]
    for position, key in enumerate(sorted(mapping), start=1):
        refused = _scalar_is_pan(key_field, key)
        name = f"{path}[{_key_name(key, position, refused)}]"
        if refused:
            v.add(name, REFUSED)
        item = mapping[key]
        if value_field.type == _MESSAGE:
            card_violations(item, v, f"{name}.")
        elif not refused and _scalar_is_pan(value_field, item):
            v.add(name, REFUSED)


def metadata_violations(metadata: Iterable[tuple[str, str | bytes]], v: Violations) -> None:
    """Every metadata key and value (binary ``-bin`` values read as UTF-8)."""
    for position, (key, value) in enumerate(metadata, start=1):
        key_refused = contains_pan(key)
        name = f"metadata[{_key_name(key, position, key_refused)}]"
        if key_refused:
            v.add(name, REFUSED)
        if not key_refused and contains_pan(_text(value)):
            v.add(name, REFUSED)


def request_violations(msg: Message, serialized: bytes | None, v: Violations) -> None:
    """:func:`card_violations`, skipped when the prefilter rules a number out
    and refused unread when the request holds more digits than the budget."""
    if serialized is None:
        serialized = msg.SerializeToString()
    if not may_hold_card(serialized, msg.DESCRIPTOR):
        return
    if budget_violation(msg, serialized, v):
        return
    card_violations(msg, v)
