"""Properties of the payable amount, for every policy, whatever the ledger says.

For any loss, recovered amount, points and ledger usage:

* the payable amount is never negative;
* it never exceeds the loss minus what was recovered (and minus points);
* it never exceeds what remains of any cap it counts toward (every
  reservation's ``usage + payable <= limit``, ``count + 1 <= max_count``);
* it is 0 and nothing is reserved unless the outcome is APPROVE;
* an APPROVE never pays an incident something was paid for already, nor one
  with another paid incident on its JST day or a day either side (near_days),
  and it reserves in every scope it read but those neighbouring days.

The ledger is drawn either at random, scope by scope, or as approvals leave it:
an incident's JST day counts the incident's own payouts (plus, sometimes, other
incidents of the window) — so that APPROVEs of policies with a window are drawn
often enough to check the caps of.
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
    claim_marks,
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


def _windows(keys: list[str]) -> dict[str, tuple[str, list[str], str]]:
    """Per incident cap with near_days: its incident key → (its own JST day key, the
    window's day keys in order, its …/claimed key). The window is centred on the
    incident's day; the day and claimed keys carry the incident name (ISA's parts
    share "ISA-cost"), the incident key the part's own."""
    by_prefix: dict[str, list[str]] = {}
    for key in keys:
        head, sep, _day = key.partition("/day:")
        if sep and not key.endswith("/claimed"):
            by_prefix.setdefault(head + "/", []).append(key)
    out = {}
    for prefix, days in by_prefix.items():
        name, rest = prefix.split("/", 1)
        # The incident key itself, not the marks under it (…/claimed, …/series:S).
        (incident,) = [
            k
            for k in keys
            if k.split("/", 1)[1].startswith(rest + "at:")
            and "/" not in k.split("/", 1)[1][len(rest) :]
        ]
        days.sort()
        out[incident] = (days[len(days) // 2], days, f"{name}/{incident.split('/', 1)[1]}/claimed")
    return out


def _usage(draw: st.DrawFn, limit: int) -> LedgerUsage:
    amount = draw(st.one_of(st.just(0), st.integers(0, limit + limit // 5)))
    return LedgerUsage(amount, draw(st.integers(0, 2)))


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
    keys = list(ledger_scopes(policy, claim, base.context))
    ledger: dict[str, LedgerUsage] = {}
    for key in keys:
        ledger[key] = _usage(draw, _limit_of(claim.policy_id, key))
    if draw(st.booleans()):
        # As approvals leave it: the incident's day counts the incident's payouts, and
        # other incidents of the window (if any) count on their days.
        for incident, (own, days, _claimed) in _windows(keys).items():
            others = draw(st.booleans())
            for day in days:
                extra = _usage(draw, _limit_of(claim.policy_id, day)) if others else LedgerUsage()
                mine = ledger[incident] if day == own else LedgerUsage()
                ledger[day] = LedgerUsage(
                    mine.amount_yen + extra.amount_yen, mine.count + extra.count
                )
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
    windows = _windows(list(ledger))
    neighbours = {day for own, days, _ in windows.values() for day in days if day != own}
    marks = set(claim_marks(policy, claim))
    claimed = {k for k in ledger if k.endswith(("/claimed", "/refused"))}
    assert all(ledger[k].count == 0 for k in ledger if k.endswith("/refused")), d.trace()
    assert {r.scope_key for r in d.reservations} == set(ledger) - neighbours - marks - claimed
    for key in marks - claimed - {k for k in marks if k.endswith("/claimed")}:
        # A series cap: no other series (or none) was stated for this incident before.
        if key.endswith("/in-series"):
            continue
        incident = key.rpartition("/series:")[0]
        assert ledger[f"{incident}/in-series"].count <= ledger[key].count, d.trace()
    for _own, days, claimed_key in windows.values():
        # No other incident was claimed within the window (paid or not).
        near = sum(ledger[f"{day}/claimed"].count for day in days)
        assert near <= ledger[claimed_key].count, d.trace()
    for incident, (_own, days, _) in windows.items():
        # The loss of one incident is paid once; another paid one near it goes to a human.
        assert ledger[incident].amount_yen == 0, d.trace()
        assert sum(ledger[day].count for day in days) <= ledger[incident].count, d.trace()
    for r in d.reservations:
        usage = ledger[r.scope_key]
        assert r.amount_yen == payable
        if r.limit_yen is not None:
            assert usage.amount_yen + payable <= r.limit_yen, d.trace()
        if r.max_count is not None:
            assert usage.count + r.count <= r.max_count, d.trace()
