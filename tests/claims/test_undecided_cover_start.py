"""ISA-X22 / KDN-Y3: undecided cover may have started the cover earlier (REVIEW, never DENY).

Both clauses compare an instant with a cover start on record (ISA-X22: the
first, 初年度補償開始日; KDN-Y3: the start of the period containing the
incident). An event the record cannot judge (GetCoverage ``undecided``: an ISA
enrolment without its plan, a Norton 360 activation without the billed phone)
that might have given cover from an instant at or before the one judged could
move that start earlier: the clause is then REVIEW naming the event's missing
fact, and an attestation that agrees with the (possibly earlier) start is not
refused as contradicting "the cover start on record". An undecided event that
could not move the start to or before the instant changes nothing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from checks.coverage import IgnoredEvent, undecided_fact
from checks.event_model import Enrolment, EnrolmentAction, Judgement
from checks.model import CheckStatus
from rules.engine import ClaimError, ClaimFacts, EvaluationContext, LegalCost, LiabilityClaim
from tests.claims.builders import DENY, REVIEW, decide, isa, kdn_liability, period, stated
from tests.claims.test_cover_not_known import with_events
from timing import at_jst

PLANLESS = at_jst(2024, 6, 1)
PLANNED = at_jst(2025, 1, 1)


def isa_enrolment(eid: str, at: datetime, plan: str, action: EnrolmentAction) -> Enrolment:
    return Enrolment(eid, "c-isa", at, "ISA", action, plan=plan, insured_person_ref="person-1")


def isa_cause(cause_at: datetime | None) -> ClaimFacts:
    claim = isa().claim
    assert isinstance(claim.incident, LegalCost)
    return replace(claim, incident=replace(claim.incident, cause_at=cause_at))


def isa_history(*extra: Enrolment) -> list[Enrolment]:
    joined = EnrolmentAction.JOINED
    return [
        isa_enrolment("no-plan", PLANLESS, "", joined),
        *extra,
        isa_enrolment("planned", PLANNED, "j_safe", joined),
    ]


def test_isa_x22_cause_after_a_planless_enrolment_is_review_naming_its_plan() -> None:
    s = isa()
    d = with_events(
        isa_cause(at_jst(2024, 9, 1, 10)), replace(s.context, coverage={}), enrolments=isa_history()
    )
    assert d.outcome is REVIEW, d.trace()
    x22 = d.clause("ISA-X22")
    assert x22.status is CheckStatus.UNKNOWN
    assert x22.missing_facts == ("context.coverage[ISA]: enrolment.plan (no-plan)",)


def test_isa_x22_cause_before_the_planless_enrolment_still_denies() -> None:
    s = isa()
    d = with_events(
        isa_cause(at_jst(2024, 5, 31, 10)),
        replace(s.context, coverage={}),
        enrolments=isa_history(),
    )
    assert d.outcome is DENY and d.clause("ISA-X22").fired, d.trace()


def test_isa_x22_attested_false_is_not_refused_when_undecided_cover_may_start_first() -> None:
    s = isa()
    claim = stated("ISA-X22", False)(isa_cause(at_jst(2024, 9, 1, 10)))
    d = with_events(claim, replace(s.context, coverage={}), enrolments=isa_history())
    assert d.outcome is REVIEW and d.clause("ISA-X22").status is CheckStatus.UNKNOWN, d.trace()
    # Before the plan-less enrolment the record settles it: still refused.
    claim = stated("ISA-X22", False)(isa_cause(at_jst(2024, 5, 31, 10)))
    with pytest.raises(ClaimError):
        with_events(claim, replace(s.context, coverage={}), enrolments=isa_history())


# --------------------------------------------------------------------------- KDN-Y3

KDN_START = at_jst(2026, 3, 1)
NO_PHONE = at_jst(2026, 1, 1)
KNOWN = at_jst(2026, 2, 1, 10)


def no_phone(until: datetime | None) -> IgnoredEvent:
    judged = Judgement("KDN-P1", CheckStatus.UNKNOWN, "phone_not_reported", "電話番号なし", ())
    return IgnoredEvent("n360-no-phone", NO_PHONE, judged, (NO_PHONE, until))


def kdn_known(
    undecided: IgnoredEvent, attested: bool | None = None
) -> tuple[ClaimFacts, EvaluationContext]:
    s = kdn_liability()
    assert isinstance(s.claim.incident, LiabilityClaim)
    claim = replace(s.claim, incident=replace(s.claim.incident, cause_known_at=KNOWN))
    if attested is not None:
        claim = stated("KDN-Y3", attested)(claim)
    ctx = replace(
        s.context, coverage={"KDN": (period(KDN_START),)}, undecided_cover={"KDN": (undecided,)}
    )
    return claim, ctx


@pytest.mark.parametrize("attested", [None, False])
def test_kdn_y3_knowledge_inside_undecided_cover_reaching_the_period_is_review(
    attested: bool | None,
) -> None:
    u = no_phone(None)
    d = decide(*kdn_known(u, attested))
    y3 = d.clause("KDN-Y3")
    assert d.outcome is REVIEW and y3.status is CheckStatus.UNKNOWN, d.trace()
    assert y3.missing_facts == (undecided_fact("KDN", u),)


def test_kdn_y3_undecided_cover_ending_before_the_period_changes_nothing() -> None:
    d = decide(*kdn_known(no_phone(at_jst(2026, 1, 15))))
    assert d.outcome is DENY and d.clause("KDN-Y3").fired, d.trace()
    with pytest.raises(ClaimError):
        decide(*kdn_known(no_phone(at_jst(2026, 1, 15)), False))


def test_isa_a_left_ends_a_planless_enrolment_for_claims_too() -> None:
    # isa-u3: no plan 2024-06-01, LEFT 2024-12-01, j_safe 2025-02-01.
    s = isa()
    history = [
        isa_enrolment("no-plan", PLANLESS, "", EnrolmentAction.JOINED),
        isa_enrolment("left", at_jst(2024, 12, 1), "", EnrolmentAction.LEFT),
        isa_enrolment("planned", at_jst(2025, 2, 1), "j_safe", EnrolmentAction.JOINED),
    ]
    claim = isa_cause(at_jst(2024, 8, 1, 10))
    d = with_events(claim, replace(s.context, coverage={}), enrolments=history)
    assert d.outcome is REVIEW and d.clause("ISA-X22").status is CheckStatus.UNKNOWN, d.trace()
    # Incurred after the LEFT, before the rejoin: no cover (DENY), not REVIEW.
    assert isinstance(claim.incident, LegalCost)
    gap = replace(
        claim,
        incident=replace(
            claim.incident, incurred_at=at_jst(2025, 1, 10, 10), cause_at=at_jst(2025, 1, 5, 10)
        ),
    )
    d = with_events(gap, replace(s.context, coverage={}), enrolments=history)
    assert d.outcome is DENY, d.trace()
    assert d.clause("ISA-P1.subscription").status is CheckStatus.FAIL, d.trace()
