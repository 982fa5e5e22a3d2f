"""The hand-assembled VerdictEntry / VerdictPage wire bytes parse as the
messages built field by field would, whatever the row holds."""

from __future__ import annotations

from typing import Any

import pytest

from anshin.v1 import common_pb2, verdicts_pb2
from server.wire import verdicts as conv
from server.wire.pages import split_pages

RULES = '{"digest":"dg","matrix_revision":"2025-04","release_data":{"chrome":"2025-06-01"}}'


def row(
    seq: int = 7,
    subject_us: int = 1_750_000_000_123_456,
    recorded_us: int = 1_750_000_001_000_000,
    outcome: str = "APPROVE",
    inputs: str = '{"facts":{}}',
    result: str = '{"payableYen":"120000"}',
    refers_to: str | None = None,
    as_bytes: bool = False,
) -> tuple[Any, ...]:
    text = (
        f"id-{seq}", "claim", "cust-1", "dev-1", "HNB", subject_us, recorded_us, "dg", RULES,
        outcome, '["HNB-X5","HNB-X6"]', inputs, result, "req-1", "bank:ib", refers_to,
        "prev", "hash",
    )  # fmt: skip
    if as_bytes:
        text = tuple(t.encode() if isinstance(t, str) else t for t in text)
    return (seq, *text)


def expected(r: tuple[Any, ...]) -> verdicts_pb2.VerdictEntry:
    def s(v: Any) -> str:
        return v.decode() if isinstance(v, bytes) else (v or "")

    e = verdicts_pb2.VerdictEntry(
        id=s(r[1]), seq=r[0], kind=s(r[2]), customer_id=s(r[3]), device_id=s(r[4]),
        policy_id=s(r[5]), outcome=s(r[10]), inputs_json=s(r[12]), result_json=s(r[13]),
        request_id=s(r[14]), refers_to=s(r[16]), prev_hash=s(r[17]), entry_hash=s(r[18]),
        rules_json=s(r[9]), rules_digest=s(r[8]),
        payable_yen=120000 if s(r[10]) == "APPROVE" else 0,
        caller=common_pb2.Caller(identity=s(r[15])),
        rules=conv.rules_pb(s(r[9])),
    )  # fmt: skip
    e.clause_ids.extend(["HNB-X5", "HNB-X6"])
    e.subject_time.FromMicroseconds(r[6])
    e.recorded_at.FromMicroseconds(r[7])
    return e


@pytest.mark.parametrize(
    "r",
    [
        row(),
        row(as_bytes=True),
        row(subject_us=0, recorded_us=1),  # the epoch itself, and a lone microsecond
        row(subject_us=-1_500_000, outcome="DENY"),  # before the epoch: nanos stay positive
        row(subject_us=253402300799_999_999),  # the last representable instant
        row(inputs='{"x":"' + "y" * 300 + '"}', refers_to="id-1"),  # multi-byte lengths
        row(seq=2**40, inputs="", result="", outcome="REVIEW"),
    ],
)
def test_entry_bytes_parse_as_the_message(r: tuple[Any, ...]) -> None:
    got = verdicts_pb2.VerdictEntry.FromString(conv.encode_entry(r))
    assert got == expected(r)
    pieces, size = conv.entry_parts(r)
    assert size == sum(map(len, pieces)) == len(conv.encode_entry(r))


def test_a_page_holds_its_entries_in_order_and_the_token() -> None:
    rows = [row(seq=s) for s in (3, 4, 5)]
    (page,) = split_pages(rows, True, ("k",))
    parsed = verdicts_pb2.VerdictPage.FromString(page)
    assert list(parsed.entries) == [expected(r) for r in rows]
    assert parsed.next_page_token
