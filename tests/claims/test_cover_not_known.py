"""ISA-P1 / KDN-P1: a period whose cover cannot be judged from the record is REVIEW, not DENY.

docs/claims.md: "A fact the decision needs but the claim lacks is always
REVIEW naming the fact, never a guess." An enrolment whose plan was not
reported, or a Norton 360 activation without the billed phone number, is
acknowledged UNKNOWN; a claim whose instant only such an event might cover is
REVIEW naming the missing fact. An event that does not count (FAIL) still
leaves the claim outside cover (DENY), and one that counts gives cover.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from checks.coverage import policy_coverage
from checks.event_model import Activation, ActivationAction, Enrolment, EnrolmentAction, SecurityApp
from checks.model import CheckStatus
from rules.engine import ClaimFacts, Decision, EvaluationContext
from tests.claims.builders import APPROVE, DENY, REVIEW, decide, isa, kdn, policies
from timing import at_jst

ISA_JOINED = at_jst(2025, 4, 10, 9)
KDN_ACTIVATED = at_jst(2026, 1, 10, 15)


def with_events(
    claim: ClaimFacts,
    context: EvaluationContext,
    enrolments: list[Enrolment] = [],  # noqa: B006 - never mutated
    activations: list[Activation] = [],  # noqa: B006
) -> Decision:
    """Decide with the policy's cover built from the events, as the server builds it."""
    cover = policies().get(claim.policy_id).cover
    assert cover is not None
    built = policy_coverage(cover.service(), activations, enrolments, claim.claimed_at)
    name = claim.policy_id
    ctx = replace(
        context,
        coverage={**context.coverage, name: built.periods},
        undecided_cover={name: built.undecided},
    )
    return decide(claim, ctx)


def isa_joined(
    plan: str, at: datetime = ISA_JOINED, action: EnrolmentAction = EnrolmentAction.JOINED
) -> Enrolment:
    return Enrolment(
        "e-isa-1", "c-isa", at, "ISA", action, plan=plan, insured_person_ref="person-1"
    )


def isa_decision(*enrolments: Enrolment) -> Decision:
    s = isa()
    return with_events(s.claim, replace(s.context, coverage={}), enrolments=list(enrolments))


def test_isa_p1_enrolment_without_plan_is_review_naming_the_plan() -> None:
    d = isa_decision(isa_joined(""))
    r = d.clause("ISA-P1.subscription")
    assert d.outcome is REVIEW, d.trace()
    assert r.status is CheckStatus.UNKNOWN, d.trace()
    assert r.missing_facts == ("context.coverage[ISA]: enrolment.plan (e-isa-1)",), d.trace()
    assert "プランが報告されていない" in r.explanation_ja
    assert "補償期間の記録なし" not in d.trace()


@pytest.mark.parametrize("plan", ["j_safe", "J_SAFE", "ｊ＿ｓａｆｅ", " Ｊ＿ＳＡＦＥ "])
def test_isa_p1_enrolment_with_a_listed_plan_covers_in_any_width(plan: str) -> None:
    d = isa_decision(isa_joined(plan))
    assert d.outcome is APPROVE, d.trace()
    assert d.clause("ISA-P1.subscription").status is CheckStatus.PASS


def test_isa_p1_enrolment_with_an_unlisted_plan_is_deny() -> None:
    d = isa_decision(isa_joined("norton_basic"))
    assert d.outcome is DENY, d.trace()
    assert d.clause("ISA-P1.subscription").status is CheckStatus.FAIL


def test_isa_p1_enrolment_without_plan_after_the_incident_leaves_it_outside_cover() -> None:
    # Reported after the trouble and starting after it: it could not have covered it.
    d = isa_decision(isa_joined("", at=at_jst(2026, 5, 5, 9)))
    assert d.outcome is DENY, d.trace()
    assert d.clause("ISA-P1.subscription").status is CheckStatus.FAIL


def test_isa_p1_enrolment_without_action_is_review() -> None:
    d = isa_decision(isa_joined("j_safe", action=EnrolmentAction.UNSPECIFIED))
    assert d.outcome is REVIEW, d.trace()
    assert d.clause("ISA-P1.subscription").missing_facts == (
        "context.coverage[ISA]: enrolment_action_not_reported (e-isa-1)",
    )


def test_isa_p1_left_without_joined_is_review_before_it_deny_after() -> None:
    # A contract ended on 05-05 whose start was never reported: the trouble of
    # 05-01 may have been in it; one of 04-25 ended before the trouble.
    left = isa_joined("", at=at_jst(2026, 5, 5), action=EnrolmentAction.LEFT)
    before = isa_decision(left)
    assert before.outcome is REVIEW, before.trace()
    assert before.clause("ISA-P1.subscription").missing_facts == (
        "context.coverage[ISA]: left_without_joined (e-isa-1)",
    )
    after = isa_decision(replace(left, event_time=at_jst(2026, 4, 25)))
    assert after.outcome is DENY, after.trace()


def norton(
    phone: str, channel: str = "carrier_shop", app: SecurityApp = SecurityApp.NORTON_360
) -> Activation:
    return Activation(
        f"a-{app.name}",
        "c-kdn",
        KDN_ACTIVATED,
        app,
        ActivationAction.ACTIVATED,
        "phone-1",
        channel,
        phone,
    )


def kdn_decision(*activations: Activation) -> Decision:
    s = kdn()
    return with_events(s.claim, replace(s.context, coverage={}), activations=list(activations))


def test_kdn_p1_norton_360_without_phone_number_is_review_naming_it() -> None:
    d = kdn_decision(norton(""), norton("", app=SecurityApp.NORTON_MONITOR))
    r = d.clause("KDN-P1")
    assert d.outcome is REVIEW, d.trace()
    assert r.status is CheckStatus.UNKNOWN, d.trace()
    assert r.missing_facts == ("context.coverage[KDN]: activation.phone_ref (a-NORTON_360)",)


def test_kdn_p1_norton_360_with_the_phone_number_covers() -> None:
    d = kdn_decision(norton("ph-1"), norton("", app=SecurityApp.NORTON_MONITOR))
    assert d.clause("KDN-P1").status is CheckStatus.PASS, d.trace()
    assert d.outcome is APPROVE, d.trace()


def test_kdn_p1_norton_360_outside_the_shop_is_deny() -> None:
    d = kdn_decision(norton("ph-1", channel="web"), norton("", app=SecurityApp.NORTON_MONITOR))
    assert d.clause("KDN-P1").status is CheckStatus.FAIL, d.trace()
    assert d.outcome is DENY, d.trace()
