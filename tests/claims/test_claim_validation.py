"""claim_facts validation fast paths give exactly the answers of the plain checks."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given
from hypothesis import strategies as st

from anshin.v1 import claims_pb2
from server.errors import InvalidArgument
from server.wire import claims as conv
from server.wire.events import _PAN_PREFILTER, _may_hold_pan

NOW = datetime(2025, 4, 10, 3, 0, tzinfo=UTC)
POLICIES = frozenset({"HNB", "DCM", "KDN", "JPE", "ISA"})


def ts(dt: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(dt)
    return t


def request(**kw: object) -> claims_pb2.EvaluateClaimRequest:
    fraud = NOW - timedelta(days=2)
    req = claims_pb2.EvaluateClaimRequest(
        claim_id="0f8fad5b-d9cb-469f-a165-70867728950e",
        policy_id="HNB",
        customer_id="ib-contract-1",
        claimed_at=ts(NOW - timedelta(hours=1)),
        amounts=claims_pb2.Amounts(loss_yen=1_500_000, recovered_yen=300_000),
        exclusions={"HNB-X3": False, "HNB-X10": True},
        ib_transfer=claims_pb2.IbTransferFraud(
            fraud_at=ts(fraud), notified_bank_at=ts(fraud + timedelta(hours=23))
        ),
    )
    for k, v in kw.items():
        if k == "exclusions":
            req.exclusions.clear()
            req.exclusions.update(v)
        else:
            setattr(req, k, v)
    return req


def violations(req: claims_pb2.EvaluateClaimRequest) -> list[tuple[str, str]]:
    try:
        conv.claim_facts(req, NOW, POLICIES)
    except InvalidArgument as exc:
        return [(v.field, v.description) for v in exc.violations]
    return []


# --------------------------------------------------------------------------- claim id


def _plain_claim_id(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


@pytest.mark.parametrize(
    "claim_id",
    [
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        "0F8FAD5B-D9CB-469F-A165-70867728950E",
        "0f8fad5bd9cb469fa16570867728950e",
        "{0f8fad5b-d9cb-469f-a165-70867728950e}",
        "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e",
        "0f8fad5b-d9cb-469f-a165-70867728950e\n",
        "0f8fad5b-d9cb-469f-a165-70867728950",
        "0f8fad5b-d9cb-469f-a165-70867728950e0",
        "0f8fad5b-d9cb-469f-a165-70867728950g",
        "0f8fad5b-d9cb-469f-a165-7086772895０e",
        "not a uuid",
    ],
)
def test_claim_id_as_uuid_parses_it(claim_id: str) -> None:
    expected = _plain_claim_id(claim_id)
    req = request(claim_id=claim_id)
    if expected is None:
        assert violations(req) == [("claim_id", "not a UUID")]
    else:
        assert conv.claim_facts(req, NOW, POLICIES).claim_id == expected


@given(st.uuids())
def test_any_canonical_uuid_is_kept(u: uuid.UUID) -> None:
    for text in (str(u), str(u).upper()):
        assert conv.claim_facts(request(claim_id=text), NOW, POLICIES).claim_id == str(u)


# --------------------------------------------------------------------------- exclusions


def test_exclusion_keys_memo_never_admits_a_bad_key() -> None:
    bad = {"HNB X3": True, "x" * 33: False, "HNB-X3;": True, "": True}
    good = {"HNB-X3": False, "ISA-X1.2": True, "ＨＮＢ-Ｘ３": True}
    for _ in range(2):  # the second round answers from the memo
        req = request(exclusions={**good, **bad})
        expected = [  # the plain check, in the map's order
            (f"exclusions[{k[:32]}]", "not a clause id")
            for k in req.exclusions
            if len(k) > 32 or not k.replace("-", "").replace(".", "").isalnum()
        ]
        assert len(expected) == len(bad)
        assert violations(req) == expected
        facts = conv.claim_facts(request(exclusions=good), NOW, POLICIES)
        assert dict(facts.exclusions) == good
    assert not set(bad) & conv._CLAUSE_KEYS


def test_exclusion_keys_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conv, "_CLAUSE_KEYS", set())
    monkeypatch.setattr(conv, "_CLAUSE_KEYS_MAX", 3)
    keys = {f"HNB-X{n}": True for n in range(10)}
    facts = conv.claim_facts(request(exclusions=keys), NOW, POLICIES)
    assert dict(facts.exclusions) == keys
    assert len(conv._CLAUSE_KEYS) == 3


# --------------------------------------------------------------------------- PAN prefilter


@given(st.binary(max_size=60) | st.text("0123456789 -x", max_size=60).map(str.encode))
def test_pan_prefilter_shortcut_agrees_with_the_regex(wire: bytes) -> None:
    # Bytes beyond ASCII may spell digits of other scripts: always walked.
    expected = not wire.isascii() or _PAN_PREFILTER.search(wire) is not None
    assert _may_hold_pan(wire) == expected


@pytest.mark.parametrize(
    "stretch",
    ["4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111", "3782-822463-10005"],
)
def test_pan_in_any_string_field_is_still_refused(stretch: str) -> None:
    got = violations(request(customer_id=f"cust {stretch}"))
    assert [f for f, _ in got] == ["customer_id"]
    assert re.search("card number", got[0][1])


def test_valid_request_has_no_violations() -> None:
    assert violations(request()) == []


def test_absent_instants_required_or_not() -> None:
    req = request()
    req.ib_transfer.ClearField("fraud_at")
    req.ib_transfer.ClearField("notified_bank_at")
    req.ClearField("claimed_at")
    assert violations(req) == [("claimed_at", "required"), ("ib_transfer.fraud_at", "required")]
    req = request()
    req.ib_transfer.ClearField("notified_bank_at")
    facts = conv.claim_facts(req, NOW, POLICIES)
    assert facts.incident.notified_bank_at is None  # type: ignore[union-attr]
