"""ISA decided end to end with cover from activations only (issue 19, item 1).

A subscriber whose vendor reported a listed product's activation
(ReportActivation, no enrolment) gets the seed's amounts through a real
server and its ledger: ISA-A1 ¥20,000 per consultation and ¥100,000 a year,
ISA-A2 70% of lawyer fees and ¥300,000 a year, what remains after earlier
claims, ISA-I1 (one insured person, the relation) and ISA-X22 (a cause before
the first cover start).
"""

from __future__ import annotations

from datetime import timedelta

from anshin.v1 import claims_pb2, common_pb2
from tests.conftest import RunningServer
from tests.service.test_cover_from_policy_files import (
    INCURRED,
    J_SAFE,
    SUBSCRIBED,
    activate,
    evaluate,
    isa_claim,
    outcome,
    ts,
)


def consultation(
    customer: str, yen: int, day: int = 0, person: str = "person-1"
) -> claims_pb2.EvaluateClaimRequest:
    req = isa_claim(customer, INCURRED + timedelta(days=day))
    req.legal_cost.kind = "consultation"
    req.legal_cost.insured_person_ref = person
    req.amounts.loss_yen = yen
    return req


def fees(customer: str, yen: int, day: int = 0) -> claims_pb2.EvaluateClaimRequest:
    req = isa_claim(customer, INCURRED + timedelta(days=day))
    req.amounts.loss_yen = yen
    return req


def fired(resp: claims_pb2.EvaluateClaimResponse) -> set[str]:
    return {
        c.clause_id + (f".{c.part}" if c.part else "")
        for c in resp.clauses
        if c.effect in (common_pb2.OUTCOME_DENY, common_pb2.OUTCOME_REVIEW)
    }


async def test_isa_a1_consultation_capped_at_20000_with_cover_from_an_activation(
    server: RunningServer,
) -> None:
    await activate(server, "isa-a1", J_SAFE, SUBSCRIBED)
    resp = await evaluate(server, consultation("isa-a1", 30_000))
    assert outcome(resp) == "APPROVE", resp.summary_ja
    assert resp.payable_yen == 20_000


async def test_isa_a1_annual_100000_and_what_remains_after_earlier_claims(
    server: RunningServer,
) -> None:
    await activate(server, "isa-year", J_SAFE, SUBSCRIBED)
    paid = []
    # Two days apart: another consultation within a JST day is REVIEW (near_days).
    for day in range(0, 10, 2):
        paid.append((await evaluate(server, consultation("isa-year", 20_000, day))).payable_yen)
    assert paid == [20_000] * 5
    last = await evaluate(server, consultation("isa-year", 20_000, 12))
    assert outcome(last) == "DENY" and "ISA-A1.annual" in fired(last), last.summary_ja


async def test_isa_a2_70_percent_and_the_remaining_300000(server: RunningServer) -> None:
    await activate(server, "isa-a2", J_SAFE, SUBSCRIBED)
    first = await evaluate(server, fees("isa-a2", 200_000))
    assert (outcome(first), first.payable_yen) == ("APPROVE", 140_000)
    second = await evaluate(server, fees("isa-a2", 300_000, 2))  # another bill, 2 days on
    # 70% of ¥300,000 is ¥210,000; ¥160,000 of the year's ¥300,000 remains
    assert (outcome(second), second.payable_yen) == ("APPROVE", 160_000), second.summary_ja


async def test_isa_i1_a_second_person_in_the_period_denies(server: RunningServer) -> None:
    await activate(server, "isa-i1", J_SAFE, SUBSCRIBED)
    assert outcome(await evaluate(server, consultation("isa-i1", 10_000))) == "APPROVE"
    other = await evaluate(server, consultation("isa-i1", 10_000, 1, person="person-2"))
    assert outcome(other) == "DENY" and "ISA-I1.one_person" in fired(other)


async def test_isa_i1_a_nephew_is_not_an_insured_person(server: RunningServer) -> None:
    await activate(server, "isa-rel", J_SAFE, SUBSCRIBED)
    req = consultation("isa-rel", 10_000)
    lc = req.legal_cost
    lc.insured_is_subscriber = False
    lc.relative_degree = 3
    lc.lives_with_subscriber = True
    lc.shares_livelihood = True
    resp = await evaluate(server, req)
    assert outcome(resp) == "DENY" and "ISA-I1.relation" in fired(resp)


async def test_isa_x22_cause_before_the_first_activation_denies(server: RunningServer) -> None:
    await activate(server, "isa-x22", J_SAFE, SUBSCRIBED)
    req = consultation("isa-x22", 10_000)
    req.legal_cost.cause_at.CopyFrom(ts(SUBSCRIBED - timedelta(microseconds=1)))
    resp = await evaluate(server, req)
    assert outcome(resp) == "DENY" and "ISA-X22" in fired(resp)
    req = consultation("isa-x22", 10_000, 2)  # another consultation, 2 days on
    req.legal_cost.cause_at.CopyFrom(ts(SUBSCRIBED))
    assert outcome(await evaluate(server, req)) == "APPROVE"
