"""Malformed request bytes are INVALID_ARGUMENT naming what is malformed,
never a value; unknown fields are accepted and dropped."""

from __future__ import annotations

import pytest

from anshin.v1 import events_pb2, posture_pb2
from server.api.deserialize import message_class, parse
from server.errors import InvalidArgument


def _refusal(cls: type, data: bytes) -> tuple[str, str]:
    with pytest.raises(InvalidArgument) as info:
        parse(cls, data)
    (violation,) = info.value.violations
    return violation.field, violation.description


@pytest.mark.parametrize(
    ("data", "field", "says"),
    [
        (b"\xff", "request", "truncated varint at byte 0"),
        (b"\x80\x80", "request", "truncated varint"),
        (b"\x0f", "request", "invalid wire type 7"),
        (b"\x0e", "request", "invalid wire type 6"),
        (b"\x00\x01", "request", "field number 0"),
        (b"\x0a\x05ab", "customer_id", "length 5 at byte 0 runs past the end"),
        (b"\x0a\x02\xff\xfe", "customer_id", "not valid UTF-8 at byte 2"),
        (b"\xa3\x06", "request", "groups"),  # field 100, wire type 3
        (b"\xa5\x06\x01\x02", "request", "truncated 32-bit value"),  # field 100, 2 of 4 bytes
    ],
)
def test_malformed_bytes_are_named(data: bytes, field: str, says: str) -> None:
    where, what = _refusal(posture_pb2.CheckLoginRequest, data)
    assert where == field
    assert says in what


def test_a_known_field_with_the_wrong_wire_type_is_refused() -> None:
    # customer_id (field 1, a string) sent as a varint: the parser would keep
    # it as an unknown field; the request is refused instead.
    where, what = _refusal(posture_pb2.CheckLoginRequest, b"\x08\x05")
    assert where == "customer_id"
    assert "wire type varint" in what and "expected length-delimited" in what


def test_bad_utf8_in_a_nested_message_names_its_path() -> None:
    header = events_pb2.EventHeader(client_event_id="e1").SerializeToString()
    bad_header = header.replace(b"e1", b"\xc3(")
    data = events_pb2.ReportRegistrationRequest(
        header=events_pb2.EventHeader(client_event_id="e1")
    ).SerializeToString()
    data = data.replace(header, bad_header)
    where, what = _refusal(events_pb2.ReportRegistrationRequest, data)
    assert where == "header.client_event_id"
    assert "not valid UTF-8" in what


def test_unknown_fields_are_accepted_and_dropped() -> None:
    data = posture_pb2.CheckLoginRequest(customer_id="c1").SerializeToString()
    unknown = b"\xa2\x06\x104111111111111111"  # field 100, a string nobody reads
    msg = parse(posture_pb2.CheckLoginRequest, data + unknown)
    assert msg.customer_id == "c1"
    assert msg.SerializeToString() == data  # nothing unread travels on


def test_a_message_never_echoes_a_value() -> None:
    data = posture_pb2.CheckLoginRequest(customer_id="4111111111111111").SerializeToString()
    where, what = _refusal(posture_pb2.CheckLoginRequest, data[:-3])
    assert "4111" not in where + what


def test_message_class_reads_generated_deserializers_only() -> None:
    assert message_class(posture_pb2.CheckLoginRequest.FromString) is posture_pb2.CheckLoginRequest
    assert message_class(None) is None
    assert message_class(lambda b: b) is None
