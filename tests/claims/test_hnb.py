"""HNB — 東日本ビジネスIBサービス 不正利用補償, clause by clause.

The baseline (``builders.hnb``): an IB transfer fraud on 2026-03-01 10:00 JST,
notified to the bank 23 hours later, ¥1,500,000 lost and ¥300,000 refunded;
two devices whose last logins before the fraud were COMPLIANT; IB contract
since 2020. It is approved for ¥1,200,000. Each row changes one thing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from checks.model import CheckStatus, Verdict
from rules.engine import Decision, Outcome, PostureRecord, evaluate
from tests.claims.builders import (
    APPROVE,
    DENY,
    HNB_FRAUD,
    REVIEW,
    US,
    Book,
    Case,
    ContextEdit,
    case_ids,
    cover,
    ctx,
    decide,
    decide_in_turn,
    hnb,
    inc,
    money,
    period,
    policies,
    posture,
    run_case,
    stated,
    top,
    unstated,
    used,
)
from tests.claims.builders import (
    decided_again as _decided_again,
)
from tests.claims.builders import (
    moved as _moved,
)
from tests.claims.builders import (
    paid_again as _paid_again,
)
from tests.claims.builders import (
    same as _same,
)
from timing import at_jst

FAIL, UNKNOWN = CheckStatus.FAIL, CheckStatus.UNKNOWN
NC, OK, UNK = Verdict.NON_COMPLIANT, Verdict.COMPLIANT, Verdict.UNKNOWN
BEFORE = at_jst(2026, 2, 27, 9)  # a login two days before the fraud


def only(*records: PostureRecord) -> ContextEdit:
    """What Anshin recorded: exactly these login posture verdicts."""
    return ctx(postures=records)


# --------------------------------------------------------------------------- measures P1–P4, X1, R1

MEASURES = [
    # HNB-P1: supported OS and latest browser
    Case(
        "hnb_p1_last_login_with_an_outdated_browser_denies",
        "HNB-P1",
        True,
        DENY,
        context=only(posture("pc-1", BEFORE, NC, HNB_P1=FAIL)),
    ),
    Case(
        "hnb_p1_outdated_browser_superseded_by_a_later_compliant_login_approves",
        "HNB-P1",
        False,
        APPROVE,
        context=only(
            posture("pc-1", at_jst(2026, 2, 20), NC, HNB_P1=FAIL),
            posture("pc-1", BEFORE, OK),
        ),
    ),
    # HNB-P2: antivirus and Phishwall Premium
    Case(
        "hnb_p2_phishwall_missing_at_last_login_denies",
        "HNB-P2",
        True,
        DENY,
        context=only(posture("pc-1", BEFORE, NC, HNB_P2=FAIL)),
    ),
    Case(
        "hnb_p2_holds_when_only_the_browser_failed",
        "HNB-P2",
        False,
        DENY,
        context=only(posture("pc-1", BEFORE, NC, HNB_P1=FAIL)),
    ),
    # HNB-P3: transaction-authentication token
    Case(
        "hnb_p3_token_reported_lost_denies",
        "HNB-P3",
        True,
        DENY,
        context=only(posture("pc-1", BEFORE, NC, HNB_P3=FAIL)),
    ),
    Case(
        "hnb_p3_token_status_unknown_reviews",
        "HNB-P3",
        True,
        REVIEW,
        context=only(posture("pc-1", BEFORE, UNK, HNB_P3=UNKNOWN)),
    ),
    Case(
        "hnb_p3_compliant_token_approves",
        "HNB-P3",
        False,
        APPROVE,
        context=only(posture("pc-1", BEFORE, OK)),
    ),
    # HNB-P3 「…偽造、盗難、紛失等により他人に使用されるおそれが生じた場合…すみやかに当行に通知」
    Case("hnb_p3_token_not_compromised_approves", "HNB-P3.reported", False, APPROVE),
    Case(
        "hnb_p3_lost_token_never_reported_denies",
        "HNB-P3.reported",
        True,
        DENY,
        inc(token_compromised=True, token_compromise_reported=False),
    ),
    Case(
        "hnb_p3_lost_token_reported_promptly_approves",
        "HNB-P3.reported",
        False,
        APPROVE,
        inc(token_compromised=True, token_compromise_reported=True),
    ),
    Case(
        "hnb_p3_token_loss_not_stated_reviews",
        "HNB-P3.reported",
        True,
        REVIEW,
        inc(token_compromised=None),
        missing="ib_transfer.token_compromised",
    ),
    Case(
        "hnb_p3_lost_token_report_not_stated_reviews",
        "HNB-P3.reported",
        True,
        REVIEW,
        inc(token_compromised=True),
        missing="ib_transfer.token_compromise_reported",
    ),
    # HNB-P4: new measures from their effective date (the verdict judged the rules in force)
    Case(
        "hnb_p4_measure_in_force_at_the_login_not_taken_denies",
        "HNB-P4",
        True,
        DENY,
        context=only(posture("pc-1", BEFORE, NC, HNB_P1=FAIL, HNB_P4=FAIL)),
    ),
    Case(
        "hnb_p4_holds_when_no_new_measure_failed",
        "HNB-P4",
        False,
        DENY,
        context=only(posture("pc-1", BEFORE, NC, HNB_P2=FAIL)),
    ),
    # HNB-X1: the overall verdict of every device's last login
    Case(
        "hnb_x1_one_of_two_devices_non_compliant_denies",
        "HNB-X1",
        True,
        DENY,
        context=only(posture("pc-1", BEFORE, OK), posture("pc-2", BEFORE, NC)),
    ),
    Case(
        "hnb_x1_unknown_verdict_reviews",
        "HNB-X1",
        True,
        REVIEW,
        context=only(posture("pc-1", BEFORE, UNK)),
    ),
    Case("hnb_x1_all_devices_compliant_approves", "HNB-X1", False, APPROVE),
    Case(
        "hnb_x1_login_at_the_fraud_instant_is_not_before_the_fraud",
        "HNB-X1",
        False,
        APPROVE,
        context=only(posture("pc-1", BEFORE, OK), posture("pc-1", HNB_FRAUD, NC)),
    ),
    Case(
        "hnb_x1_login_one_microsecond_before_the_fraud_counts_and_denies",
        "HNB-X1",
        True,
        DENY,
        context=only(posture("pc-1", BEFORE, OK), posture("pc-1", HNB_FRAUD - US, NC)),
    ),
    # HNB-R1: alternative measures → REVIEW instead of DENY; nothing on record → REVIEW
    Case(
        "hnb_r1_non_compliant_but_alternative_measures_asserted_reviews",
        "HNB-R1",
        True,
        REVIEW,
        claim=inc(alternative_measures_asserted=True),
        context=only(posture("pc-1", BEFORE, NC, HNB_P2=FAIL)),
    ),
    Case(
        "hnb_r1_no_posture_on_record_reviews",
        "HNB-R1",
        True,
        REVIEW,
        claim=inc(alternative_measures_asserted=None),
        context=only(),
        missing="ib_transfer.alternative_measures_asserted",
    ),
    # unset vs false: only an unset excuse is "missing", and unset never gives DENY
    Case(
        "hnb_p2_measure_not_taken_excuse_unset_reviews_not_denies",
        "HNB-P2",
        True,
        REVIEW,
        claim=inc(alternative_measures_asserted=None),
        context=only(posture("pc-1", BEFORE, NC, HNB_P2=FAIL)),
        missing="ib_transfer.alternative_measures_asserted",
    ),
    Case(
        "hnb_p2_measure_not_taken_excuse_stated_false_denies",
        "HNB-P2",
        True,
        DENY,
        context=only(posture("pc-1", BEFORE, NC, HNB_P2=FAIL)),
    ),
    Case(
        "hnb_r1_does_not_apply_when_measures_were_taken",
        "HNB-R1",
        False,
        APPROVE,
        claim=inc(alternative_measures_asserted=True),
    ),
    Case(
        "hnb_r1_does_not_apply_without_an_explanation_so_x1_denies",
        "HNB-R1",
        False,
        DENY,
        context=only(posture("pc-1", BEFORE, NC)),
    ),
]

# Look-back (ASSUMPTION posture_lookback_days = 90): from 00:00 JST of 2025-12-01
# (90 days before the fraud date 2026-03-01) up to the fraud.
LOOKBACK = [
    Case(
        "hnb_x1_non_compliant_login_at_0000_on_day_90_before_is_inside_the_lookback_denies",
        "HNB-X1",
        True,
        DENY,
        context=only(posture("pc-9", at_jst(2025, 12, 1), NC)),
    ),
    Case(
        "hnb_x1_non_compliant_login_one_microsecond_earlier_is_outside_so_nothing_on_record",
        "HNB-X1",
        True,
        REVIEW,
        context=only(posture("pc-9", at_jst(2025, 12, 1) - US, NC)),
    ),
]


@pytest.mark.parametrize("case", MEASURES + LOOKBACK, ids=case_ids(MEASURES + LOOKBACK))
def test_hnb_measures(case: Case) -> None:
    run_case(case, hnb)


def test_hnb_x1_excused_by_r1_cites_both_and_reviews() -> None:
    case = Case(
        "x",
        "HNB-X1",
        True,
        REVIEW,
        claim=inc(alternative_measures_asserted=True, alternative_measures_note="専用端末"),
        context=only(posture("pc-1", BEFORE, NC)),
    )
    d = run_case(case, hnb)
    assert d.clause("HNB-X1").effect.value == "REVIEW"
    assert "HNB-R1" in d.clause("HNB-X1").explanation_ja
    assert d.clause("HNB-R1").effect.value == "REVIEW"


# --------------------------------------------------------------------------- start, timing

TIMING = [
    # HNB-S1: 2014年12月15日午前9時 — exactly 09:00 is covered (ASSUMPTION inclusive = true)
    Case(
        "hnb_s1_fraud_at_exactly_0900_jst_on_2014_12_15_approves",
        "HNB-S1",
        False,
        APPROVE,
        scenario=lambda: hnb(at_jst(2014, 12, 15, 9)),
    ),
    Case(
        "hnb_s1_fraud_at_085959_999999_jst_denies",
        "HNB-S1",
        True,
        DENY,
        scenario=lambda: hnb(at_jst(2014, 12, 15, 9) - US),
    ),
    # HNB-X5: notified within 30 days counted from the day after the fraud (fraud 2026-03-01)
    Case(
        "hnb_x5_notice_on_day_30_approves",
        "HNB-X5",
        False,
        APPROVE,
        claim=inc(notified_bank_at=at_jst(2026, 3, 31, 23, 59, 59, 999999)),
    ),
    Case(
        "hnb_x5_notice_on_day_31_denies",
        "HNB-X5",
        True,
        DENY,
        claim=inc(notified_bank_at=at_jst(2026, 4, 1)),
    ),
    Case(
        "hnb_x5_fraud_at_2359_still_counts_from_the_next_day_approves",
        "HNB-X5",
        False,
        APPROVE,
        claim=inc(fraud_at=at_jst(2026, 3, 1, 23, 59), notified_bank_at=at_jst(2026, 3, 31, 23)),
    ),
    Case(
        "hnb_x5_fraud_on_feb_28_has_its_deadline_at_mar_30_2400_so_mar_31_denies",
        "HNB-X5",
        True,
        DENY,
        claim=inc(fraud_at=at_jst(2026, 2, 28, 23, 59), notified_bank_at=at_jst(2026, 3, 31)),
    ),
    Case(
        "hnb_x5_notice_not_stated_reviews",
        "HNB-X5",
        True,
        REVIEW,
        claim=inc(notified_bank_at=None),
        missing="ib_transfer.notified_bank_at",
    ),
    # HNB-X2: notified after the contract was cancelled (loss before cancellation)
    Case(
        "hnb_x2_notice_at_the_cancellation_instant_denies",
        "HNB-X2",
        True,
        DENY,
        context=cover("HNB", period(at_jst(2020, 4, 1), at_jst(2026, 3, 2, 9))),
    ),
    Case(
        "hnb_x2_notice_one_microsecond_before_cancellation_approves",
        "HNB-X2",
        False,
        APPROVE,
        context=cover("HNB", period(at_jst(2020, 4, 1), at_jst(2026, 3, 2, 9) + US)),
    ),
    Case(
        "hnb_x2_no_contract_on_record_at_the_fraud_reviews",
        "HNB-X2",
        True,
        REVIEW,
        context=cover("HNB", period(at_jst(2026, 3, 1, 11))),
        missing="context.coverage[HNB]",
    ),
    # The store gave the contract and its cancellation: a loss after it is decided
    # by it (DENY citing HNB-X2), never "context.coverage[HNB] not provided".
    Case(
        "hnb_x2_fraud_after_the_cancellation_denies",
        "HNB-X2",
        True,
        DENY,
        context=cover("HNB", period(at_jst(2020, 4, 1), at_jst(2026, 3, 1, 10))),
    ),
    Case(
        "hnb_x2_fraud_one_microsecond_before_the_cancellation_notified_after_denies",
        "HNB-X2",
        True,
        DENY,
        context=cover("HNB", period(at_jst(2020, 4, 1), at_jst(2026, 3, 1, 10) + US)),
    ),
    Case(
        "hnb_x2_fraud_after_a_cancellation_in_a_later_contract_approves",
        "HNB-X2",
        False,
        APPROVE,
        context=cover(
            "HNB",
            period(at_jst(2020, 4, 1), at_jst(2025, 1, 1)),
            period(at_jst(2025, 6, 1)),
        ),
    ),
]


@pytest.mark.parametrize("case", TIMING, ids=case_ids(TIMING))
def test_hnb_timing(case: Case) -> None:
    run_case(case, hnb)


# --------------------------------------------------------------------------- exclusion facts

FACTS = ["HNB-X3", "HNB-X4", "HNB-X6", "HNB-X7", "HNB-X8", "HNB-X9", "HNB-X10", "HNB-X11"]
FACTS += ["HNB-X12", "HNB-X15", "HNB-X16", "HNB-X17"]

# HNB-X4's attestation is its documents-and-cooperation part; the police part is typed.
_LABEL = {"HNB-X4": "HNB-X4.cooperation"}

EXCLUSIONS = [
    row
    for cid in FACTS
    for row in (
        Case(
            f"{cid.lower().replace('-', '_')}_stated_true_denies",
            _LABEL.get(cid, cid),
            True,
            DENY,
            stated(cid),
        ),
        Case(
            f"{cid.lower().replace('-', '_')}_stated_false_approves",
            _LABEL.get(cid, cid),
            False,
            APPROVE,
        ),
        Case(
            f"{cid.lower().replace('-', '_')}_not_stated_reviews",
            _LABEL.get(cid, cid),
            True,
            REVIEW,
            unstated(cid),
            missing=f"facts.exclusions[{cid}]",
        ),
    )
] + [
    # HNB-X4 「契約者が警察への被害の相談を行わない … 場合」: the police instant satisfies it.
    Case("hnb_x4_police_consulted_at_stated_approves", "HNB-X4.police", False, APPROVE),
    Case(
        "hnb_x4_police_consulted_without_the_instant_approves",
        "HNB-X4.police",
        False,
        APPROVE,
        inc(police_consulted_at=None, police_consulted=True),
    ),
    Case(
        "hnb_x4_police_not_consulted_denies",
        "HNB-X4.police",
        True,
        DENY,
        # exclusions[HNB-X4] = false beside it is refused (test_attested_contradictions)
        lambda c: unstated("HNB-X4")(inc(police_consulted_at=None, police_consulted=False)(c)),
    ),
    Case(
        "hnb_x4_police_consultation_not_stated_reviews",
        "HNB-X4.police",
        True,
        REVIEW,
        inc(police_consulted_at=None),
        missing="ib_transfer.police_consulted",
    ),
    # HNB-X13: lived outside Japan (resident_in_japan)
    Case("hnb_x13_resident_abroad_denies", "HNB-X13", True, DENY, top(resident_in_japan=False)),
    Case("hnb_x13_resident_in_japan_approves", "HNB-X13", False, APPROVE),
    Case(
        "hnb_x13_residence_not_stated_reviews",
        "HNB-X13",
        True,
        REVIEW,
        top(resident_in_japan=None),
        missing="resident_in_japan",
    ),
    # HNB-X14: used outside Japan
    Case("hnb_x14_used_abroad_denies", "HNB-X14", True, DENY, inc(used_in_japan=False)),
    Case("hnb_x14_used_in_japan_approves", "HNB-X14", False, APPROVE),
    Case(
        "hnb_x14_place_of_use_not_stated_reviews",
        "HNB-X14",
        True,
        REVIEW,
        inc(used_in_japan=None),
        missing="ib_transfer.used_in_japan",
    ),
]


@pytest.mark.parametrize("case", EXCLUSIONS, ids=case_ids(EXCLUSIONS))
def test_hnb_exclusions(case: Case) -> None:
    run_case(case, hnb)


# --------------------------------------------------------------------------- amounts

L1_2026 = "HNB-L1/customer:ib-contract-1/year:2026"
# The incident of hnb(): the fraud at 2026-03-01 10:00 JST, in UTC.
L2_INCIDENT = "HNB-L2/customer:ib-contract-1/at:2026-03-01T01:00:00.000000Z"
# Its JST day and the days either side (near_days = 1): what was paid on them.
L2_DAY = "HNB-L2/customer:ib-contract-1/day:2026-03-01"
L2_DAY_BEFORE = "HNB-L2/customer:ib-contract-1/day:2026-02-28"
L2_DAY_AFTER = "HNB-L2/customer:ib-contract-1/day:2026-03-02"
# The incident of hnb() paid in full, as an APPROVE leaves the ledger: its own scope
# and its day each count it once.
L2_PAID = {L2_INCIDENT: used(1_200_000, 1), L2_DAY: used(1_200_000, 1)}

AMOUNTS = [
    # HNB-A1: loss minus refunded amounts
    Case("hnb_a1_refund_is_deducted", "HNB-A1", True, APPROVE, payable=1_200_000),
    Case(
        "hnb_a1_nothing_refunded_pays_the_loss",
        "HNB-A1",
        False,
        APPROVE,
        money(recovered_yen=0),
        payable=1_500_000,
    ),
    Case(
        "hnb_a1_fully_refunded_leaves_nothing_and_denies",
        "HNB-A1",
        True,
        DENY,
        money(recovered_yen=1_500_000),
    ),
    # HNB-L1: ¥10,000,000 per customer per calendar year (ASSUMPTION: year of the fraud)
    Case(
        "hnb_l1_remaining_exactly_the_amount_pays_it_all",
        "HNB-L1",
        False,
        APPROVE,
        payable=1_200_000,
        ledger={L1_2026: used(8_800_000)},
    ),
    Case(
        "hnb_l1_one_yen_less_remaining_caps_the_payout",
        "HNB-L1",
        True,
        APPROVE,
        payable=1_199_999,
        ledger={L1_2026: used(8_800_001)},
    ),
    Case(
        "hnb_l1_limit_used_up_denies",
        "HNB-L1",
        True,
        DENY,
        ledger={L1_2026: used(10_000_000)},
    ),
    Case(
        "hnb_l1_fraud_at_2359_on_dec_31_counts_in_the_previous_year",
        "HNB-L1",
        False,
        APPROVE,
        payable=1_200_000,
        ledger={L1_2026: used(10_000_000)},
        scenario=lambda: hnb(at_jst(2025, 12, 31, 23, 59, 59, 999999)),
    ),
    Case(
        "hnb_l1_fraud_at_0000_on_jan_1_counts_in_the_new_year",
        "HNB-L1",
        True,
        DENY,
        ledger={L1_2026: used(10_000_000)},
        scenario=lambda: hnb(at_jst(2026, 1, 1)),
    ),
    Case(
        "hnb_l1_ledger_not_provided_reviews",
        "HNB-L1",
        True,
        REVIEW,
        drop_ledger=("HNB-L1",),
        missing=f"context.ledger[{L1_2026}]",
    ),
    # HNB-L2: the loss of one incident is paid once (a re-claim under a new claim id)
    Case(
        "hnb_l2_same_incident_already_paid_denies",
        "HNB-L2",
        True,
        DENY,
        ledger=L2_PAID,  # its own day's count is this very incident: not another one
    ),
    Case(
        "hnb_l2_same_incident_partly_paid_with_a_larger_loss_is_review",
        "HNB-L2",
        True,
        REVIEW,
        payable=0,  # nothing is paid on top automatically
        ledger={L2_INCIDENT: used(1_199_999, 1), L2_DAY: used(1_199_999, 1)},
    ),
    # HNB-L2 near_days = 1: another paid incident of the customer on the fraud's JST
    # day or a day either side may be the same loss at a moved fraud_at.
    Case(
        "hnb_l2_another_incident_one_microsecond_after_a_paid_one_is_review",
        "HNB-L2",
        True,
        REVIEW,
        payable=0,
        ledger=L2_PAID,
        scenario=lambda: hnb(HNB_FRAUD + US),
    ),
    Case(
        "hnb_l2_paid_incident_on_the_same_jst_day_is_review",
        "HNB-L2",
        True,
        REVIEW,
        payable=0,
        ledger={L2_DAY: used(500_000, 1)},
    ),
    Case(
        "hnb_l2_paid_incident_on_the_jst_day_before_is_review",
        "HNB-L2",
        True,
        REVIEW,
        payable=0,
        ledger={L2_DAY_BEFORE: used(500_000, 1)},
    ),
    Case(
        "hnb_l2_paid_incident_on_the_jst_day_after_is_review",
        "HNB-L2",
        True,
        REVIEW,
        payable=0,
        ledger={L2_DAY_AFTER: used(500_000, 1)},
    ),
    Case(
        "hnb_l2_nothing_paid_near_the_fraud_approves",
        "HNB-L2",
        False,
        APPROVE,
        payable=1_200_000,
        ledger={L2_DAY_BEFORE: used(), L2_DAY: used(), L2_DAY_AFTER: used()},
    ),
]


@pytest.mark.parametrize("case", AMOUNTS, ids=case_ids(AMOUNTS))
def test_hnb_amounts(case: Case) -> None:
    run_case(case, hnb)


def test_hnb_approve_reserves_the_incident_its_jst_day_and_the_year() -> None:
    d = run_case(Case("x", "HNB-L1", False, APPROVE), hnb)
    incident, day, year = d.reservations
    assert (year.scope_key, year.cap_ids, year.amount_yen, year.limit_yen) == (
        L1_2026,
        ("HNB-L1",),
        1_200_000,
        10_000_000,
    )
    # The incident's own scope: its limit is what the claim pays (the loss is paid once).
    assert (incident.scope_key, incident.cap_ids, incident.amount_yen, incident.limit_yen) == (
        L2_INCIDENT,
        ("HNB-L2",),
        1_200_000,
        1_200_000,
    )
    # Its JST day counts it, unlimited: what the next claim of a near fraud_at reads.
    assert (day.scope_key, day.cap_ids, day.amount_yen, day.count, day.limit_yen) == (
        L2_DAY,
        ("HNB-L2",),
        1_200_000,
        1,
        None,
    )


def test_hnb_r1_an_excuse_stated_false_is_not_listed_as_missing() -> None:
    """No posture on record: REVIEW (nothing to judge), but the answer false is an answer."""
    base = hnb()
    d = decide(base.claim, only()(base.context))
    assert d.outcome is REVIEW
    assert "ib_transfer.alternative_measures_asserted" not in d.missing_facts, d.trace()


# ----------------------------------------------------------------- HNB-L2, claim after claim
# The loss of one incident is paid once: an exact duplicate under a new claim id pays
# nothing; one stating more than was paid is REVIEW; another paid incident of the
# customer within a JST day either side is REVIEW (the same loss at a moved fraud_at?).

NEAR_JA = "前後1日以内"
LARGER_JA = "それを超える損害"


def _frauds_in_turn(*frauds: datetime) -> list[Decision]:
    """hnb() with its whole story moved to each fraud_at in turn (its own logins and
    notice), each under its own claim id, decided as the store does."""
    book = Book()
    out = []
    for i, at in enumerate(frauds, 1):
        s = hnb(at)
        out.append(book.decide(replace(s.claim, claim_id=f"fraud-{i}"), s.context))
    return out


def _is_l2_review(d: Decision, text_ja: str) -> None:
    """REVIEW citing HNB-L2 (its text saying why), nothing paid, nothing reserved."""
    assert (d.outcome, d.payable_yen, d.reservations) == (REVIEW, 0, ()), d.trace()
    assert [c.label for c in d.fired] == ["HNB-L2"], d.trace()
    finding = d.clause("HNB-L2")
    assert finding.effect.value == "REVIEW" and text_ja in finding.explanation_ja, d.trace()
    assert "HNB-L2" in d.summary_ja


def test_hnb_l2_same_incident_twice_pays_nothing_the_second_time() -> None:
    first, second = _decided_again(hnb, _same, _same)
    assert (first.outcome, first.payable_yen) == (APPROVE, 1_200_000)
    assert (second.outcome, second.payable_yen) == (DENY, 0)
    finding = second.clause("HNB-L2")
    assert finding.status is CheckStatus.FAIL and "以前の決定で既に" in finding.explanation_ja


def test_hnb_l2_a19b_three_claims_of_one_loss_pay_it_once() -> None:
    in_utc = _moved(timedelta(0), in_utc=True)
    assert _paid_again(hnb, _same, _same, in_utc) == [
        ("APPROVE", 1_200_000),
        ("DENY", 0),
        ("DENY", 0),
    ]


def test_hnb_l2_same_incident_with_a_larger_loss_is_review() -> None:
    """Paid ¥1,200,000, then the same fraud_at claimed with ¥2,000,000 lost: a story that
    changed goes to a human; the ¥500,000 more is not paid on top automatically."""
    first, larger = _decided_again(hnb, _same, money(loss_yen=2_000_000))
    assert (first.outcome, first.payable_yen) == (APPROVE, 1_200_000)
    _is_l2_review(larger, LARGER_JA)
    assert "既に¥1,200,000が支払われて" in larger.clause("HNB-L2").explanation_ja


def test_hnb_l2_a19_fraud_at_moved_by_a_microsecond_or_a_minute_is_review() -> None:
    """The attack: the paid fraud claimed again with fraud_at moved by 1 µs (another
    incident key) was paid again in full. Now a human looks, and nothing is paid."""
    paid, by_us, by_minute = _decided_again(hnb, _same, _moved(US), _moved(timedelta(minutes=1)))
    assert (paid.outcome, paid.payable_yen) == (APPROVE, 1_200_000)
    for again in (by_us, by_minute):
        _is_l2_review(again, NEAR_JA)
        assert "別の事故1件" in again.clause("HNB-L2").explanation_ja


def test_hnb_l2_neighbouring_days_not_read_is_review_not_zero() -> None:
    """A ledger without the neighbouring day scopes is not a ledger saying nothing
    was paid there: the claim is REVIEW naming the scope, never APPROVE."""
    base = hnb()
    book = Book()
    book.decide(base.claim, base.context)
    again = _moved(US)(replace(base.claim, claim_id="moved"))
    read = book._context(again, base.context)
    # The days' payouts and the days' recorded claims: neither may be taken as zero.
    days = [k for k in read.ledger if "/day:" in k]
    assert len(days) == 6, read.ledger
    for dropped in days:
        ledger = {k: u for k, u in read.ledger.items() if k != dropped}
        d = evaluate(policies().get("HNB"), again, replace(read, ledger=ledger))
        assert d.outcome is REVIEW and d.payable_yen == 0, d.trace()
        assert f"context.ledger[{dropped}]" in d.clause("HNB-L2").missing_facts


def test_hnb_l2_another_paid_incident_two_jst_days_away_pays() -> None:
    """Outside the window (the JST day before and after) a paid incident is not looked at."""
    two_days = timedelta(days=2)
    decisions = _frauds_in_turn(HNB_FRAUD, HNB_FRAUD + two_days, HNB_FRAUD - two_days)
    assert [(d.outcome, d.payable_yen) for d in decisions] == [(APPROVE, 1_200_000)] * 3


def test_hnb_l2_a_paid_incident_of_another_customer_is_not_looked_at() -> None:
    base = hnb()
    other = replace(base.claim, claim_id="other", customer_id="ib-contract-2")
    decisions = decide_in_turn([base.claim, _moved(US)(other)], base.context)
    assert [(d.outcome, d.payable_yen) for d in decisions] == [(APPROVE, 1_200_000)] * 2


# (paid fraud_at, then another fraud_at, what the second gets): the window is of JST
# calendar days, not of hours nor of UTC days.
NEAR_WINDOW = [
    pytest.param(
        at_jst(2026, 4, 1, 0, 0),
        at_jst(2026, 4, 1, 23, 59, 59, 999999),
        REVIEW,
        id="same_jst_day_first_and_last_instant_is_review",
    ),
    pytest.param(
        at_jst(2026, 4, 1, 23, 30),
        at_jst(2026, 4, 2, 0, 30),
        REVIEW,
        id="jst_day_after_2330_then_0030_is_review",
    ),
    pytest.param(
        at_jst(2026, 4, 2, 0, 30),
        at_jst(2026, 4, 1, 23, 30),
        REVIEW,
        id="jst_day_before_0030_then_2330_is_review",
    ),
    pytest.param(
        datetime(2026, 4, 1, 14, 59, tzinfo=UTC),  # 2026-04-01 23:59 JST
        datetime(2026, 4, 2, 15, 0, tzinfo=UTC),  # 2026-04-03 00:00 JST
        APPROVE,
        id="adjacent_utc_days_but_two_jst_days_apart_pays",
    ),
    pytest.param(
        datetime(2026, 4, 1, 15, 0, tzinfo=UTC),  # 2026-04-02 00:00 JST
        datetime(2026, 4, 3, 14, 59, tzinfo=UTC),  # 2026-04-03 23:59 JST
        REVIEW,
        id="two_utc_days_apart_but_adjacent_jst_days_is_review",
    ),
    pytest.param(
        at_jst(2026, 4, 1, 23, 59, 59, 999999),
        at_jst(2026, 4, 3),
        APPROVE,
        id="a_day_and_a_microsecond_apart_but_two_jst_days_pays",
    ),
    pytest.param(
        at_jst(2026, 4, 3),
        at_jst(2026, 4, 1, 23, 59, 59, 999999),
        APPROVE,
        id="two_jst_days_before_pays",
    ),
]


@pytest.mark.parametrize(("paid_at", "then_at", "outcome"), NEAR_WINDOW)
def test_hnb_l2_near_days_counts_jst_calendar_days(
    paid_at: datetime, then_at: datetime, outcome: Outcome
) -> None:
    paid, then = _frauds_in_turn(paid_at, then_at)
    assert (paid.outcome, paid.payable_yen) == (APPROVE, 1_200_000), paid.trace()
    if outcome is APPROVE:
        assert (then.outcome, then.payable_yen) == (APPROVE, 1_200_000), then.trace()
    else:
        _is_l2_review(then, NEAR_JA)


def test_hnb_l2_day_scope_is_the_jst_day_of_the_fraud() -> None:
    """14:59Z and 15:00Z on 2026-04-01 UTC are 23:59 on 04-01 and 00:00 on 04-02 in JST."""
    prefix = "HNB-L2/customer:ib-contract-1/day:"
    for at, day in (
        (datetime(2026, 4, 1, 14, 59, tzinfo=UTC), "2026-04-01"),
        (datetime(2026, 4, 1, 15, 0, tzinfo=UTC), "2026-04-02"),
    ):
        (d,) = _frauds_in_turn(at)
        days = [r.scope_key for r in d.reservations if r.scope_key.startswith(prefix)]
        assert days == [prefix + day], d.trace()


def test_hnb_l2_an_analysts_approval_counts_in_the_day_scope() -> None:
    """Two genuine frauds on one day: the second is REVIEW, an analyst approves it; that
    approval counts in the day scope like an APPROVE, so a third claim that day is REVIEW
    too (「別の事故2件」), and a re-claim of the approved one is a duplicate (DENY)."""
    base = hnb()
    book = Book()
    first, second, third = (
        replace(_moved(timedelta(hours=h))(base.claim), claim_id=f"day-{h}") for h in (0, 2, 4)
    )
    assert book.decide(first, base.context).outcome is APPROVE
    review = book.decide(second, base.context)
    _is_l2_review(review, NEAR_JA)
    approved = book.approve(second, base.context, 1_200_000)
    assert {r.scope_key: (r.amount_yen, r.count) for r in approved if "HNB-L2" in r.cap_ids} == {
        "HNB-L2/customer:ib-contract-1/at:2026-03-01T03:00:00.000000Z": (1_200_000, 1),
        L2_DAY: (1_200_000, 1),
    }
    assert book.ledger[L2_DAY] == used(2_400_000, 2)
    assert book.ledger[L1_2026] == used(2_400_000, 2)

    d = book.decide(third, base.context)
    _is_l2_review(d, NEAR_JA)
    assert "別の事故2件" in d.clause("HNB-L2").explanation_ja
    # A re-claim of the approved one: nothing left of it, so nothing an analyst could pay.
    again = book.decide(replace(second, claim_id="day-2-again"), base.context)
    assert again.payable_yen == again.computation.payable == 0, again.trace()
    assert book.ledger[L1_2026] == used(2_400_000, 2)  # the REVIEWs paid nothing


def test_hnb_l2_exact_duplicate_is_deny_even_with_another_paid_incident_that_day() -> None:
    base = hnb()
    book = Book()
    first, second = (
        replace(_moved(timedelta(hours=h))(base.claim), claim_id=f"day-{h}") for h in (0, 2)
    )
    book.decide(first, base.context)
    book.decide(second, base.context)
    book.approve(second, base.context, 1_200_000)
    again = book.decide(replace(first, claim_id="day-0-again"), base.context)
    assert (again.outcome, again.payable_yen) == (DENY, 0), again.trace()
    assert "以前の決定で既に" in again.clause("HNB-L2").explanation_ja


def test_hnb_l2_a_refused_fraud_retold_a_minute_later_is_review() -> None:
    """A fraud DENY under HNB-X3 (attested), claimed again a minute later with the
    attestation withdrawn: the record already holds a claim of that customer's fraud
    that day, refused; the new story goes to a human, not straight to payment. Two
    JST days away it is another incident and decides on its own."""
    base = hnb()
    refused = replace(
        base.claim, claim_id="told", exclusions={**base.claim.exclusions, "HNB-X3": True}
    )
    book = Book()
    assert book.decide(refused, base.context).outcome is DENY
    retold = _moved(timedelta(minutes=1))(replace(base.claim, claim_id="retold"))
    d = book.decide(retold, base.context)
    assert (d.outcome, d.payable_yen) == (REVIEW, 0), d.trace()
    assert "請求が既に記録されています" in d.clause("HNB-L2").explanation_ja
    later = _moved(timedelta(days=2))(replace(base.claim, claim_id="later"))
    assert Book().decide(later, base.context).outcome is APPROVE
    book2 = Book()
    book2.decide(refused, base.context)
    assert book2.decide(later, base.context).outcome is APPROVE


def test_hnb_l2_a_refused_fraud_retold_at_the_same_instant_is_review() -> None:
    """Refused under HNB-X3 (attested true), then the same fraud at the same instant
    with the attestation withdrawn: a story that changed after a refusal goes to a
    human. The same facts again are refused again (HNB-X3 decides)."""
    base = hnb()
    told = replace(
        base.claim, claim_id="told", exclusions={**base.claim.exclusions, "HNB-X3": True}
    )
    book = Book()
    assert book.decide(told, base.context).outcome is DENY
    again = book.decide(replace(told, claim_id="told-again"), base.context)
    assert again.outcome is DENY and "HNB-X3" in [c.label for c in again.fired], again.trace()
    retold = book.decide(replace(base.claim, claim_id="retold"), base.context)
    assert (retold.outcome, retold.payable_yen) == (REVIEW, 0), retold.trace()
    assert "人による審査が必要と判定されています" in retold.clause("HNB-L2").explanation_ja


def test_hnb_l2_a_review_resent_with_the_missing_fact_decides() -> None:
    """A REVIEW that asked for a fact (HNB-X3 not stated), re-sent at the same instant
    with it: not a refusal, not another incident — it decides (APPROVE)."""
    base = hnb()
    unstated_x3 = {k: v for k, v in base.claim.exclusions.items() if k != "HNB-X3"}
    asked = replace(base.claim, claim_id="asked", exclusions=unstated_x3)
    book = Book()
    assert book.decide(asked, base.context).outcome is REVIEW
    answered = book.decide(replace(base.claim, claim_id="answered"), base.context)
    assert (answered.outcome, answered.payable_yen) == (APPROVE, 1_200_000), answered.trace()
