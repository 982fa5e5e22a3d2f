"""KDN — ノートン セキュリティ with ダークウェブ モニタリング プラス 付帯保険, clause by clause.

Baselines (``builders``):

* ``kdn`` (card cover): both apps active since 2026-01-10 15:00 JST; the card
  registered in Norton Monitor on 2026-04-01; leak alert delivered 2026-05-10
  09:00; fraud 2026-05-11 20:00 (the day after the alert); reported to the
  issuer and the police on 05-12, to the member page on 05-13; the issuer
  refused with a stated reason; claim on 2026-06-01; ¥500,000 → 90% =
  ¥450,000.
* ``kdn_liability``: written claim for an information leak received
  2026-05-20 for an incident of 2026-05-01, notified 05-25; ¥800,000.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from checks.event_model import PaymentLoginMethod, ThreeDSecure
from checks.model import CheckStatus
from rules.engine import CardFraud, ClaimFacts, Decision, IssuerAnswer, IssuerAnswerKind
from tests.claims import builders
from tests.claims.builders import (
    APPROVE,
    DENY,
    KDN_ALERT,
    KDN_CARD,
    KDN_FRAUD,
    KDN_REGISTERED,
    REVIEW,
    US,
    Book,
    Case,
    ClaimEdit,
    ContextEdit,
    Scenario,
    both,
    case_ids,
    cover,
    ctx,
    dcm_login,
    dcm_registration,
    decide,
    decide_in_turn,
    inc,
    money,
    monitoring,
    no_cover_record,
    period,
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

K = IssuerAnswerKind
COVER_START = at_jst(2026, 1, 10, 15)


def kdn() -> Scenario:
    """``builders.kdn`` with what KDN-C0.issuer and KDN-C0.resident read stated: the
    card was issued by a Japanese card company, the insured lives in Japan."""
    base = builders.kdn()
    return Scenario(
        both(top(resident_in_japan=True), inc(issued_in_japan=True))(base.claim), base.context
    )


def kdn_liability() -> Scenario:
    """``builders.kdn_liability``, the insured stated to live in Japan (KDN-L1.resident)."""
    base = builders.kdn_liability()
    return Scenario(top(resident_in_japan=True)(base.claim), base.context)


def issuer(kind: IssuerAnswerKind, reason: str = "規約上の理由") -> IssuerAnswer:
    return IssuerAnswer(kind, reason)


def monitor(
    registered: datetime | None = KDN_REGISTERED,
    alerts: tuple[datetime, ...] = (KDN_ALERT,),
    unregistered: datetime | None = None,
) -> ContextEdit:
    """Norton Monitor as of the claim: registration span and leak alerts of the card."""
    return ctx(monitoring={KDN_CARD: monitoring(registered, alerts, unregistered)})


# --------------------------------------------------------------------------- coverage period

PERIOD = [
    Case(
        "kdn_p1_fraud_at_the_instant_both_apps_became_active_approves",
        "KDN-P1",
        False,
        APPROVE,
        context=cover("KDN", period(KDN_FRAUD)),
    ),
    Case(
        "kdn_p1_fraud_one_microsecond_before_activation_completed_denies",
        "KDN-P1",
        True,
        DENY,
        context=cover("KDN", period(KDN_FRAUD + US)),
    ),
    Case("kdn_p1_no_activation_on_record_denies", "KDN-P1", True, DENY, context=cover("KDN")),
    Case(
        "kdn_p1_activations_not_provided_reviews",
        "KDN-P1",
        True,
        REVIEW,
        context=no_cover_record("KDN"),
        missing="context.coverage[KDN]",
    ),
    Case(
        "kdn_p2_fraud_at_the_instant_an_app_was_deactivated_denies",
        "KDN-P2",
        True,
        DENY,
        context=cover("KDN", period(COVER_START, KDN_FRAUD)),
    ),
    Case(
        "kdn_p2_fraud_one_microsecond_before_deactivation_approves",
        "KDN-P2",
        False,
        APPROVE,
        context=cover("KDN", period(COVER_START, KDN_FRAUD + US)),
    ),
    Case(
        "kdn_p2_not_judged_when_cover_never_started",
        "KDN-P2",
        False,
        DENY,
        context=cover("KDN", period(KDN_FRAUD + US)),
    ),
    Case(
        "kdn_p2_reactivated_period_covers_again",
        "KDN-P2",
        False,
        APPROVE,
        context=cover("KDN", period(COVER_START, at_jst(2026, 3, 1)), period(at_jst(2026, 4, 1))),
    ),
]

# --------------------------------------------------------------------------- card cover

CARD = [
    # KDN-C0 (seed 001 §1 の対象のクレジットカード): 「日本国内のクレジットカード会社が発行した」
    # and 「お客様名義の」 card of an insured 「日本に居住されている個人」 (A19c B4/B5: both
    # were paid when stated false). The claim's own facts, three-state.
    Case("kdn_c0_card_issued_in_japan_approves", "KDN-C0.issuer", False, APPROVE),
    Case(
        "kdn_c0_card_issued_outside_japan_denies",
        "KDN-C0.issuer",
        True,
        DENY,
        inc(issued_in_japan=False),
    ),
    Case(
        "kdn_c0_card_issuer_not_stated_reviews",
        "KDN-C0.issuer",
        True,
        REVIEW,
        inc(issued_in_japan=None),
        missing="card_fraud.issued_in_japan",
    ),
    Case("kdn_c0_insured_resident_in_japan_approves", "KDN-C0.resident", False, APPROVE),
    Case(
        "kdn_c0_insured_resident_outside_japan_denies",
        "KDN-C0.resident",
        True,
        DENY,
        top(resident_in_japan=False),
    ),
    Case(
        "kdn_c0_insured_residence_not_stated_reviews",
        "KDN-C0.resident",
        True,
        REVIEW,
        top(resident_in_japan=None),
        missing="resident_in_japan",
    ),
    # KDN-C0: leaked and detected (an alert exists for the registered card)
    Case(
        "kdn_c0_no_leak_alert_for_the_card_denies", "KDN-C0", True, DENY, context=monitor(alerts=())
    ),
    Case(
        "kdn_c0_card_never_registered_denies",
        "KDN-C0",
        True,
        DENY,
        context=monitor(registered=None, alerts=()),
    ),
    Case("kdn_c0_alert_on_record_approves", "KDN-C0", False, APPROVE),
    Case(
        "kdn_c0_monitoring_not_provided_reviews",
        "KDN-C0",
        True,
        REVIEW,
        context=ctx(monitoring={}),
        missing=f"context.monitoring[{KDN_CARD}]",
    ),
    # KDN-C1: fraud after the card was registered
    Case(
        "kdn_c1_card_registered_at_the_fraud_instant_approves",
        "KDN-C1",
        False,
        APPROVE,
        context=monitor(registered=KDN_FRAUD),
    ),
    Case(
        "kdn_c1_card_registered_one_microsecond_after_the_fraud_denies",
        "KDN-C1",
        True,
        DENY,
        context=monitor(registered=KDN_FRAUD + US),
    ),
    Case(
        "kdn_c1_card_unregistered_before_the_fraud_denies",
        "KDN-C1",
        True,
        DENY,
        context=monitor(unregistered=at_jst(2026, 5, 11)),
    ),
    # KDN-C2: fraud by 24:00 of the day after the alert (alert 2026-05-10 09:00)
    Case(
        "kdn_c2_fraud_at_235959_999999_on_the_day_after_the_alert_approves",
        "KDN-C2",
        False,
        APPROVE,
        inc(fraud_at=at_jst(2026, 5, 11, 23, 59, 59, 999999)),
    ),
    Case(
        "kdn_c2_fraud_at_0000_two_days_after_the_alert_denies",
        "KDN-C2",
        True,
        DENY,
        inc(fraud_at=at_jst(2026, 5, 12)),
    ),
    Case(
        "kdn_c2_fraud_before_any_alert_is_not_limited",
        "KDN-C2",
        False,
        APPROVE,
        inc(fraud_at=at_jst(2026, 5, 9, 12)),
    ),
    Case(
        "kdn_c2_the_first_alert_counts_not_a_later_one",
        "KDN-C2",
        True,
        DENY,
        inc(fraud_at=at_jst(2026, 5, 20, 12)),
        monitor(alerts=(KDN_ALERT, at_jst(2026, 5, 20, 9))),
    ),
    # KDN-C3: card in hand when claiming
    Case("kdn_c3_card_not_in_hand_denies", "KDN-C3", True, DENY, inc(card_in_hand=False)),
    Case(
        "kdn_c3_not_stated_reviews",
        "KDN-C3",
        True,
        REVIEW,
        inc(card_in_hand=None),
        missing="card_fraud.card_in_hand",
    ),
    Case("kdn_c3_card_in_hand_approves", "KDN-C3", False, APPROVE),
    # KDN-C4: reported to the police
    Case(
        "kdn_c4_police_report_not_stated_reviews",
        "KDN-C4",
        True,
        REVIEW,
        inc(police_reported_at=None),
        missing="card_fraud.police_reported_at",
    ),
    Case("kdn_c4_police_report_stated_approves", "KDN-C4", False, APPROVE),
    Case(
        "kdn_c4_police_not_notified_denies",
        "KDN-C4",
        True,
        DENY,
        inc(police_reported_at=None, police_reported=False),
    ),
    Case(
        "kdn_c4_police_notified_without_the_instant_approves",
        "KDN-C4",
        False,
        APPROVE,
        inc(police_reported_at=None, police_reported=True),
    ),
    # KDN-C5: claimed to the issuer within 365 days, no compensation, known reason
    Case(
        "kdn_c5_issuer_claim_on_day_365_approves",
        "KDN-C5",
        False,
        APPROVE,
        inc(reported_to_issuer_at=at_jst(2027, 5, 11, 23, 59, 59, 999999)),
    ),
    Case(
        "kdn_c5_issuer_claim_on_day_366_denies",
        "KDN-C5",
        True,
        DENY,
        inc(reported_to_issuer_at=at_jst(2027, 5, 12)),
    ),
    Case(
        "kdn_c5_issuer_compensated_something_denies",
        "KDN-C5",
        True,
        DENY,
        inc(issuer_answer=issuer(K.COMPENSATED)),
    ),
    Case(
        "kdn_c5_reason_not_stated_reviews",
        "KDN-C5",
        True,
        REVIEW,
        inc(issuer_answer=issuer(K.NOT_COMPENSATED, "")),
        missing="card_fraud.issuer_answer.reason",
    ),
    Case(
        "kdn_c5_answer_pending_reviews",
        "KDN-C5",
        True,
        REVIEW,
        inc(issuer_answer=issuer(K.PENDING)),
    ),
    # KDN-C6: fraud from 00:00 JST 366 days before the claim date up to the claim
    Case(
        "kdn_c6_claim_on_day_366_at_2359_approves",
        "KDN-C6",
        False,
        APPROVE,
        top(claimed_at=at_jst(2027, 5, 12, 23, 59, 59, 999999)),
    ),
    Case(
        "kdn_c6_claim_on_day_367_at_0000_denies",
        "KDN-C6",
        True,
        DENY,
        top(claimed_at=at_jst(2027, 5, 13)),
    ),
    Case(
        "kdn_c6_fraud_at_the_claim_instant_is_inside",
        "KDN-C6",
        False,
        APPROVE,
        top(claimed_at=KDN_FRAUD),
    ),
    # KDN-C7: the date of the report to the issuer is known
    Case(
        "kdn_c7_issuer_report_not_stated_reviews",
        "KDN-C7",
        True,
        REVIEW,
        inc(reported_to_issuer_at=None),
        missing="card_fraud.reported_to_issuer_at",
    ),
    Case("kdn_c7_issuer_report_stated_approves", "KDN-C7", False, APPROVE),
    # C7's own fact, apart from C5's date: the report date cannot be confirmed
    Case(
        "kdn_c7_issuer_report_date_cannot_be_confirmed_denies",
        "KDN-C7",
        True,
        DENY,
        inc(issuer_report_date_confirmable=False),
    ),
    # KDN-X1: registration without 3-D Secure / login without OTP
    Case(
        "kdn_x1_card_registered_to_a_payment_service_without_3ds_denies",
        "KDN-X1",
        True,
        DENY,
        context=ctx(
            registrations=(dcm_registration(token=KDN_CARD, auth=ThreeDSecure("2.2.0", "N", "07")),)
        ),
    ),
    Case(
        "kdn_x1_login_by_carrier_line_is_not_an_otp_denies",
        "KDN-X1",
        True,
        DENY,
        context=ctx(
            registrations=(dcm_registration(token=KDN_CARD),),
            logins=(dcm_login(at=at_jst(2026, 5, 11, 19), method=PaymentLoginMethod.CARRIER_LINE),),
        ),
    ),
    Case(
        "kdn_x1_registration_with_3ds_and_login_with_otp_approves",
        "KDN-X1",
        False,
        APPROVE,
        context=ctx(
            registrations=(dcm_registration(token=KDN_CARD),),
            logins=(dcm_login(at=at_jst(2026, 5, 11, 19)),),
        ),
    ),
    Case("kdn_x1_no_payment_service_registration_does_not_apply", "KDN-X1", False, APPROVE),
    # 「3Dセキュア認証を経ていない決済サービスへの不正登録…による損害」: a claim that says the
    # fraud went through a payment service with nothing on record for it is not "none".
    Case(
        "kdn_x1_stated_payment_service_without_a_record_reviews",
        "KDN-X1",
        True,
        REVIEW,
        inc(payment_service_id="merpay"),
        missing="context.registrations[merpay]",
    ),
    Case(
        "kdn_x1_stated_payment_service_with_3ds_and_otp_on_record_approves",
        "KDN-X1",
        False,
        APPROVE,
        inc(payment_service_id="paypay"),
        context=ctx(
            registrations=(dcm_registration(token=KDN_CARD),),
            logins=(dcm_login(at=at_jst(2026, 5, 11, 19)),),
        ),
    ),
    # KDN-X2 / KDN-X3: the issuer's reason for not compensating
    Case(
        "kdn_x2_issuer_bankrupt_denies",
        "KDN-X2",
        True,
        DENY,
        inc(issuer_answer=issuer(K.ISSUER_BANKRUPT)),
    ),
    Case("kdn_x2_issuer_not_bankrupt_approves", "KDN-X2", False, APPROVE),
    Case(
        "kdn_x3_issuer_refused_for_the_insureds_negligence_denies",
        "KDN-X3",
        True,
        DENY,
        inc(issuer_answer=issuer(K.REFUSED_NEGLIGENCE, "暗証番号の管理不備")),
    ),
    Case("kdn_x3_refusal_not_for_the_insureds_fault_approves", "KDN-X3", False, APPROVE),
    # KDN-X3 ②–⑤: 受領代理人, 義務を怠った, 虚偽の被害届, その他の規約違反
    *(
        Case(
            f"kdn_x3_issuer_refused_{kind.name.lower()}_denies",
            "KDN-X3",
            True,
            DENY,
            inc(issuer_answer=issuer(kind)),
        )
        for kind in (
            K.REFUSED_RECEIVING_AGENT,
            K.REFUSED_DUTY_NEGLECTED,
            K.REFUSED_FALSE_REPORT,
            K.REFUSED_TERMS_BREACH,
        )
    ),
    Case(
        "kdn_x3_issuer_did_not_recognise_the_fraud_approves",
        "KDN-X3",
        False,
        APPROVE,
        inc(issuer_answer=issuer(K.NOT_RECOGNISED)),
    ),
    # KDN-N1 (card): reported on the member page within 30 days (ASSUMPTION) → else REVIEW
    Case(
        "kdn_n1_card_report_on_day_30_approves",
        "KDN-N1.card",
        False,
        APPROVE,
        inc(notified_at=at_jst(2026, 6, 10, 23, 59, 59, 999999)),
    ),
    Case(
        "kdn_n1_card_report_on_day_31_reviews",
        "KDN-N1.card",
        True,
        REVIEW,
        inc(notified_at=at_jst(2026, 6, 11)),
    ),
    Case(
        "kdn_n1_card_report_not_stated_reviews",
        "KDN-N1.card",
        True,
        REVIEW,
        inc(notified_at=None),
        missing="card_fraud.notified_at",
    ),
]

PER_CARD = f"KDN-A1/customer:c-kdn/card:{KDN_CARD}"
# The incident of the card scenario: its card misused at 2026-05-11 20:00 JST.
CARD_INCIDENT = f"KDN-A1/customer:c-kdn/instrument:{KDN_CARD}/at:2026-05-11T11:00:00.000000Z"
# The card's JST days (near_days = 1): the fraud's own day 2026-05-11 and either side.
CARD_DAYS = f"KDN-A1/customer:c-kdn/instrument:{KDN_CARD}/day:"
CARD_DAY = f"{CARD_DAYS}2026-05-11"

CARD_AMOUNTS = [
    # KDN-A1.per_incident: 「損害額の90%」 of one fraud is paid once
    Case(
        "kdn_a1_same_incident_already_paid_denies",
        "KDN-A1.per_incident",
        True,
        DENY,
        ledger={CARD_INCIDENT: used(450_000)},
    ),
    Case(
        "kdn_a1_same_incident_partly_paid_with_a_larger_loss_is_review",
        "KDN-A1.per_incident",
        True,
        REVIEW,
        payable=0,  # nothing is paid on top automatically
        ledger={CARD_INCIDENT: used(449_999, 1), CARD_DAY: used(449_999, 1)},
    ),
    # near_days = 1: another paid fraud of the card on the JST day or a day either side
    Case(
        "kdn_a1_paid_fraud_of_the_card_the_jst_day_before_is_review",
        "KDN-A1.per_incident",
        True,
        REVIEW,
        payable=0,
        ledger={f"{CARD_DAYS}2026-05-10": used(450_000, 1)},
    ),
    Case(
        "kdn_a1_paid_fraud_of_the_card_the_jst_day_after_is_review",
        "KDN-A1.per_incident",
        True,
        REVIEW,
        payable=0,
        ledger={f"{CARD_DAYS}2026-05-12": used(450_000, 1)},
    ),
    Case(
        "kdn_a1_paid_fraud_of_another_card_that_day_is_not_looked_at",
        "KDN-A1.per_incident",
        False,
        APPROVE,
        payable=450_000,
        ledger={"KDN-A1/customer:c-kdn/instrument:tok-other/day:2026-05-11": used(450_000, 1)},
    ),
    Case(
        "kdn_a1_incident_not_paid_before_pays_its_90_percent",
        "KDN-A1.per_incident",
        False,
        APPROVE,
        payable=450_000,
    ),
    # KDN-A1: 90% of the loss, at most ¥1,000,000 per card
    Case("kdn_a1_pays_90_percent", "KDN-A1.percentage", True, APPROVE, payable=450_000),
    Case(
        "kdn_a1_90_percent_rounds_down_to_the_yen",
        "KDN-A1.percentage",
        True,
        APPROVE,
        money(loss_yen=1_111_111),
        payable=999_999,
    ),
    Case(
        "kdn_a1_card_with_exactly_the_amount_left_pays_it_all",
        "KDN-A1.per_card",
        False,
        APPROVE,
        payable=450_000,
        ledger={PER_CARD: used(550_000)},
    ),
    Case(
        "kdn_a1_card_with_one_yen_less_left_caps_the_payout",
        "KDN-A1.per_card",
        True,
        APPROVE,
        payable=449_999,
        ledger={PER_CARD: used(550_001)},
    ),
    Case(
        "kdn_a1_card_limit_used_up_denies",
        "KDN-A1.per_card",
        True,
        DENY,
        ledger={PER_CARD: used(1_000_000)},
    ),
    Case(
        "kdn_a1_large_loss_capped_at_one_million",
        # One fraud is on one card: its own cap (before the card's) meets the ¥1,000,000.
        "KDN-A1.per_incident",
        True,
        APPROVE,
        money(loss_yen=2_000_000),
        payable=1_000_000,
    ),
    # KDN-D7 (clause 7): amounts received from other schemes are deducted
    Case(
        "kdn_d7_amount_from_another_scheme_is_deducted_before_the_90_percent",
        "KDN-D7",
        True,
        APPROVE,
        money(recovered_yen=100_000),
        payable=360_000,
    ),
    Case("kdn_d7_nothing_received_elsewhere", "KDN-D7", False, APPROVE, payable=450_000),
]

# --------------------------------------------------------------------------- liability cover

L2_YEAR_2025 = "KDN-L2/customer:c-kdn/year:2025"
# One liability incident: its instant (2026-05-01 10:00 JST), whatever the claim id.
L2_INCIDENT = "KDN-L2/customer:c-kdn/at:2026-05-01T01:00:00.000000Z"
JULY_1_1600 = at_jst(2026, 7, 1, 16)


def incident_on_july_1(at: datetime) -> ClaimEdit:
    """The liability incident at ``at`` (around 2026-07-01 16:00 JST, the policy year's
    turn), the written claim, the notice and the claim after it."""
    return both(
        inc(
            incident_at=at,
            third_party_claim_at=at_jst(2026, 7, 5, 10),
            notified_at=at_jst(2026, 7, 6, 10),
        ),
        top(claimed_at=at_jst(2026, 7, 10, 12)),
    )


LIABILITY = [
    # KDN-L1: written claim naming the insured's smartphone, which was itself accessed
    Case("kdn_l1_claim_not_in_writing_denies", "KDN-L1", True, DENY, inc(written_claim=False)),
    Case(
        "kdn_l1_smartphone_not_named_in_the_claim_not_stated_reviews",
        "KDN-L1",
        True,
        REVIEW,
        inc(claim_names_insured_smartphone=None),
        missing="liability.claim_names_insured_smartphone",
    ),
    Case(
        "kdn_l1_smartphone_not_accessed_without_authority_denies",
        "KDN-L1",
        True,
        DENY,
        inc(smartphone_accessed=False),
    ),
    Case("kdn_l1_written_claim_naming_the_smartphone_approves", "KDN-L1", False, APPROVE),
    # KDN-L2: ¥1,000,000 per accident, once per policy year from July 1 16:00 JST
    Case(
        "kdn_l2_damages_over_one_million_are_capped",
        "KDN-L2.amount",
        True,
        APPROVE,
        money(loss_yen=1_200_000),
        payable=1_000_000,
    ),
    Case(
        "kdn_l2_damages_of_exactly_one_million_are_paid",
        "KDN-L2.amount",
        False,
        APPROVE,
        money(loss_yen=1_000_000),
        payable=1_000_000,
    ),
    Case(
        "kdn_l2_damages_of_one_million_and_one_yen_are_capped",
        "KDN-L2.amount",
        True,
        APPROVE,
        money(loss_yen=1_000_001),
        payable=1_000_000,
    ),
    Case(
        "kdn_l2_second_payout_in_the_policy_year_denies",
        "KDN-L2.once",
        True,
        DENY,
        ledger={L2_YEAR_2025: used(800_000, 1)},
    ),
    Case(
        "kdn_l2_incident_at_155959_999999_on_july_1_is_still_in_the_old_year_denies",
        "KDN-L2.once",
        True,
        DENY,
        incident_on_july_1(JULY_1_1600 - US),
        ledger={L2_YEAR_2025: used(800_000, 1)},
    ),
    Case(
        "kdn_l2_incident_at_1600_on_july_1_is_in_the_new_year_approves",
        "KDN-L2.once",
        False,
        APPROVE,
        incident_on_july_1(JULY_1_1600),
        ledger={L2_YEAR_2025: used(800_000, 1)},
    ),
    Case(
        "kdn_l2_claim_at_1600_on_july_1_of_an_incident_of_the_old_year_denies",
        "KDN-L2.once",
        True,
        DENY,
        top(claimed_at=JULY_1_1600),
        ledger={L2_YEAR_2025: used(800_000, 1)},
    ),
    Case(
        "kdn_l2_same_incident_partly_paid_with_a_larger_loss_is_review",
        "KDN-L2.amount",
        True,
        REVIEW,
        ledger={L2_INCIDENT: used(600_000)},
        payable=0,  # not the ¥200,000 more: a human looks at the story that changed
    ),
    # KDN-L2 has no near_days (what stops a second payout in the year is KDN-L2.once).
    Case(
        "kdn_l2_incident_one_microsecond_later_is_another_incident",
        "KDN-L2.amount",
        False,
        APPROVE,
        inc(incident_at=at_jst(2026, 5, 1, 10) + US),
        ledger={L2_INCIDENT: used(1_000_000)},
        payable=800_000,
    ),
    # KDN-Y1: a payout already received in the policy year (same counter as KDN-L2)
    Case(
        "kdn_y1_payout_already_received_this_policy_year_denies",
        "KDN-Y1",
        True,
        DENY,
        ledger={L2_YEAR_2025: used(300_000, 1)},
    ),
    Case("kdn_y1_no_payout_yet_this_policy_year_approves", "KDN-Y1", False, APPROVE),
    # KDN-Y2: only business interruption or information leak
    Case("kdn_y2_personality_rights_claim_denies", "KDN-Y2", True, DENY, inc(claim_kind="other")),
    Case(
        "kdn_y2_claim_kind_not_stated_reviews",
        "KDN-Y2",
        True,
        REVIEW,
        inc(claim_kind=""),
        missing="liability.claim_kind",
    ),
    Case(
        "kdn_y2_business_interruption_approves",
        "KDN-Y2",
        False,
        APPROVE,
        inc(claim_kind="business_interruption"),
    ),
    # KDN-Y3: cause known before the period began (period from 2026-01-10 15:00)
    Case(
        "kdn_y3_cause_known_one_microsecond_before_the_period_denies",
        "KDN-Y3",
        True,
        DENY,
        inc(cause_known_at=COVER_START - US),
    ),
    Case(
        "kdn_y3_cause_known_at_the_period_start_approves",
        "KDN-Y3",
        False,
        APPROVE,
        inc(cause_known_at=COVER_START),
    ),
    Case(
        "kdn_y3_no_instant_and_no_statement_reviews",
        "KDN-Y3",
        True,
        REVIEW,
        inc(cause_known_at=None),
        missing="facts.exclusions[KDN-Y3]",
    ),
    Case(
        "kdn_y3_no_instant_but_stated_known_before_denies",
        "KDN-Y3",
        True,
        DENY,
        lambda c: stated("KDN-Y3")(inc(cause_known_at=None)(c)),
    ),
    # KDN-N1 (liability): the notifiable event is receiving the written claim (2026-05-20)
    Case(
        "kdn_n1_liability_report_on_day_30_after_the_written_claim_approves",
        "KDN-N1.liability",
        False,
        APPROVE,
        inc(notified_at=at_jst(2026, 6, 19, 23, 59, 59, 999999)),
    ),
    Case(
        "kdn_n1_liability_report_on_day_31_reviews",
        "KDN-N1.liability",
        True,
        REVIEW,
        inc(notified_at=at_jst(2026, 6, 20)),
    ),
    Case(
        "kdn_a1_percentage_does_not_apply_to_liability",
        "KDN-A1.percentage",
        False,
        APPROVE,
        payable=800_000,
    ),
    Case("kdn_l1_insured_resident_in_japan_approves", "KDN-L1.resident", False, APPROVE),
    Case(
        "kdn_l1_insured_resident_outside_japan_denies",
        "KDN-L1.resident",
        True,
        DENY,
        top(resident_in_japan=False),
    ),
    Case(
        "kdn_l1_insured_residence_not_stated_reviews",
        "KDN-L1.resident",
        True,
        REVIEW,
        top(resident_in_japan=None),
        missing="resident_in_japan",
    ),
    Case("kdn_c0_issuer_does_not_apply_to_liability", "KDN-C0.issuer", False, APPROVE),
    Case(
        "kdn_p1_liability_incident_before_cover_denies",
        "KDN-P1",
        True,
        DENY,
        inc(incident_at=COVER_START - US),
    ),
] + [
    row
    for cid in ("KDN-Y4", "KDN-Y5", "KDN-Y6")
    for row in (
        Case(f"{cid.lower().replace('-', '_')}_stated_true_denies", cid, True, DENY, stated(cid)),
        Case(f"{cid.lower().replace('-', '_')}_stated_false_approves", cid, False, APPROVE),
        Case(
            f"{cid.lower().replace('-', '_')}_not_stated_reviews",
            cid,
            True,
            REVIEW,
            unstated(cid),
            missing=f"facts.exclusions[{cid}]",
        ),
    )
]


@pytest.mark.parametrize(
    "case",
    PERIOD + CARD + CARD_AMOUNTS,
    ids=case_ids(PERIOD + CARD + CARD_AMOUNTS),
)
def test_kdn_card_cover(case: Case) -> None:
    run_case(case, kdn)


@pytest.mark.parametrize("case", LIABILITY, ids=case_ids(LIABILITY))
def test_kdn_liability_cover(case: Case) -> None:
    run_case(case, kdn_liability)


def test_kdn_card_clauses_do_not_apply_to_liability_and_back() -> None:
    d = run_case(Case("x", "KDN-L1", False, APPROVE), kdn_liability)
    for cid in ("KDN-C0", "KDN-C5", "KDN-X1", "KDN-A1.percentage", "KDN-N1.card"):
        assert d.clause(cid).status.value == "NOT_APPLICABLE"
    d = run_case(Case("x", "KDN-C0", False, APPROVE), kdn)
    for cid in ("KDN-L1", "KDN-L2.once", "KDN-Y1", "KDN-Y3", "KDN-N1.liability"):
        assert d.clause(cid).status.value == "NOT_APPLICABLE"


@pytest.mark.parametrize(
    ("edit", "outcome"),
    [
        (inc(issued_in_japan=False), DENY),  # A19c B4: paid ¥450,000
        (inc(issued_in_japan=None), REVIEW),
        (top(resident_in_japan=False), DENY),  # A19c B5: paid ¥450,000
        (top(resident_in_japan=None), REVIEW),
    ],
    ids=["issued_abroad", "issuer_unstated", "resident_abroad", "residence_unstated"],
)
def test_kdn_c0_a_foreign_card_or_a_non_resident_is_not_paid(
    edit: Callable[[ClaimFacts], ClaimFacts], outcome: object
) -> None:
    """Seed 001 §1: 「日本に居住されている個人」 and 「日本国内のクレジットカード会社が
    発行したクレジットカード」: a claim stating otherwise is not paid, one not stating it
    goes to a human."""
    base = kdn()
    d = decide(edit(base.claim), base.context)
    assert d.outcome is outcome and d.payable_yen == 0, d.trace()


@pytest.mark.parametrize(
    ("resident", "outcome"), [(False, DENY), (None, REVIEW)], ids=["abroad", "unstated"]
)
def test_kdn_l1_a_non_resident_is_not_paid_for_liability(
    resident: bool | None, outcome: object
) -> None:
    """The liability cover's お客様 is the same insured: 「日本に居住されている個人」."""
    base = kdn_liability()
    d = decide(top(resident_in_japan=resident)(base.claim), base.context)
    assert d.outcome is outcome and d.payable_yen == 0, d.trace()


def test_kdn_liability_approve_reserves_the_shared_policy_year_once() -> None:
    d = run_case(Case("x", "KDN-L2.once", False, APPROVE), kdn_liability)
    year = [r for r in d.reservations if r.scope_key == L2_YEAR_2025]
    assert len(year) == 1
    assert set(year[0].cap_ids) == {"KDN-L2", "KDN-Y1"}
    assert (year[0].count, year[0].max_count) == (1, 1)


def test_kdn_c7_date_unconfirmable_is_c7s_own_fact_not_c5s() -> None:
    """C5's claim date stays usable; only C7 (お客様が…報告を行った日を確認できること) fires."""
    base = kdn()
    d = decide(inc(issuer_report_date_confirmable=False)(base.claim), base.context)
    assert d.outcome is DENY
    assert [c.label for c in d.fired] == ["KDN-C7"], d.trace()
    assert d.clause("KDN-C5").status is CheckStatus.PASS


# ----------------------------------------------------------------- KDN-L2, claim after claim
# 「同一事故について100万円が限度」「1年間のうち、1回のみ」: the year is the incident's.


def _paid(*claims: tuple[ClaimEdit, int]) -> list[tuple[str, int]]:
    """(edit, loss) per claim of the liability baseline, each under its own claim id."""
    base = kdn_liability()
    facts = [
        replace(money(loss_yen=loss)(e(base.claim)), claim_id=f"kdn-claim-{i}")
        for i, (e, loss) in enumerate(claims, 1)
    ]
    return [(d.outcome.value, d.payable_yen) for d in decide_in_turn(facts, base.context)]


def test_kdn_l2_same_incident_claimed_either_side_of_july_1_1600_pays_once() -> None:
    """A19: claimed at 15:59:59 and again at 16:00:00 it was paid ¥600k + ¥1,000,000."""
    incident = at_jst(2026, 6, 20, 10)

    def claimed(at: datetime) -> ClaimEdit:
        return both(
            inc(incident_at=incident, third_party_claim_at=at_jst(2026, 6, 25, 10)),
            inc(notified_at=at_jst(2026, 6, 26, 10)),
            top(claimed_at=at),
        )

    before, after = claimed(JULY_1_1600 - timedelta(seconds=1)), claimed(JULY_1_1600)
    assert _paid((before, 600_000), (after, 1_000_000)) == [("APPROVE", 600_000), ("DENY", 0)]


def test_kdn_l2_incidents_either_side_of_july_1_1600_are_in_two_policy_years() -> None:
    """Two JST days apart (outside near_days): each policy year pays its one incident."""
    old = incident_on_july_1(JULY_1_1600 - timedelta(days=2))
    new = incident_on_july_1(JULY_1_1600)
    assert _paid((old, 600_000), (new, 1_000_000)) == [
        ("APPROVE", 600_000),
        ("APPROVE", 1_000_000),
    ]


def test_kdn_l2_one_incident_moved_across_july_1_1600_is_review() -> None:
    """A19e N1: paid at 15:59:59, claimed again at 16:00:00 — a new policy year's
    「年1回」 and ¥1,000,000 — was paid again. 「同一事故について100万円が限度」: an
    incident within a JST day of another paid one is for a human (near_days)."""
    old = incident_on_july_1(JULY_1_1600 - timedelta(seconds=1))
    new = incident_on_july_1(JULY_1_1600)
    assert _paid((old, 1_000_000), (new, 1_000_000)) == [("APPROVE", 1_000_000), ("REVIEW", 0)]


def test_kdn_l2_two_incidents_before_july_1_1600_are_paid_once() -> None:
    first = incident_on_july_1(JULY_1_1600 - timedelta(hours=1))
    second = incident_on_july_1(JULY_1_1600 - US)
    assert _paid((first, 600_000), (second, 600_000)) == [("APPROVE", 600_000), ("DENY", 0)]


# --------------------------------------------------------- KDN-A1.per_incident, claim after claim
# The loss of one incident is paid once: an exact duplicate under a new claim id pays
# nothing; one stating more than was paid is REVIEW; another paid fraud of the same
# card within a JST day either side is REVIEW (the same loss at a moved fraud_at?).

OTHER_CARD = "tok-kdn-card-2"


def _kdn_moved(delta: timedelta) -> Scenario:
    """kdn() with its whole story moved by ``delta``: the alert before the fraud (KDN-C2:
    by the end of the next JST day after the first alert), the reports after it."""
    base = kdn()
    incident = base.claim.incident
    assert isinstance(incident, CardFraud)

    def shifted(at: datetime | None) -> datetime | None:
        return None if at is None else at + delta

    moved = replace(
        incident,
        fraud_at=incident.fraud_at + delta,
        reported_to_issuer_at=shifted(incident.reported_to_issuer_at),
        police_reported_at=shifted(incident.police_reported_at),
        notified_at=shifted(incident.notified_at),
    )
    context = replace(base.context, monitoring={KDN_CARD: monitoring(alerts=(KDN_ALERT + delta,))})
    return Scenario(replace(base.claim, incident=moved), context)


def _is_per_incident_review(d: Decision, text_ja: str) -> None:
    assert (d.outcome, d.payable_yen, d.reservations) == (REVIEW, 0, ()), d.trace()
    assert [c.label for c in d.fired] == ["KDN-A1.per_incident"], d.trace()
    finding = d.clause("KDN-A1.per_incident")
    assert finding.effect.value == "REVIEW" and text_ja in finding.explanation_ja, d.trace()


def test_kdn_a1_per_incident_same_fraud_twice_pays_nothing_the_second_time() -> None:
    loss = money(loss_yen=300_000)
    first, second = _decided_again(kdn, loss, loss)
    assert (first.outcome, first.payable_yen) == (APPROVE, 270_000)
    assert (second.outcome, second.payable_yen) == (DENY, 0)
    finding = second.clause("KDN-A1.per_incident")
    assert finding.status is CheckStatus.FAIL and "以前の決定で既に" in finding.explanation_ja


def test_kdn_a1_per_incident_same_instant_in_utc_is_the_same_fraud() -> None:
    loss = money(loss_yen=300_000)
    in_utc = both(loss, _moved(timedelta(0), in_utc=True))
    assert _paid_again(kdn, loss, in_utc) == [("APPROVE", 270_000), ("DENY", 0)]


def test_kdn_a1_per_incident_same_fraud_with_a_larger_loss_is_review() -> None:
    """¥270,000 paid (90% of ¥300,000), then the same fraud with ¥400,000 lost: REVIEW,
    not the ¥90,000 more."""
    first, larger = _decided_again(kdn, money(loss_yen=300_000), money(loss_yen=400_000))
    assert (first.outcome, first.payable_yen) == (APPROVE, 270_000)
    _is_per_incident_review(larger, "それを超える損害")


def test_kdn_a1_per_incident_another_card_or_a_fraud_two_jst_days_away_pays() -> None:
    """Another card misused at the same instant, and the same card misused two JST days
    earlier (its own alert before it): neither is within the card's window."""
    base = kdn()
    other = replace(inc(card_token=OTHER_CARD)(base.claim), claim_id="other-card")
    other_ctx = replace(
        base.context,
        monitoring={
            **base.context.monitoring,
            OTHER_CARD: replace(monitoring(), card_token=OTHER_CARD),
        },
    )
    earlier = _kdn_moved(-timedelta(days=2))
    book = Book()
    decisions = [
        book.decide(base.claim, base.context),
        book.decide(other, other_ctx),
        book.decide(replace(earlier.claim, claim_id="two-days-earlier"), earlier.context),
    ]
    assert [(d.outcome, d.payable_yen) for d in decisions] == [(APPROVE, 450_000)] * 3


@pytest.mark.parametrize(
    "moved",
    [
        pytest.param(US, id="one_microsecond_later"),
        pytest.param(timedelta(minutes=1), id="one_minute_later"),
        pytest.param(-timedelta(hours=20), id="the_same_jst_day_at_0000"),
        pytest.param(-timedelta(hours=20, microseconds=1), id="the_jst_day_before_at_2359"),
        pytest.param(-timedelta(days=1), id="the_jst_day_before"),
    ],
)
def test_kdn_a1_per_incident_same_card_within_a_jst_day_is_review(moved: timedelta) -> None:
    """The fraud of 2026-05-11 20:00 JST paid; the card's fraud stated at another instant
    of 05-10 or 05-11 (after the 05-10 09:00 alert) may be the same loss: a human looks."""
    paid, again = _decided_again(kdn, _same, _moved(moved))
    assert (paid.outcome, paid.payable_yen) == (APPROVE, 450_000)
    _is_per_incident_review(again, "前後1日以内")
