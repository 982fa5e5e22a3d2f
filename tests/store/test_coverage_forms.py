"""The forms that bind the ledger, claims rows and events to the log
(server/log/coverage.py), and the check a retried claim's stored reply must
pass against its entry (usecases/decide_claim.checked_reply)."""

from __future__ import annotations

from dataclasses import replace

import orjson
import pytest

from server.errors import FailedPrecondition
from server.log import coverage
from server.store.records import LedgerEntry, StoredClaim, VerdictRecord
from server.store.sql.claims import bind
from server.usecases.decide_claim import checked_reply

EVENT = (
    "ev-1",
    "registration",
    "c1",
    "paypay/tok",
    1_000,
    2_000,
    "fp",
    b'{"trans_status":"Y"}',
    b"\x0a\x04ev-1",
    b"\x22\x02ok",
    "req-1",
    "payment_app",
)


def test_event_row_hash_covers_every_column() -> None:
    base = coverage.event_row_hash(*EVENT)
    assert base == coverage.event_row_hash(*EVENT)
    for i, value in enumerate(EVENT):
        changed = list(EVENT)
        if isinstance(value, int):
            changed[i] = value + 1
        elif isinstance(value, bytes):
            changed[i] = value + b"x"
        else:
            changed[i] = value + "x"
        assert coverage.event_row_hash(*changed) != base, f"column {i} is not covered"
    # 3-D Secure Y -> N: the forgery the issue names.
    forged = list(EVENT)
    forged[7] = b'{"trans_status":"N"}'
    assert coverage.event_row_hash(*forged) != base


def test_event_row_hash_is_length_prefixed() -> None:
    """Moving bytes from one column to the next changes the hash."""
    a = list(EVENT)
    b = list(EVENT)
    a[2], a[3] = "c1", "paypay/tok"
    b[2], b[3] = "c1paypay", "/tok"
    assert coverage.event_row_hash(*a) != coverage.event_row_hash(*b)


def test_events_entry_forms_round_trip() -> None:
    listed = [("e1", "aa" * 32), ("e2", "bb" * 32)]
    inputs = orjson.loads(orjson.dumps(coverage.events_inputs(listed)))
    assert coverage.listed_events(inputs) == listed
    result = coverage.events_result(listed)
    assert result["count"] == 2
    assert result["root"] == coverage.events_root(["aa" * 32, "bb" * 32])
    assert result["root"] != coverage.events_root(["bb" * 32, "aa" * 32])  # order counts


def _record(inputs: bytes) -> VerdictRecord:
    return VerdictRecord(
        id="d1",
        kind="claim",
        customer_id="c1",
        device_id=None,
        subject_us=1,
        recorded_us=2,
        rules_digest="r",
        rules=b"{}",
        outcome="APPROVE",
        clause_ids=(),
        inputs=inputs,
        result=b"{}",
        request_id="req",
        caller="t",
    )


def test_bind_puts_reservations_and_claim_into_the_inputs_and_replaces_a_callers() -> None:
    forged = {"ledger": [["S", 1, 1, ""]]}
    rec = _record(orjson.dumps({"request": {"a": 1}, "bound": forged}))
    claim = coverage.ClaimBinding("claim-1", "fp", coverage.reply_digest(b"reply"))
    bound = bind(rec, (LedgerEntry("HNB-L1/x", 1_200_000, 1, "p"),), claim)
    inputs = orjson.loads(bound.inputs)
    assert inputs["request"] == {"a": 1}
    b = coverage.read_bound(inputs)
    assert b is not None
    assert b.ledger == (coverage.Reservation("HNB-L1/x", 1_200_000, 1, "p"),)
    assert b.claim == claim
    assert coverage.read_bound({"request": {}}) is None  # an entry from before binding


def test_bind_refuses_inputs_that_are_not_an_object() -> None:
    with pytest.raises(ValueError, match="JSON object"):
        bind(_record(b"[1]"), ())


def _entry(
    claim_id: str = "claim-1", fingerprint: str = "fp", reply: bytes = b"reply"
) -> VerdictRecord:
    binding = coverage.ClaimBinding(claim_id, fingerprint, coverage.reply_digest(reply))
    return bind(_record(b"{}"), (), binding)


def test_checked_reply_answers_only_what_the_entry_binds() -> None:
    stored = StoredClaim("fp", "d1", b"reply")
    assert checked_reply("claim-1", stored, _entry()) == b"reply"
    refusals = {
        "no entry": (stored, None),
        "not a claim": (stored, replace(_entry(), kind="login_posture")),
        "another claim id": (stored, _entry(claim_id="claim-2")),
        "another fingerprint": (StoredClaim("fp2", "d1", b"reply"), _entry()),
        "another reply": (StoredClaim("fp", "d1", b"forged"), _entry()),
    }
    for why, (row, entry) in refusals.items():
        with pytest.raises(FailedPrecondition, match="disagrees with the verdict log"):
            checked_reply("claim-1", row, entry)
            pytest.fail(why)


def test_checked_reply_of_an_entry_from_before_binding() -> None:
    legacy = _record(b'{"request": {}}')
    assert checked_reply("claim-1", StoredClaim("fp", "d1", b"old"), legacy) == b"old"
    with pytest.raises(FailedPrecondition, match="binds no reply"):
        checked_reply("claim-1", StoredClaim("fp", "d1", b""), legacy)


def test_bound_is_written_last_and_read_from_the_tail() -> None:
    """verify parses only the tail of a large entry; a caller's own ``bound``
    (anywhere in the object) is replaced and moved to the end."""
    rec = _record(orjson.dumps({"bound": {"ledger": [["S", 9, 9, ""]]}, "facts": {"x": "}"}}))
    from server.store.records import Usage

    bound = bind(
        rec,
        (LedgerEntry("S", 1, 1, ""),),
        read={"S": Usage(5, 2, frozenset())},
    )
    assert bound.inputs.endswith(b'"read":{"S":[5,2]}}}')
    b = coverage.bound_of(bound.inputs.decode())
    assert b is not None
    assert b.ledger == (coverage.Reservation("S", 1, 1, ""),) and b.read == {"S": (5, 2)}
    assert coverage.bound_of(b'{"request":{"bound":1}}') is None  # no bound member of its own
