"""DCM-S1..S3, KDN-X1, DCM-T, DCM-C4: the security standard of registrations and logins.

Each table row reads: what the payment app reported → what each clause says.
PASS means the customer meets the clause (for KDN-X1: the exclusion does not fire).
"""

from __future__ import annotations

import enum
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from checks import event_model
from checks.event_model import (
    Authentication,
    CarrierLine,
    FundingSource,
    Instrument,
    InstrumentKind,
    Judgement,
    NoAuthentication,
    Otp,
    OtpChannel,
    PasswordOnly,
    PaymentLogin,
    PaymentLoginMethod,
    Registration,
    ThreeDSecure,
)
from checks.model import CheckStatus
from checks.security_standard import (
    LOGIN_CLAUSES,
    REGISTRATION_CLAUSES,
    PaymentMethod,
    SecurityStandardSettings,
    judge_payment_login,
    judge_payment_method,
    judge_registration,
)
from rules.load import load_rules
from timing import at_jst

# As the server judges: events.toml, with the DCM-T table and clause texts of the policy files.
SECURITY = load_rules().events.security

PASS = CheckStatus.PASS
FAIL = CheckStatus.FAIL
UNKNOWN = CheckStatus.UNKNOWN
NA = CheckStatus.NOT_APPLICABLE

AT = at_jst(2026, 3, 1, 10, 0)
RETIRED = datetime(2022, 10, 15, tzinfo=UTC)  # 3DS 1.0.x retirement (ASSUMPTION default)
ONE_MICROSECOND = timedelta(microseconds=1)

CREDIT_CARD = InstrumentKind.CREDIT_CARD
DEBIT_CARD = InstrumentKind.DEBIT_CARD
BANK_ACCOUNT = InstrumentKind.BANK_ACCOUNT


def register(
    auth: Authentication | None,
    *,
    kind: InstrumentKind = CREDIT_CARD,
    funding: FundingSource = FundingSource.NONE,
    issued_in_japan: bool | None = True,
    at: datetime = AT,
    settings: SecurityStandardSettings | None = None,
) -> dict[str, Judgement]:
    reg = Registration(
        client_event_id="evt-1",
        customer_id="member-1",
        event_time=at,
        payment_service_id="paypay",
        instrument=Instrument("tok-1", "4242", kind, funding, issued_in_japan),
        authentication=auth,
    )
    result = judge_registration(reg, settings or SECURITY)
    assert tuple(j.clause_id for j in result) == REGISTRATION_CLAUSES
    return {j.clause_id: j for j in result}


def login(
    method: PaymentLoginMethod,
    otp: Otp | None = None,
    settings: SecurityStandardSettings | None = None,
) -> dict[str, Judgement]:
    event = PaymentLogin("evt-2", "member-1", AT, "paypay", method, otp, "device-1")
    result = judge_payment_login(event, settings or SECURITY)
    assert tuple(j.clause_id for j in result) == LOGIN_CLAUSES
    return {j.clause_id: j for j in result}


def three_ds(status: str, eci: str = "", version: str = "2.2.0") -> ThreeDSecure:
    return ThreeDSecure(protocol_version=version, trans_status=status, eci=eci)


# --------------------------------------------------------------------------- DCM-S1 / KDN-X1


@pytest.mark.parametrize(
    ("trans_status", "eci", "status", "reason"),
    [
        # Y = authenticated: a pass, if the ECI agrees (05 Visa/JCB/Amex, 02 Mastercard).
        ("Y", "05", PASS, "three_ds_authenticated"),
        ("Y", "02", PASS, "three_ds_authenticated"),
        ("Y", "", PASS, "three_ds_authenticated"),  # ECI not reported: nothing contradicts Y
        ("y", "5", PASS, "three_ds_authenticated"),  # normalised: lower case, one-digit ECI
        # Y with an ECI that says "attempt" or "no authentication": contradictory → UNKNOWN.
        ("Y", "06", UNKNOWN, "eci_contradicts_trans_status"),
        ("Y", "01", UNKNOWN, "eci_contradicts_trans_status"),
        ("Y", "07", UNKNOWN, "eci_contradicts_trans_status"),
        ("Y", "00", UNKNOWN, "eci_contradicts_trans_status"),
        ("Y", "99", UNKNOWN, "eci_unrecognised"),
        # A = attempt only: not a pass by default (accept_3ds_attempt=False).
        ("A", "06", FAIL, "three_ds_attempt_only"),
        ("A", "01", FAIL, "three_ds_attempt_only"),
        ("A", "05", UNKNOWN, "eci_contradicts_trans_status"),  # ECI claims full authentication
        # N / U / R / I: no authentication.
        ("N", "07", FAIL, "three_ds_not_authenticated"),
        ("U", "", FAIL, "three_ds_unavailable"),
        ("R", "", FAIL, "three_ds_rejected"),
        ("I", "", FAIL, "three_ds_informational_only"),
        # C / D: a challenge was still required — not a final result.
        ("C", "", UNKNOWN, "three_ds_challenge_not_final"),
        ("D", "", UNKNOWN, "three_ds_decoupled_not_final"),
        ("", "", UNKNOWN, "three_ds_status_unrecognised"),
        ("X", "05", UNKNOWN, "three_ds_status_unrecognised"),
    ],
)
def test_dcm_s1_and_kdn_x1_three_d_secure_result(
    trans_status: str, eci: str, status: CheckStatus, reason: str
) -> None:
    j = register(three_ds(trans_status, eci))
    for clause in ("DCM-S1", "KDN-X1"):
        assert (j[clause].status, j[clause].reason) == (status, reason), clause
    assert j["DCM-S2"].status is NA  # a card, not a bank account


@pytest.mark.parametrize(
    ("trans_status", "eci", "status", "reason"),
    [
        ("A", "06", PASS, "three_ds_attempt_accepted"),
        ("A", "01", PASS, "three_ds_attempt_accepted"),
        ("A", "", PASS, "three_ds_attempt_accepted"),
        ("A", "07", UNKNOWN, "eci_contradicts_trans_status"),
        ("A", "05", UNKNOWN, "eci_contradicts_trans_status"),
        ("A", "42", UNKNOWN, "eci_unrecognised"),
        ("Y", "05", PASS, "three_ds_authenticated"),
        ("N", "", FAIL, "three_ds_not_authenticated"),
    ],
)
def test_dcm_s1_attempt_accepted_when_configured(
    trans_status: str, eci: str, status: CheckStatus, reason: str
) -> None:
    attempt_ok = SecurityStandardSettings(accept_3ds_attempt=True)
    j = register(three_ds(trans_status, eci), settings=attempt_ok)
    assert (j["DCM-S1"].status, j["DCM-S1"].reason) == (status, reason)
    assert j["KDN-X1"].status is status


@pytest.mark.parametrize(
    ("version", "at", "status", "reason"),
    [
        ("1.0.2", RETIRED - ONE_MICROSECOND, PASS, "three_ds_authenticated"),
        ("1.0.2", RETIRED, FAIL, "three_ds_1_retired"),
        ("1.0.2", RETIRED + timedelta(days=365), FAIL, "three_ds_1_retired"),
        ("2.2.0", RETIRED, PASS, "three_ds_authenticated"),
        ("2.1.0", RETIRED - ONE_MICROSECOND, PASS, "three_ds_authenticated"),
        # Version not reported: irrelevant before retirement, undecidable after.
        ("", RETIRED - ONE_MICROSECOND, PASS, "three_ds_authenticated"),
        ("", RETIRED, UNKNOWN, "three_ds_protocol_version_missing"),
        ("9.9.9", RETIRED - ONE_MICROSECOND, UNKNOWN, "three_ds_protocol_version_unrecognised"),
        ("v2", RETIRED, UNKNOWN, "three_ds_protocol_version_unrecognised"),
    ],
)
def test_dcm_s1_three_d_secure_1_retirement(
    version: str, at: datetime, status: CheckStatus, reason: str
) -> None:
    j = register(three_ds("Y", "05", version), at=at)
    assert (j["DCM-S1"].status, j["DCM-S1"].reason) == (status, reason)
    assert j["KDN-X1"].status is status


def test_dcm_s1_retirement_instant_is_a_parameter() -> None:
    later = SecurityStandardSettings(three_ds_1_retired_at=datetime(2030, 1, 1, tzinfo=UTC))
    j = register(three_ds("Y", "05", "1.0.2"), at=AT, settings=later)
    assert j["DCM-S1"].status is PASS


@pytest.mark.parametrize("kind", [CREDIT_CARD, DEBIT_CARD])
@pytest.mark.parametrize(
    ("auth", "status", "reason"),
    [
        (
            Otp(OtpChannel.SMS, sent_to_qr_registered_phone=False),
            FAIL,
            "card_registered_with_otp_not_3ds",
        ),
        (CarrierLine("docomo"), FAIL, "card_registered_with_carrier_line_not_3ds"),
        (PasswordOnly(), FAIL, "card_registered_with_password_only"),
        (NoAuthentication(), FAIL, "card_registered_without_authentication"),
        (None, UNKNOWN, "authentication_not_reported"),
    ],
    ids=["otp", "carrier_line", "password_only", "none", "not_reported"],
)
def test_dcm_s1_and_kdn_x1_card_without_three_d_secure(
    kind: InstrumentKind, auth: Authentication | None, status: CheckStatus, reason: str
) -> None:
    j = register(auth, kind=kind)
    for clause in ("DCM-S1", "KDN-X1"):
        assert (j[clause].status, j[clause].reason) == (status, reason), clause


# --------------------------------------------------------------------------- DCM-S2

SMS, VOICE, APP = OtpChannel.SMS, OtpChannel.VOICE, OtpChannel.APP
HARDWARE_TOKEN, EMAIL = OtpChannel.HARDWARE_TOKEN, OtpChannel.EMAIL
UNSPECIFIED = OtpChannel.UNSPECIFIED


@pytest.mark.parametrize(
    ("auth", "status", "reason"),
    [
        # An OTP by SMS / voice to the phone registered with the QR service does not count.
        (Otp(SMS, True), FAIL, "otp_sent_to_qr_registered_phone"),
        (Otp(SMS, False), PASS, "otp_sent_to_other_phone"),
        (Otp(SMS, None), UNKNOWN, "otp_destination_unknown"),
        (Otp(VOICE, True), FAIL, "otp_sent_to_qr_registered_phone"),
        (Otp(VOICE, False), PASS, "otp_sent_to_other_phone"),
        (Otp(VOICE, None), UNKNOWN, "otp_destination_unknown"),
        # App / hardware token OTPs are not sent to a phone number.
        (Otp(APP), PASS, "otp_app_or_token"),
        (Otp(HARDWARE_TOKEN, False), PASS, "otp_app_or_token"),
        (Otp(APP, True), UNKNOWN, "otp_destination_contradicts_channel"),
        # E-mail OTP: an OTP (ASSUMPTION accept_email_otp=True by default).
        (Otp(EMAIL), PASS, "otp_email_accepted"),
        (Otp(EMAIL, True), UNKNOWN, "otp_destination_contradicts_channel"),
        # Channel not reported.
        (Otp(UNSPECIFIED, True), FAIL, "otp_sent_to_qr_registered_phone"),
        (Otp(UNSPECIFIED, False), UNKNOWN, "otp_channel_unknown"),
        (Otp(UNSPECIFIED, None), UNKNOWN, "otp_channel_unknown"),
        # Not an OTP at all.
        (three_ds("Y", "05"), FAIL, "bank_account_registered_with_3ds_not_otp"),
        (CarrierLine("docomo"), FAIL, "bank_account_registered_with_carrier_line_not_otp"),
        (PasswordOnly(), FAIL, "bank_account_registered_with_password_only"),
        (NoAuthentication(), FAIL, "bank_account_registered_without_authentication"),
        (None, UNKNOWN, "authentication_not_reported"),
    ],
    ids=lambda v: v.name if isinstance(v, CheckStatus) else None,
)
def test_dcm_s2_bank_account_otp(
    auth: Authentication | None, status: CheckStatus, reason: str
) -> None:
    j = register(auth, kind=BANK_ACCOUNT, funding=FundingSource.BANK_ACCOUNT)
    assert (j["DCM-S2"].status, j["DCM-S2"].reason) == (status, reason)
    # S1 and the 3-D Secure part of KDN-X1 concern cards only.
    assert j["DCM-S1"].status is NA
    assert j["KDN-X1"].status is NA


def test_dcm_s2_email_otp_can_be_refused_by_setting() -> None:
    strict = SecurityStandardSettings(accept_email_otp=False)
    j = register(Otp(EMAIL), kind=BANK_ACCOUNT, funding=FundingSource.BANK_ACCOUNT, settings=strict)
    assert (j["DCM-S2"].status, j["DCM-S2"].reason) == (FAIL, "otp_email_not_accepted")


@pytest.mark.parametrize(
    ("kind", "s1", "s2", "kdn_x1"),
    [
        (CREDIT_CARD, PASS, NA, PASS),
        (DEBIT_CARD, PASS, NA, PASS),
        (BANK_ACCOUNT, NA, FAIL, NA),  # 3-D Secure evidence on a bank account is not an OTP
        (InstrumentKind.PREPAID_CARD, NA, NA, NA),
        (InstrumentKind.POSTPAID_EMONEY, NA, NA, NA),
        (InstrumentKind.UNSPECIFIED, UNKNOWN, UNKNOWN, UNKNOWN),
    ],
)
def test_which_clause_applies_to_which_instrument(
    kind: InstrumentKind, s1: CheckStatus, s2: CheckStatus, kdn_x1: CheckStatus
) -> None:
    j = register(three_ds("Y", "05"), kind=kind)
    assert (j["DCM-S1"].status, j["DCM-S2"].status, j["KDN-X1"].status) == (s1, s2, kdn_x1)


# --------------------------------------------------------------------------- DCM-T

QR = PaymentMethod.QR_CODE_PAYMENT
F = FundingSource


@pytest.mark.parametrize(
    ("method", "funding", "status"),
    [
        # QRコード決済サービスにおける補償可否
        (QR, F.CREDIT_CARD, PASS),
        (QR, F.BANK_ACCOUNT, PASS),
        (QR, F.CASH_CHARGE, PASS),  # 銀行口座振替 ※現金チャージ含む
        (QR, F.OPERATOR_POINTS, FAIL),
        # QRコード決済サービス以外における補償可否
        (PaymentMethod.CREDIT_CARD, F.BANK_ACCOUNT, PASS),
        (PaymentMethod.DEBIT_CARD, F.BANK_ACCOUNT, PASS),
        (PaymentMethod.POSTPAID_EMONEY, F.CREDIT_CARD, PASS),
        (PaymentMethod.POSTPAID_EMONEY, F.BANK_ACCOUNT, PASS),
        (PaymentMethod.POSTPAID_EMONEY, F.DEBIT_CARD, PASS),
        (PaymentMethod.POSTPAID_EMONEY, F.PREPAID, FAIL),
        (PaymentMethod.PREPAID_CARD, F.CASH_CHARGE, FAIL),
        (PaymentMethod.PREPAID_CARD, F.UNSPECIFIED, FAIL),  # "—": whatever the funding
        (PaymentMethod.PREPAID_IC_EMONEY, F.CREDIT_CARD, FAIL),
        (PaymentMethod.PREPAID_IC_EMONEY, F.BANK_ACCOUNT, FAIL),
        # Not in the table → UNKNOWN (the text is silent).
        (PaymentMethod.POSTPAID_EMONEY, F.CASH_CHARGE, UNKNOWN),
        (PaymentMethod.PREPAID_IC_EMONEY, F.CASH_CHARGE, UNKNOWN),
        (PaymentMethod.DEBIT_CARD, F.CREDIT_CARD, UNKNOWN),
        # ASSUMPTIONs: QR funded by an international-brand debit card (クレジットカード等);
        # a card's own funding (NONE) is its bank-account settlement.
        (QR, F.DEBIT_CARD, PASS),
        (PaymentMethod.CREDIT_CARD, F.NONE, PASS),
        (PaymentMethod.DEBIT_CARD, F.NONE, PASS),
    ],
)
def test_dcm_t_each_row(method: PaymentMethod, funding: FundingSource, status: CheckStatus) -> None:
    j = judge_payment_method(method, funding, SECURITY)
    assert j.clause_id == "DCM-T"
    assert j.status is status
    assert j.compared


def test_dcm_t_table_has_the_twelve_rows_of_the_seed() -> None:
    assert len(SECURITY.payment_table) == 12
    assert sum(row.covered for row in SECURITY.payment_table) == 7


def test_dcm_t_assumptions_can_be_switched_off() -> None:
    strict = replace(
        SECURITY, dcm_t_qr_debit_card_covered=False, card_own_funding_is_bank_account=False
    )
    assert judge_payment_method(QR, F.DEBIT_CARD, strict).status is FAIL
    assert judge_payment_method(PaymentMethod.CREDIT_CARD, F.NONE, strict).status is UNKNOWN


@pytest.mark.parametrize(
    ("kind", "funding", "status"),
    [
        (CREDIT_CARD, F.NONE, PASS),  # QR funded by a credit card
        (DEBIT_CARD, F.BANK_ACCOUNT, PASS),  # QR funded by a debit card (ASSUMPTION)
        (BANK_ACCOUNT, F.BANK_ACCOUNT, PASS),  # QR funded by bank account
        (BANK_ACCOUNT, F.CASH_CHARGE, PASS),  # cash charge counts as the bank-account row
        (BANK_ACCOUNT, F.OPERATOR_POINTS, FAIL),  # QR funded by operator points
        (InstrumentKind.PREPAID_CARD, F.CASH_CHARGE, FAIL),
        (InstrumentKind.PREPAID_IC_EMONEY, F.CREDIT_CARD, FAIL),
        (InstrumentKind.POSTPAID_EMONEY, F.CREDIT_CARD, PASS),
        (InstrumentKind.UNSPECIFIED, F.UNSPECIFIED, UNKNOWN),
    ],
)
def test_dcm_t_for_a_registration(
    kind: InstrumentKind, funding: FundingSource, status: CheckStatus
) -> None:
    assert register(three_ds("Y", "05"), kind=kind, funding=funding)["DCM-T"].status is status


# --------------------------------------------------------------------------- DCM-C4


@pytest.mark.parametrize(
    ("issued_in_japan", "status", "reason"),
    [
        (True, PASS, "issued_in_japan"),
        (False, FAIL, "issued_abroad"),
        (None, UNKNOWN, "issuing_country_unknown"),
    ],
)
@pytest.mark.parametrize("kind", [CREDIT_CARD, BANK_ACCOUNT])
def test_dcm_c4_issued_in_japan(
    kind: InstrumentKind, issued_in_japan: bool | None, status: CheckStatus, reason: str
) -> None:
    j = register(three_ds("Y", "05"), kind=kind, issued_in_japan=issued_in_japan)
    assert (j["DCM-C4"].status, j["DCM-C4"].reason) == (status, reason)


# --------------------------------------------------------------------------- DCM-S3 / KDN-X1 login

M = PaymentLoginMethod


@pytest.mark.parametrize(
    ("method", "otp", "s3", "kdn_x1"),
    [
        (M.OTP_TWO_STEP, None, PASS, PASS),
        (M.OTP_TWO_STEP, Otp(SMS, True), PASS, PASS),  # S3 has no carve-out for the QR phone
        (M.OTP_TWO_STEP, Otp(APP), PASS, PASS),
        (M.OTP_TWO_STEP, Otp(EMAIL), PASS, PASS),  # ASSUMPTION accept_email_otp=True
        (M.CARRIER_LINE, None, PASS, FAIL),  # 通信回線認証 is named in S3, but is not an OTP
        (M.PASSWORD_ONLY, None, FAIL, FAIL),
        (M.BIOMETRIC_REGISTERED_DEVICE, None, FAIL, FAIL),  # ASSUMPTION: not named in S3
        (M.PASSKEY, None, FAIL, FAIL),  # ASSUMPTION: not named in S3
        (M.UNSPECIFIED, None, UNKNOWN, UNKNOWN),
    ],
    ids=lambda v: v.name if isinstance(v, PaymentLoginMethod) else None,
)
def test_dcm_s3_and_kdn_x1_login_method(
    method: PaymentLoginMethod, otp: Otp | None, s3: CheckStatus, kdn_x1: CheckStatus
) -> None:
    j = login(method, otp)
    assert (j["DCM-S3"].status, j["KDN-X1"].status) == (s3, kdn_x1)


@pytest.mark.parametrize(
    ("settings", "method", "otp", "s3", "kdn_x1"),
    [
        (
            SecurityStandardSettings(s3_accept_biometric_registered_device=True),
            M.BIOMETRIC_REGISTERED_DEVICE,
            None,
            PASS,
            FAIL,
        ),
        (SecurityStandardSettings(s3_accept_passkey=True), M.PASSKEY, None, PASS, FAIL),
        (SecurityStandardSettings(accept_email_otp=False), M.OTP_TWO_STEP, Otp(EMAIL), FAIL, FAIL),
        (SecurityStandardSettings(accept_email_otp=False), M.OTP_TWO_STEP, Otp(SMS), PASS, PASS),
    ],
    ids=["biometric_accepted", "passkey_accepted", "email_refused", "sms_with_email_refused"],
)
def test_dcm_s3_assumption_parameters(
    settings: SecurityStandardSettings,
    method: PaymentLoginMethod,
    otp: Otp | None,
    s3: CheckStatus,
    kdn_x1: CheckStatus,
) -> None:
    j = login(method, otp, settings)
    assert (j["DCM-S3"].status, j["KDN-X1"].status) == (s3, kdn_x1)


def test_kdn_x1_carrier_line_login_reason() -> None:
    j = login(M.CARRIER_LINE)["KDN-X1"]
    assert j.reason == "login_carrier_line_not_otp"
    assert "通信回線認証" in j.explanation_ja
    assert "KDN-X1" in j.explanation_ja


# --------------------------------------------------------------------------- d払い / ドコモ払い


@pytest.mark.parametrize("service", ["d-barai", "docomo-barai"])
def test_dcm_s1_to_s3_unknown_for_d_barai_whose_standard_is_not_published(service: str) -> None:
    # Seed 003: 「d払い、ドコモ払い利用時のセキュリティ基準については…ご連絡ください」
    card = Registration(
        "e", "c", AT, service, Instrument("t", "4242", CREDIT_CARD, F.NONE, True), PasswordOnly()
    )
    j = {x.clause_id: x for x in judge_registration(card)}
    assert (j["DCM-S1"].status, j["DCM-S1"].reason) == (
        UNKNOWN,
        "dcm_standard_not_published_for_service",
    )
    assert j["DCM-S2"].status is NA  # still not a bank account
    assert j["KDN-X1"].status is FAIL  # KDN has no such carve-out
    pw = PaymentLogin("e", "c", AT, service, M.PASSWORD_ONLY)
    s3, kdn = judge_payment_login(pw)
    assert (s3.status, kdn.status) == (UNKNOWN, FAIL)
    # Other services are judged by ア〜ウ.
    assert register(PasswordOnly())["DCM-S1"].status is FAIL


# --------------------------------------------------------------------------- every judgement

ALL_REGISTRATIONS: list[tuple[InstrumentKind, Authentication | None]] = [
    (CREDIT_CARD, three_ds("Y", "05")),
    (CREDIT_CARD, three_ds("A", "06")),
    (CREDIT_CARD, three_ds("C")),
    (CREDIT_CARD, Otp(SMS, True)),
    (BANK_ACCOUNT, Otp(SMS, None)),
    (BANK_ACCOUNT, Otp(EMAIL)),
    (BANK_ACCOUNT, CarrierLine()),
    (InstrumentKind.UNSPECIFIED, None),
    (InstrumentKind.PREPAID_CARD, NoAuthentication()),
]


@pytest.mark.parametrize(("kind", "auth"), ALL_REGISTRATIONS)
def test_every_registration_judgement_is_explained(
    kind: InstrumentKind, auth: Authentication | None
) -> None:
    for j in register(auth, kind=kind).values():
        assert j.compared, j.clause_id
        assert j.text_ja, j.clause_id
        assert j.explanation_ja.count("。") == 1 and j.explanation_ja.endswith("。")
        assert re.fullmatch(r"[a-z0-9_]+", j.reason)


@pytest.mark.parametrize("method", list(PaymentLoginMethod))
def test_every_login_judgement_is_explained(method: PaymentLoginMethod) -> None:
    for j in login(method).values():
        assert j.compared and j.text_ja
        assert j.explanation_ja.count("。") == 1 and j.explanation_ja.endswith("。")


def test_explanation_quotes_the_facts() -> None:
    j = register(three_ds("Y", "06"))["DCM-S1"]
    assert "06" in j.explanation_ja and "矛盾" in j.explanation_ja
    assert {c.name for c in j.compared} >= {"3ds.trans_status", "3ds.eci", "3ds.protocol_version"}


def test_judgement_refuses_warn_and_non_snake_case_reasons() -> None:
    with pytest.raises(ValueError):
        Judgement("DCM-S1", CheckStatus.WARN, "x", "説明。")
    with pytest.raises(ValueError):
        Judgement("DCM-S1", PASS, "NotSnake", "説明。")
    with pytest.raises(ValueError):
        Judgement("dcm-s1", PASS, "ok", "説明。")


def test_events_refuse_naive_times() -> None:
    with pytest.raises(ValueError):
        PaymentLogin("e", "c", datetime(2026, 3, 1), "paypay", M.OTP_TWO_STEP)


# --------------------------------------------------------------------------- enums mirror the proto

PROTO = Path(__file__).resolve().parents[2] / "proto" / "anshin" / "v1" / "events.proto"


@pytest.mark.parametrize(
    ("proto_enum", "py_enum"),
    [
        ("InstrumentKind", event_model.InstrumentKind),
        ("FundingSource", event_model.FundingSource),
        ("OtpChannel", event_model.OtpChannel),
        ("PaymentLoginMethod", event_model.PaymentLoginMethod),
        ("SecurityApp", event_model.SecurityApp),
        ("ActivationAction", event_model.ActivationAction),
        ("MonitoringEventKind", event_model.MonitoringEventKind),
        ("EnrolmentAction", event_model.EnrolmentAction),
    ],
)
def test_enums_mirror_events_proto(proto_enum: str, py_enum: type[enum.Enum]) -> None:
    text = PROTO.read_text(encoding="utf-8")
    body = re.search(rf"enum {proto_enum} \{{(.*?)\}}", text, re.S)
    assert body is not None
    prefix = re.sub(r"(?<!^)([A-Z])", r"_\1", proto_enum).upper() + "_"
    members = {
        name.removeprefix(prefix): int(number)
        for name, number in re.findall(r"(\w+)\s*=\s*(\d+);", body.group(1))
    }
    assert {m.name: m.value for m in py_enum} == members
