"""ISA-X22 / KDN-Y3: an attestation is never accepted and then ignored.

Each clause reads an instant (``legal_cost.cause_at``, ``liability.cause_known_at``)
and compares it with the cover start on record; ``exclusions[<clause>]`` stands
in for the instant when it is not known. Stated together they must agree: an
exclusion attested true while the instant says the cause is after the start (or
false while it is before) is refused with INVALID_ARGUMENT naming both fields.
The attestation alone decides; agreeing with the instant, it is shown.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from rules.engine import ClaimError, ClaimFacts, IbTransferFraud, LegalCost, LiabilityClaim
from rules.engine.form import claim_form
from server.errors import InvalidArgument
from server.usecases import claim_facts
from tests.claims.builders import (
    APPROVE,
    DENY,
    REVIEW,
    decide,
    hnb,
    isa,
    kdn_liability,
    policies,
    stated,
)
from timing import at_jst

BEFORE_ISA_START = at_jst(2024, 3, 31, 23, 59)  # the ISA baseline's cover starts 2024-04-01


def isa_cause(cause_at: object) -> ClaimFacts:
    claim = isa().claim
    assert isinstance(claim.incident, LegalCost)
    return replace(claim, incident=replace(claim.incident, cause_at=cause_at))


def kdn_known(known_at: object) -> ClaimFacts:
    claim = kdn_liability().claim
    assert isinstance(claim.incident, LiabilityClaim)
    return replace(claim, incident=replace(claim.incident, cause_known_at=known_at))


def test_isa_x22_attested_true_with_a_cause_after_the_cover_start_is_refused() -> None:
    claim = stated("ISA-X22", True)(isa().claim)
    with pytest.raises(ClaimError) as err:
        decide(claim, isa().context)
    assert err.value.field == "exclusions[ISA-X22]"
    assert "legal_cost.cause_at" in err.value.message
    assert "at or after the cover start" in err.value.message


def test_isa_x22_attested_false_with_a_cause_before_the_cover_start_is_refused() -> None:
    claim = stated("ISA-X22", False)(isa_cause(BEFORE_ISA_START))
    with pytest.raises(ClaimError) as err:
        decide(claim, isa().context)
    assert err.value.field == "exclusions[ISA-X22]"
    assert "before the cover start" in err.value.message


def test_isa_x22_the_server_refuses_it_as_invalid_argument_naming_both_fields() -> None:
    claim = stated("ISA-X22", True)(isa().claim)
    with pytest.raises(InvalidArgument) as err:
        claim_facts.ledger_scopes(policies().get("ISA"), claim, isa().context)
    (violation,) = err.value.violations
    assert violation.field == "exclusions[ISA-X22]"
    assert "legal_cost.cause_at" in violation.description
    assert not violation.description.startswith("exclusions[")  # the field is said once


def test_isa_x22_attestation_agreeing_with_the_instant_is_shown_and_decides_alike() -> None:
    agree = decide(stated("ISA-X22", False)(isa().claim), isa().context)
    assert agree.outcome is APPROVE, agree.trace()
    shown = {c.name: c.observed for c in agree.clause("ISA-X22").compared}
    assert shown["facts.exclusions[ISA-X22]"] == "false"
    deny = decide(stated("ISA-X22", True)(isa_cause(BEFORE_ISA_START)), isa().context)
    assert deny.outcome is DENY and deny.clause("ISA-X22").fired, deny.trace()


@pytest.mark.parametrize(("attested", "outcome"), [(True, DENY), (False, APPROVE)])
def test_isa_x22_the_attestation_alone_decides(attested: bool, outcome: object) -> None:
    d = decide(stated("ISA-X22", attested)(isa_cause(None)), isa().context)
    assert d.outcome is outcome, d.trace()


def test_kdn_y3_attested_true_with_knowledge_after_the_period_start_is_refused() -> None:
    claim = stated("KDN-Y3", True)(kdn_liability().claim)
    with pytest.raises(ClaimError) as err:
        decide(claim, kdn_liability().context)
    assert err.value.field == "exclusions[KDN-Y3]"
    assert "liability.cause_known_at" in err.value.message


def test_kdn_y3_attested_true_with_knowledge_before_the_period_start_denies() -> None:
    claim = stated("KDN-Y3", True)(kdn_known(at_jst(2026, 1, 1)))
    d = decide(claim, kdn_liability().context)
    assert d.outcome is DENY and d.clause("KDN-Y3").fired, d.trace()


@pytest.mark.parametrize(("attested", "outcome"), [(True, DENY), (False, APPROVE)])
def test_kdn_y3_the_attestation_alone_decides(attested: bool, outcome: object) -> None:
    d = decide(stated("KDN-Y3", attested)(kdn_known(None)), kdn_liability().context)
    assert d.outcome is outcome, d.trace()


# --------------------------------------------------------------------------- HNB-X4
# HNB-X4 names three omissions (no police consultation; documents; cooperation).
# The police one is a typed fact (.police); exclusions[HNB-X4] is the clause as a
# whole (.cooperation reads it for the other two). false ("none of them") beside
# police_consulted = false (one of them) is refused naming both. true beside a
# stated police consultation is not a contradiction: true is then one of the other
# two omissions, which the clause text names apart (.cooperation fires).


def hnb_police(**changes: object) -> ClaimFacts:
    claim = hnb().claim
    assert isinstance(claim.incident, IbTransferFraud)
    return replace(claim, incident=replace(claim.incident, **changes))


def test_hnb_x4_attested_false_with_police_not_consulted_is_refused() -> None:
    claim = stated("HNB-X4", False)(hnb_police(police_consulted_at=None, police_consulted=False))
    with pytest.raises(ClaimError) as err:
        decide(claim, hnb().context)
    assert err.value.field == "exclusions[HNB-X4]"
    assert "ib_transfer.police_consulted" in err.value.message
    assert "send one of the two" in err.value.message
    with pytest.raises(InvalidArgument) as refused:
        claim_facts.ledger_scopes(policies().get("HNB"), claim, hnb().context)
    (violation,) = refused.value.violations
    assert violation.field == "exclusions[HNB-X4]"


@pytest.mark.parametrize("consulted", [True, None])
def test_hnb_x4_attested_false_with_police_consulted_or_unstated_is_decided(
    consulted: bool | None,
) -> None:
    claim = stated("HNB-X4", False)(
        hnb_police(police_consulted_at=None, police_consulted=consulted)
    )
    d = decide(claim, hnb().context)
    assert d.outcome is (APPROVE if consulted else REVIEW), d.trace()


def test_hnb_x4_attested_true_beside_a_police_consultation_is_the_other_omission() -> None:
    d = decide(stated("HNB-X4", True)(hnb().claim), hnb().context)
    assert d.outcome is DENY, d.trace()
    assert d.clause("HNB-X4.cooperation").fired and not d.clause("HNB-X4.police").fired


def test_hnb_x4_form_asks_the_attestation_with_every_omission_of_the_clause() -> None:
    form = {f.path: f for f in claim_form(policies().get("HNB"), "ib_transfer")}
    question = form["exclusions[HNB-X4]"].question_ja
    assert "警察への被害の相談を行わない" in question and "書類を提出しない" in question
