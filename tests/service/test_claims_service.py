"""EvaluateClaim through the real server: facts recorded earlier decide it,
the ledger is reserved atomically, retries are idempotent, bad claims are
refused without a trace."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from anshin.v1 import (
    claims_pb2,
    claims_pb2_grpc,
    common_pb2,
    events_pb2,
    events_pb2_grpc,
    posture_pb2,
    posture_pb2_grpc,
)
from tests.conftest import TEST_NOW, RunningServer, db_rows
from tests.service.test_check_login_service import violations
from tests.service.test_check_login_table import WIN_CHROME, Case, chrome_hints, request_for

FRAUD = TEST_NOW - timedelta(days=2)  # 2025-04-08 12:00 JST
CUSTOMER = "ib-contract-1"
# What HNB-L1 holds (each APPROVE also reserves in its incident's HNB-L2 scopes:
# the incident's instant and its JST day).
PAID_IN_YEAR = "SELECT SUM(amount_yen) FROM ledger WHERE scope_key LIKE 'HNB-L1/%'"

# One incident's loss is paid once (HNB-L2): another claim of the same fraud_at is
# the same incident whatever its claim id, and another paid incident of the customer
# on the JST day of this one, the day before or the day after, is REVIEW (near_days
# = 1: the same loss at a moved instant?). A test meaning several paid incidents of
# one customer states them INCIDENT_GAP apart: incident_at(k), back from FRAUD. More
# than 48 hours: two JST calendar days apart; the extra hour keeps them off the
# instant of record_history's login two days before FRAUD (a login at the very fraud
# instant is not "before" it).
INCIDENT_GAP = timedelta(days=2, hours=1)
# A compliant login before every incident but the first (record_history(incidents=n)),
# within HNB's 90-day posture lookback of each, with the versions latest then:
# Chrome 131 (132 came on 2025-01-14), Phishwall 4.2.0 and its extension 2.0.5.
EARLY_LOGIN = datetime(2025, 1, 9, 3, 0, tzinfo=UTC)  # 12:00 JST
# How many incidents fit between a day after EARLY_LOGIN and FRAUD (44).
INCIDENTS = (FRAUD - EARLY_LOGIN - timedelta(days=1)) // INCIDENT_GAP + 1


def ts(dt: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(dt)
    return t


def incident_at(k: int) -> datetime:
    """The fraud instant of the customer's k-th distinct incident (0: FRAUD)."""
    assert 0 <= k < INCIDENTS, f"incident {k}: record_history covers {INCIDENTS}"
    return FRAUD - k * INCIDENT_GAP


def history_requests(
    customer: str = CUSTOMER, *, compliant: bool = True, incidents: int = 1
) -> tuple[list[posture_pb2.CheckLoginRequest], events_pb2.ReportEnrolmentRequest]:
    """The logins and the IB contract (since 2020) that make an HNB claim of
    ``customer`` approvable: a login two days before FRAUD and, for ``incidents``
    more than one (incident_at(1) and earlier), a compliant one at EARLY_LOGIN."""
    case = Case(
        "pc",
        WIN_CHROME.format(v=135 if compliant else 133),
        "",
        {},
        hints=chrome_hints("135.0.7049.85" if compliant else "133.0.6943.142", "Windows", "19.0.0"),
        at=FRAUD - timedelta(days=2),
    )
    logins = [request_for(case)]
    if incidents > 1:
        assert compliant and incidents <= INCIDENTS, (compliant, incidents)
        early = Case(
            "pc",
            WIN_CHROME.format(v=131),
            "",
            {},
            hints=chrome_hints("131.0.6778.265", "Windows", "19.0.0"),
            at=EARLY_LOGIN,
            phishwall="4.2.0",
        )
        logins.insert(0, request_for(early))
        logins[0].phishwall.extension_version = "2.0.5"
    for req in logins:
        req.customer_id = customer
    enrolment = events_pb2.ReportEnrolmentRequest(
        header=events_pb2.EventHeader(
            client_event_id=str(uuid.uuid4()),
            event_time=ts(datetime(2020, 1, 6)),
            customer_id=customer,
        ),
        policy_id="HNB",
        action=events_pb2.ENROLMENT_ACTION_JOINED,
        starts_at=ts(datetime(2020, 1, 6)),
    )
    return logins, enrolment


async def record_history(
    server: RunningServer, *, compliant: bool = True, incidents: int = 1
) -> None:
    """A compliant login two days before the fraud and the IB contract since 2020
    (``history_requests``: with ``incidents``, for that many distinct incidents)."""
    logins, enrolment = history_requests(compliant=compliant, incidents=incidents)
    for req in logins:
        await posture_pb2_grpc.PostureServiceStub(server.channel).CheckLogin(req)
    await events_pb2_grpc.EventServiceStub(server.channel).ReportEnrolment(enrolment)


def hnb_claim(
    loss: int = 1_500_000, recovered: int = 300_000, *, incident: int = 0, **kw: object
) -> claims_pb2.EvaluateClaimRequest:
    """An HNB claim of CUSTOMER's ``incident`` (``incident_at``: 0 is FRAUD), notified
    the next day; ``kw`` sets fields of the request."""
    fraud = incident_at(incident)
    req = claims_pb2.EvaluateClaimRequest(
        claim_id=str(uuid.uuid4()),
        policy_id="HNB",
        customer_id=CUSTOMER,
        claimed_at=ts(TEST_NOW - timedelta(hours=1)),
        amounts=claims_pb2.Amounts(loss_yen=loss, recovered_yen=recovered),
        exclusions={f"HNB-X{n}": False for n in (3, 4, 6, 7, 8, 9, 10, 11, 12, 15, 16, 17)},
        resident_in_japan=True,
        ib_transfer=claims_pb2.IbTransferFraud(
            fraud_at=ts(fraud),
            notified_bank_at=ts(fraud + timedelta(hours=23)),
            police_consulted_at=ts(fraud + timedelta(days=1)),
            alternative_measures_asserted=False,
            used_in_japan=True,
            token_compromised=False,
        ),
    )
    for k, v in kw.items():
        setattr(req, k, v)
    return req


def stub(server: RunningServer) -> claims_pb2_grpc.ClaimServiceStub:
    return claims_pb2_grpc.ClaimServiceStub(server.channel)


def db(server: RunningServer, sql: str) -> list[tuple[object, ...]]:
    return db_rows(server.db_url, sql)


def outcome(resp: claims_pb2.EvaluateClaimResponse) -> str:
    return common_pb2.Outcome.Name(resp.outcome).removeprefix("OUTCOME_")


async def test_hnb_claim_approved_from_recorded_posture_and_contract(server: RunningServer) -> None:
    await record_history(server)
    resp = await stub(server).EvaluateClaim(hnb_claim())
    assert outcome(resp) == "APPROVE", resp.summary_ja
    assert resp.payable_yen == 1_200_000  # HNB-A1: loss minus recovered
    assert [s.output_yen for s in resp.computation][-1] == 1_200_000
    assert {c.clause_id for c in resp.clauses} >= {"HNB-P1", "HNB-X5", "HNB-L1", "HNB-A1"}
    assert all(c.text_ja for c in resp.clauses)
    assert db(server, f"SELECT outcome FROM verdicts WHERE id = '{resp.decision_id}'") == [
        ("APPROVE",)
    ]
    assert db(server, PAID_IN_YEAR) == [(1_200_000,)]


async def test_hnb_p1_login_at_the_fraud_instant_does_not_hide_the_earlier_one(
    server: RunningServer,
) -> None:
    """HNB-P1 judges the logins before the fraud. A login at the very instant of
    the fraud is not one of them, and the store must not return it as the
    device's last in place of the earlier compliant login (which it did: the
    claim was REVIEW with HNB-P1..P4 'no posture on record')."""
    await record_history(server, incidents=2)  # compliant at EARLY_LOGIN and FRAUD - 2 days
    req = hnb_claim()
    at = FRAUD - timedelta(days=2)
    req.ib_transfer.fraud_at.CopyFrom(ts(at))
    req.ib_transfer.notified_bank_at.CopyFrom(ts(at + timedelta(hours=23)))
    req.ib_transfer.police_consulted_at.CopyFrom(ts(at + timedelta(days=1)))
    resp = await stub(server).EvaluateClaim(req)
    assert outcome(resp) == "APPROVE", resp.summary_ja
    assert resp.payable_yen == 1_200_000


async def test_hnb_x1_non_compliant_posture_denies(server: RunningServer) -> None:
    await record_history(server, compliant=False)
    resp = await stub(server).EvaluateClaim(hnb_claim())
    assert outcome(resp) == "DENY"
    assert any(
        c.clause_id == "HNB-X1" and c.effect == common_pb2.OUTCOME_DENY for c in resp.clauses
    )
    # Nothing paid: no amount anywhere; the claim of the incident is counted (its
    # …/claimed marks, whatever the outcome) and, refused, its …/refused; nothing else.
    assert db(server, "SELECT COALESCE(SUM(amount_yen), 0) FROM ledger") == [(0,)]
    marks = db(server, "SELECT scope_key FROM ledger ORDER BY scope_key")
    assert [k.rsplit("/", 1)[1] for (k,) in marks] == ["claimed", "refused", "claimed"], marks


async def test_hnb_r1_no_posture_on_record_is_review(server: RunningServer) -> None:
    resp = await stub(server).EvaluateClaim(hnb_claim())
    assert outcome(resp) == "REVIEW"


async def test_dry_run_records_and_reserves_nothing(server: RunningServer) -> None:
    await record_history(server)
    before = db(server, "SELECT COUNT(*) FROM verdicts")
    resp = await stub(server).EvaluateClaim(hnb_claim(dry_run=True))
    assert outcome(resp) == "APPROVE" and resp.dry_run and not resp.decision_id
    assert db(server, "SELECT COUNT(*) FROM verdicts") == before
    assert db(server, "SELECT COUNT(*) FROM ledger") == [(0,)]


async def test_retry_replays_and_conflict_is_refused(server: RunningServer) -> None:
    await record_history(server)
    req = hnb_claim()
    first = await stub(server).EvaluateClaim(req)
    again = await stub(server).EvaluateClaim(req)
    assert again.replayed and again.decision_id == first.decision_id
    changed = claims_pb2.EvaluateClaimRequest()
    changed.CopyFrom(req)
    changed.amounts.loss_yen += 1
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub(server).EvaluateClaim(changed)
    assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert db(server, PAID_IN_YEAR) == [(1_200_000,)]


async def test_hnb_l1_concurrent_claims_never_exceed_the_annual_cap(server: RunningServer) -> None:
    await record_history(server, incidents=8)
    # Eight incidents (one incident's loss is paid once), days apart (HNB-L2's near_days).
    claims = [hnb_claim(loss=3_000_000, recovered=0, incident=i) for i in range(8)]
    results = await asyncio.gather(*(stub(server).EvaluateClaim(c) for c in claims))
    paid = sum(r.payable_yen for r in results)
    assert paid == 10_000_000  # HNB-L1: ¥10,000,000 per customer per year, exactly
    assert db(server, PAID_IN_YEAR) == [(paid,)]
    approved = [r for r in results if outcome(r) == "APPROVE"]
    assert len(approved) == 4  # 3M + 3M + 3M + 1M (capped); the rest have nothing left


BAD = [
    ("unknown-policy", {"policy_id": "XYZ"}, "policy_id"),
    ("bad-claim-id", {"claim_id": "abc"}, "claim_id"),
    ("missing-customer", {"customer_id": ""}, "customer_id"),
]


@pytest.mark.parametrize(
    ("changes", "field"), [(c, f) for _, c, f in BAD], ids=[i for i, _, _ in BAD]
)
async def test_bad_claims_are_invalid_argument_and_record_nothing(
    server: RunningServer, changes: dict[str, object], field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub(server).EvaluateClaim(hnb_claim(**changes))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in violations(info.value)
    assert db(server, "SELECT COUNT(*) FROM verdicts") == [(0,)]


async def test_negative_amounts_and_times_out_of_order_are_refused(server: RunningServer) -> None:
    cases = []
    neg = hnb_claim()
    neg.amounts.recovered_yen = -1
    cases.append((neg, "amounts.recovered_yen"))
    late = hnb_claim()
    late.ib_transfer.fraud_at.CopyFrom(ts(TEST_NOW))  # after claimed_at
    cases.append((late, "ib_transfer.fraud_at"))
    early = hnb_claim()
    early.ib_transfer.notified_bank_at.CopyFrom(ts(FRAUD - timedelta(days=1)))
    cases.append((early, "ib_transfer.notified_bank_at"))
    none = hnb_claim()
    none.ClearField("ib_transfer")
    cases.append((none, "incident"))
    wrong = hnb_claim()
    wrong.legal_cost.kind = "consultation"  # an ISA incident under HNB
    wrong.legal_cost.incurred_at.CopyFrom(ts(FRAUD))
    cases.append((wrong, "incident"))
    for req, field in cases:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub(server).EvaluateClaim(req)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert any(field in k for k in violations(info.value)), (field, violations(info.value))
    assert db(server, "SELECT COUNT(*) FROM verdicts") == [(0,)]


async def test_retry_spelling_the_claim_id_in_capitals_replays_the_same_decision(
    server: RunningServer,
) -> None:
    """One UUID, one claim: the id is compared in its canonical (lower-case) form."""
    await record_history(server)
    req = hnb_claim()
    first = await stub(server).EvaluateClaim(req)
    upper = claims_pb2.EvaluateClaimRequest()
    upper.CopyFrom(req)
    upper.claim_id = req.claim_id.upper()
    assert upper.claim_id != req.claim_id
    again = await stub(server).EvaluateClaim(upper)
    assert again.replayed and again.decision_id == first.decision_id
    assert db(server, "SELECT claim_id FROM claims") == [(req.claim_id,)]
    assert db(server, PAID_IN_YEAR) == [(1_200_000,)]
