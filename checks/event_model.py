"""Facts reported by payment apps and security-app vendors, and the judgements on them.

Plain values only (frozen dataclasses and enums) so that the judgement core
(``checks.security_standard``, ``checks.coverage``) stays a set of pure
functions: no gRPC, no storage, no clock.

The enums mirror ``proto/anshin/v1/events.proto`` member for member: the same
names without the proto prefix (``INSTRUMENT_KIND_CREDIT_CARD`` →
``InstrumentKind.CREDIT_CARD``) and the same numbers, so ``InstrumentKind(msg.kind)``
converts a proto value directly.

Every instant is a timezone-aware ``datetime``; naive values are refused at
construction (``ValueError``), because a naive value has no defined instant.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from checks.model import CheckStatus, Compared
from timing.jst import require_aware

__all__ = [
    "JUDGEMENT_STATUSES",
    "Activation",
    "ActivationAction",
    "Authentication",
    "CarrierLine",
    "Enrolment",
    "EnrolmentAction",
    "FundingSource",
    "Instrument",
    "InstrumentKind",
    "Judgement",
    "MonitoringEvent",
    "MonitoringEventKind",
    "NoAuthentication",
    "Otp",
    "OtpChannel",
    "PasswordOnly",
    "PaymentLogin",
    "PaymentLoginMethod",
    "Registration",
    "SecurityApp",
    "ThreeDSecure",
]


# --------------------------------------------------------------------------- enums


class InstrumentKind(enum.Enum):
    """DCM-T payment method of the instrument (``InstrumentKind`` in events.proto)."""

    UNSPECIFIED = 0
    CREDIT_CARD = 1
    DEBIT_CARD = 2  # international-brand debit (国際ブランド系デビットカード)
    BANK_ACCOUNT = 3
    PREPAID_CARD = 4
    POSTPAID_EMONEY = 5
    PREPAID_IC_EMONEY = 6


class FundingSource(enum.Enum):
    """DCM-T funding source / charge source (``FundingSource`` in events.proto)."""

    UNSPECIFIED = 0
    CREDIT_CARD = 1
    BANK_ACCOUNT = 2  # incl. cash charge
    DEBIT_CARD = 3
    OPERATOR_POINTS = 4
    PREPAID = 5
    CASH_CHARGE = 6
    NONE = 7  # the instrument is its own funding (e.g. a credit card)


class OtpChannel(enum.Enum):
    UNSPECIFIED = 0
    SMS = 1
    VOICE = 2
    APP = 3
    HARDWARE_TOKEN = 4
    EMAIL = 5


class PaymentLoginMethod(enum.Enum):
    UNSPECIFIED = 0
    OTP_TWO_STEP = 1
    CARRIER_LINE = 2
    PASSWORD_ONLY = 3
    BIOMETRIC_REGISTERED_DEVICE = 4
    PASSKEY = 5


class SecurityApp(enum.Enum):
    UNSPECIFIED = 0
    NORTON_360 = 1
    NORTON_MONITOR = 2
    VIRUS_BUSTER_CLOUD_MONTHLY_1 = 3
    VIRUS_BUSTER_CLOUD_MONTHLY_3 = 4
    J_SAFE = 5
    J_SAFE_3 = 6


class ActivationAction(enum.Enum):
    UNSPECIFIED = 0
    ACTIVATED = 1
    DEACTIVATED = 2
    INVALIDATED = 3


class MonitoringEventKind(enum.Enum):
    UNSPECIFIED = 0
    CARD_REGISTERED = 1
    CARD_UNREGISTERED = 2
    LEAK_ALERT_DELIVERED = 3


class EnrolmentAction(enum.Enum):
    UNSPECIFIED = 0
    JOINED = 1
    LEFT = 2


# --------------------------------------------------------------------------- facts


def _require_event_time(value: datetime, owner: str) -> None:
    if type(value) is datetime and value.tzinfo is UTC:
        return  # aware (require_aware's own fast path), without building the name
    require_aware(value, f"{owner}.event_time")


@dataclass(frozen=True, slots=True)
class Instrument:
    """A card or bank account, as an opaque token plus the last four digits (never a PAN)."""

    token: str
    last4: str
    kind: InstrumentKind
    funding: FundingSource
    issued_in_japan: bool | None = None  # None = not reported (DCM-C4 → UNKNOWN)


@dataclass(frozen=True, slots=True)
class ThreeDSecure:
    """EMV 3-D Secure result: protocol version ("2.2.0", "1.0.2"), transStatus, ECI."""

    protocol_version: str
    trans_status: str
    eci: str = ""


@dataclass(frozen=True, slots=True)
class Otp:
    """One-time-password evidence.

    ``sent_to_qr_registered_phone``: DCM-S2 — an OTP sent to the phone number
    registered with the QR-payment service does not count. ``None`` = not reported.
    """

    channel: OtpChannel
    sent_to_qr_registered_phone: bool | None = None
    phone_ref: str = ""  # keyed-hash reference of the destination number, if any


@dataclass(frozen=True, slots=True)
class CarrierLine:
    """Carrier line authentication (通信回線認証)."""

    carrier: str = ""


@dataclass(frozen=True, slots=True)
class PasswordOnly:
    """ID and password only, no second factor."""


@dataclass(frozen=True, slots=True)
class NoAuthentication:
    """No authentication at all."""


Authentication = ThreeDSecure | Otp | CarrierLine | PasswordOnly | NoAuthentication
"""The ``AuthenticationEvidence`` oneof. ``None`` where used means the oneof was unset."""


@dataclass(frozen=True, slots=True)
class Registration:
    """A card or bank account registered to a QR-payment service (DCM-S1/S2, KDN-X1)."""

    client_event_id: str
    customer_id: str
    event_time: datetime
    payment_service_id: str
    instrument: Instrument
    authentication: Authentication | None

    def __post_init__(self) -> None:
        _require_event_time(self.event_time, "Registration")


@dataclass(frozen=True, slots=True)
class PaymentLogin:
    """An internet login to a QR-payment service (DCM-S3, KDN-X1)."""

    client_event_id: str
    customer_id: str
    event_time: datetime
    payment_service_id: str
    method: PaymentLoginMethod
    otp: Otp | None = None
    device_id: str = ""

    def __post_init__(self) -> None:
        _require_event_time(self.event_time, "PaymentLogin")


@dataclass(frozen=True, slots=True)
class Activation:
    """A security app activated / deactivated / invalidated on a device (KDN-P1/P2, ISA-P1)."""

    client_event_id: str
    customer_id: str
    event_time: datetime
    app: SecurityApp
    action: ActivationAction
    device_id: str = ""
    channel: str = ""  # sales channel, e.g. "carrier_shop"
    phone_ref: str = ""  # keyed-hash reference of the billed phone number

    def __post_init__(self) -> None:
        _require_event_time(self.event_time, "Activation")


@dataclass(frozen=True, slots=True)
class MonitoringEvent:
    """Dark-web monitoring: card registered / unregistered, leak alert delivered (KDN-C0..C2)."""

    client_event_id: str
    customer_id: str
    event_time: datetime
    kind: MonitoringEventKind
    card_token: str

    def __post_init__(self) -> None:
        _require_event_time(self.event_time, "MonitoringEvent")


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A customer joined or left a cover (DCM membership, HNB contract, JPE start, ISA).

    ``starts_at`` / ``ends_at`` are the enrolment's own bounds when the reporter
    sends them (``None`` = not sent; an unset end means open).
    """

    client_event_id: str
    customer_id: str
    event_time: datetime
    policy_id: str
    action: EnrolmentAction
    plan: str = ""
    insured_person_ref: str = ""
    relation: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None

    def __post_init__(self) -> None:
        _require_event_time(self.event_time, "Enrolment")
        if self.starts_at is not None:
            require_aware(self.starts_at, "Enrolment.starts_at")
        if self.ends_at is not None:
            require_aware(self.ends_at, "Enrolment.ends_at")


# --------------------------------------------------------------------------- judgement

JUDGEMENT_STATUSES = frozenset(
    {CheckStatus.PASS, CheckStatus.FAIL, CheckStatus.UNKNOWN, CheckStatus.NOT_APPLICABLE}
)
"""A judgement is never WARN: a clause is met, not met, undecidable, or not relevant."""

_SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
_CLAUSE_ID = re.compile(r"^[A-Z]{3}-[A-Z]+[0-9]*$")


@dataclass(frozen=True, slots=True)
class Judgement:
    """One clause judged against one fact.

    ``status`` is always read from the customer's side: PASS means the clause's
    requirement is met (or, for an exclusion such as KDN-X1, that the exclusion
    does not fire); FAIL means it is not met (the exclusion fires); UNKNOWN means
    a fact is missing or contradictory; NOT_APPLICABLE means the clause does not
    concern this fact (e.g. DCM-S2 for a card).

    ``reason`` is a stable snake_case code, ``explanation_ja`` one Japanese
    sentence, ``text_ja`` the clause as written in the seed, ``compared`` every
    value that was compared with what the clause expects.
    """

    clause_id: str
    status: CheckStatus
    reason: str
    explanation_ja: str
    compared: tuple[Compared, ...] = ()
    text_ja: str = ""

    def __post_init__(self) -> None:
        if not _CLAUSE_ID.match(self.clause_id):
            raise ValueError(f"not a clause id: {self.clause_id!r}")
        if self.status not in JUDGEMENT_STATUSES:
            raise ValueError(f"a judgement cannot be {self.status.value}")
        if not _SNAKE_CASE.match(self.reason):
            raise ValueError(f"reason must be snake_case, got {self.reason!r}")
        if not self.explanation_ja:
            raise ValueError("explanation_ja must not be empty")
