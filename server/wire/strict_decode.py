"""Strict protobuf decoding: bytes → message, or InvalidArgument saying what
is malformed (wire level, so the edge guard in ``server/api/deserialize.py``
and the bulk ingest workers (``server/wire/events.decode_ingest``) refuse
exactly the same bytes).

Two kinds of malformed: bytes the parser rejects (a truncated varint, a
length past the end, invalid UTF-8 in a string, a nested message that does
not parse), and a known field sent with the wrong wire type (or a group),
which protobuf's parser keeps as an unknown field rather than refusing —
``b"\\x08\\x01"`` would otherwise be an empty message. Unknown fields (a
newer client's) are accepted and dropped, so nothing the server did not
read is ever stored or logged. The description names the field by its path
and the byte offset, never a value.
"""

from __future__ import annotations

from typing import Any, TypeVar

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from server.errors import InvalidArgument

M = TypeVar("M", bound=Message)

# protobuf's own recursion limit for nested messages.
MAX_DEPTH = 100

_VARINT, _I64, _LEN, _SGROUP, _EGROUP, _I32 = 0, 1, 2, 3, 4, 5
_WIRE_NAMES = {
    _VARINT: "varint",
    _I64: "64-bit",
    _LEN: "length-delimited",
    _SGROUP: "group start",
    _EGROUP: "group end",
    _I32: "32-bit",
}
_T = FieldDescriptor
_WIRE_OF_TYPE = {
    **dict.fromkeys(
        (
            _T.TYPE_INT32,
            _T.TYPE_INT64,
            _T.TYPE_UINT32,
            _T.TYPE_UINT64,
            _T.TYPE_SINT32,
            _T.TYPE_SINT64,
            _T.TYPE_BOOL,
            _T.TYPE_ENUM,
        ),
        _VARINT,
    ),
    **dict.fromkeys((_T.TYPE_FIXED64, _T.TYPE_SFIXED64, _T.TYPE_DOUBLE), _I64),
    **dict.fromkeys((_T.TYPE_FIXED32, _T.TYPE_SFIXED32, _T.TYPE_FLOAT), _I32),
    **dict.fromkeys((_T.TYPE_STRING, _T.TYPE_BYTES, _T.TYPE_MESSAGE), _LEN),
    _T.TYPE_GROUP: _SGROUP,
}


class Malformed(Exception):
    """Where (a field path, or "" for the message as a whole) and what."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(where, what)
        self.where = where
        self.what = what


def parse(cls: type[M], data: bytes, root: str = "request") -> M:
    """``cls`` parsed from ``data``; InvalidArgument naming what is malformed
    (``root``: the name of the message as a whole, for a malformation no
    field can be blamed for)."""
    try:
        msg = cls.FromString(data)
    except DecodeError:
        raise _refusal(cls.DESCRIPTOR, data, root) from None
    size = msg.ByteSize()
    msg.DiscardUnknownFields()
    if msg.ByteSize() != size:
        # Unknown fields somewhere: a newer client's (dropped above), or a
        # known field with the wrong wire type (refused).
        try:
            check(cls.DESCRIPTOR, data)
        except Malformed as bad:
            raise InvalidArgument.of(bad.where or root, bad.what) from None
    return msg


def _refusal(descriptor: Any, data: bytes, root: str) -> InvalidArgument:
    try:
        check(descriptor, data)
    except Malformed as bad:
        return InvalidArgument.of(bad.where or root, bad.what)
    return InvalidArgument.of(root, f"not a valid {descriptor.full_name} message")


def _varint(data: bytes, pos: int, where: str) -> tuple[int, int]:
    start = pos
    value = shift = 0
    while True:
        if pos >= len(data):
            raise Malformed(where, f"truncated varint at byte {start}")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift >= 70:
            raise Malformed(where, f"varint longer than 10 bytes at byte {start}")


def check(descriptor: Any, data: bytes, prefix: str = "", base: int = 0) -> None:
    """Raise :class:`Malformed` for the first malformed part of ``data`` as an
    encoding of ``descriptor`` (offsets count from the start of the request)."""
    if prefix.count(".") >= MAX_DEPTH:
        raise Malformed(prefix.rstrip("."), f"nested deeper than {MAX_DEPTH}")
    where = prefix.rstrip(".")  # "": the message as a whole (parse names it)
    pos = 0
    while pos < len(data):
        start = pos
        tag, pos = _varint(data, pos, where)
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise Malformed(where, f"field number 0 at byte {base + start}")
        if wire not in _WIRE_NAMES:
            raise Malformed(where, f"invalid wire type {wire} at byte {base + start}")
        field = descriptor.fields_by_number.get(number)
        name = f"{prefix}{field.name}" if field is not None else where
        if field is not None:
            expected = _WIRE_OF_TYPE[field.type]
            packable = field.is_repeated and expected in (_VARINT, _I64, _I32)
            if wire != expected and not (packable and wire == _LEN):
                raise Malformed(
                    name,
                    f"wire type {_WIRE_NAMES[wire]} at byte {base + start}, "
                    f"expected {_WIRE_NAMES[expected]}",
                )
        if wire == _VARINT:
            _, pos = _varint(data, pos, name)
        elif wire in (_I64, _I32):
            pos += 8 if wire == _I64 else 4
            if pos > len(data):
                raise Malformed(name, f"truncated {_WIRE_NAMES[wire]} value at byte {base + start}")
        elif wire == _LEN:
            length, pos = _varint(data, pos, name)
            if pos + length > len(data):
                raise Malformed(name, f"length {length} at byte {base + start} runs past the end")
            payload = data[pos : pos + length]
            if field is not None:
                _check_payload(field, payload, name, base + pos)
            pos += length
        else:
            raise Malformed(name, f"groups (wire types 3, 4) are not used, at byte {base + start}")


def _check_payload(field: FieldDescriptor, payload: bytes, name: str, base: int) -> None:
    if field.type == _T.TYPE_STRING:
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Malformed(name, f"not valid UTF-8 at byte {base + exc.start}") from None
    elif field.type == _T.TYPE_MESSAGE:
        check(field.message_type, payload, f"{name}.", base)
