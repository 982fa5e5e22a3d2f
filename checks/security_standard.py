"""The security standard of payment registrations and logins: DCM-S1..S3, KDN-X1, DCM-T, DCM-C4.

Pure judgements over the facts that payment apps report (``checks.event_model``):
no clock, no storage. Every assumption the texts leave open is a named field
of ``SecurityStandardSettings`` with its default and the reasoning behind it.

Reading of the clauses (seed 003 セキュリティ基準 ア〜ウ, seed 001 section 4):

* DCM-S1 (ア) — a クレジットカード等 (credit card or international-brand debit
  card) registered to a QR-payment service must have passed 3-D Secure. Any
  other evidence (OTP, carrier line, password, nothing) is not 3-D Secure.
* DCM-S2 (イ) — a bank account registered to a QR-payment service must have
  passed one-time-password two-step authentication, except an OTP sent to the
  phone number registered with the QR service.
* DCM-S3 (ウ) — an internet login to the QR-payment service must have used
  OTP two-step authentication or carrier line authentication (通信回線認証).
* KDN-X1 — excluded: fraudulent registration to a payment service without
  3-D Secure, or fraudulent login without OTP two-step authentication. The
  carrier line is not an OTP, so it does not satisfy the KDN login part.

3-D Secure (EMV 3DS transStatus): ``Y`` authenticated → pass; ``A`` attempt
(no authentication by the issuer; see ``accept_3ds_attempt``); ``N`` not
authenticated, ``U`` unavailable, ``R`` rejected, ``I`` informational only
(exemption, no authentication) → not a pass; ``C`` challenge / ``D`` decoupled
required → not a final result → UNKNOWN (the final result must be reported).
ECI consistency (brand-independent because the values do not overlap):
full authentication 05 (Visa/JCB/Amex) / 02 (Mastercard); attempt 06 / 01;
none 07 / 00. An ECI that contradicts the transStatus is UNKNOWN, never a pass.

``Judgement.status`` reads from the customer's side: for KDN-X1, PASS means the
exclusion does not fire, FAIL means it does.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

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
from checks.model import CheckStatus, Compared
from timing.jst import format_jst, require_aware

__all__ = [
    "CARD_KINDS",
    "DEFAULT_SECURITY_SETTINGS",
    "LOGIN_CLAUSES",
    "PAYMENT_METHOD_CLAUSE",
    "REGISTRATION_CLAUSES",
    "PaymentMethod",
    "PaymentMethodRow",
    "SecurityStandardSettings",
    "judge_payment_login",
    "judge_payment_method",
    "judge_registration",
]

PASS = CheckStatus.PASS
FAIL = CheckStatus.FAIL
UNKNOWN = CheckStatus.UNKNOWN
NOT_APPLICABLE = CheckStatus.NOT_APPLICABLE


@dataclass(frozen=True, slots=True)
class SecurityStandardSettings:
    """Every assumption of the security-standard judgements, with its default.

    accept_3ds_attempt (ASSUMPTION, default False):
        transStatus ``A`` (attempt, ECI 06/01) means the issuer did not
        authenticate the cardholder; the directory server only vouches that an
        attempt was made. ア requires "3Dセキュアによる二段階認証が実施されている",
        which an attempt is not, so by default it does not pass DCM-S1 and counts
        as "3Dセキュア認証を経ていない" for KDN-X1.
    three_ds_1_retired_at (ASSUMPTION, default 2022-10-15T00:00:00Z):
        3-D Secure 1.0.x was retired by the card brands in October 2022. A
        registration at or after this instant authenticated with protocol 1.x is
        not a pass (no brand honours it); before it, a 1.x ``Y`` passes.
    accept_email_otp (ASSUMPTION, default True):
        イ/ウ and KDN-X1 require "ワンタイムパスワードによる二段階認証" without
        naming a channel, and イ carves out only an OTP sent to the phone number
        registered with the QR service. An OTP by e-mail is an OTP, and the
        carve-out is read narrowly (作成者不利の原則), so by default it counts.
        Set False to treat e-mail OTP as not meeting S2/S3/KDN-X1.
    s3_accept_biometric_registered_device (ASSUMPTION, default False):
        ウ names only OTP two-step and 通信回線認証; biometrics on a registered
        device are not named, so by default they do not pass DCM-S3.
    s3_accept_passkey (ASSUMPTION, default False):
        Same for passkeys (FIDO2/WebAuthn).
    dcm_t_qr_debit_card_covered (ASSUMPTION, default True):
        The QR table row says クレジットカード; the seed defines クレジットカード等
        as credit cards and international-brand debit cards and E1 covers
        クレジットカード等 registered to a QR service, so a debit card funding a
        QR service is read as covered.
    card_own_funding_is_bank_account (ASSUMPTION, default True):
        ``FundingSource.NONE`` on a credit or debit card ("the instrument is its
        own funding") is read as settlement by bank account (口座振替), the
        only funding the table lists for cards.
    dcm_services_with_unpublished_standard (default {"d-barai", "docomo-barai"}):
        Seed 003: 「d払い、ドコモ払い利用時のセキュリティ基準については、下記お問い合わせ先
        までご連絡ください」 — for these services the security standard is not ア〜ウ
        but an unpublished one, so DCM-S1/S2/S3 are UNKNOWN (never PASS or FAIL)
        for registrations and logins to them. The values are
        ``payment_service_id`` strings.

    From the policy files (``rules.load`` fills them in; empty by default):

    payment_table:
        The rows of the payment method / funding source tables, the ``table``
        of the DCM-T clause (``PAYMENT_METHOD_CLAUSE``). A combination no row
        lists is UNKNOWN.
    texts:
        The text of each clause judged here, as the policy files quote it.
    """

    accept_3ds_attempt: bool = False
    three_ds_1_retired_at: datetime = datetime(2022, 10, 15, tzinfo=UTC)
    accept_email_otp: bool = True
    s3_accept_biometric_registered_device: bool = False
    s3_accept_passkey: bool = False
    dcm_t_qr_debit_card_covered: bool = True
    card_own_funding_is_bank_account: bool = True
    dcm_services_with_unpublished_standard: frozenset[str] = frozenset({"d-barai", "docomo-barai"})
    payment_table: tuple[PaymentMethodRow, ...] = ()
    texts: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        require_aware(self.three_ds_1_retired_at, "three_ds_1_retired_at")


DEFAULT_SECURITY_SETTINGS = SecurityStandardSettings()

REGISTRATION_CLAUSES = ("DCM-S1", "DCM-S2", "KDN-X1", "DCM-T", "DCM-C4")
"""The clauses ``judge_registration`` answers, in the order of its result."""

PAYMENT_METHOD_CLAUSE = "DCM-T"
"""The clause of the payment method / funding source tables (its ``table``)."""

LOGIN_CLAUSES = ("DCM-S3", "KDN-X1")
"""The clauses ``judge_payment_login`` answers, in the order of its result."""

CARD_KINDS = frozenset({InstrumentKind.CREDIT_CARD, InstrumentKind.DEBIT_CARD})
"""クレジットカード等: credit cards and international-brand debit cards (seed 003)."""

_CONSEQUENCE_JA: Mapping[str, Mapping[CheckStatus, str]] = {
    "DCM-S1": {
        PASS: "セキュリティ基準DCM-S1（登録時の3Dセキュアによる二段階認証）を満たします",
        FAIL: "セキュリティ基準DCM-S1（登録時の3Dセキュアによる二段階認証）を満たしません",
        UNKNOWN: "セキュリティ基準DCM-S1を満たすかどうか判断できません",
        NOT_APPLICABLE: "DCM-S1（クレジットカード等の登録の基準）は適用されません",
    },
    "DCM-S2": {
        PASS: "セキュリティ基準DCM-S2（登録時のワンタイムパスワードによる二段階認証）を満たします",
        FAIL: (
            "セキュリティ基準DCM-S2（登録時のワンタイムパスワードによる二段階認証）を満たしません"
        ),
        UNKNOWN: "セキュリティ基準DCM-S2を満たすかどうか判断できません",
        NOT_APPLICABLE: "DCM-S2（銀行口座の登録の基準）は適用されません",
    },
    "DCM-S3": {
        PASS: (
            "セキュリティ基準DCM-S3（ログイン時のワンタイムパスワードまたは通信回線認証）"
            "を満たします"
        ),
        FAIL: (
            "セキュリティ基準DCM-S3（ログイン時のワンタイムパスワードまたは通信回線認証）"
            "を満たしません"
        ),
        UNKNOWN: "セキュリティ基準DCM-S3を満たすかどうか判断できません",
        NOT_APPLICABLE: "DCM-S3は適用されません",
    },
    "KDN-X1": {
        PASS: (
            "KDN-X1の免責（3Dセキュアまたはワンタイムパスワードを経ていない"
            "不正登録・不正ログイン）には当たりません"
        ),
        FAIL: (
            "KDN-X1の免責（3Dセキュアまたはワンタイムパスワードを経ていない"
            "不正登録・不正ログイン）に当たります"
        ),
        UNKNOWN: "KDN-X1の免責に当たるかどうか判断できません",
        NOT_APPLICABLE: "KDN-X1の3Dセキュアの条件（クレジットカードの登録）は適用されません",
    },
    "DCM-T": {
        PASS: "決済手段とチャージ元の補償可否表（DCM-T）で補償対象です",
        FAIL: "決済手段とチャージ元の補償可否表（DCM-T）で補償対象外です",
        UNKNOWN: "決済手段とチャージ元の補償可否表（DCM-T）で補償対象かどうか判断できません",
        NOT_APPLICABLE: "決済手段とチャージ元の補償可否表（DCM-T）は適用されません",
    },
    "DCM-C4": {
        PASS: "国内発行の条件（DCM-C4）を満たします",
        FAIL: "国内発行の条件（DCM-C4）を満たしません",
        UNKNOWN: "国内発行の条件（DCM-C4）を満たすかどうか判断できません",
        NOT_APPLICABLE: "国内発行の条件（DCM-C4）は適用されません",
    },
}


class _Finding(NamedTuple):
    """An intermediate result: status, reason code, why (Japanese, ends before 「ため」)."""

    status: CheckStatus
    reason: str
    why_ja: str
    compared: tuple[Compared, ...]


def _judgement(
    clause_id: str, subject_ja: str, finding: _Finding, settings: SecurityStandardSettings
) -> Judgement:
    consequence = _CONSEQUENCE_JA[clause_id][finding.status]
    return Judgement(
        clause_id=clause_id,
        status=finding.status,
        reason=finding.reason,
        explanation_ja=f"{subject_ja}は、{finding.why_ja}ため、{consequence}。",
        compared=finding.compared,
        text_ja=settings.texts.get(clause_id, ""),
    )


def _c(name: str, observed: object, expected: str) -> Compared:
    text = observed if isinstance(observed, str) else str(observed)
    return Compared(name, text if text != "" else "(not reported)", expected)


# --------------------------------------------------------------------------- 3-D Secure

ECI_FULL = frozenset({"05", "02"})  # Visa/JCB/Amex 05, Mastercard 02
ECI_ATTEMPT = frozenset({"06", "01"})  # Visa/JCB/Amex 06, Mastercard 01
ECI_NONE = frozenset({"07", "00"})  # Visa/JCB/Amex 07, Mastercard 00

_NOT_A_PASS: Mapping[str, tuple[str, str]] = {
    "N": ("three_ds_not_authenticated", "3-Dセキュアの結果がN（認証失敗・取引拒否）である"),
    "U": ("three_ds_unavailable", "3-Dセキュアの結果がU（技術的理由等で認証できず）である"),
    "R": ("three_ds_rejected", "3-Dセキュアの結果がR（発行会社が拒否）である"),
    "I": (
        "three_ds_informational_only",
        "3-Dセキュアの結果がI（情報提供のみ・認証免除で本人認証なし）である",
    ),
}
_NOT_FINAL: Mapping[str, tuple[str, str]] = {
    "C": (
        "three_ds_challenge_not_final",
        "3-Dセキュアの結果がC（チャレンジ要求）で最終結果ではない",
    ),
    "D": (
        "three_ds_decoupled_not_final",
        "3-Dセキュアの結果がD（デカップルド認証要求）で最終結果ではない",
    ),
}


def _normalise_eci(eci: str) -> str:
    value = eci.strip()
    return "0" + value if len(value) == 1 and value.isdigit() else value


def _eci_class(eci: str) -> str:
    """ "full" | "attempt" | "none" | "missing" | "unrecognised"."""
    if eci == "":
        return "missing"
    if eci in ECI_FULL:
        return "full"
    if eci in ECI_ATTEMPT:
        return "attempt"
    if eci in ECI_NONE:
        return "none"
    return "unrecognised"


def _protocol_major(version: str) -> int | None:
    head = version.strip().split(".", 1)[0]
    return int(head) if head.isdigit() else None


def _judge_3ds(
    evidence: ThreeDSecure, at: datetime, settings: SecurityStandardSettings
) -> _Finding:
    """Did this 3-D Secure result authenticate the cardholder (a pass for S1 / KDN-X1)?"""
    version = evidence.protocol_version.strip()
    status = evidence.trans_status.strip().upper()
    eci = _normalise_eci(evidence.eci)
    retired_at = settings.three_ds_1_retired_at
    retired = at >= retired_at
    expected_eci = "05 (Visa/JCB/Amex) or 02 (Mastercard)"
    if settings.accept_3ds_attempt:
        expected_eci += "; attempt 06 / 01 accepted"
    major = _protocol_major(version)
    compared: tuple[Compared, ...] = (
        _c("3ds.protocol_version", version, f"2.x, or 1.0.x before {format_jst(retired_at)}"),
        _c("3ds.trans_status", status, "Y" + (" or A" if settings.accept_3ds_attempt else "")),
        _c("3ds.eci", eci, expected_eci),
    )
    if major is None or major < 2:
        # Only a 1.x (or unreadable) version makes the registration instant matter.
        compared += (
            _c("registered_at", format_jst(at), f"1.0.x retired at {format_jst(retired_at)}"),
        )
    if major == 1 and retired:
        return _Finding(
            FAIL,
            "three_ds_1_retired",
            f"3-Dセキュア1.0系（{version}）は{format_jst(retired_at)}に廃止されており、"
            "それ以後の1.0系の認証は有効な3Dセキュア認証と認められない",
            compared,
        )
    if major is None and retired:
        reason, why = (
            (
                "three_ds_protocol_version_missing",
                "3-Dセキュアのプロトコルバージョンが報告されていない",
            )
            if version == ""
            else (
                "three_ds_protocol_version_unrecognised",
                f"3-Dセキュアのプロトコルバージョン「{version}」を解釈できない",
            )
        )
        return _Finding(UNKNOWN, reason, why + "（1.0系廃止後の登録）", compared)
    if major is not None and major not in (1, 2):
        return _Finding(
            UNKNOWN,
            "three_ds_protocol_version_unrecognised",
            f"3-Dセキュアのプロトコルバージョン「{version}」を解釈できない",
            compared,
        )
    eci_class = _eci_class(eci)
    if status == "Y":
        if eci_class in ("full", "missing"):
            return _Finding(
                PASS,
                "three_ds_authenticated",
                "3-Dセキュアの結果がY（認証成功）である",
                compared,
            )
        if eci_class == "unrecognised":
            return _Finding(
                UNKNOWN,
                "eci_unrecognised",
                f"3-Dセキュアの結果はYだがECI「{eci}」を解釈できない",
                compared,
            )
        return _Finding(
            UNKNOWN,
            "eci_contradicts_trans_status",
            f"3-Dセキュアの結果はY（認証成功）だがECI「{eci}」は"
            f"{'アテンプト' if eci_class == 'attempt' else '認証なし'}を示し矛盾している",
            compared,
        )
    if status == "A":
        if eci_class == "full" or (settings.accept_3ds_attempt and eci_class == "none"):
            return _Finding(
                UNKNOWN,
                "eci_contradicts_trans_status",
                f"3-Dセキュアの結果はA（アテンプト）だがECI「{eci}」と矛盾している",
                compared,
            )
        if not settings.accept_3ds_attempt:
            return _Finding(
                FAIL,
                "three_ds_attempt_only",
                "3-Dセキュアの結果がA（アテンプト：発行会社による本人認証は行われていない）である",
                compared,
            )
        if eci_class == "unrecognised":
            return _Finding(
                UNKNOWN,
                "eci_unrecognised",
                f"3-Dセキュアの結果はAだがECI「{eci}」を解釈できない",
                compared,
            )
        return _Finding(
            PASS,
            "three_ds_attempt_accepted",
            "3-Dセキュアの結果がA（アテンプト）であり、設定によりアテンプトを認めている",
            compared,
        )
    if status in _NOT_A_PASS:
        reason, why = _NOT_A_PASS[status]
        return _Finding(FAIL, reason, why, compared)
    if status in _NOT_FINAL:
        reason, why = _NOT_FINAL[status]
        return _Finding(UNKNOWN, reason, why, compared)
    return _Finding(
        UNKNOWN,
        "three_ds_status_unrecognised",
        f"3-Dセキュアの結果「{status}」を解釈できない"
        if status
        else "3-Dセキュアの結果が報告されていない",
        compared,
    )


def _evidence_name(auth: Authentication | None) -> str:
    if auth is None:
        return "(not reported)"
    return {
        ThreeDSecure: "three_d_secure",
        Otp: "otp",
        CarrierLine: "carrier_line",
        PasswordOnly: "password_only",
        NoAuthentication: "none",
    }[type(auth)]


def _card_3ds(reg: Registration, settings: SecurityStandardSettings) -> _Finding:
    """The 3-D Secure requirement for a card registration (DCM-S1 and KDN-X1)."""
    auth = reg.authentication
    if isinstance(auth, ThreeDSecure):
        return _judge_3ds(auth, reg.event_time, settings)
    compared = (_c("authentication", _evidence_name(auth), "three_d_secure"),)
    if auth is None:
        return _Finding(
            UNKNOWN,
            "authentication_not_reported",
            "登録時の認証方法が報告されていない",
            compared,
        )
    if isinstance(auth, Otp):
        return _Finding(
            FAIL,
            "card_registered_with_otp_not_3ds",
            "登録時の認証がワンタイムパスワードであり3Dセキュアではない",
            compared,
        )
    if isinstance(auth, CarrierLine):
        return _Finding(
            FAIL,
            "card_registered_with_carrier_line_not_3ds",
            "登録時の認証が通信回線認証であり3Dセキュアではない",
            compared,
        )
    if isinstance(auth, PasswordOnly):
        return _Finding(
            FAIL,
            "card_registered_with_password_only",
            "登録時の認証がパスワードのみで3Dセキュアではない",
            compared,
        )
    return _Finding(
        FAIL, "card_registered_without_authentication", "登録時に認証が行われていない", compared
    )


# --------------------------------------------------------------------------- OTP


def _otp_destination(otp: Otp, settings: SecurityStandardSettings) -> _Finding:
    """DCM-S2 on an OTP: the channel and whether it went to the QR-registered phone."""
    qr_phone = otp.sent_to_qr_registered_phone
    compared = (
        _c(
            "otp.channel",
            otp.channel.name,
            "SMS/VOICE to another phone, APP, HARDWARE_TOKEN"
            + (", EMAIL" if settings.accept_email_otp else ""),
        ),
        _c(
            "otp.sent_to_qr_registered_phone",
            "" if qr_phone is None else str(qr_phone).lower(),
            "false",
        ),
    )
    phone_channels = (OtpChannel.SMS, OtpChannel.VOICE, OtpChannel.UNSPECIFIED)
    if qr_phone is True:
        if otp.channel in phone_channels:
            return _Finding(
                FAIL,
                "otp_sent_to_qr_registered_phone",
                "ワンタイムパスワードがQRコード決済サービスに登録された電話番号に送付されている",
                compared,
            )
        return _Finding(
            UNKNOWN,
            "otp_destination_contradicts_channel",
            f"ワンタイムパスワードの経路（{otp.channel.name}）は電話番号宛てではないのに"
            "登録電話番号宛てと報告されており矛盾している",
            compared,
        )
    if otp.channel in (OtpChannel.SMS, OtpChannel.VOICE):
        if qr_phone is False:
            return _Finding(
                PASS,
                "otp_sent_to_other_phone",
                "ワンタイムパスワードがQRコード決済サービスの登録電話番号以外に送付されている",
                compared,
            )
        return _Finding(
            UNKNOWN,
            "otp_destination_unknown",
            "ワンタイムパスワード（SMS・音声）の送付先がQRコード決済サービスの登録電話番号か"
            "どうか報告されていない",
            compared,
        )
    if otp.channel in (OtpChannel.APP, OtpChannel.HARDWARE_TOKEN):
        return _Finding(
            PASS,
            "otp_app_or_token",
            "ワンタイムパスワードがアプリまたはハードウェアトークンで生成されている",
            compared,
        )
    if otp.channel is OtpChannel.EMAIL:
        return _email_otp(settings, compared)
    return _Finding(
        UNKNOWN, "otp_channel_unknown", "ワンタイムパスワードの経路が報告されていない", compared
    )


def _email_otp(settings: SecurityStandardSettings, compared: tuple[Compared, ...]) -> _Finding:
    if settings.accept_email_otp:
        return _Finding(
            PASS,
            "otp_email_accepted",
            "ワンタイムパスワードが電子メールで送付されており、設定により電子メールのワンタイム"
            "パスワードを認めている",
            compared,
        )
    return _Finding(
        FAIL,
        "otp_email_not_accepted",
        "ワンタイムパスワードが電子メールで送付されており、設定により電子メールのワンタイム"
        "パスワードを認めていない",
        compared,
    )


def _bank_account_otp(reg: Registration, settings: SecurityStandardSettings) -> _Finding:
    auth = reg.authentication
    if isinstance(auth, Otp):
        return _otp_destination(auth, settings)
    compared = (_c("authentication", _evidence_name(auth), "otp"),)
    if auth is None:
        return _Finding(
            UNKNOWN,
            "authentication_not_reported",
            "登録時の認証方法が報告されていない",
            compared,
        )
    if isinstance(auth, ThreeDSecure):
        return _Finding(
            FAIL,
            "bank_account_registered_with_3ds_not_otp",
            "登録時の認証が3-Dセキュアでありワンタイムパスワードによる二段階認証ではない",
            compared,
        )
    if isinstance(auth, CarrierLine):
        return _Finding(
            FAIL,
            "bank_account_registered_with_carrier_line_not_otp",
            "登録時の認証が通信回線認証でありワンタイムパスワードによる二段階認証ではない",
            compared,
        )
    if isinstance(auth, PasswordOnly):
        return _Finding(
            FAIL,
            "bank_account_registered_with_password_only",
            "登録時の認証がパスワードのみでワンタイムパスワードによる二段階認証ではない",
            compared,
        )
    return _Finding(
        FAIL,
        "bank_account_registered_without_authentication",
        "登録時に認証が行われていない",
        compared,
    )


# --------------------------------------------------------------------------- DCM-T


class PaymentMethod(enum.Enum):
    """The 決済手段 column of the DCM-T tables."""

    QR_CODE_PAYMENT = "qr_code_payment"
    CREDIT_CARD = "credit_card"
    DEBIT_CARD = "debit_card"  # international brand only
    POSTPAID_EMONEY = "postpaid_emoney"
    PREPAID_CARD = "prepaid_card"  # cash charge
    PREPAID_IC_EMONEY = "prepaid_ic_emoney"


@dataclass(frozen=True, slots=True)
class PaymentMethodRow:
    """One row of the DCM-T tables (the policy file's ``table``); ``funding``
    empty means "—" (any funding)."""

    method: PaymentMethod
    funding: frozenset[FundingSource]
    covered: bool
    label_ja: str

    def matches(self, method: PaymentMethod, funding: FundingSource) -> bool:
        return self.method is method and (not self.funding or funding in self.funding)


_METHOD_OF_KIND: Mapping[InstrumentKind, PaymentMethod] = {
    InstrumentKind.CREDIT_CARD: PaymentMethod.CREDIT_CARD,
    InstrumentKind.DEBIT_CARD: PaymentMethod.DEBIT_CARD,
    InstrumentKind.POSTPAID_EMONEY: PaymentMethod.POSTPAID_EMONEY,
    InstrumentKind.PREPAID_CARD: PaymentMethod.PREPAID_CARD,
    InstrumentKind.PREPAID_IC_EMONEY: PaymentMethod.PREPAID_IC_EMONEY,
}


def _dcm_t(
    method: PaymentMethod, funding: FundingSource, settings: SecurityStandardSettings
) -> tuple[_Finding, str]:
    """(finding, subject) for one method / funding combination."""
    subject = f"決済手段「{method.value}」・チャージ元「{funding.name}」の組合せ"
    effective = funding
    note = ""
    if (
        method in (PaymentMethod.CREDIT_CARD, PaymentMethod.DEBIT_CARD)
        and funding is FundingSource.NONE
        and settings.card_own_funding_is_bank_account
    ):
        effective = FundingSource.BANK_ACCOUNT
        note = "（カード自体の決済は銀行口座振替と解釈）"
    compared = [
        _c("dcm_t.method", method.value, "a ○ row of DCM-T"),
        _c("dcm_t.funding", funding.name, "a ○ row of DCM-T"),
    ]
    if method is PaymentMethod.QR_CODE_PAYMENT and funding is FundingSource.DEBIT_CARD:
        compared.append(_c("dcm_t.row", "QR / debit card (クレジットカード等)", "○"))
        if settings.dcm_t_qr_debit_card_covered:
            return _Finding(
                PASS,
                "dcm_t_covered",
                "QRコード決済サービスのチャージ元がデビットカード（クレジットカード等に含まれる）である",
                tuple(compared),
            ), subject
        return _Finding(
            FAIL,
            "dcm_t_not_covered",
            "QRコード決済サービスのチャージ元がデビットカードであり、設定によりクレジットカードの行に"
            "含めていない",
            tuple(compared),
        ), subject
    for row in settings.payment_table:
        if row.matches(method, effective):
            compared.append(_c("dcm_t.row", row.label_ja, "○"))
            if row.covered:
                return _Finding(
                    PASS,
                    "dcm_t_covered",
                    f"補償可否表の「{row.label_ja}」に当たる{note}",
                    tuple(compared),
                ), subject
            return _Finding(
                FAIL,
                "dcm_t_not_covered",
                f"補償可否表の「{row.label_ja}」に当たる{note}",
                tuple(compared),
            ), subject
    compared.append(_c("dcm_t.row", "", "○"))
    return _Finding(
        UNKNOWN,
        "dcm_t_combination_not_listed",
        "この組合せは補償可否表に記載がない",
        tuple(compared),
    ), subject


def judge_payment_method(
    method: PaymentMethod,
    funding: FundingSource,
    settings: SecurityStandardSettings = DEFAULT_SECURITY_SETTINGS,
) -> Judgement:
    """DCM-T for one payment method and funding source (both tables of seed 003).

    A combination the tables do not list is UNKNOWN (the text is silent).
    """
    finding, subject = _dcm_t(method, funding, settings)
    return _judgement(PAYMENT_METHOD_CLAUSE, subject, finding, settings)


def _registration_dcm_t(reg: Registration, settings: SecurityStandardSettings) -> _Finding:
    """DCM-T for a registration: the registered instrument funds the QR-payment service.

    Credit / debit cards and bank accounts are looked up in the QR table
    (QR funded by the instrument; operator points when the funding says so).
    Prepaid cards and e-money have no QR row: their own row decides.
    """
    inst = reg.instrument
    kind = inst.kind
    if inst.funding is FundingSource.OPERATOR_POINTS:
        method, funding = PaymentMethod.QR_CODE_PAYMENT, FundingSource.OPERATOR_POINTS
    elif kind is InstrumentKind.CREDIT_CARD:
        method, funding = PaymentMethod.QR_CODE_PAYMENT, FundingSource.CREDIT_CARD
    elif kind is InstrumentKind.DEBIT_CARD:
        method, funding = PaymentMethod.QR_CODE_PAYMENT, FundingSource.DEBIT_CARD
    elif kind is InstrumentKind.BANK_ACCOUNT:
        funding = (
            FundingSource.CASH_CHARGE
            if inst.funding is FundingSource.CASH_CHARGE
            else FundingSource.BANK_ACCOUNT
        )
        method = PaymentMethod.QR_CODE_PAYMENT
    elif kind in _METHOD_OF_KIND:
        method, funding = _METHOD_OF_KIND[kind], inst.funding
    else:
        return _Finding(
            UNKNOWN,
            "instrument_kind_unknown",
            "登録された手段の種類が報告されていない",
            (_c("instrument.kind", kind.name, "CREDIT_CARD, DEBIT_CARD or BANK_ACCOUNT"),),
        )
    finding, _ = _dcm_t(method, funding, settings)
    return finding


# --------------------------------------------------------------------------- registration


def _dcm_service(
    service_id: str, finding: _Finding, settings: SecurityStandardSettings
) -> _Finding:
    """DCM-S1..S3 for d払い / ドコモ払い: their standard is not published → UNKNOWN."""
    if finding.status is NOT_APPLICABLE:
        return finding
    if service_id.strip().lower() not in settings.dcm_services_with_unpublished_standard:
        return finding
    compared = (
        *finding.compared,
        _c("payment_service_id", service_id, "a service whose standard is セキュリティ基準ア〜ウ"),
    )
    return _Finding(
        UNKNOWN,
        "dcm_standard_not_published_for_service",
        f"{service_id}（d払い・ドコモ払い）のセキュリティ基準は公表されておらず問い合わせが必要で、"
        f"報告された認証（判定結果{finding.status.value}）だけでは判断できない",
        compared,
    )


def _subject_registration(reg: Registration) -> str:
    inst = reg.instrument
    what = {
        InstrumentKind.CREDIT_CARD: "クレジットカード",
        InstrumentKind.DEBIT_CARD: "デビットカード",
        InstrumentKind.BANK_ACCOUNT: "銀行口座",
        InstrumentKind.PREPAID_CARD: "プリペイドカード",
        InstrumentKind.POSTPAID_EMONEY: "後払い式電子マネー",
        InstrumentKind.PREPAID_IC_EMONEY: "プリペイド型電子マネー",
        InstrumentKind.UNSPECIFIED: "種類不明の決済手段",
    }[inst.kind]
    # The reporter knows which event and instrument it sent; the judgement
    # names neither the instant nor the last four digits, so identical facts
    # give identical judgements (and can be memoised on bulk ingestion).
    return f"{reg.payment_service_id or '決済サービス'}への{what}の登録"


def _kind_compared(kind: InstrumentKind, expected: str) -> tuple[Compared, ...]:
    return (_c("instrument.kind", kind.name, expected),)


def _s1(reg: Registration, settings: SecurityStandardSettings) -> _Finding:
    kind = reg.instrument.kind
    if kind in CARD_KINDS:
        return _card_3ds(reg, settings)
    if kind is InstrumentKind.UNSPECIFIED:
        return _Finding(
            UNKNOWN,
            "instrument_kind_unknown",
            "登録された手段がクレジットカード等かどうか報告されていない",
            _kind_compared(kind, "CREDIT_CARD or DEBIT_CARD"),
        )
    return _Finding(
        NOT_APPLICABLE,
        "not_a_card_registration",
        "クレジットカード等の登録ではない",
        _kind_compared(kind, "CREDIT_CARD or DEBIT_CARD"),
    )


def _s2(reg: Registration, settings: SecurityStandardSettings) -> _Finding:
    kind = reg.instrument.kind
    if kind is InstrumentKind.BANK_ACCOUNT:
        return _bank_account_otp(reg, settings)
    if kind is InstrumentKind.UNSPECIFIED:
        return _Finding(
            UNKNOWN,
            "instrument_kind_unknown",
            "登録された手段が銀行口座かどうか報告されていない",
            _kind_compared(kind, "BANK_ACCOUNT"),
        )
    return _Finding(
        NOT_APPLICABLE,
        "not_a_bank_account_registration",
        "銀行口座の登録ではない",
        _kind_compared(kind, "BANK_ACCOUNT"),
    )


def _kdn_x1_registration(reg: Registration, settings: SecurityStandardSettings) -> _Finding:
    kind = reg.instrument.kind
    if kind in CARD_KINDS:
        return _card_3ds(reg, settings)
    if kind is InstrumentKind.UNSPECIFIED:
        return _Finding(
            UNKNOWN,
            "instrument_kind_unknown",
            "登録された手段がカードかどうか報告されていない",
            _kind_compared(kind, "CREDIT_CARD or DEBIT_CARD"),
        )
    return _Finding(
        NOT_APPLICABLE,
        "not_a_card_registration",
        "カードの登録ではなく3Dセキュアの対象ではない",
        _kind_compared(kind, "CREDIT_CARD or DEBIT_CARD"),
    )


def _c4(inst: Instrument) -> _Finding:
    issued = inst.issued_in_japan
    compared = (
        _c("instrument.issued_in_japan", "" if issued is None else str(issued).lower(), "true"),
    )
    if issued is True:
        return _Finding(PASS, "issued_in_japan", "国内で発行されたものである", compared)
    if issued is False:
        return _Finding(FAIL, "issued_abroad", "国外で発行されたものである", compared)
    return _Finding(UNKNOWN, "issuing_country_unknown", "発行国が報告されていない", compared)


def judge_registration(
    reg: Registration, settings: SecurityStandardSettings = DEFAULT_SECURITY_SETTINGS
) -> tuple[Judgement, ...]:
    """Judge a registration to a QR-payment service.

    Returns one judgement per clause of ``REGISTRATION_CLAUSES``, in that order:
    DCM-S1 (card: 3-D Secure), DCM-S2 (bank account: OTP, not to the
    QR-registered phone), KDN-X1 (registration without 3-D Secure),
    DCM-T (payment method / funding source), DCM-C4 (issued in Japan).
    """
    subject = _subject_registration(reg)
    service = reg.payment_service_id
    return (
        _judgement(
            "DCM-S1", subject, _dcm_service(service, _s1(reg, settings), settings), settings
        ),
        _judgement(
            "DCM-S2", subject, _dcm_service(service, _s2(reg, settings), settings), settings
        ),
        _judgement("KDN-X1", subject, _kdn_x1_registration(reg, settings), settings),
        _judgement(PAYMENT_METHOD_CLAUSE, subject, _registration_dcm_t(reg, settings), settings),
        _judgement("DCM-C4", subject, _c4(reg.instrument), settings),
    )


# --------------------------------------------------------------------------- login


def _login_s3(login: PaymentLogin, settings: SecurityStandardSettings) -> _Finding:
    m = login.method
    expected = "OTP_TWO_STEP or CARRIER_LINE"
    if settings.s3_accept_biometric_registered_device:
        expected += " or BIOMETRIC_REGISTERED_DEVICE"
    if settings.s3_accept_passkey:
        expected += " or PASSKEY"
    compared = (_c("login.method", m.name, expected),)
    if m is PaymentLoginMethod.OTP_TWO_STEP:
        return _login_otp(login, settings, compared)
    if m is PaymentLoginMethod.CARRIER_LINE:
        return _Finding(
            PASS,
            "login_carrier_line",
            "ログイン時に通信回線認証が実施されている",
            compared,
        )
    if m is PaymentLoginMethod.PASSWORD_ONLY:
        return _Finding(
            FAIL,
            "login_password_only",
            "ログイン時の認証がパスワードのみである",
            compared,
        )
    if m is PaymentLoginMethod.BIOMETRIC_REGISTERED_DEVICE:
        if settings.s3_accept_biometric_registered_device:
            return _Finding(
                PASS,
                "login_biometric_accepted",
                "ログイン時に登録端末の生体認証が実施され、設定により生体認証を認めている",
                compared,
            )
        return _Finding(
            FAIL,
            "login_biometric_not_listed",
            "ログイン時の認証が登録端末の生体認証であり、基準に挙げられたワンタイムパスワードにも"
            "通信回線認証にも当たらない",
            compared,
        )
    if m is PaymentLoginMethod.PASSKEY:
        if settings.s3_accept_passkey:
            return _Finding(
                PASS,
                "login_passkey_accepted",
                "ログイン時にパスキー認証が実施され、設定によりパスキーを認めている",
                compared,
            )
        return _Finding(
            FAIL,
            "login_passkey_not_listed",
            "ログイン時の認証がパスキーであり、基準に挙げられたワンタイムパスワードにも"
            "通信回線認証にも当たらない",
            compared,
        )
    return _Finding(
        UNKNOWN,
        "login_method_not_reported",
        "ログイン時の認証方法が報告されていない",
        compared,
    )


def _login_otp(
    login: PaymentLogin, settings: SecurityStandardSettings, compared: tuple[Compared, ...]
) -> _Finding:
    otp = login.otp
    if otp is not None:
        compared = (
            *compared,
            _c(
                "otp.channel", otp.channel.name, "any" if settings.accept_email_otp else "not EMAIL"
            ),
        )
        if otp.channel is OtpChannel.EMAIL:
            return _email_otp(settings, compared)
    return _Finding(
        PASS,
        "login_otp_two_step",
        "ログイン時にワンタイムパスワードによる二段階認証が実施されている",
        compared,
    )


def _login_kdn_x1(login: PaymentLogin, settings: SecurityStandardSettings) -> _Finding:
    m = login.method
    compared = (_c("login.method", m.name, "OTP_TWO_STEP"),)
    if m is PaymentLoginMethod.OTP_TWO_STEP:
        return _login_otp(login, settings, compared)
    if m is PaymentLoginMethod.UNSPECIFIED:
        return _Finding(
            UNKNOWN,
            "login_method_not_reported",
            "ログイン時の認証方法が報告されていない",
            compared,
        )
    reason, why = {
        PaymentLoginMethod.CARRIER_LINE: (
            "login_carrier_line_not_otp",
            "ログイン時の認証が通信回線認証でありワンタイムパスワードによる二段階認証ではない",
        ),
        PaymentLoginMethod.PASSWORD_ONLY: (
            "login_password_only",
            "ログイン時の認証がパスワードのみである",
        ),
        PaymentLoginMethod.BIOMETRIC_REGISTERED_DEVICE: (
            "login_biometric_not_otp",
            "ログイン時の認証が生体認証でありワンタイムパスワードによる二段階認証ではない",
        ),
        PaymentLoginMethod.PASSKEY: (
            "login_passkey_not_otp",
            "ログイン時の認証がパスキーでありワンタイムパスワードによる二段階認証ではない",
        ),
    }[m]
    return _Finding(FAIL, reason, why, compared)


def judge_payment_login(
    login: PaymentLogin, settings: SecurityStandardSettings = DEFAULT_SECURITY_SETTINGS
) -> tuple[Judgement, ...]:
    """Judge an internet login to a QR-payment service.

    Returns one judgement per clause of ``LOGIN_CLAUSES``, in that order:
    DCM-S3 (OTP two-step or carrier line) and KDN-X1 (login without OTP
    two-step is excluded; carrier line is not an OTP).
    """
    service = login.payment_service_id
    subject = f"{login.payment_service_id or '決済サービス'}へのログイン"
    return (
        _judgement(
            "DCM-S3", subject, _dcm_service(service, _login_s3(login, settings), settings), settings
        ),
        _judgement("KDN-X1", subject, _login_kdn_x1(login, settings), settings),
    )
