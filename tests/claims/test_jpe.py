"""JPE — JP安心サイバー補償, clause by clause.

Baseline (``builders.jpe``): service started 2026-01-15 10:00 JST, so cover
begins 2026-03-15 00:00 JST (2 calendar months, JPE-P1); card details phished
and misused on 2026-04-01 for ¥150,000; no negligence found → approved for
¥100,000 (the per-incident limit).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rules.engine import ClaimFacts
from tests.claims.builders import (
    APPROVE,
    DENY,
    REVIEW,
    US,
    Book,
    Case,
    ClaimEdit,
    both,
    case_ids,
    cover,
    decide,
    decide_in_turn,
    inc,
    jpe,
    money,
    no_cover_record,
    period,
    policies,
    run_case,
    same_claim,
    top,
    used,
)
from timing import at_jst


def negligence(*codes: str) -> ClaimEdit:
    """The negligence assessment found these codes (an empty set: none)."""
    return inc(negligence=frozenset(codes))


def both_at(t: datetime) -> ClaimEdit:
    """The loss and the claim at ``t`` (for stories in other years)."""
    return lambda c: top(claimed_at=t)(inc(fraud_at=t)(c))


COVER = [
    # JPE-P1: cover begins 2 calendar months after the service start (00:00 JST)
    Case(
        "jpe_p1_loss_at_0000_on_the_corresponding_day_two_months_later_approves",
        "JPE-P1",
        False,
        APPROVE,
        inc(fraud_at=at_jst(2026, 3, 15)),
    ),
    Case(
        "jpe_p1_loss_one_microsecond_earlier_denies",
        "JPE-P1",
        True,
        DENY,
        inc(fraud_at=at_jst(2026, 3, 15) - US),
    ),
    Case(
        "jpe_p1_start_jan_31_cover_begins_mar_31_at_0000",
        "JPE-P1",
        False,
        APPROVE,
        inc(fraud_at=at_jst(2026, 3, 31)),
        cover("JPE", period(at_jst(2026, 1, 31, 18))),
    ),
    Case(
        "jpe_p1_start_jan_31_loss_on_mar_30_2359_denies",
        "JPE-P1",
        True,
        DENY,
        inc(fraud_at=at_jst(2026, 3, 31) - US),
        cover("JPE", period(at_jst(2026, 1, 31, 18))),
    ),
    Case(
        "jpe_p1_start_dec_31_2024_cover_begins_feb_28_2025",
        "JPE-P1",
        False,
        APPROVE,
        both_at(at_jst(2025, 2, 28)),
        cover("JPE", period(at_jst(2024, 12, 31, 9))),
    ),
    Case(
        "jpe_p1_start_dec_31_2023_cover_begins_on_leap_day_2024",
        "JPE-P1",
        True,
        DENY,
        both_at(at_jst(2024, 2, 29) - US),
        cover("JPE", period(at_jst(2023, 12, 31, 9))),
    ),
    Case(
        "jpe_p1_service_ended_before_cover_began_denies",
        "JPE-P1",
        True,
        DENY,
        context=cover("JPE", period(at_jst(2026, 1, 15), at_jst(2026, 3, 1))),
    ),
    Case(
        "jpe_p1_service_ended_after_the_loss_approves",
        "JPE-P1",
        False,
        APPROVE,
        context=cover("JPE", period(at_jst(2026, 1, 15), at_jst(2026, 4, 1, 10) + US)),
    ),
    Case(
        "jpe_p1_service_not_provided_reviews",
        "JPE-P1",
        True,
        REVIEW,
        context=no_cover_record("JPE"),
        missing="context.coverage[JPE]",
    ),
]


EVENTS = [
    Case("jpe_e1_phishing_approves", "JPE-E1", False, APPROVE),
    Case("jpe_e1_unlisted_loss_kind_denies", "JPE-E1", True, DENY, inc(kind="other")),
    Case(
        "jpe_e1_loss_kind_not_stated_reviews",
        "JPE-E1",
        True,
        REVIEW,
        inc(kind=""),
        missing="skimming_phishing.kind",
    ),
    Case("jpe_e2_skimming_approves", "JPE-E2", False, APPROVE, inc(kind="skimming")),
    Case("jpe_e2_unlisted_loss_kind_denies", "JPE-E2", True, DENY, inc(kind="other")),
    Case(
        "jpe_e3_malicious_signup_approves", "JPE-E3", False, APPROVE, inc(kind="malicious_signup")
    ),
    Case("jpe_e3_unlisted_loss_kind_denies", "JPE-E3", True, DENY, inc(kind="other")),
]

NEGLIGENCE = (
    [
        Case(
            f"jpe_{code[4:].lower()}_gross_negligence_found_denies",
            code,
            True,
            DENY,
            negligence(code),
        )
        for code in ("JPE-G1", "JPE-G2", "JPE-G3", "JPE-G4")
    ]
    + [
        Case(f"jpe_{code[4:].lower()}_no_gross_negligence_approves", code, False, APPROVE)
        for code in ("JPE-G1", "JPE-G2", "JPE-G3", "JPE-G4")
    ]
    + [
        Case(
            "jpe_n1_guessable_pin_kept_with_documents_reviews",
            "JPE-N1",
            True,
            REVIEW,
            negligence("JPE-N1"),
        ),
        Case("jpe_n1_no_negligence_approves", "JPE-N1", False, APPROVE),
        Case(
            "jpe_n2_pin_and_card_management_lapses_together_review",
            "JPE-N2",
            True,
            REVIEW,
            negligence("JPE-N2"),
        ),
        Case("jpe_n2_no_negligence_approves", "JPE-N2", False, APPROVE),
        Case(
            "jpe_g1_negligence_not_assessed_reviews",
            "JPE-G1",
            True,
            REVIEW,
            inc(negligence=None),
            missing="skimming_phishing.pin_told_to_others",
        ),
        Case(
            "jpe_g1_gross_negligence_outranks_negligence_denies",
            "JPE-G1",
            True,
            DENY,
            negligence("JPE-G1", "JPE-N1"),
        ),
    ]
)

# One incident: the card misused at one instant (2026-04-01 10:00 JST), whatever the claim id.
INCIDENT = "JPE-A1/customer:c-jpe/instrument:tok-jpe/at:2026-04-01T01:00:00.000000Z"
# The card's JST days (near_days = 1): the incident's own day and either side.
CARD_DAYS = "JPE-A1/customer:c-jpe/instrument:tok-jpe/day:"
# The incident paid its ¥100,000, as an APPROVE leaves the ledger (its own scope and its day).
PAID = {INCIDENT: used(100_000, 1), f"{CARD_DAYS}2026-04-01": used(100_000, 1)}
SERIES = "JPE-A1/customer:c-jpe/series:inc-7"

AMOUNTS = [
    # JPE-A1: ¥100,000 per incident
    Case(
        "jpe_a1_loss_over_the_limit_is_capped",
        "JPE-A1.per_incident",
        True,
        APPROVE,
        payable=100_000,
    ),
    Case(
        "jpe_a1_loss_of_exactly_the_limit_is_paid",
        "JPE-A1.per_incident",
        False,
        APPROVE,
        money(loss_yen=100_000),
        payable=100_000,
    ),
    Case(
        "jpe_a1_loss_one_yen_over_the_limit_is_capped",
        "JPE-A1.per_incident",
        True,
        APPROVE,
        money(loss_yen=100_001),
        payable=100_000,
    ),
    Case(
        "jpe_a1_second_claim_of_the_same_incident_with_a_larger_loss_is_review",
        "JPE-A1.per_incident",
        True,
        REVIEW,
        payable=0,  # not the ¥40,000 more: nothing is paid on top automatically
        ledger={INCIDENT: used(60_000, 1), f"{CARD_DAYS}2026-04-01": used(60_000, 1)},
    ),
    Case(
        "jpe_a1_incident_limit_used_up_denies",
        "JPE-A1.per_incident",
        True,
        DENY,
        ledger=PAID,
    ),
    Case(
        "jpe_a1_incident_used_up_denies_a_claim_in_any_series",
        "JPE-A1.per_incident",
        True,
        DENY,
        top(series_id="inc-fresh"),
        ledger={INCIDENT: used(100_000)},
    ),
    Case(
        "jpe_a1_the_card_misused_one_microsecond_after_a_paid_incident_is_review",
        "JPE-A1.per_incident",
        True,
        REVIEW,
        both(money(loss_yen=100_000), inc(fraud_at=at_jst(2026, 4, 1, 10) + US)),
        payable=0,
        ledger=PAID,
    ),
    Case(
        "jpe_a1_the_card_paid_the_jst_day_before_is_review",
        "JPE-A1.per_incident",
        True,
        REVIEW,
        payable=0,
        ledger={f"{CARD_DAYS}2026-03-31": used(100_000, 1)},
    ),
    Case(
        "jpe_a1_the_card_paid_the_jst_day_after_is_review",
        "JPE-A1.per_incident",
        True,
        REVIEW,
        payable=0,
        ledger={f"{CARD_DAYS}2026-04-02": used(100_000, 1)},
    ),
    Case(
        "jpe_a1_another_card_at_the_same_instant_is_another_incident",
        "JPE-A1.per_incident",
        False,
        APPROVE,
        both(money(loss_yen=100_000), inc(card_token="tok-jpe-2")),
        payable=100_000,
        ledger=PAID,
    ),
    Case(
        "jpe_a1_series_claim_gets_what_the_series_left",
        "JPE-A1.per_series",
        True,
        APPROVE,
        top(series_id="inc-7"),
        payable=40_000,
        ledger={SERIES: used(60_000)},
    ),
    Case(
        "jpe_a1_series_used_up_denies",
        "JPE-A1.per_series",
        True,
        DENY,
        top(series_id="inc-7"),
        ledger={SERIES: used(100_000)},
    ),
    Case(
        "jpe_a1_another_series_is_not_affected",
        "JPE-A1.per_series",
        False,
        APPROVE,
        both(money(loss_yen=100_000), top(series_id="inc-8")),
        payable=100_000,
        ledger={SERIES: used(100_000)},
    ),
    Case(
        "jpe_a1_amount_refunded_by_the_card_company_is_deducted",
        "JPE-A1.net_loss",
        True,
        APPROVE,
        money(loss_yen=150_000, recovered_yen=80_000),
        payable=70_000,
    ),
    Case(
        "jpe_a1_nothing_refunded_leaves_the_loss_as_it_is",
        "JPE-A1.net_loss",
        False,
        APPROVE,
        payable=100_000,
    ),
    Case(
        "jpe_a1_fully_refunded_leaves_nothing_and_denies",
        "JPE-A1.net_loss",
        True,
        DENY,
        money(recovered_yen=150_000),
    ),
]


# The negligence facts the seed lists, typed: the policy file classifies them
# (JPE-G1..G4 重大な過失 → DENY; JPE-N1, N2 過失となりうる場合 → REVIEW).
NEGLIGENCE_FACTS = (
    "pin_told_to_others",
    "pin_written_on_card",
    "card_handed_to_others",
    "other_gross_negligence",
    "guessable_pin",
    "kept_with_pin_revealing_document",
    "pin_memo_kept_with_card",
    "pin_reused_elsewhere",
    "card_left_exposed",
    "card_easily_taken_while_incapacitated",
    "other_negligence",
)


def facts(**true_or_unset: bool | None) -> ClaimEdit:
    """Every negligence fact stated false (no codes sent), except these."""
    stated = {name: False for name in NEGLIGENCE_FACTS}
    stated.update(true_or_unset)
    return inc(negligence=None, **stated)


TYPED = [
    Case("jpe_g1_typed_none_of_the_facts_approves", "JPE-G1", False, APPROVE, facts()),
    Case("jpe_g1_pin_told_to_others_denies", "JPE-G1", True, DENY, facts(pin_told_to_others=True)),
    Case(
        "jpe_g2_pin_written_on_the_card_denies",
        "JPE-G2",
        True,
        DENY,
        facts(pin_written_on_card=True),
    ),
    Case("jpe_g2_typed_not_written_approves", "JPE-G2", False, APPROVE, facts()),
    Case(
        "jpe_g3_card_handed_to_others_denies",
        "JPE-G3",
        True,
        DENY,
        facts(card_handed_to_others=True),
    ),
    Case("jpe_g3_typed_not_handed_approves", "JPE-G3", False, APPROVE, facts()),
    Case(
        "jpe_g4_other_gross_negligence_denies",
        "JPE-G4",
        True,
        DENY,
        facts(other_gross_negligence=True),
    ),
    Case("jpe_g4_typed_none_approves", "JPE-G4", False, APPROVE, facts()),
    Case(
        "jpe_g1_typed_fact_not_stated_reviews",
        "JPE-G1",
        True,
        REVIEW,
        facts(pin_told_to_others=None),
        missing="skimming_phishing.pin_told_to_others",
    ),
    # N1 (1): a guessable PIN carried with a document revealing it; (2) a PIN memo with the card
    Case(
        "jpe_n1_guessable_pin_with_a_revealing_document_reviews",
        "JPE-N1",
        True,
        REVIEW,
        facts(guessable_pin=True, kept_with_pin_revealing_document=True),
    ),
    Case(
        "jpe_n1_guessable_pin_without_a_revealing_document_approves",
        "JPE-N1",
        False,
        APPROVE,
        facts(guessable_pin=True),
    ),
    Case(
        "jpe_n1_pin_memo_kept_with_the_card_reviews",
        "JPE-N1",
        True,
        REVIEW,
        facts(pin_memo_kept_with_card=True),
    ),
    # N2: a PIN-management fact and a card-management fact together, never one alone
    Case(
        "jpe_n2_guessable_pin_and_wallet_left_visible_in_a_car_reviews",
        "JPE-N2",
        True,
        REVIEW,
        facts(guessable_pin=True, card_left_exposed=True),
    ),
    Case(
        "jpe_n2_reused_pin_and_card_taken_while_drunk_reviews",
        "JPE-N2",
        True,
        REVIEW,
        facts(pin_reused_elsewhere=True, card_easily_taken_while_incapacitated=True),
    ),
    Case(
        "jpe_n2_wallet_left_visible_alone_approves",
        "JPE-N2",
        False,
        APPROVE,
        facts(card_left_exposed=True),
    ),
    Case(
        "jpe_n2_reused_pin_alone_approves",
        "JPE-N2",
        False,
        APPROVE,
        facts(pin_reused_elsewhere=True),
    ),
    Case(
        "jpe_n2_pin_fact_unstated_with_a_card_lapse_reviews",
        "JPE-N2",
        True,
        REVIEW,
        facts(guessable_pin=None, card_left_exposed=True),
        missing="skimming_phishing.guessable_pin",
    ),
    Case(
        "jpe_n2_pin_fact_unstated_without_a_card_lapse_approves",
        "JPE-N2",
        False,
        APPROVE,
        facts(guessable_pin=None),
    ),
    # N3: 「その他1.、2.の場合と同程度の注意義務違反があると認められる場合」, listed under
    # 過失となりうる場合 (not 重大な過失): REVIEW like N1 / N2, never DENY.
    Case(
        "jpe_n3_other_negligence_as_grave_as_n1_n2_reviews",
        "JPE-N3",
        True,
        REVIEW,
        facts(other_negligence=True),
    ),
    Case("jpe_n3_no_other_negligence_approves", "JPE-N3", False, APPROVE, facts()),
    Case(
        "jpe_n3_other_negligence_not_stated_reviews",
        "JPE-N3",
        True,
        REVIEW,
        facts(other_negligence=None),
        missing="skimming_phishing.other_negligence",
    ),
]


SEED = Path(__file__).resolve().parents[2].parent / "shared" / "seeds" / "000_be662c1762f166f6.txt"


@pytest.mark.skipif(not SEED.exists(), reason="shared/ not available")
def test_jpe_n3_quotes_the_seed_under_negligence_not_gross_negligence() -> None:
    seed = SEED.read_text(encoding="utf-8")
    text = policies().get("JPE").clause("JPE-N3").text_ja
    assert text in seed
    negligence = seed.index("お客さまの過失となりうる場合:")
    gross = seed.index("お客さまの重大な過失となりうる場合:")
    assert gross < negligence < seed.index(text)  # the last list is 過失, not 重大な過失


def test_jpe_only_really_absent_facts_are_missing() -> None:
    """A fact stated false is never listed as missing; an unset one is, and gives REVIEW."""
    base = jpe()
    d = decide(facts(guessable_pin=None, card_left_exposed=True)(base.claim), base.context)
    assert d.outcome is REVIEW
    assert d.missing_facts == ("skimming_phishing.guessable_pin",), d.trace()


ALL = COVER + EVENTS + NEGLIGENCE + TYPED + AMOUNTS


@pytest.mark.parametrize("case", ALL, ids=case_ids(ALL))
def test_jpe(case: Case) -> None:
    run_case(case, jpe)


# ----------------------------------------------------------------- JPE-A1, claim after claim
# 「1回の被害につき最大10万円」: the same incident (card, instant) under new claim ids.


def _claims(*edits: ClaimEdit) -> list[ClaimFacts]:
    """The baseline claim (¥150,000 loss) once per edit, each under its own claim id."""
    base = jpe().claim
    return [replace(e(base), claim_id=f"jpe-claim-{i}") for i, e in enumerate(edits, 1)]


def _paid(*edits: ClaimEdit) -> list[tuple[str, int]]:
    decisions = decide_in_turn(_claims(*edits), jpe().context)
    return [(d.outcome.value, d.payable_yen) for d in decisions]


def test_jpe_a1_same_incident_under_three_claim_ids_pays_the_limit_once() -> None:
    same = money(loss_yen=150_000)
    assert _paid(same, same, same) == [("APPROVE", 100_000), ("DENY", 0), ("DENY", 0)]


def test_jpe_a1_same_incident_again_with_a_larger_loss_is_review() -> None:
    """¥60,000 paid, then the same incident stated as ¥150,000: REVIEW (not the ¥40,000
    left of the limit), as often as it is claimed; once an analyst approves the ¥40,000,
    the limit is used up and the next re-claim is DENY."""
    first, again = money(loss_yen=60_000), money(loss_yen=150_000)
    assert _paid(first, again, again) == [("APPROVE", 60_000), ("REVIEW", 0), ("REVIEW", 0)]
    context = jpe().context
    one, two, three = _claims(first, again, again)
    book = Book()
    assert book.decide(one, context).outcome is APPROVE
    review = book.decide(two, context)
    finding = review.clause("JPE-A1.per_incident")
    assert finding.effect.value == "REVIEW" and "それを超える損害" in finding.explanation_ja
    book.approve(two, context, 40_000)
    assert book.ledger[INCIDENT] == used(100_000, 2)
    last = book.decide(three, context)
    assert (last.outcome, last.payable_yen) == (DENY, 0), last.trace()


def test_jpe_a1_same_instant_given_in_utc_is_the_same_incident() -> None:
    in_utc = inc(fraud_at=at_jst(2026, 4, 1, 10).astimezone(UTC))
    loss = money(loss_yen=60_000)
    # Another instant that day would be REVIEW (near_days); the same one is a duplicate.
    assert _paid(loss, both(loss, in_utc)) == [("APPROVE", 60_000), ("DENY", 0)]


def test_jpe_a1_same_incident_under_a_fresh_series_id_is_the_same_incident() -> None:
    first = money(loss_yen=60_000)
    fresh = top(series_id="fresh")
    assert _paid(first, both(first, fresh)) == [("APPROVE", 60_000), ("DENY", 0)]
    assert _paid(first, fresh) == [("APPROVE", 60_000), ("REVIEW", 0)]  # a larger loss


def test_jpe_a1_another_card_or_the_card_two_jst_days_away_pays_again() -> None:
    other_card = inc(card_token="tok-jpe-2")
    days_before = inc(fraud_at=at_jst(2026, 3, 30, 23, 59, 59, 999999))
    days_after = inc(fraud_at=at_jst(2026, 4, 3))
    assert _paid(same_claim, other_card, days_before, days_after) == [("APPROVE", 100_000)] * 4


@pytest.mark.parametrize(
    "fraud_at",
    [
        pytest.param(at_jst(2026, 4, 1, 10) + US, id="one_microsecond_later"),
        pytest.param(at_jst(2026, 4, 1, 10, 1), id="one_minute_later"),
        pytest.param(at_jst(2026, 3, 31), id="the_jst_day_before_at_0000"),
        pytest.param(at_jst(2026, 4, 2, 23, 59, 59, 999999), id="the_jst_day_after_at_2359"),
    ],
)
def test_jpe_a1_the_card_again_within_a_jst_day_is_review(fraud_at: datetime) -> None:
    """「1回の被害につき最大10万円」: the card's ¥100,000 paid for 2026-04-01 10:00 JST; the
    card's loss stated at another instant of 03-31 .. 04-02 may be the same 被害."""
    first, again = decide_in_turn(_claims(same_claim, inc(fraud_at=fraud_at)), jpe().context)
    assert (first.outcome, first.payable_yen) == (APPROVE, 100_000)
    assert (again.outcome, again.payable_yen, again.reservations) == (REVIEW, 0, ()), again.trace()
    assert [c.label for c in again.fired] == ["JPE-A1.per_incident"], again.trace()
    assert "前後1日以内" in again.clause("JPE-A1.per_incident").explanation_ja


def test_jpe_a1_incidents_stated_as_one_series_share_the_limit() -> None:
    first = both(top(series_id="inc-7"), money(loss_yen=60_000))
    # Two JST days later: not within the card's window (near_days), so the series decides.
    later = both(top(series_id="inc-7"), inc(fraud_at=at_jst(2026, 4, 3, 10)))
    assert _paid(first, later) == [("APPROVE", 60_000), ("APPROVE", 40_000)]
    other = both(top(series_id="inc-8"), inc(fraud_at=at_jst(2026, 4, 3, 10)))
    assert _paid(first, other) == [("APPROVE", 60_000), ("APPROVE", 100_000)]


def test_jpe_a1_per_series_a_refused_incident_restated_in_another_series_is_review() -> None:
    """「1回の被害につき最大10万円」 (A19c break B2): series inc-7 paid ¥60,000 and ¥40,000;
    its third incident was DENY (the series' ¥100,000 used). The same incident (card,
    instant) claimed again under a fresh series, or with none, met a fresh ¥100,000 and
    was paid ¥60,000. The claimant's own statement changed: REVIEW, nothing paid."""
    s7 = top(series_id="inc-7")
    first = both(s7, money(loss_yen=60_000))
    second = both(s7, money(loss_yen=60_000), inc(fraud_at=at_jst(2026, 4, 3, 10)))
    third_at = inc(fraud_at=at_jst(2026, 4, 6, 10))
    third = both(s7, money(loss_yen=60_000), third_at)
    for restated in (top(series_id="fresh"), top(series_id="")):
        again = both(restated, money(loss_yen=60_000), third_at)
        paid = _paid(first, second, third, again)
        assert paid == [("APPROVE", 60_000), ("APPROVE", 40_000), ("DENY", 0), ("REVIEW", 0)]
        last = decide_in_turn(_claims(first, second, third, again), jpe().context)[-1]
        # The series changed (per_series); the incident was refused before (per_incident).
        fired = [c.label for c in last.fired]
        assert fired == ["JPE-A1.per_incident", "JPE-A1.per_series"], last.trace()
        assert "別の一連の事故として" in last.clause("JPE-A1.per_series").explanation_ja
    # The same statement again is the same series: DENY as before, not REVIEW.
    assert _paid(first, second, third, third)[-1] == ("DENY", 0)
    # Paid alone, then stated in a series: the statement changed (per_series REVIEW), and
    # nothing is left of the incident (per_incident DENY, which decides).
    alone = both(money(loss_yen=60_000), third_at)
    last = decide_in_turn(_claims(alone, third), jpe().context)[-1]
    assert (last.outcome, last.payable_yen) == (DENY, 0), last.trace()
    assert {c.label for c in last.fired} == {"JPE-A1.per_series", "JPE-A1.per_incident"}


def test_jpe_a1_per_series_a_dry_run_states_nothing() -> None:
    """Only recorded decisions mark the incident (claim_marks): an evaluation alone
    (a dry run) leaves nothing a later claim would compare with."""
    base = jpe()
    fresh = both(top(series_id="fresh"), money(loss_yen=60_000))(base.claim)
    alone = money(loss_yen=60_000)(base.claim)
    assert decide(alone, base.context).outcome is APPROVE  # not recorded
    d = decide_in_turn([replace(fresh, claim_id="jpe-claim-2")], base.context)[0]
    assert (d.outcome, d.payable_yen) == (APPROVE, 60_000), d.trace()


@pytest.mark.parametrize("series", ["fresh", ""], ids=["fresh_series", "no_series"])
def test_jpe_a1_a_refused_incident_restated_a_microsecond_later_is_review(series: str) -> None:
    """A19d NEW-1: the refused third incident of series inc-7, claimed again 1 µs later
    under a fresh series (or none), was a new incident in a new series and paid
    ¥60,000. A claim of the card within a JST day of another recorded claim of it
    (refused, not paid) goes to a human."""
    s7 = top(series_id="inc-7")
    first = both(s7, money(loss_yen=60_000))
    second = both(s7, money(loss_yen=60_000), inc(fraud_at=at_jst(2026, 4, 3, 10)))
    third = both(s7, money(loss_yen=60_000), inc(fraud_at=at_jst(2026, 4, 6, 10)))
    moved = both(
        top(series_id=series), money(loss_yen=60_000), inc(fraud_at=at_jst(2026, 4, 6, 10) + US)
    )
    decisions = decide_in_turn(_claims(first, second, third, moved), jpe().context)
    assert [(d.outcome, d.payable_yen) for d in decisions] == [
        (APPROVE, 60_000),
        (APPROVE, 40_000),
        (DENY, 0),
        (REVIEW, 0),
    ]
    last = decisions[-1]
    assert [c.label for c in last.fired] == ["JPE-A1.per_incident"], last.trace()
    assert "請求が既に記録されています" in last.clause("JPE-A1.per_incident").explanation_ja


def test_jpe_n3_a_judged_review_told_again_without_the_fact_is_review() -> None:
    """A19f F1: JPE-N3 (「その他…同程度の注意義務違反」, other_negligence true) is a REVIEW
    a clause judged — no fact missing. Re-sent at the same instant with the fact
    withdrawn it was paid ¥100,000 automatically while the first REVIEW waited for a
    human. Such a REVIEW holds the payment back like a DENY (``held_back``)."""
    base = jpe()
    told = inc(other_negligence=True)(replace(base.claim, claim_id="told"))
    book = Book()
    first = book.decide(told, base.context)
    assert first.outcome is REVIEW and not any(c.missing_facts for c in first.clauses)
    retold = book.decide(
        inc(other_negligence=False)(replace(base.claim, claim_id="retold")), base.context
    )
    assert (retold.outcome, retold.payable_yen) == (REVIEW, 0), retold.trace()
    assert "人による審査が必要と判定" in retold.clause("JPE-A1.per_incident").explanation_ja
