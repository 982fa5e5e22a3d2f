"""The engine as a whole: precedence, every clause listed, no guessing, reservations, errors."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from checks.model import Verdict
from rules.engine import (
    BUILTIN_POLICIES_DIR,
    Amounts,
    ClaimError,
    ClaimFacts,
    Effect,
    EvaluationContext,
    IbTransferFraud,
    LedgerUsage,
    Outcome,
    claim_marks,
    evaluate,
    evaluate_in,
    ledger_scopes,
    load_policies,
    outline,
)
from tests.claims.builders import (
    APPROVE,
    DENY,
    REVIEW,
    Scenario,
    dcm,
    decide,
    hnb,
    inc,
    isa,
    jpe,
    kdn,
    kdn_liability,
    policies,
    posture,
    stated,
    unstated,
)
from timing import at_jst

SCENARIOS = [hnb, dcm, kdn, kdn_liability, jpe, isa]


# --------------------------------------------------------------------------- precedence

# (what happens, the change, outcome, the clauses that must have fired with their effect)
PRECEDENCE = [
    (
        "an exclusion and a missing fact: DENY wins, both listed",
        lambda c: stated("HNB-X10")(inc(notified_bank_at=None)(c)),
        DENY,
        {"HNB-X10": Effect.DENY, "HNB-X5": Effect.REVIEW},
    ),
    (
        "two exclusions: both listed",
        lambda c: stated("HNB-X10")(stated("HNB-X17")(c)),
        DENY,
        {"HNB-X10": Effect.DENY, "HNB-X17": Effect.DENY},
    ),
    (
        "two missing facts: REVIEW naming both",
        lambda c: unstated("HNB-X3")(inc(notified_bank_at=None)(c)),
        REVIEW,
        {"HNB-X3": Effect.REVIEW, "HNB-X5": Effect.REVIEW},
    ),
    (
        "a late notice beats an excused posture: DENY",
        lambda c: inc(notified_bank_at=at_jst(2026, 4, 1), alternative_measures_asserted=True)(c),
        DENY,
        {"HNB-X5": Effect.DENY, "HNB-R1": Effect.NONE},
    ),
]


@pytest.mark.parametrize(
    ("what", "edit", "outcome", "fired"), PRECEDENCE, ids=[p[0] for p in PRECEDENCE]
)
def test_precedence_deny_over_review_over_approve(
    what: str, edit: object, outcome: object, fired: dict[str, Effect]
) -> None:
    base = hnb()
    d = decide(edit(base.claim), base.context)  # type: ignore[operator]
    assert d.outcome is outcome, d.trace()
    for label, effect in fired.items():
        assert d.clause(label).effect is effect, d.trace()
    assert d.payable_yen == 0
    assert d.reservations == ()
    assert d.computation.payable == 1_200_000  # the computation is still shown


def test_review_lists_the_missing_facts() -> None:
    base = hnb()
    claim = unstated("HNB-X3")(inc(notified_bank_at=None)(base.claim))
    d = decide(claim, base.context)
    assert d.missing_facts == ("ib_transfer.notified_bank_at", "facts.exclusions[HNB-X3]")
    assert "ib_transfer.notified_bank_at" in d.summary_ja


def test_posture_excused_by_r1_is_review_not_deny() -> None:
    base = hnb()
    claim = inc(alternative_measures_asserted=True)(base.claim)
    non_compliant = posture("pc-1", at_jst(2026, 2, 27), Verdict.NON_COMPLIANT)
    context = replace(base.context, postures=(non_compliant,))
    d = decide(claim, context)
    assert d.outcome is REVIEW
    # without a per-measure breakdown, P1..P4 cannot tell which measure failed: REVIEW
    fired = {c.label for c in d.fired}
    assert fired == {"HNB-X1", "HNB-P1", "HNB-P2", "HNB-P3.kept", "HNB-P4", "HNB-R1"}


# ------------------------------------------------------------------ every clause, every time


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.__name__ for s in SCENARIOS])
def test_every_clause_of_the_policy_is_in_the_decision_in_file_order(scenario: object) -> None:
    base: Scenario = scenario()  # type: ignore[operator]
    d = decide(base.claim, base.context)
    policy = policies().get(base.claim.policy_id)
    assert [c.label for c in d.clauses] == [c.label for c in policy.clauses]
    assert all(c.text_ja == p.text_ja for c, p in zip(d.clauses, policy.clauses, strict=True))
    assert d.outcome is APPROVE, d.trace()
    assert d.payable_yen == d.computation.payable > 0
    assert d.policy_version == policy.version


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.__name__ for s in SCENARIOS])
def test_the_decision_is_deterministic_and_independent_of_record_order(scenario: object) -> None:
    base: Scenario = scenario()  # type: ignore[operator]
    d1 = decide(base.claim, base.context)
    shuffled = replace(
        base.context,
        postures=tuple(reversed(base.context.postures)),
        registrations=tuple(reversed(base.context.registrations)),
        logins=tuple(reversed(base.context.logins)),
    )
    assert decide(base.claim, shuffled) == d1


def test_reservations_cover_every_cap_scope_the_engine_read() -> None:
    """An APPROVE reserves in every scope it read, except the JST days either side of an
    incident (near_days): read to look for another paid incident, counted only by the
    incidents of those days; and the series marks of a series cap, which every recorded
    decision counts whatever its outcome (``claim_marks``)."""
    for scenario in SCENARIOS:
        base = scenario()
        policy = policies().get(base.claim.policy_id)
        d = decide(base.claim, base.context)
        keys = set(ledger_scopes(policy, base.claim, base.context))
        reserved = {r.scope_key for r in d.reservations}
        assert reserved <= keys
        marks = set(claim_marks(policy, base.claim))
        assert marks <= keys and not marks & reserved
        # Every recorded claim of an incident with near_days counts in the incident's
        # …/claimed and its day's …/claimed; a series cap adds …/series:S (JPE, DCM).
        windowed = scenario in (hnb, dcm, kdn, kdn_liability, jpe, isa)
        claimed = {k for k in keys if k.endswith("/claimed")}
        assert {k for k in marks if k.endswith("/claimed")} <= claimed
        assert len(marks - claimed) == (2 if scenario in (jpe, dcm) else 0), marks
        days = sorted(k for k in keys if "/day:" in k and k not in claimed)
        # One window of three days (near_days = 1) where the incident cap has one; its
        # middle day is the incident's.
        assert len(days) == (3 if windowed else 0), keys
        claimed_days = sorted(k for k in claimed if "/day:" in k)
        assert claimed_days == [f"{day}/claimed" for day in days], keys
        # Read only: the days either side (paid there, claimed there), and whether the
        # incident was refused before (marked by a DENY only).
        read_only = keys - reserved - marks
        neighbours = days[:1] + days[2:]
        refused = {k for k in keys if k.endswith("/refused")}
        assert len(refused) == (1 if windowed else 0), keys
        expected = {*neighbours, *(f"{k}/claimed" for k in neighbours), *refused}
        assert read_only == expected, read_only
        assert all(r.amount_yen == d.payable_yen and r.count == 1 for r in d.reservations)


def test_the_trace_is_readable() -> None:
    base = kdn()
    text = decide(base.claim, base.context).trace()
    assert "KDN@seed-001 claim kdn-claim-1: APPROVE ¥450,000" in text
    assert "percentage [KDN-A1]: ¥500,000 → ¥450,000 (90% rounded down to the yen)" in text
    assert "KDN-C2 [until_end_of_next_jst_day] PASS → APPROVE" in text


# --------------------------------------------------------------------------- refusals


def test_a_claim_for_another_policy_is_refused() -> None:
    base = hnb()
    with pytest.raises(ClaimError) as exc:
        evaluate(policies().get("DCM"), base.claim, base.context)
    assert exc.value.field == "policy_id"


def test_an_incident_the_policy_does_not_cover_is_refused() -> None:
    base = hnb()
    claim = replace(base.claim, policy_id="DCM")
    with pytest.raises(ClaimError) as exc:
        evaluate(policies().get("DCM"), claim, base.context)
    assert exc.value.field == "incident"
    assert "ib_transfer" in str(exc.value)


def test_an_unknown_policy_is_refused() -> None:
    base = hnb()
    with pytest.raises(ClaimError) as exc:
        evaluate_in(policies(), replace(base.claim, policy_id="XXX"), base.context)
    assert exc.value.field == "policy_id"


def test_naive_instants_and_negative_amounts_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        IbTransferFraud(fraud_at=at_jst(2026, 3, 1).replace(tzinfo=None))
    with pytest.raises(ValueError, match="must not be negative"):
        Amounts(loss_yen=-1)
    with pytest.raises(TypeError, match="int number of yen"):
        Amounts(loss_yen=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a bool"):
        ClaimFacts(
            "c", "HNB", "x", at_jst(2026, 3, 1), hnb().claim.incident, Amounts(1), {"HNB-X3": "no"}
        )  # type: ignore[dict-item]


def test_nothing_left_to_pay_is_a_deny_even_without_a_firing_clause() -> None:
    base = jpe()
    claim = replace(base.claim, amounts=Amounts(loss_yen=0))
    d = decide(claim, base.context)
    assert d.outcome is DENY and d.payable_yen == 0


def test_a_missing_context_record_is_review_not_a_guess() -> None:
    base = kdn()
    d = decide(base.claim, EvaluationContext())
    assert d.outcome is REVIEW
    assert "context.coverage[KDN]" in d.missing_facts
    assert f"context.monitoring[{base.claim.incident.card_token}]" in d.missing_facts  # type: ignore[union-attr]


def test_memoised_plans_and_scopes_never_answer_for_another_policy_or_claim(
    tmp_path: Path,
) -> None:
    """The engine keeps per-policy plans and each cap clause's last scope, keyed by
    object identity: a policy loaded from another directory, or another claim, gets
    its own answer, and going back gives the first answer again."""
    base = hnb()
    policy = policies().get("HNB")
    copy = tmp_path / "policies"
    shutil.copytree(BUILTIN_POLICIES_DIR, copy)
    text = (copy / "hnb.toml").read_text(encoding="utf-8")
    assert 'year_anchor = "01-01 00:00"' in text
    (copy / "hnb.toml").write_text(
        text.replace('year_anchor = "01-01 00:00"', 'year_anchor = "04-01 00:00"', 1), "utf-8"
    )
    other = load_policies(copy).get("HNB")

    mine = ledger_scopes(policy, base.claim, base.context)
    theirs = ledger_scopes(other, base.claim, base.context)
    assert mine != theirs
    assert ledger_scopes(policy, base.claim, base.context) == mine

    someone = replace(base.claim, customer_id="someone-else")
    (key,) = [k for k in ledger_scopes(policy, someone, base.context) if k.startswith("HNB-L1")]
    assert "customer:someone-else" in key and key not in mine
    # The cap reads the scope of the claim it decides: with only the first claim's
    # usage provided, the other claim's cap has no record (REVIEW), the first has one.
    ledger = {k: LedgerUsage() for k in mine}
    assert outline(policy, someone, replace(base.context, ledger=ledger)).outcome is Outcome.REVIEW
    assert outline(policy, base.claim, replace(base.context, ledger=ledger)).outcome is APPROVE
    theirs_too = {k: LedgerUsage() for k in ledger_scopes(policy, someone, base.context)}
    with_theirs = replace(base.context, ledger={**ledger, **theirs_too})
    assert outline(policy, someone, with_theirs).outcome is APPROVE
