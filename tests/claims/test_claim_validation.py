"""claim_facts validation fast paths give exactly the answers of the plain checks."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given
from hypothesis import strategies as st

from anshin.v1 import claims_pb2
from rules.engine import attestation_keys, load_policies
from server.errors import InvalidArgument
from server.wire import claims as conv
from server.wire import strict_json

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


# --------------------------------------------------------------------------- card numbers


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


# --------------------------------------------------------------------------- attestations


LOADED = load_policies().policies


def attestation_violations(req: claims_pb2.EvaluateClaimRequest) -> list[tuple[str, str]]:
    try:
        conv.claim_request(req, NOW, LOADED)
    except InvalidArgument as exc:
        return [(v.field, v.description) for v in exc.violations]
    return []


@pytest.mark.parametrize(
    "key",
    [
        "HNB-X04",  # unknown: a typo of HNB-X4
        "DCM-X1",  # foreign: a clause of another policy
        "HNB-P3",  # a clause of HNB that reads no attestation (the posture verdicts decide it)
    ],
)
def test_exclusion_keys_no_clause_of_the_policy_reads_are_refused_naming_the_valid_ones(
    key: str,
) -> None:
    found = attestation_violations(request(exclusions={"HNB-X3": False, key: True}))
    assert [f for f, _ in found] == [f"exclusions[{key}]"]
    (description,) = [d for _, d in found]
    assert "not an attestation of HNB" in description
    assert "HNB-X3" in description and "HNB-X10" in description  # the valid keys are listed
    assert "DCM-X1," not in description


def test_exclusion_keys_the_policy_reads_are_accepted_rebuttals_included() -> None:
    assert attestation_violations(request(exclusions={"HNB-X3": False, "HNB-X10": True})) == []
    dcm = request(policy_id="DCM", exclusions={"DCM-X6": True, "DCM-X6.unrelated": True})
    dcm.ClearField("ib_transfer")
    dcm.card_fraud.card_token = "tok-1"
    dcm.card_fraud.fraud_at.CopyFrom(ts(NOW - timedelta(days=2)))
    assert attestation_violations(dcm) == []
    dcm.exclusions["DCM-X6.proved"] = True
    assert [f for f, _ in attestation_violations(dcm)] == ["exclusions[DCM-X6.proved]"]


def test_replay_of_a_logged_request_checks_the_key_format_only() -> None:
    """Ids only (as replay passes them): a logged request is re-decided as it was accepted."""
    assert violations(request(exclusions={"DCM-X1": True})) == []


def test_every_attestation_key_is_read_by_a_clause_of_its_policy() -> None:
    for policy in LOADED.values():
        for key in attestation_keys(policy):
            assert key.split(".")[0] in policy.clause_ids, (policy.id, key)
    assert {"HNB-X3", "HNB-X10"} <= attestation_keys(LOADED["HNB"])
    assert "DCM-X6.unrelated" in attestation_keys(LOADED["DCM"])
    assert "ISA-X22" in attestation_keys(LOADED["ISA"])  # before_cover_start's fallback
    assert "HNB-P3" not in attestation_keys(LOADED["HNB"])


# ------------------------------------------------------------------- one incident, one story

FRAUD = NOW - timedelta(days=2)


def _card(**kw: object) -> claims_pb2.CardFraud:
    return claims_pb2.CardFraud(card_token="tok-1", fraud_at=ts(FRAUD), **kw)  # type: ignore[arg-type]


def _qr(**kw: object) -> claims_pb2.QrPaymentFraud:
    return claims_pb2.QrPaymentFraud(
        payment_service_id="paypay",
        instrument_token="tok-1",
        fraud_at=ts(FRAUD),
        **kw,  # type: ignore[arg-type]
    )


def _with(policy: str, field: str, incident: object) -> claims_pb2.EvaluateClaimRequest:
    req = request(policy_id=policy, exclusions={})
    getattr(req, field).CopyFrom(incident)
    return req


@pytest.mark.parametrize(
    ("policy", "field", "incident", "fact"),
    [
        ("DCM", "qr_payment", _qr, "police_reported"),
        ("DCM", "card_fraud", _card, "police_reported"),
        ("KDN", "card_fraud", _card, "police_reported"),
    ],
)
def test_police_instant_with_police_reported_false_is_refused_naming_both(
    policy: str, field: str, incident: object, fact: str
) -> None:
    make = incident  # the incident's constructor
    reported = ts(FRAUD + timedelta(hours=3))
    bad = _with(policy, field, make(police_reported_at=reported, police_reported=False))  # type: ignore[operator]
    found = violations(bad)
    assert [f for f, _ in found] == [f"{field}.{fact}"], found
    assert f"{field}.police_reported_at" in found[0][1]
    # Either one alone, or the instant with true, is a consistent story.
    for ok in (
        make(police_reported_at=reported),  # type: ignore[operator]
        make(police_reported=False),  # type: ignore[operator]
        make(police_reported_at=reported, police_reported=True),  # type: ignore[operator]
    ):
        assert violations(_with(policy, field, ok)) == []


def test_hnb_police_consulted_instant_with_false_is_refused_naming_both() -> None:
    at = ts(FRAUD + timedelta(hours=3))
    bad = claims_pb2.IbTransferFraud(
        fraud_at=ts(FRAUD), police_consulted_at=at, police_consulted=False
    )
    found = violations(_with("HNB", "ib_transfer", bad))
    assert [f for f, _ in found] == ["ib_transfer.police_consulted"], found
    assert "ib_transfer.police_consulted_at" in found[0][1]
    good = claims_pb2.IbTransferFraud(
        fraud_at=ts(FRAUD), police_consulted_at=at, police_consulted=True
    )
    assert violations(_with("HNB", "ib_transfer", good)) == []


def _answer(at: datetime) -> claims_pb2.IssuerAnswer:
    return claims_pb2.IssuerAnswer(
        kind=claims_pb2.IssuerAnswer.KIND_NOT_COMPENSATED, reason="規約", answered_at=ts(at)
    )


@pytest.mark.parametrize(
    ("field", "make", "answer"),
    [("card_fraud", _card, "issuer_answer"), ("qr_payment", _qr, "operator_answer")],
)
def test_an_answer_dated_before_the_fraud_is_refused(field: str, make: object, answer: str) -> None:
    path = f"{field}.{answer}.answered_at"
    early = make(**{answer: _answer(FRAUD - timedelta(seconds=1))})  # type: ignore[operator]
    assert violations(_with("DCM", field, early)) == [(path, f"before {field}.fraud_at")]
    on_time = make(**{answer: _answer(FRAUD)})  # type: ignore[operator]
    assert violations(_with("DCM", field, on_time)) == []


def test_an_issuer_answer_dated_before_the_report_to_the_issuer_is_refused() -> None:
    reported = FRAUD + timedelta(hours=5)
    early = _card(
        reported_to_issuer_at=ts(reported), issuer_answer=_answer(reported - timedelta(seconds=1))
    )
    assert violations(_with("KDN", "card_fraud", early)) == [
        ("card_fraud.issuer_answer.answered_at", "before card_fraud.reported_to_issuer_at")
    ]
    same = _card(reported_to_issuer_at=ts(reported), issuer_answer=_answer(reported))
    assert violations(_with("KDN", "card_fraud", same)) == []


def _isa(**kw: object) -> claims_pb2.EvaluateClaimRequest:
    return _with(
        "ISA",
        "legal_cost",
        claims_pb2.LegalCost(kind="consultation", incurred_at=ts(FRAUD), **kw),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("sent", "read"),
    [({}, None), ({"through_internet": True}, True), ({"through_internet": False}, False)],
)
def test_isa_p1_trouble_through_the_internet_keeps_its_three_states(
    sent: dict[str, bool], read: bool | None
) -> None:
    """Unset is "not stated" (REVIEW), distinct from a stated false (DENY)."""
    facts = conv.claim_facts(_isa(**sent), NOW, POLICIES)
    assert facts.incident.through_internet is read  # type: ignore[union-attr]


@pytest.mark.parametrize("degree", [0, 2, 3])
def test_isa_child_of_a_degree_other_than_one_is_refused(degree: int) -> None:
    found = violations(_isa(is_child=True, relative_degree=degree))
    assert [f for f, _ in found] == ["legal_cost.relative_degree"], found
    assert "legal_cost.is_child" in found[0][1]


def test_isa_child_of_the_first_degree_or_a_non_child_of_degree_three_is_accepted() -> None:
    assert violations(_isa(is_child=True, relative_degree=1)) == []
    assert violations(_isa(is_child=False, relative_degree=3)) == []


@pytest.mark.parametrize(
    ("field", "incident", "attr"),
    [
        (
            "legal_cost",
            claims_pb2.LegalCost(
                kind="consultation", incurred_at=ts(FRAUD), insured_person_ref="ｐ－Ａ"
            ),
            "insured_person_ref",
        ),
        (
            "card_fraud",
            claims_pb2.CardFraud(card_token="ｔｏｋ－１", fraud_at=ts(FRAUD)),
            "card_token",
        ),
        (
            "qr_payment",
            claims_pb2.QrPaymentFraud(
                payment_service_id="ｐａｙｐａｙ", instrument_token="ｔｏｋ－１", fraud_at=ts(FRAUD)
            ),
            "instrument_token",
        ),
        (
            "qr_payment",
            claims_pb2.QrPaymentFraud(
                payment_service_id="ｐａｙｐａｙ", instrument_token="ｔｏｋ－１", fraud_at=ts(FRAUD)
            ),
            "payment_service_id",
        ),
        (
            "skimming_phishing",
            claims_pb2.SkimmingPhishingLoss(
                card_token="ｔｏｋ－１", fraud_at=ts(FRAUD), kind="phishing"
            ),
            "card_token",
        ),
    ],
)
def test_claim_identifiers_are_nfkc_like_the_events(
    field: str, incident: object, attr: str
) -> None:
    policy = {"legal_cost": "ISA", "skimming_phishing": "JPE"}.get(field, "DCM")
    req = _with(policy, field, incident)
    facts = conv.claim_facts(req, NOW, POLICIES)
    value = getattr(facts.incident, attr)
    assert value == {"insured_person_ref": "p-A", "payment_service_id": "paypay"}.get(attr, "tok-1")


def test_claim_identifier_with_a_control_character_is_refused() -> None:
    req = _with("DCM", "card_fraud", _card().__class__(card_token="tok\u200b1", fraud_at=ts(FRAUD)))
    assert [f for f, _ in violations(req)] == ["card_fraud.card_token"]


# --------------------------------------------------------------------------- A19 minor breaks


@pytest.mark.parametrize("degree", [0, 1, 3])
def test_isa_i1_the_subscriber_with_a_degree_of_kinship_is_refused_naming_both(
    degree: int,
) -> None:
    found = violations(_isa(insured_is_subscriber=True, relative_degree=degree))
    assert [f for f, _ in found] == ["legal_cost.relative_degree"], found
    assert "legal_cost.insured_is_subscriber" in found[0][1]


def test_isa_i1_the_subscriber_as_a_child_is_refused() -> None:
    found = violations(_isa(insured_is_subscriber=True, is_child=True))
    assert [f for f, _ in found] == ["legal_cost.is_child"], found


def test_isa_i1_a_relative_who_is_not_the_subscriber_is_accepted() -> None:
    assert violations(_isa(insured_is_subscriber=False, relative_degree=3)) == []
    assert violations(_isa(insured_is_subscriber=True)) == []
    assert violations(_isa(insured_is_subscriber=True, is_child=False)) == []


def test_an_incident_after_claimed_at_is_said_once() -> None:
    late = request()
    late.ib_transfer.fraud_at.CopyFrom(ts(NOW))
    late.ib_transfer.notified_bank_at.CopyFrom(ts(NOW))
    found = violations(late)
    assert found.count(("ib_transfer.fraud_at", "after claimed_at")) == 1, found
    assert ("ib_transfer.notified_bank_at", "after claimed_at") in found


def test_an_instant_without_an_offset_says_so_as_parse_instant_does() -> None:
    # The request's JSON is checked by server/wire/strict_json.py (the one walk over
    # its Timestamp fields, with the one instant parser).
    descriptor = claims_pb2.EvaluateClaimRequest.DESCRIPTOR
    doc = {"claimedAt": "2025-05-01T10:00:00", "cardFraud": {"fraudAt": "2025-05"}, "claimId": "x"}
    with pytest.raises(strict_json.StrictJsonError) as exc:
        strict_json.load(json.dumps(doc), descriptor)
    problems = [f"{p.field}: {p.description}" for p in exc.value.problems]
    assert problems[0].startswith("claimedAt: '2025-05-01T10:00:00': no UTC offset"), problems
    assert problems[1].startswith("cardFraud.fraudAt: '2025-05': not an ISO 8601 instant")
    ok = {
        "claimedAt": "2025-05-01T10:00:00+09:00",
        "cardFraud": {"fraudAt": "2025-05-01T01:00:00Z"},
    }
    assert strict_json.load(json.dumps(ok), descriptor) == ok
