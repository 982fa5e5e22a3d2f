"""A sixth policy of existing kinds is a data-only change (tests/claims/fixtures/six.toml)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from rules.engine import (
    BUILTIN_POLICIES_DIR,
    Amounts,
    CardFraud,
    ClaimFacts,
    EvaluationContext,
    LedgerUsage,
    Outcome,
    PolicySet,
    SkimmingPhishingLoss,
    evaluate_in,
    ledger_scopes,
    load_policies,
)
from tests.claims.builders import US, period
from timing import at_jst

FIXTURE = Path(__file__).parent / "fixtures" / "six.toml"
FRAUD = at_jst(2026, 11, 20, 10)


@pytest.fixture
def six_policies(tmp_path: Path) -> PolicySet:
    """The five built-in policy files plus six.toml, copied into one directory."""
    shutil.copytree(BUILTIN_POLICIES_DIR, tmp_path / "policies")
    shutil.copy(FIXTURE, tmp_path / "policies")
    return load_policies(tmp_path / "policies")


def card_claim(**changes: object) -> ClaimFacts:
    incident = CardFraud(
        card_token="tok-6",
        fraud_at=FRAUD,
        police_reported_at=at_jst(2026, 11, 21),
        notified_at=at_jst(2026, 11, 22),
    )
    claim = ClaimFacts(
        claim_id="six-1",
        policy_id="SIX",
        customer_id="c6",
        claimed_at=at_jst(2026, 11, 25),
        incident=incident,
        amounts=Amounts(loss_yen=300_000, recovered_yen=50_000),
        exclusions={"SIX-X1": False},
    )
    return replace(claim, incident=replace(incident, **changes))  # type: ignore[arg-type]


def context(
    policies: PolicySet, claim: ClaimFacts, start: object = at_jst(2026, 10, 20, 15), **ledger: int
) -> EvaluationContext:
    base = EvaluationContext(coverage={"SIX": (period(start),)})  # type: ignore[arg-type]
    keys = ledger_scopes(policies.get("SIX"), claim, base)
    usage = {
        k: LedgerUsage(ledger.get("amount", 0), ledger.get("count", 0))
        if "/year:" in k
        else LedgerUsage()
        for k in keys
    }
    return EvaluationContext(coverage=base.coverage, ledger=usage)


def test_six_policies_load(six_policies: PolicySet) -> None:
    assert set(six_policies.policies) == {"HNB", "DCM", "KDN", "JPE", "ISA", "SIX"}
    assert six_policies.get("SIX").label == "SIX@2026-10-01"


def test_six_approves_80_percent_capped_per_incident(six_policies: PolicySet) -> None:
    claim = card_claim()
    d = evaluate_in(six_policies, claim, context(six_policies, claim))
    assert d.outcome is Outcome.APPROVE, d.trace()
    assert d.payable_yen == 200_000  # (300,000 - 50,000) * 80% = 200,000 ≤ 200,000
    assert {r.scope_key for r in d.reservations} == {
        "SIX-L1/customer:c6/instrument:tok-6/at:2026-11-20T01:00:00.000000Z",
        "SIX-L1/customer:c6/year:2026",
    }
    (year,) = [r for r in d.reservations if r.scope_key.endswith("year:2026")]
    assert (year.limit_yen, year.max_count) == (500_000, 2)


def test_six_cover_begins_one_month_after_the_start(six_policies: PolicySet) -> None:
    claim = card_claim()
    at_start = context(six_policies, claim, start=at_jst(2026, 10, 20, 15))
    assert evaluate_in(six_policies, claim, at_start).outcome is Outcome.APPROVE
    late = context(six_policies, claim, start=at_jst(2026, 10, 21))
    d = evaluate_in(six_policies, claim, late)
    assert d.outcome is Outcome.DENY and d.clause("SIX-P1").fired


def test_six_annual_limit_and_twice_a_year(six_policies: PolicySet) -> None:
    claim = card_claim()
    d = evaluate_in(six_policies, claim, context(six_policies, claim, amount=400_000))
    assert (d.outcome, d.payable_yen) == (Outcome.APPROVE, 100_000)
    d = evaluate_in(six_policies, claim, context(six_policies, claim, count=2))
    assert d.outcome is Outcome.DENY and d.clause("SIX-L1.twice").fired


def test_six_year_starts_october_1_at_1000(six_policies: PolicySet) -> None:
    claim = card_claim(fraud_at=at_jst(2026, 10, 1, 10) - US)
    keys = ledger_scopes(six_policies.get("SIX"), claim, EvaluationContext())
    assert "SIX-L1/customer:c6/year:2025" in keys


def test_six_notice_and_phishing_negligence(six_policies: PolicySet) -> None:
    late = card_claim(notified_at=at_jst(2027, 1, 20))  # day 61
    d = evaluate_in(six_policies, late, context(six_policies, late))
    assert d.outcome is Outcome.DENY and d.clause("SIX-C1").fired
    phishing = ClaimFacts(
        claim_id="six-2",
        policy_id="SIX",
        customer_id="c6",
        claimed_at=at_jst(2026, 11, 25),
        incident=SkimmingPhishingLoss("tok-6", FRAUD, "phishing", frozenset({"SIX-N1"})),
        amounts=Amounts(loss_yen=10_000),
        exclusions={"SIX-X1": False},
    )
    d = evaluate_in(six_policies, phishing, context(six_policies, phishing))
    assert d.outcome is Outcome.REVIEW
    assert [c.label for c in d.fired] == ["SIX-N1"]
    assert d.clause("SIX-C1").status.value == "NOT_APPLICABLE"
