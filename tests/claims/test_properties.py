"""Properties of the payable amount, for every policy, whatever the ledger says.

For any loss, recovered amount, points and ledger usage:

* the payable amount is never negative;
* it never exceeds the loss minus what was recovered (and minus points);
* it never exceeds what remains of any cap it counts toward (every
  reservation's ``usage + payable <= limit``, ``count + 1 <= max_count``);
* it is 0 and nothing is reserved unless the outcome is APPROVE.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.engine import (
    Amounts,
    ClaimFacts,
    EvaluationContext,
    LedgerUsage,
    Outcome,
    Outline,
    evaluate,
    ledger_scopes,
    outline,
)
from tests.claims.builders import (
    dcm,
    dcm_card,
    hnb,
    isa,
    isa_fees,
    jpe,
    kdn,
    kdn_liability,
    policies,
)

SCENARIOS = [hnb, dcm, dcm_card, kdn, kdn_liability, jpe, isa, isa_fees]


def _limit_of(policy_id: str, scope_key: str) -> int:
    """A scale for the drawn usage: the largest limit of the clauses of this scope."""
    name = scope_key.split("/", 1)[0]
    limits = [
        c.int_param("limit_yen")
        for c in policies().get(policy_id).clauses
        if "limit_yen" in c.params and (c.params.get("scope_name") or c.id) == name
    ]
    return max(limits, default=1_000_000)


@st.composite
def claims_and_ledgers(
    draw: st.DrawFn,
) -> tuple[ClaimFacts, EvaluationContext, dict[str, LedgerUsage]]:
    base = draw(st.sampled_from(SCENARIOS))()
    loss = draw(st.integers(0, 20_000_000))
    recovered = draw(st.one_of(st.just(0), st.integers(0, loss + 1_000)))
    points = draw(st.one_of(st.just(0), st.integers(0, loss)))
    claim = replace(base.claim, amounts=Amounts(loss, recovered, points))
    policy = policies().get(claim.policy_id)
    ledger: dict[str, LedgerUsage] = {}
    for key in ledger_scopes(policy, claim, base.context):
        limit = _limit_of(claim.policy_id, key)
        amount = draw(st.one_of(st.just(0), st.integers(0, limit + limit // 5)))
        count = draw(st.integers(0, 2))
        ledger[key] = LedgerUsage(amount, count)
    return claim, base.context, ledger


@settings(max_examples=300, deadline=None)
@given(claims_and_ledgers())
def test_payable_never_exceeds_a_cap_nor_the_net_loss_and_is_never_negative(
    drawn: tuple[ClaimFacts, EvaluationContext, dict[str, LedgerUsage]],
) -> None:
    claim, context, ledger = drawn
    policy = policies().get(claim.policy_id)
    d = evaluate(policy, claim, replace(context, ledger=ledger))
    assert outline(policy, claim, replace(context, ledger=ledger)) == Outline.of(d)
    amounts = claim.amounts
    payable = d.payable_yen
    assert payable >= 0
    assert payable <= max(0, amounts.loss_yen - amounts.recovered_yen)
    if any(c.kind == "exclude_points" for c in policy.clauses):
        assert payable <= max(0, amounts.loss_yen - amounts.recovered_yen - amounts.points_yen)
    if d.outcome is not Outcome.APPROVE:
        assert payable == 0 and d.reservations == ()
        return
    assert payable > 0
    assert {r.scope_key for r in d.reservations} == set(ledger)
    for r in d.reservations:
        usage = ledger[r.scope_key]
        assert r.amount_yen == payable
        if r.limit_yen is not None:
            assert usage.amount_yen + payable <= r.limit_yen, d.trace()
        if r.max_count is not None:
            assert usage.count + r.count <= r.max_count, d.trace()
