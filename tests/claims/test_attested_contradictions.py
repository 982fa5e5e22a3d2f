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

from rules.engine import ClaimError, ClaimFacts, LegalCost, LiabilityClaim
from server.errors import InvalidArgument
from server.usecases import claim_facts
from tests.claims.builders import APPROVE, DENY, decide, isa, kdn_liability, policies, stated
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
