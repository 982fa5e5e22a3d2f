"""INVALID_ARGUMENT answers are bounded: readable under a default client's
8 KiB metadata limit however many violations and however long each is."""

from __future__ import annotations

import base64
import urllib.parse

import pytest
from google.rpc import error_details_pb2, status_pb2

from server.api.status import (
    DETAILS_BUDGET,
    MAX_MESSAGE_BYTES,
    MAX_VIOLATIONS,
    answer,
    invalid_argument,
)
from server.errors import InvalidArgument, Violation


def _wire_size(violations: list[Violation]) -> int:
    told = invalid_argument(violations)
    (_, details) = told.trailing()[0]
    return len(urllib.parse.quote(told.message)) + len(base64.b64encode(details))


def _fields(violations: list[Violation]) -> list[str]:
    told = invalid_argument(violations)
    status = status_pb2.Status.FromString(told.trailing()[0][1])
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    return [v.field for v in bad.field_violations]


@pytest.mark.parametrize("count", [1, MAX_VIOLATIONS, MAX_VIOLATIONS + 1, 10_000])
@pytest.mark.parametrize("text", ["x", "too long: 200 bytes, at most 128", "あ" * 2000])
def test_any_number_of_violations_fits_a_default_client(count: int, text: str) -> None:
    violations = [Violation(f"items[{i}].{text[:40]}", text) for i in range(count)]
    assert _wire_size(violations) < 7 * 1024


def test_up_to_the_limit_every_violation_is_listed() -> None:
    twenty = [Violation(f"f{i}", "required") for i in range(MAX_VIOLATIONS)]
    assert _fields(twenty) == [f"f{i}" for i in range(MAX_VIOLATIONS)]
    assert "more" not in invalid_argument(twenty).message


def test_past_the_limit_a_count_says_how_many_more() -> None:
    many = [Violation(f"f{i}", "required") for i in range(MAX_VIOLATIONS + 7)]
    fields = _fields(many)
    assert fields[:-1] == [f"f{i}" for i in range(MAX_VIOLATIONS)]
    assert fields[-1] == ""
    told = invalid_argument(many)
    status = status_pb2.Status.FromString(told.trailing()[0][1])
    bad = error_details_pb2.BadRequest()
    status.details[0].Unpack(bad)
    assert bad.field_violations[-1].description == "and 7 more violations not shown"
    listed = told.message.count(": required")
    assert told.message.endswith(f"; and {MAX_VIOLATIONS + 7 - listed} more")


def test_long_violations_are_cut_and_the_budget_holds() -> None:
    long = [Violation("f" * 1000, "d" * 5000) for _ in range(5)]
    fields = _fields(long)
    assert all(len(f.encode()) <= 128 for f in fields if f)
    told = invalid_argument(long)
    # The status in the trailer carries the message and the details.
    assert len(told.trailing()[0][1]) < DETAILS_BUDGET + MAX_MESSAGE_BYTES + 200


def test_a_single_violation_reads_as_before() -> None:
    told = answer(InvalidArgument.of("customer_id", "required"))
    assert told.message == "invalid request: customer_id: required"
    assert _fields([Violation("customer_id", "required")]) == ["customer_id"]


def test_controls_bidi_and_format_characters_are_escaped_in_every_part() -> None:
    # Issue 18: a map key holding U+202E was echoed raw in a field path.
    told = invalid_argument(
        [Violation("exclusions[\u202ekkkk\u2066]", "bad\nvalue\u200b\u3164 ok")]
    )
    status = status_pb2.Status.FromString(told.trailing()[0][1])
    bad = error_details_pb2.BadRequest()
    status.details[0].Unpack(bad)
    (shown,) = bad.field_violations
    assert shown.field == "exclusions[\\u202ekkkk\\u2066]"
    assert shown.description == "bad\\nvalue\\u200b\u3164 ok".replace("\\n", "\\u000a")
    assert "\u202e" not in told.message and "\\u202e" in told.message
    # Printable text, Japanese included, is unchanged.
    plain = answer(InvalidArgument.of("顧客 id", "必須です"))
    assert plain.message == "invalid request: 顧客 id: 必須です"
