"""Decision traces show the values compared exactly as the claim stated them (issue 19).

A trace that shows "true" for a fact sent false, "(not stated)" for an instant
that was sent, or a formula term's truth instead of the stated value misleads
whoever reviews the decision.
"""

from __future__ import annotations

from rules.engine import Decision
from tests.claims.builders import decide, hnb, inc, isa, kdn


def _observed(d: Decision, label: str) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {}
    for c in d.clause(label).compared:
        seen.setdefault(c.name, []).append(c.observed)
    return seen


def test_hnb_p3_reported_shows_the_report_fact_as_sent() -> None:
    base = hnb()
    claim = inc(token_compromised=True, token_compromise_reported=False)(base.claim)
    seen = _observed(decide(claim, base.context), "HNB-P3.reported")
    assert seen["ib_transfer.token_compromise_reported"] == ["false"], seen
    assert seen["ib_transfer.token_compromised"] == ["true"], seen
    claim = inc(token_compromised=True, token_compromise_reported=True)(base.claim)
    seen = _observed(decide(claim, base.context), "HNB-P3.reported")
    assert seen["ib_transfer.token_compromise_reported"] == ["true"], seen


def test_kdn_c7_shows_the_issuer_report_instant_sent_beside_an_unconfirmable_date() -> None:
    base = kdn()
    claim = inc(issuer_report_date_confirmable=False)(base.claim)
    sent = claim.incident.reported_to_issuer_at  # type: ignore[union-attr]
    assert sent is not None
    seen = _observed(decide(claim, base.context), "KDN-C7")
    assert seen["card_fraud.reported_to_issuer_at"] == [str(sent)], seen
    assert seen["card_fraud.issuer_report_date_confirmable"] == ["false"], seen
    claim = inc(reported_to_issuer_at=None, issuer_report_date_confirmable=False)(base.claim)
    seen = _observed(decide(claim, base.context), "KDN-C7")
    assert seen["card_fraud.reported_to_issuer_at"] == ["(not stated)"], seen


def test_isa_i1_relation_shows_the_degree_and_each_fact_once() -> None:
    base = isa()
    claim = inc(
        insured_is_subscriber=False,
        relative_degree=3,
        lives_with_subscriber=True,
        shares_livelihood=True,
        is_child=False,
        unmarried=True,
    )(base.claim)
    d = decide(claim, base.context)
    seen = _observed(d, "ISA-I1.relation")
    assert seen["legal_cost.relative_degree"] == ["3"], seen
    assert seen["legal_cost.lives_with_subscriber"] == ["true"], seen
    assert all(len(v) == 1 for v in seen.values()), seen
    claim = inc(relative_degree=2)(claim)
    seen = _observed(decide(claim, base.context), "ISA-I1.relation")
    assert seen["legal_cost.relative_degree"] == ["2"], seen


def test_a_formula_fact_not_stated_shows_not_stated() -> None:
    base = isa()
    claim = inc(insured_is_subscriber=None)(base.claim)
    seen = _observed(decide(claim, base.context), "ISA-I1.relation")
    assert seen["legal_cost.insured_is_subscriber"] == ["(not stated)"], seen


def test_hnb_x4_and_kdn_c4_show_the_police_instant_sent() -> None:
    """The engine shows an instant beside a fact stated false (the API refuses that
    pair, but a trace must never print "(not stated)" for a value it was given)."""
    base = hnb()
    at = base.claim.occurred_at.replace(microsecond=0)
    claim = inc(police_consulted_at=at, police_consulted=False)(base.claim)
    seen = _observed(decide(claim, base.context), "HNB-X4.police")
    assert seen["ib_transfer.police_consulted_at"] == [str(at)], seen
    base = kdn()
    claim = inc(police_reported_at=at, police_reported=False)(base.claim)
    seen = _observed(decide(claim, base.context), "KDN-C4")
    assert seen["card_fraud.police_reported_at"] == [str(at)], seen
