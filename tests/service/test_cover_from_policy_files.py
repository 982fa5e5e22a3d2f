"""Cover comes from the policy files' ``[cover]`` tables, for claims and GetCoverage alike.

ISA cover follows security-app activations (ISA-P1: a listed product,
ReportActivation) as well as enrolments; an ISA claim used to read enrolments
only, so a subscriber whose vendor reported the activation had no cover.
GetCoverage and EvaluateClaim build the periods with the same function from
the same events: they agree on both sides of every boundary (KDN-P1/P2, ISA-P1).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from anshin.v1 import claims_pb2, claims_pb2_grpc, common_pb2, events_pb2, events_pb2_grpc
from tests.conftest import TEST_NOW, RunningServer

US = timedelta(microseconds=1)
JST = timedelta(hours=9)
N360 = events_pb2.SECURITY_APP_NORTON_360
MONITOR = events_pb2.SECURITY_APP_NORTON_MONITOR
J_SAFE = events_pb2.SECURITY_APP_J_SAFE
ON = events_pb2.ACTIVATION_ACTION_ACTIVATED
OFF = events_pb2.ACTIVATION_ACTION_DEACTIVATED
ISA_X = [f"ISA-X{n}" for n in range(1, 28) if n != 22]


def jst(y: int, mo: int, d: int, h: int = 0) -> datetime:
    return datetime(y, mo, d, h, tzinfo=UTC) - JST


def ts(dt: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(dt)
    return t


async def activate(
    server: RunningServer, customer: str, app: int, at: datetime, action: int = ON
) -> None:
    await events_pb2_grpc.EventServiceStub(server.channel).ReportActivation(
        events_pb2.ReportActivationRequest(
            header=events_pb2.EventHeader(
                client_event_id=str(uuid.uuid4()), event_time=ts(at), customer_id=customer
            ),
            app=app,
            action=action,
            device_id="phone-1",
            channel="carrier_shop",
            phone_number="090-1234-5678",
        )
    )


def isa_claim(
    customer: str, incurred_at: datetime, *, dry_run: bool = False
) -> claims_pb2.EvaluateClaimRequest:
    return claims_pb2.EvaluateClaimRequest(
        claim_id=str(uuid.uuid4()),
        policy_id="ISA",
        customer_id=customer,
        claimed_at=ts(TEST_NOW - timedelta(hours=1)),
        amounts=claims_pb2.Amounts(loss_yen=200_000),
        exclusions={x: False for x in ISA_X},
        resident_in_japan=True,
        legal_cost=claims_pb2.LegalCost(
            kind="lawyer_fees",
            incurred_at=ts(incurred_at),
            cause_at=ts(incurred_at - timedelta(days=10)),
            insured_person_ref="person-1",
            success_prospect_found=True,
            insured_is_subscriber=True,
            through_internet=True,  # ISA-P1 (trouble)
        ),
        dry_run=dry_run,
    )


def kdn_claim(customer: str, fraud_at: datetime) -> claims_pb2.EvaluateClaimRequest:
    return claims_pb2.EvaluateClaimRequest(
        claim_id=str(uuid.uuid4()),
        policy_id="KDN",
        customer_id=customer,
        claimed_at=ts(TEST_NOW - timedelta(hours=1)),
        amounts=claims_pb2.Amounts(loss_yen=100_000),
        resident_in_japan=True,
        card_fraud=claims_pb2.CardFraud(card_token="tok-card-1", fraud_at=ts(fraud_at)),
        dry_run=True,
    )


async def evaluate(
    server: RunningServer, req: claims_pb2.EvaluateClaimRequest
) -> claims_pb2.EvaluateClaimResponse:
    resp: claims_pb2.EvaluateClaimResponse = await claims_pb2_grpc.ClaimServiceStub(
        server.channel
    ).EvaluateClaim(req)
    return resp


def statuses(resp: claims_pb2.EvaluateClaimResponse) -> dict[str, str]:
    return {
        c.clause_id: common_pb2.CheckStatus.Name(c.status).removeprefix("CHECK_STATUS_")
        for c in resp.clauses
    }


def outcome(resp: claims_pb2.EvaluateClaimResponse) -> str:
    return common_pb2.Outcome.Name(resp.outcome).removeprefix("OUTCOME_")


SUBSCRIBED = jst(2024, 6, 1, 10)
INCURRED = jst(2025, 3, 1, 14)


async def test_isa_p1_a_listed_product_activation_gives_cover_and_approves(
    server: RunningServer,
) -> None:
    await activate(server, "isa-1", J_SAFE, SUBSCRIBED)
    resp = await evaluate(server, isa_claim("isa-1", INCURRED))
    assert statuses(resp)["ISA-P1"] == "PASS"
    assert outcome(resp) == "APPROVE", resp.summary_ja
    assert resp.payable_yen == 140_000  # ISA-A2: 70% of the fees


@pytest.mark.parametrize(
    "events",
    [
        [],  # nothing on record
        [(N360, SUBSCRIBED, ON)],  # a product ISA does not list
        [(J_SAFE, SUBSCRIBED, ON), (J_SAFE, INCURRED, OFF)],  # ended when the cost was incurred
    ],
    ids=["no_activation", "unlisted_product", "deactivated_before"],
)
async def test_isa_p1_no_listed_product_active_when_the_cost_was_incurred_denies(
    server: RunningServer, events: list[tuple[int, datetime, int]]
) -> None:
    for app, at, action in events:
        await activate(server, "isa-2", app, at, action)
    resp = await evaluate(server, isa_claim("isa-2", INCURRED, dry_run=True))
    assert statuses(resp)["ISA-P1"] == "FAIL"
    assert outcome(resp) == "DENY"
    assert "ISA-P1" in [c.clause_id for c in resp.clauses if c.effect == common_pb2.OUTCOME_DENY]


@pytest.mark.parametrize("policy", ["KDN", "ISA"])
async def test_get_coverage_and_the_claim_agree(server: RunningServer, policy: str) -> None:
    customer = f"agree-{policy.lower()}"
    start, end = jst(2025, 1, 10, 15), jst(2025, 3, 1, 9)
    if policy == "KDN":
        await activate(server, customer, N360, start - timedelta(minutes=5))
        await activate(server, customer, MONITOR, start)
        await activate(server, customer, MONITOR, end, OFF)
    else:
        await activate(server, customer, J_SAFE, start)
        await activate(server, customer, J_SAFE, end, OFF)
    coverage = await events_pb2_grpc.EventServiceStub(server.channel).GetCoverage(
        events_pb2.GetCoverageRequest(customer_id=customer, policy_id=policy)
    )
    [period] = coverage.periods
    assert (period.starts_at.ToDatetime(UTC), period.ends_at.ToDatetime(UTC)) == (start, end)
    for at in (start - US, start, end - US, end):
        build = kdn_claim if policy == "KDN" else isa_claim
        resp = await evaluate(server, build(customer, at))
        got = statuses(resp)
        in_cover = start <= at < end
        assert all(got[c] == "PASS" for c in period.clause_ids) is in_cover, (at, got)
