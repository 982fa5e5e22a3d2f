"""DCM — ネットトラブルあんしんサポート 不正決済補償, clause by clause.

Baselines (``builders``):

* ``dcm``: QR-payment fraud DCM-E1 on 2026-05-10 12:00 JST through "paypay";
  the card was registered by the fraudster on 2026-05-01 with 3-D Secure (Y,
  ECI 05), the last login before the fraud used an SMS OTP; member since
  2025; ¥300,000 lost, ¥50,000 compensated by the operator, ¥10,000 paid in
  points → approved for ¥240,000.
* ``dcm_card``: a credit-card fraud (DCM-E3) on the same day, ¥80,000,
  nothing compensated → approved for ¥80,000.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from checks.event_model import (
    CarrierLine,
    FundingSource,
    InstrumentKind,
    Otp,
    OtpChannel,
    PaymentLoginMethod,
    ThreeDSecure,
)
from checks.model import CheckStatus
from checks.security_standard import PaymentMethod
from rules.engine import (
    ClaimFacts,
    Decision,
    IssuerAnswer,
    IssuerAnswerKind,
    LedgerUsage,
    LoginRecord,
    RegistrationRecord,
    evaluate,
    ledger_scopes,
    load_policies,
)
from rules.engine.form import claim_form
from rules.engine.load import BUILTIN_POLICIES_DIR
from tests.claims.builders import (
    APPROVE,
    DCM_FRAUD,
    DCM_REGISTERED,
    DENY,
    REVIEW,
    US,
    Case,
    ClaimEdit,
    ContextEdit,
    Scenario,
    both,
    case_ids,
    cover,
    ctx,
    dcm,
    dcm_card,
    dcm_login,
    dcm_registration,
    decide,
    decide_in_turn,
    inc,
    money,
    no_cover_record,
    period,
    run_case,
    stated,
    top,
    unstated,
    used,
)
from timing import at_jst

K = IssuerAnswerKind


def answer(kind: IssuerAnswerKind, reason: str = "理由") -> IssuerAnswer:
    return IssuerAnswer(kind, reason)


def regs(*records: RegistrationRecord) -> ContextEdit:
    """What Anshin recorded: exactly these registrations."""
    return ctx(registrations=records)


def logins(*records: LoginRecord) -> ContextEdit:
    """What Anshin recorded: exactly these payment logins."""
    return ctx(logins=records)


BANK = InstrumentKind.BANK_ACCOUNT
bank_claim = inc(funding=FundingSource.BANK_ACCOUNT)

# --------------------------------------------------------------------------- insured events

EVENTS = [
    Case(
        "dcm_e1_card_registered_by_someone_else_to_a_qr_service_approves",
        "DCM-E1",
        False,
        APPROVE,
        payable=240_000,
    ),
    Case(
        "dcm_e1_event_kind_not_stated_reviews",
        "DCM-E1",
        True,
        REVIEW,
        inc(event_kind=""),
        missing="qr_payment.event_kind",
    ),
    Case("dcm_e1_unlisted_qr_event_denies", "DCM-E1", True, DENY, inc(event_kind="DCM-E9")),
    Case("dcm_e2_device_stolen_approves", "DCM-E2", False, APPROVE, inc(event_kind="DCM-E2")),
    Case("dcm_e2_unlisted_qr_event_denies", "DCM-E2", True, DENY, inc(event_kind="DCM-E9")),
    Case("dcm_e3_card_fraud_approves", "DCM-E3", False, APPROVE, scenario=dcm_card, payable=80_000),
    Case(
        "dcm_e3_qr_fraud_of_no_listed_event_is_not_a_card_fraud_either_denies",
        "DCM-E3",
        True,
        DENY,
        inc(event_kind="other"),
    ),
]


@pytest.mark.parametrize("case", EVENTS, ids=case_ids(EVENTS))
def test_dcm_insured_events(case: Case) -> None:
    run_case(case, dcm)


def test_dcm_e2_is_not_held_to_the_registration_standard() -> None:
    d = run_case(
        Case(
            "x",
            "DCM-E2",
            False,
            APPROVE,
            inc(event_kind="DCM-E2"),
            regs(dcm_registration(auth=ThreeDSecure("2.2.0", "N", "07"))),
        ),
        dcm,
    )
    assert d.clause("DCM-S1").status.value == "NOT_APPLICABLE"
    assert d.clause("DCM-E1").status.value == "NOT_APPLICABLE"


# --------------------------------------------------------------------------- conditions

CONDITIONS = [
    # DCM-C1: the operator recognised the fraud but did not compensate
    Case(
        "dcm_c1_operator_did_not_recognise_the_fraud_denies",
        "DCM-C1",
        True,
        DENY,
        inc(operator_answer=answer(K.NOT_RECOGNISED)),
    ),
    Case(
        "dcm_c1_refused_for_a_reason_the_text_does_not_name_reviews",
        "DCM-C1",
        True,
        REVIEW,
        inc(operator_answer=answer(K.REFUSED_FALSE_REPORT)),
    ),
    Case(
        "dcm_c1_refused_for_a_receiving_agents_misuse_reviews",
        "DCM-C1",
        True,
        REVIEW,
        inc(operator_answer=answer(K.REFUSED_RECEIVING_AGENT)),
    ),
    Case(
        "dcm_c1_refused_for_the_insureds_negligence_denies",
        "DCM-C1",
        True,
        DENY,
        inc(operator_answer=answer(K.REFUSED_NEGLIGENCE)),
    ),
    Case(
        "dcm_c1_operator_bankrupt_denies",
        "DCM-C1",
        True,
        DENY,
        inc(operator_answer=answer(K.ISSUER_BANKRUPT)),
    ),
    Case(
        "dcm_c1_answer_pending_reviews",
        "DCM-C1",
        True,
        REVIEW,
        inc(operator_answer=answer(K.PENDING)),
        missing="qr_payment.operator_answer",
    ),
    Case(
        "dcm_c1_no_answer_reviews",
        "DCM-C1",
        True,
        REVIEW,
        inc(operator_answer=None),
        missing="qr_payment.operator_answer",
    ),
    Case(
        "dcm_c1_partly_compensated_pays_the_rest",
        "DCM-C1",
        False,
        APPROVE,
        inc(operator_answer=answer(K.COMPENSATED)),
        payable=240_000,
    ),
    Case(
        "dcm_c1_card_issuer_refused_for_negligence_denies",
        "DCM-C1",
        True,
        DENY,
        inc(issuer_answer=answer(K.REFUSED_NEGLIGENCE)),
        scenario=dcm_card,
    ),
    # DCM-C2: E1/E2 misused in Japan
    Case("dcm_c2_misused_abroad_denies", "DCM-C2", True, DENY, inc(used_in_japan=False)),
    Case(
        "dcm_c2_place_not_stated_reviews",
        "DCM-C2",
        True,
        REVIEW,
        inc(used_in_japan=None),
        missing="qr_payment.used_in_japan",
    ),
    Case("dcm_c2_misused_in_japan_approves", "DCM-C2", False, APPROVE),
    Case("dcm_c2_does_not_apply_to_card_fraud", "DCM-C2", False, APPROVE, scenario=dcm_card),
    # DCM-C3: notified within 365 days of the fraud (2026-05-10 → end of 2027-05-10)
    Case(
        "dcm_c3_notice_on_day_365_approves",
        "DCM-C3",
        False,
        APPROVE,
        inc(notified_at=at_jst(2027, 5, 10, 23, 59, 59, 999999)),
    ),
    Case(
        "dcm_c3_notice_on_day_366_denies",
        "DCM-C3",
        True,
        DENY,
        inc(notified_at=at_jst(2027, 5, 11)),
    ),
    Case(
        "dcm_c3_notice_not_stated_reviews",
        "DCM-C3",
        True,
        REVIEW,
        inc(notified_at=None),
        missing="qr_payment.notified_at",
    ),
    Case(
        "dcm_c3_card_notice_on_day_366_denies",
        "DCM-C3",
        True,
        DENY,
        inc(notified_at=at_jst(2027, 5, 11)),
        scenario=dcm_card,
    ),
    # DCM-C4: issued in Japan
    Case("dcm_c4_issued_abroad_denies", "DCM-C4", True, DENY, inc(issued_in_japan=False)),
    Case(
        "dcm_c4_not_stated_reviews",
        "DCM-C4",
        True,
        REVIEW,
        inc(issued_in_japan=None),
        missing="qr_payment.issued_in_japan",
    ),
    Case("dcm_c4_issued_in_japan_approves", "DCM-C4", False, APPROVE),
]


@pytest.mark.parametrize("case", CONDITIONS, ids=case_ids(CONDITIONS))
def test_dcm_conditions(case: Case) -> None:
    run_case(case, dcm)


# ----------------------------------------------------------- security standard and DCM-T

STANDARD = [
    # DCM-S1: card registration with 3-D Secure
    Case(
        "dcm_s1_registration_3ds_not_authenticated_denies",
        "DCM-S1",
        True,
        DENY,
        context=regs(dcm_registration(auth=ThreeDSecure("2.2.0", "N", "07"))),
    ),
    Case(
        "dcm_s1_registration_3ds_attempt_only_denies",
        "DCM-S1",
        True,
        DENY,
        context=regs(dcm_registration(auth=ThreeDSecure("2.2.0", "A", "06"))),
    ),
    Case(
        "dcm_s1_registration_with_otp_instead_of_3ds_denies",
        "DCM-S1",
        True,
        DENY,
        context=regs(dcm_registration(auth=Otp(OtpChannel.APP))),
    ),
    Case("dcm_s1_registration_3ds_authenticated_approves", "DCM-S1", False, APPROVE),
    Case(
        "dcm_s1_no_registration_on_record_reviews",
        "DCM-S1",
        True,
        REVIEW,
        context=regs(),
        missing="context.registrations",
    ),
    Case(
        "dcm_s1_registration_after_the_fraud_is_not_the_one_that_counts",
        "DCM-S1",
        True,
        REVIEW,
        context=regs(dcm_registration(at=DCM_FRAUD + US)),
    ),
    Case(
        "dcm_s1_d_barai_standard_is_unpublished_reviews",
        "DCM-S1",
        True,
        REVIEW,
        inc(payment_service_id="d-barai"),
        ctx(
            registrations=(dcm_registration(service="d-barai"),),
            logins=(dcm_login(service="d-barai"),),
        ),
    ),
    # DCM-S2: bank-account registration with OTP, not to the QR-registered phone
    Case(
        "dcm_s2_otp_sent_to_the_qr_registered_phone_denies",
        "DCM-S2",
        True,
        DENY,
        bank_claim,
        regs(dcm_registration(kind=BANK, auth=Otp(OtpChannel.SMS, True))),
    ),
    Case(
        "dcm_s2_otp_from_an_app_approves",
        "DCM-S2",
        False,
        APPROVE,
        bank_claim,
        regs(dcm_registration(kind=BANK, auth=Otp(OtpChannel.APP))),
    ),
    Case(
        "dcm_s2_sms_destination_not_reported_reviews",
        "DCM-S2",
        True,
        REVIEW,
        bank_claim,
        regs(dcm_registration(kind=BANK, auth=Otp(OtpChannel.SMS))),
    ),
    Case("dcm_s2_does_not_apply_to_a_card_registration", "DCM-S2", False, APPROVE),
    # DCM-S3: login with OTP two-step or carrier line
    Case(
        "dcm_s3_last_login_password_only_denies",
        "DCM-S3",
        True,
        DENY,
        context=logins(dcm_login(method=PaymentLoginMethod.PASSWORD_ONLY)),
    ),
    Case(
        "dcm_s3_last_login_by_carrier_line_approves",
        "DCM-S3",
        False,
        APPROVE,
        context=logins(dcm_login(method=PaymentLoginMethod.CARRIER_LINE)),
    ),
    Case(
        "dcm_s3_password_login_superseded_by_a_later_otp_login_approves",
        "DCM-S3",
        False,
        APPROVE,
        context=logins(
            dcm_login(at=at_jst(2026, 5, 9), method=PaymentLoginMethod.PASSWORD_ONLY, eid="l0"),
            dcm_login(at=DCM_FRAUD, eid="l1"),
        ),
    ),
    Case(
        "dcm_s3_login_after_the_fraud_does_not_count",
        "DCM-S3",
        True,
        DENY,
        context=logins(
            dcm_login(at=at_jst(2026, 5, 9), method=PaymentLoginMethod.PASSWORD_ONLY, eid="l0"),
            dcm_login(at=DCM_FRAUD + US, eid="l1"),
        ),
    ),
    Case(
        "dcm_s3_no_login_on_record_reviews",
        "DCM-S3",
        True,
        REVIEW,
        context=logins(),
        missing="context.logins",
    ),
    # DCM-T: payment method and funding source
    Case(
        "dcm_t_qr_funded_by_operator_points_denies",
        "DCM-T",
        True,
        DENY,
        inc(funding=FundingSource.OPERATOR_POINTS),
    ),
    Case(
        "dcm_t_qr_funding_not_stated_reviews",
        "DCM-T",
        True,
        REVIEW,
        inc(funding=None),
        missing="qr_payment.funding",
    ),
    Case("dcm_t_qr_funded_by_credit_card_approves", "DCM-T", False, APPROVE),
    Case(
        "dcm_t_prepaid_ic_emoney_charged_by_card_denies",
        "DCM-T",
        True,
        DENY,
        inc(payment_method=PaymentMethod.PREPAID_IC_EMONEY, funding=FundingSource.CREDIT_CARD),
        scenario=dcm_card,
    ),
    Case(
        "dcm_t_postpaid_emoney_charged_by_debit_card_approves",
        "DCM-T",
        False,
        APPROVE,
        inc(payment_method=PaymentMethod.POSTPAID_EMONEY, funding=FundingSource.DEBIT_CARD),
        scenario=dcm_card,
    ),
    Case(
        "dcm_t_card_payment_method_not_stated_reviews",
        "DCM-T",
        True,
        REVIEW,
        inc(payment_method=None),
        scenario=dcm_card,
        missing="card_fraud.payment_method",
    ),
]


@pytest.mark.parametrize("case", STANDARD, ids=case_ids(STANDARD))
def test_dcm_security_standard(case: Case) -> None:
    run_case(case, dcm)


def test_dcm_s1_carrier_line_registration_explains_itself_in_japanese() -> None:
    d = run_case(
        Case("x", "DCM-S1", True, DENY, context=regs(dcm_registration(auth=CarrierLine("docomo")))),
        dcm,
    )
    assert "通信回線認証" in d.clause("DCM-S1").explanation_ja


# ----------------------------------------------------------- membership (DCM-X4), exclusions

MEMBER_FROM = at_jst(2025, 1, 1)

# DCM-X4 「④ 保険責任期間の開始前に生じていた不正使用または不正登録の発生。」: the misuse
# (part "use", every insured event) and, under DCM-E1 only, the fraudulent
# registration (part "registration"). Misuse after leaving is the insured
# events' own 「保険責任期間中に不正使用されたこと」 (part "period").
E2 = inc(event_kind="DCM-E2")

MEMBERSHIP = [
    Case(
        "dcm_x4_card_fraud_at_the_instant_membership_began_approves",
        "DCM-X4.use",
        False,
        APPROVE,
        context=cover("DCM", period(DCM_FRAUD)),
        scenario=dcm_card,
    ),
    Case(
        "dcm_x4_card_fraud_one_microsecond_before_membership_denies",
        "DCM-X4.use",
        True,
        DENY,
        context=cover("DCM", period(DCM_FRAUD + US)),
        scenario=dcm_card,
    ),
    Case(
        "dcm_e3_fraud_at_the_instant_membership_ended_denies_under_e3_not_x4",
        "DCM-E3.period",
        True,
        DENY,
        context=cover("DCM", period(MEMBER_FROM, DCM_FRAUD)),
        scenario=dcm_card,
    ),
    Case(
        "dcm_x4_fraud_one_minute_after_leaving_is_not_x4_but_e3",
        "DCM-X4.use",
        False,
        DENY,
        context=cover("DCM", period(MEMBER_FROM, DCM_FRAUD - timedelta(minutes=1))),
        scenario=dcm_card,
    ),
    Case(
        "dcm_e3_fraud_one_microsecond_before_membership_ended_approves",
        "DCM-E3.period",
        False,
        APPROVE,
        context=cover("DCM", period(MEMBER_FROM, DCM_FRAUD + US)),
        scenario=dcm_card,
    ),
    Case(
        "dcm_e1_misuse_after_leaving_denies_under_e1",
        "DCM-E1.period",
        True,
        DENY,
        context=cover("DCM", period(MEMBER_FROM, DCM_FRAUD)),
    ),
    Case(
        "dcm_e2_misuse_after_leaving_denies_under_e2",
        "DCM-E2.period",
        True,
        DENY,
        E2,
        context=cover("DCM", period(MEMBER_FROM, DCM_FRAUD)),
    ),
    Case(
        "dcm_x4_e1_fraudulent_registration_before_membership_denies",
        "DCM-X4.registration",
        True,
        DENY,
        context=cover("DCM", period(DCM_REGISTERED + US)),
    ),
    Case(
        "dcm_x4_e1_registration_at_the_instant_membership_began_approves",
        "DCM-X4.registration",
        False,
        APPROVE,
        context=cover("DCM", period(DCM_REGISTERED)),
    ),
    Case(
        "dcm_x4_e1_no_registration_on_record_reviews",
        "DCM-X4.registration",
        True,
        REVIEW,
        context=regs(),
        missing="context.registrations",
    ),
    Case(
        "dcm_x4_e2_own_registration_before_membership_approves",
        "DCM-X4",
        False,
        APPROVE,
        E2,
        context=cover("DCM", period(DCM_REGISTERED + US)),
    ),
    Case(
        "dcm_x4_e2_no_registration_on_record_approves",
        "DCM-X4",
        False,
        APPROVE,
        E2,
        context=regs(),
    ),
    Case(
        "dcm_x4_e2_misuse_before_membership_denies",
        "DCM-X4.use",
        True,
        DENY,
        E2,
        context=cover("DCM", period(DCM_FRAUD + US)),
    ),
    Case("dcm_x4_no_membership_on_record_denies", "DCM-X4.use", True, DENY, context=cover("DCM")),
    Case(
        "dcm_x4_membership_not_provided_reviews",
        "DCM-X4.use",
        True,
        REVIEW,
        context=no_cover_record("DCM"),
        missing="context.coverage[DCM]",
    ),
]


def test_dcm_x4_registration_part_applies_to_e1_only() -> None:
    """Under E2 the registration is the member's own: X4.registration is NOT_APPLICABLE."""
    base = dcm()
    d = decide(E2(base.claim), regs()(base.context))
    assert d.clause("DCM-X4.registration").status is CheckStatus.NOT_APPLICABLE, d.trace()
    e1 = decide(base.claim, base.context)
    assert e1.clause("DCM-X4.registration").status is CheckStatus.PASS, e1.trace()


def test_dcm_e3_after_leaving_says_the_cover_ended() -> None:
    base = dcm_card()
    ended = DCM_FRAUD - timedelta(minutes=1)
    d = decide(base.claim, cover("DCM", period(MEMBER_FROM, ended))(base.context))
    assert d.outcome is DENY
    assert {c.label for c in d.fired} == {"DCM-E3.period"}, d.trace()
    assert "終了した後" in d.clause("DCM-E3.period").explanation_ja
    assert "開始前" not in d.clause("DCM-X4.use").explanation_ja


FACTS = ["DCM-X1", "DCM-X2", "DCM-X3", "DCM-X5", "DCM-X7", "DCM-X8", "DCM-X9", "DCM-X10"]
FACTS += ["DCM-X11", "DCM-X12", "DCM-X13"]


def _slug(cid: str) -> str:
    return cid.lower().replace("-", "_")


# DCM-X12 is attested only when a report is not shown made (the baseline shows both).
NO_POLICE = inc(police_reported_at=None, police_reported=False)
_BEFORE = {"DCM-X12": NO_POLICE}

EXCLUSIONS = [
    row
    for cid in FACTS
    for row in (
        Case(
            f"{_slug(cid)}_stated_true_denies",
            cid,
            True,
            DENY,
            both(_BEFORE.get(cid, top()), stated(cid)),
        ),
        Case(f"{_slug(cid)}_stated_false_approves", cid, False, APPROVE),
        Case(
            f"{_slug(cid)}_not_stated_reviews",
            cid,
            True,
            REVIEW,
            both(_BEFORE.get(cid, top()), unstated(cid)),
            missing=f"facts.exclusions[{cid}]",
        ),
    )
] + [
    # DCM-X12 ① police ② operator: reports shown made and nothing attested → it cannot apply.
    Case(
        "dcm_x12_police_report_instant_and_operator_answer_approve_unattested",
        "DCM-X12",
        False,
        APPROVE,
        unstated("DCM-X12"),
    ),
    Case(
        "dcm_x12_police_reported_without_the_instant_approves_unattested",
        "DCM-X12",
        False,
        APPROVE,
        both(inc(police_reported_at=None, police_reported=True), unstated("DCM-X12")),
    ),
    Case(
        "dcm_x12_card_police_and_issuer_reports_approve_unattested",
        "DCM-X12",
        False,
        APPROVE,
        unstated("DCM-X12"),
        scenario=dcm_card,
    ),
    Case(
        "dcm_x12_card_not_reported_to_the_issuer_is_attested",
        "DCM-X12",
        True,
        REVIEW,
        both(inc(reported_to_issuer_at=None), unstated("DCM-X12")),
        scenario=dcm_card,
        missing="facts.exclusions[DCM-X12]",
    ),
    # DCM-X12: a stated attestation decides, whatever report instants are sent.
    Case(
        "dcm_x12_attested_true_denies_beside_a_police_report_instant",
        "DCM-X12.attested",
        True,
        DENY,
        stated("DCM-X12"),
    ),
    Case(
        "dcm_x12_card_attested_true_denies_beside_police_and_issuer_reports",
        "DCM-X12.attested",
        True,
        DENY,
        stated("DCM-X12"),
        scenario=dcm_card,
    ),
    # DCM-X12 遅滞なく (ASSUMPTION report_delay_days = 30, counted from the day after
    # the fraud of 2026-05-10): 2026-06-09 24:00 JST is the last moment in time.
    Case(
        "dcm_x12_police_report_on_the_thirtieth_day_approves",
        "DCM-X12.police_delay",
        False,
        APPROVE,
        both(
            inc(police_reported_at=at_jst(2026, 6, 9, 23, 59)),
            top(claimed_at=at_jst(2026, 6, 20, 12)),
            unstated("DCM-X12"),
        ),
    ),
    Case(
        "dcm_x12_police_report_on_the_thirty_first_day_reviews",
        "DCM-X12.police_delay",
        True,
        REVIEW,
        both(
            inc(police_reported_at=at_jst(2026, 6, 10, 0)),
            top(claimed_at=at_jst(2026, 6, 20, 12)),
            unstated("DCM-X12"),
        ),
    ),
    Case(
        "dcm_x12_late_police_report_attested_false_still_reviews",
        "DCM-X12.police_delay",
        True,
        REVIEW,
        both(
            inc(police_reported_at=at_jst(2026, 6, 19, 12)),
            top(claimed_at=at_jst(2026, 6, 20, 12)),
            stated("DCM-X12", False),
        ),
    ),
    Case(
        "dcm_x12_card_issuer_report_forty_days_late_reviews",
        "DCM-X12.issuer_delay",
        True,
        REVIEW,
        both(
            inc(reported_to_issuer_at=at_jst(2026, 6, 19, 12)),
            top(claimed_at=at_jst(2026, 6, 20, 12)),
            unstated("DCM-X12"),
        ),
        scenario=dcm_card,
    ),
    Case(
        "dcm_x12_police_reported_without_an_instant_is_not_timed",
        "DCM-X12.police_delay",
        False,
        APPROVE,
        both(inc(police_reported_at=None, police_reported=True), unstated("DCM-X12")),
    ),
    Case(
        "dcm_x13_does_not_apply_to_card_fraud",
        "DCM-X13",
        False,
        APPROVE,
        stated("DCM-X13"),
        scenario=dcm_card,
    ),
    # DCM-X6: entrusted to others, unless the insured proves it unrelated (→ REVIEW)
    Case("dcm_x6_entrusted_to_others_denies", "DCM-X6", True, DENY, stated("DCM-X6")),
    Case(
        "dcm_x6_entrusted_but_proved_unrelated_reviews",
        "DCM-X6",
        True,
        REVIEW,
        lambda c: stated("DCM-X6.unrelated")(stated("DCM-X6")(c)),
    ),
    Case("dcm_x6_not_entrusted_approves", "DCM-X6", False, APPROVE),
]


@pytest.mark.parametrize("case", MEMBERSHIP + EXCLUSIONS, ids=case_ids(MEMBERSHIP + EXCLUSIONS))
def test_dcm_exclusions(case: Case) -> None:
    run_case(case, dcm)


# --------------------------------------------------------------------------- amounts

SERIES = "DCM-A1/customer:c-dcm/series:series-1"
# One incident: the instrument misused at one instant (2026-05-10 12:00 JST), in any series.
INCIDENT = "DCM-A1/customer:c-dcm/instrument:tok-card-1/at:2026-05-10T03:00:00.000000Z"
# The instrument's JST days (near_days = 1): the incident's own day and either side.
DAYS = "DCM-A1/customer:c-dcm/instrument:tok-card-1/day:"
DAY = f"{DAYS}2026-05-10"
PROGRAMME_2026 = "DCM-A4/programme/year:2026"

AMOUNTS = [
    # DCM-A2: minus what the operator compensates
    Case("dcm_a2_operator_compensation_is_deducted", "DCM-A2", True, APPROVE, payable=240_000),
    Case(
        "dcm_a2_nothing_compensated",
        "DCM-A2",
        False,
        APPROVE,
        money(recovered_yen=0),
        payable=290_000,
    ),
    Case(
        "dcm_a2_fully_compensated_leaves_nothing_and_denies",
        "DCM-A2",
        True,
        DENY,
        money(recovered_yen=300_000),
    ),
    # DCM-A3: points never covered
    Case("dcm_a3_points_are_excluded", "DCM-A3", True, APPROVE, payable=240_000),
    Case("dcm_a3_no_points", "DCM-A3", False, APPROVE, money(points_yen=0), payable=250_000),
    Case(
        "dcm_a3_loss_paid_entirely_in_points_denies",
        "DCM-A3",
        True,
        DENY,
        money(recovered_yen=0, points_yen=300_000),
    ),
    # DCM-A1: ¥1,000,000 per series of incidents
    Case(
        "dcm_a1_series_with_exactly_the_amount_left_pays_it_all",
        "DCM-A1",
        False,
        APPROVE,
        payable=240_000,
        ledger={SERIES: used(760_000)},
    ),
    Case(
        "dcm_a1_series_with_one_yen_less_left_caps_the_payout",
        "DCM-A1",
        True,
        APPROVE,
        payable=239_999,
        ledger={SERIES: used(760_001)},
    ),
    Case("dcm_a1_series_used_up_denies", "DCM-A1", True, DENY, ledger={SERIES: used(1_000_000)}),
    Case(
        "dcm_a1_another_series_is_not_affected",
        "DCM-A1",
        False,
        APPROVE,
        top(series_id="series-2"),
        payable=240_000,
        ledger={SERIES: used(1_000_000)},
    ),
    Case(
        "dcm_a1_claim_without_series_reviews_naming_series_id",
        "DCM-A1.per_series",
        True,
        REVIEW,
        top(series_id=""),
        missing="series_id",
    ),
    Case(
        "dcm_a1_incident_partly_paid_in_another_series_with_a_larger_loss_is_review",
        "DCM-A1.per_incident",
        True,
        REVIEW,
        top(series_id="series-fresh"),
        payable=0,  # not the ¥100,000 more: nothing is paid on top automatically
        ledger={INCIDENT: used(140_000, 1), DAY: used(140_000, 1)},
    ),
    Case(
        "dcm_a1_incident_already_paid_its_payable_pays_nothing_more",
        "DCM-A1.per_incident",
        True,
        DENY,
        top(series_id="series-fresh"),
        ledger={INCIDENT: used(240_000, 1), DAY: used(240_000, 1)},
    ),
    Case(
        "dcm_a1_incident_used_up_denies",
        "DCM-A1.per_incident",
        True,
        DENY,
        ledger={INCIDENT: used(1_000_000)},
    ),
    Case(
        "dcm_a1_the_instrument_misused_one_microsecond_after_a_paid_incident_is_review",
        "DCM-A1.per_incident",
        True,
        REVIEW,
        inc(fraud_at=at_jst(2026, 5, 10, 12) + US),
        payable=0,
        ledger={INCIDENT: used(240_000, 1), DAY: used(240_000, 1)},
    ),
    Case(
        "dcm_a1_the_instrument_paid_the_jst_day_before_is_review",
        "DCM-A1.per_incident",
        True,
        REVIEW,
        payable=0,
        ledger={f"{DAYS}2026-05-09": used(240_000, 1)},
    ),
    Case(
        "dcm_a1_the_instrument_paid_the_jst_day_after_is_review",
        "DCM-A1.per_incident",
        True,
        REVIEW,
        payable=0,
        ledger={f"{DAYS}2026-05-11": used(240_000, 1)},
    ),
    # DCM-A4: ¥1,000,000,000 a year for the programme (ASSUMPTION: from April 1, by claim date)
    Case(
        "dcm_a4_programme_with_exactly_the_amount_left_approves",
        "DCM-A4",
        False,
        APPROVE,
        payable=240_000,
        ledger={PROGRAMME_2026: used(999_760_000)},
    ),
    Case(
        "dcm_a4_programme_exceeded_by_one_yen_reviews",
        "DCM-A4",
        True,
        REVIEW,
        ledger={PROGRAMME_2026: used(999_760_001)},
    ),
    Case(
        "dcm_a4_claim_on_mar_31_2359_counts_in_the_programme_year_2026",
        "DCM-A4",
        True,
        REVIEW,
        top(claimed_at=at_jst(2027, 3, 31, 23, 59, 59, 999999)),
        ledger={PROGRAMME_2026: used(1_000_000_000)},
    ),
    Case(
        "dcm_a4_claim_on_apr_1_0000_counts_in_the_programme_year_2027",
        "DCM-A4",
        False,
        APPROVE,
        top(claimed_at=at_jst(2027, 4, 1)),
        ledger={PROGRAMME_2026: used(1_000_000_000)},
    ),
]


@pytest.mark.parametrize("case", AMOUNTS, ids=case_ids(AMOUNTS))
def test_dcm_amounts(case: Case) -> None:
    run_case(case, dcm)


def test_dcm_computation_steps_in_order() -> None:
    d = run_case(Case("x", "DCM-A1", False, APPROVE), dcm)
    steps = [(s.name.split(" ")[0], s.clause_id, s.input, s.output) for s in d.computation.steps]
    assert steps == [
        ("loss", "", 300_000, 300_000),
        ("minus", "DCM-A2", 300_000, 250_000),
        ("points", "DCM-A3", 250_000, 240_000),
        ("cap", "DCM-A1", 240_000, 240_000),
        ("cap", "DCM-A1", 240_000, 240_000),
        ("cap", "DCM-A4", 240_000, 240_000),
    ]
    assert {r.scope_key for r in d.reservations} == {SERIES, INCIDENT, DAY, PROGRAMME_2026}


def test_dcm_s1_d_barai_says_why() -> None:
    d = run_case(
        Case(
            "x",
            "DCM-S1",
            True,
            REVIEW,
            inc(payment_service_id="d-barai"),
            ctx(
                registrations=(dcm_registration(service="d-barai"),),
                logins=(dcm_login(service="d-barai"),),
            ),
        ),
        dcm,
    )
    assert "公表されておらず" in d.clause("DCM-S1").explanation_ja
    assert d.clause("DCM-S3").status.value == "UNKNOWN"


# ----------------------------------------------------------------- DCM-A1, claim after claim
# 「一連の事故につき100万円を限度」: the same incident claimed again, with or without series_id.

FULL = money(loss_yen=700_000, recovered_yen=0, points_yen=0)


def _decided(scenario: Callable[[], Scenario], *edits: ClaimEdit) -> list[Decision]:
    base = scenario()
    claims: list[ClaimFacts] = [
        replace(e(base.claim), claim_id=f"dcm-claim-{i}") for i, e in enumerate(edits, 1)
    ]
    return decide_in_turn(claims, base.context)


def _paid(scenario: Callable[[], Scenario], *edits: ClaimEdit) -> list[tuple[str, int]]:
    return [(d.outcome.value, d.payable_yen) for d in _decided(scenario, *edits)]


def test_dcm_a1_per_incident_same_incident_twice_in_its_series_pays_nothing_more() -> None:
    """The loss is paid once: the exact duplicate (a new claim id) is DENY, with a text
    saying an earlier decision paid it."""
    in_series = both(FULL, top(series_id="s-1"))
    assert _paid(dcm, in_series, in_series) == [("APPROVE", 700_000), ("DENY", 0)]
    base = dcm()
    first, again = (replace(in_series(base.claim), claim_id=f"dcm-claim-{i}") for i in (1, 2))
    _, second = decide_in_turn([first, again], base.context)
    finding = second.clause("DCM-A1.per_incident")
    assert finding.status.value == "FAIL" and "以前の決定で既に" in finding.explanation_ja


def test_dcm_a1_per_incident_same_incident_with_a_larger_loss_is_review() -> None:
    """¥700,000 paid in s-1, then the same incident in s-2 stated as ¥900,000: REVIEW, not
    the ¥200,000 more."""
    first = both(FULL, top(series_id="s-1"))
    larger = both(money(loss_yen=900_000, recovered_yen=0, points_yen=0), top(series_id="s-2"))
    assert _paid(dcm, first, larger) == [("APPROVE", 700_000), ("REVIEW", 0)]
    d = _decided(dcm, first, larger)[1]
    # Two reasons for a human: the loss grew, and the incident's series changed (s-1 → s-2).
    assert [c.label for c in d.fired] == ["DCM-A1.per_series", "DCM-A1.per_incident"], d.trace()
    assert "それを超える損害" in d.clause("DCM-A1.per_incident").explanation_ja
    assert "別の一連の事故として" in d.clause("DCM-A1.per_series").explanation_ja


def test_dcm_a1_per_incident_same_instant_in_utc_in_a_fresh_series_is_the_same_incident() -> None:
    first = both(FULL, top(series_id="s-1"))
    utc = at_jst(2026, 5, 10, 12).astimezone(UTC)
    in_utc = both(FULL, top(series_id="s-2"), inc(fraud_at=utc))
    assert _paid(dcm, first, in_utc) == [("APPROVE", 700_000), ("DENY", 0)]


def test_dcm_a1_per_incident_another_incident_two_jst_days_away_pays_in_the_series() -> None:
    """The card's loss of 2026-05-10 12:00 JST paid ¥700,000 in s-1; another of the card on
    05-08 23:59:59.999999 JST (two JST days before) is another incident: s-1 has ¥300,000 left."""
    first = both(FULL, top(series_id="s-1"))
    earlier = both(FULL, top(series_id="s-1"), inc(fraud_at=at_jst(2026, 5, 8, 23, 59, 59, 999999)))
    assert _paid(dcm_card, first, earlier) == [("APPROVE", 700_000), ("APPROVE", 300_000)]


def test_dcm_a1_per_incident_another_instrument_the_same_day_pays() -> None:
    first = both(money(loss_yen=80_000), top(series_id="s-1"))
    other = both(first, inc(card_token="tok-card-10", fraud_at=DCM_FRAUD + US))
    assert _paid(dcm_card, first, other) == [("APPROVE", 80_000), ("APPROVE", 80_000)]


@pytest.mark.parametrize(
    ("scenario", "fraud_at"),
    [
        pytest.param(dcm, DCM_FRAUD + US, id="qr_one_microsecond_later"),
        pytest.param(dcm, DCM_FRAUD + timedelta(minutes=1), id="qr_one_minute_later"),
        pytest.param(dcm_card, at_jst(2026, 5, 9), id="card_the_jst_day_before_at_0000"),
        pytest.param(dcm_card, at_jst(2026, 5, 11, 8, 59), id="card_the_jst_day_after"),
    ],
)
def test_dcm_a1_per_incident_the_instrument_again_within_a_jst_day_is_review(
    scenario: Callable[[], Scenario], fraud_at: datetime
) -> None:
    """The instrument's loss of 2026-05-10 12:00 JST paid, and the instrument's loss stated
    at another instant of 05-09 .. 05-11 in the same series: the same loss at a moved
    instant? A human looks; nothing is paid."""
    first = both(FULL, top(series_id="s-1"))
    later = both(FULL, top(series_id="s-1"), inc(fraud_at=fraud_at))
    paid, again = _decided(scenario, first, later)
    assert (paid.outcome, paid.payable_yen) == (APPROVE, 700_000)
    assert (again.outcome, again.payable_yen, again.reservations) == (REVIEW, 0, ()), again.trace()
    assert [c.label for c in again.fired] == ["DCM-A1.per_incident"], again.trace()
    assert "前後1日以内" in again.clause("DCM-A1.per_incident").explanation_ja


def test_dcm_a1_per_series_a19b_series_then_without_series_is_review_naming_series_id() -> None:
    """A19b break B: s-9 paid ¥700k, then the same incident without series_id must not
    escape the series limit: REVIEW naming series_id (missing_series = review)."""
    in_series = both(FULL, top(series_id="s-9"))
    no_series = both(FULL, top(series_id=""))
    # The same incident: already paid in full (DENY per_incident outranks the REVIEW).
    assert _paid(dcm, in_series, no_series) == [("APPROVE", 700_000), ("DENY", 0)]
    # Another incident without series_id: its series is unknown, so is its cap.
    later = both(no_series, inc(fraud_at=at_jst(2026, 5, 10, 13)))
    assert _paid(dcm, in_series, later) == [("APPROVE", 700_000), ("REVIEW", 0)]
    assert _paid(dcm_card, both(money(loss_yen=700_000), top(series_id=""))) == [("REVIEW", 0)]


@pytest.mark.parametrize(
    "kind",
    [
        K.REFUSED_RECEIVING_AGENT,
        K.REFUSED_DUTY_NEGLECTED,
        K.REFUSED_FALSE_REPORT,
        K.REFUSED_TERMS_BREACH,
    ],
)
def test_dcm_c1_a_stated_answer_is_never_listed_as_missing(kind: K) -> None:
    """The answer was sent: DCM-C1 goes to a human (the text is silent on it), and
    missing_facts does not name qr_payment.operator_answer; only PENDING lacks one."""
    base = dcm()
    d = decide(inc(operator_answer=answer(kind))(base.claim), base.context)
    r = d.clause("DCM-C1")
    assert d.outcome is REVIEW, d.trace()
    assert r.effect.value == "REVIEW" and r.missing_facts == (), d.trace()
    assert "qr_payment.operator_answer" not in d.missing_facts, d.trace()
    assert "不足している事実" not in d.summary_ja
    pending = decide(inc(operator_answer=answer(K.PENDING))(base.claim), base.context)
    assert pending.clause("DCM-C1").missing_facts == ("qr_payment.operator_answer",)


def test_dcm_a1_missing_series_review_sends_a_claim_without_series_to_a_human() -> None:
    """「一連の事故につき」: the series decides the cap; not stated → REVIEW naming it, and
    the claim form says so; with a series_id the claim is decided as usual."""
    policy = load_policies(BUILTIN_POLICIES_DIR).get("DCM")
    base = dcm()
    for series, outcome in (("", REVIEW), ("series-1", APPROVE)):
        claim = top(series_id=series)(base.claim)
        ledger = {k: LedgerUsage() for k in ledger_scopes(policy, claim, base.context)}
        d = evaluate(policy, claim, replace(base.context, ledger=ledger))
        assert d.outcome is outcome, d.trace()
        assert d.missing_facts == (("series_id",) if outcome is REVIEW else ()), d.trace()
    for kind in ("qr_payment", "card_fraud"):
        form = {f.path: f for f in claim_form(policy, kind)}
        assert form["series_id"].if_absent.startswith("REVIEW: DCM-A1"), kind


def test_dcm_a1_per_series_a_refused_incident_restated_in_another_series_is_review() -> None:
    """「一連の事故につき100万円を限度」 (A19c break B1): series S paid ¥600,000 and ¥400,000;
    its third incident was DENY (the series' ¥1,000,000 used). The same incident
    (instrument, instant) claimed again under series S-fresh met a fresh limit and was
    paid ¥600,000: ¥1,600,000 for one declared 一連の事故. The claimant's statement
    changed: REVIEW, nothing paid; the same statement again stays DENY."""
    loss = money(loss_yen=600_000, recovered_yen=0, points_yen=0)
    s = top(series_id="S")

    def on(day: int) -> ClaimEdit:  # each incident noticed and reported the next day
        return inc(
            fraud_at=at_jst(2026, 5, day, 12),
            notified_at=at_jst(2026, 5, day + 1, 10),
            police_reported_at=at_jst(2026, 5, day + 1, 11),
        )

    first, second, third = (both(s, loss, on(d)) for d in (10, 12, 14))
    fresh = both(top(series_id="S-fresh"), loss, on(14))
    assert _paid(dcm, first, second, third, fresh) == [
        ("APPROVE", 600_000),
        ("APPROVE", 400_000),
        ("DENY", 0),
        ("REVIEW", 0),
    ]
    last = _decided(dcm, first, second, third, fresh)[-1]
    # The series changed (per_series) and the incident was refused before (per_incident).
    assert [c.label for c in last.fired] == ["DCM-A1.per_series", "DCM-A1.per_incident"]
    assert "別の一連の事故として" in last.clause("DCM-A1.per_series").explanation_ja
    assert _paid(dcm, first, second, third, third)[-1] == ("DENY", 0)
    # Another incident (another instant, two JST days away) in a new series still pays.
    assert _paid(dcm, first, both(top(series_id="S-2"), loss, on(12)))[-1] == ("APPROVE", 600_000)


def test_dcm_a1_a_review_asking_for_the_series_answered_with_one_decides() -> None:
    """A19f F2: a claim without series_id is REVIEW naming series_id (missing_series =
    review); the documented answer — the same claim with its series — was REVIEW again
    (「…別の一連の事故として…」), as if the claimant had stated another series. A claim
    stating no series states nothing a later series contradicts."""
    loss = both(money(loss_yen=600_000, recovered_yen=0, points_yen=0), top(series_id=""))
    asked = _decided(dcm, loss)[0]
    assert (
        asked.outcome is REVIEW and "series_id" in asked.clause("DCM-A1.per_series").missing_facts
    )
    paid = _paid(dcm, loss, both(loss, top(series_id="SA")))
    assert paid == [("REVIEW", 0), ("APPROVE", 600_000)], paid


def test_dcm_c1_an_answer_the_clause_leaves_to_a_human_told_again_is_review() -> None:
    """A19g B1: the operator refused for a receiving agent's misuse — DCM-C1 does not
    provide for it, a human decides (REVIEW, no fact missing). Re-sent at the same
    instant as NOT_COMPENSATED it was paid while the REVIEW waited. A REVIEW naming no
    missing fact holds the incident back (``held_back``)."""
    refused_for_agent = both(FULL, inc(operator_answer=answer(K.REFUSED_RECEIVING_AGENT)))
    not_compensated = both(FULL, inc(operator_answer=answer(K.NOT_COMPENSATED)))
    first, again = _decided(dcm, refused_for_agent, not_compensated)
    assert first.outcome is REVIEW and not first.clause("DCM-C1").missing_facts, first.trace()
    assert (again.outcome, again.payable_yen) == (REVIEW, 0), again.trace()
    assert "人による審査が必要と判定" in again.clause("DCM-A1.per_incident").explanation_ja


def test_dcm_c1_compensated_without_the_amount_recovered_is_review() -> None:
    """A19g B2: 「決済事業者等から補償を受けられる額を除きます」 — an answer COMPENSATED
    with amounts.recovered_yen left out (0) was paid the whole loss. The amount to
    deduct is not stated: REVIEW naming it; stated, the claim decides."""
    compensated = answer(K.COMPENSATED)
    (silent,) = _decided(dcm, both(FULL, inc(operator_answer=compensated)))
    assert (silent.outcome, silent.payable_yen) == (REVIEW, 0), silent.trace()
    assert "amounts.recovered_yen" in silent.clause("DCM-C1").explanation_ja
    stated = money(loss_yen=700_000, recovered_yen=100_000, points_yen=0)
    (d,) = _decided(dcm, both(stated, inc(operator_answer=compensated)))
    assert (d.outcome, d.payable_yen) == (APPROVE, 600_000), d.trace()
    # A19h: re-sent with the answer turned into NOT_COMPENSATED instead of the amount
    # stated, it was paid the whole loss. The REVIEW holds the incident back.
    not_compensated = both(FULL, inc(operator_answer=answer(K.NOT_COMPENSATED)))
    first, again = _decided(dcm, both(FULL, inc(operator_answer=compensated)), not_compensated)
    assert (first.outcome, again.outcome, again.payable_yen) == (REVIEW, REVIEW, 0), again.trace()
