"""Plain values of the claim engine: the claim, what Anshin recorded, the decision.

Everything is a frozen dataclass or an enum, so ``evaluate`` is a pure function
of (policy, claim, context): no clock, no storage, no gRPC.

* ``ClaimFacts`` — what the claimant states: policy, customer, claim instant,
  one typed incident (the ``incident`` oneof of ``EvaluateClaimRequest``),
  amounts, exclusion facts keyed by clause id, residence.
  ``None`` always means "not stated": a clause that needs it answers REVIEW
  and names the field (``missing_facts``), it never guesses.
* ``EvaluationContext`` — what Anshin recorded before the fraud: posture
  verdicts per device, coverage periods, payment registrations and logins
  with their security-standard judgements, dark-web monitoring, and the
  ledger usage of every cap scope the claim counts toward.
* ``Decision`` — outcome, payable amount, computation trace, every clause
  evaluated and the reservations an APPROVE must make.

Field names of the incidents mirror ``proto/anshin/v1/claims.proto`` so that
a missing fact is reported by its request path (``ib_transfer.notified_bank_at``).
Fields the draft proto lacks are marked "(proposed)".
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, ClassVar, NamedTuple, TypeAlias

from checks.coverage import IgnoredEvent, MonitoringState, Period
from checks.event_model import FundingSource, Judgement, PaymentLogin, Registration
from checks.model import CheckStatus, Compared, Verdict
from checks.security_standard import (
    DEFAULT_SECURITY_SETTINGS,
    PaymentMethod,
    SecurityStandardSettings,
    judge_payment_login,
    judge_registration,
)
from timing.computation import Computation
from timing.jst import require_aware
from timing.money import format_yen, require_yen

__all__ = [
    "INCIDENT_TYPES",
    "Amounts",
    "CardFraud",
    "ClaimFacts",
    "ClauseResult",
    "Decision",
    "Effect",
    "EvaluationContext",
    "IbTransferFraud",
    "Incident",
    "IssuerAnswer",
    "IssuerAnswerKind",
    "LedgerUsage",
    "LegalCost",
    "LiabilityClaim",
    "LoginRecord",
    "Outcome",
    "PostureRecord",
    "QrPaymentFraud",
    "RegistrationRecord",
    "Reservation",
    "SkimmingPhishingLoss",
]


# --------------------------------------------------------------------------- enums


class Outcome(enum.Enum):
    """The decision. Precedence: DENY > REVIEW > APPROVE."""

    APPROVE = "APPROVE"
    DENY = "DENY"
    REVIEW = "REVIEW"


class Effect(enum.Enum):
    """The outcome one clause pushes the decision towards (``Outcome`` in common.proto).

    APPROVE: a condition of payment (effect ``gate``) that holds.
    NONE: the clause held or does not apply, and pushes nowhere.
    """

    APPROVE = "APPROVE"
    DENY = "DENY"
    REVIEW = "REVIEW"
    NONE = "NONE"


class IssuerAnswerKind(enum.Enum):
    """The card company's / payment operator's answer (``IssuerAnswer.Kind`` in claims.proto)."""

    UNSPECIFIED = 0
    NOT_COMPENSATED = 1
    COMPENSATED = 2  # compensated in whole or in part; the amount goes in Amounts.recovered_yen
    REFUSED_NEGLIGENCE = 3  # refused for the insured's fault (KDN-X3 reasons, DCM-C1 過失)
    ISSUER_BANKRUPT = 4
    PENDING = 5
    NOT_RECOGNISED = 6  # the operator did not recognise the use as fraud (DCM-C1)
    REFUSED_RECEIVING_AGENT = 7  # KDN-X3 ② 受領代理人による不正利用
    REFUSED_DUTY_NEGLECTED = 8  # KDN-X3 ③ 義務(名義・住所変更等)を怠った
    REFUSED_FALSE_REPORT = 9  # KDN-X3 ④ 被害届の内容が虚偽
    REFUSED_TERMS_BREACH = 10  # KDN-X3 ⑤ その他カード会員規約違反


@dataclass(frozen=True, slots=True)
class IssuerAnswer:
    kind: IssuerAnswerKind
    reason: str = ""
    answered_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.answered_at is not None:
            require_aware(self.answered_at, "IssuerAnswer.answered_at")


# --------------------------------------------------------------------------- incidents


def _aware_fields(obj: object) -> None:
    """Refuse naive datetimes in every datetime field of a dataclass."""
    cls = type(obj)
    names = _FIELD_NAMES.get(cls)
    if names is None:  # dataclasses.fields() is slow, and a class's fields never change
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(obj))  # type: ignore[arg-type]
    for name in names:
        value = getattr(obj, name)
        # A plain UTC datetime is aware: skip building the field's name for it.
        if isinstance(value, datetime) and not (type(value) is datetime and value.tzinfo is UTC):
            require_aware(value, f"{cls.__name__}.{name}")


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


@dataclass(frozen=True, slots=True)
class IbTransferFraud:
    """HNB: unauthorised IB transfer (``ib_transfer``)."""

    NAME: ClassVar[str] = "ib_transfer"
    OCCURRED: ClassVar[str] = "fraud_at"

    fraud_at: datetime
    notified_bank_at: datetime | None = None
    police_consulted_at: datetime | None = None
    alternative_measures_asserted: bool | None = None
    alternative_measures_note: str = ""
    used_in_japan: bool | None = None  # (proposed) HNB-X14
    police_consulted: bool | None = None  # HNB-X4: False = not consulted
    token_compromised: bool | None = None  # HNB-P3: forged, stolen or lost
    token_compromise_reported: bool | None = None  # HNB-P3: reported to the bank promptly

    def __post_init__(self) -> None:
        _aware_fields(self)

    @property
    def occurred_at(self) -> datetime:
        return self.fraud_at

    @property
    def subkind(self) -> str:
        return ""


@dataclass(frozen=True, slots=True)
class CardFraud:
    """Card fraud (``card_fraud``): KDN card cover, DCM-E3."""

    NAME: ClassVar[str] = "card_fraud"
    OCCURRED: ClassVar[str] = "fraud_at"

    card_token: str
    fraud_at: datetime
    reported_to_issuer_at: datetime | None = None
    police_reported_at: datetime | None = None
    issuer_answer: IssuerAnswer | None = None
    card_in_hand: bool | None = None
    used_in_japan: bool | None = None
    notified_at: datetime | None = (
        None  # (proposed) accident report to the insurer (KDN-N1, DCM-C3)
    )
    issued_in_japan: bool | None = None  # (proposed) DCM-C4
    payment_method: PaymentMethod | None = None  # (proposed) DCM-T 決済手段
    funding: FundingSource | None = None  # (proposed) DCM-T チャージ元／引き落とし先
    payment_service_id: str = ""  # (proposed) service the card was misused through, if any
    police_reported: bool | None = None  # KDN-C4, DCM-X12: False = not reported
    issuer_report_date_confirmable: bool | None = None  # KDN-C7: False = cannot be confirmed

    def __post_init__(self) -> None:
        _aware_fields(self)

    @property
    def occurred_at(self) -> datetime:
        return self.fraud_at

    @property
    def subkind(self) -> str:
        return ""

    @property
    def instrument_token(self) -> str:
        return self.card_token


@dataclass(frozen=True, slots=True)
class QrPaymentFraud:
    """QR-code payment fraud (``qr_payment``): DCM-E1 / DCM-E2."""

    NAME: ClassVar[str] = "qr_payment"
    OCCURRED: ClassVar[str] = "fraud_at"

    payment_service_id: str
    instrument_token: str
    fraud_at: datetime
    notified_at: datetime | None = None
    police_reported_at: datetime | None = None
    operator_answer: IssuerAnswer | None = None
    used_in_japan: bool | None = None
    event_kind: str = ""  # "DCM-E1" | "DCM-E2"
    funding: FundingSource | None = None  # (proposed) DCM-T
    issued_in_japan: bool | None = None  # (proposed) DCM-C4
    police_reported: bool | None = None  # DCM-X12: False = not reported

    def __post_init__(self) -> None:
        _aware_fields(self)

    @property
    def occurred_at(self) -> datetime:
        return self.fraud_at

    @property
    def subkind(self) -> str:
        return self.event_kind

    @property
    def payment_method(self) -> PaymentMethod:
        return PaymentMethod.QR_CODE_PAYMENT


@dataclass(frozen=True, slots=True)
class LiabilityClaim:
    """KDN liability cover (``liability``): a third party's claim against the insured."""

    NAME: ClassVar[str] = "liability"
    OCCURRED: ClassVar[str] = "incident_at"

    incident_at: datetime
    third_party_claim_at: datetime | None = None
    written_claim: bool | None = None
    claim_kind: str = ""  # business_interruption | information_leak | other
    cause_known_at: datetime | None = None
    notified_at: datetime | None = None  # (proposed) KDN-N1
    smartphone_accessed: bool | None = None  # (proposed) KDN-L1
    claim_names_insured_smartphone: bool | None = None  # (proposed) KDN-L1

    def __post_init__(self) -> None:
        _aware_fields(self)

    @property
    def occurred_at(self) -> datetime:
        return self.incident_at

    @property
    def subkind(self) -> str:
        return self.claim_kind


@dataclass(frozen=True, slots=True)
class SkimmingPhishingLoss:
    """JPE phishing / skimming / malicious sign-up loss (``skimming_phishing``).

    ``negligence``: the JPE-G*/JPE-N* codes found, ``None`` when the
    negligence facts were not assessed (every G/N clause then answers REVIEW).
    The typed facts after it are what the seed lists (each None = not stated);
    the policy file classifies them into its clauses (``facts_combine``).
    """

    NAME: ClassVar[str] = "skimming_phishing"
    OCCURRED: ClassVar[str] = "fraud_at"

    card_token: str
    fraud_at: datetime
    kind: str  # phishing | skimming | malicious_signup
    negligence: frozenset[str] | None = None
    pin_told_to_others: bool | None = None
    pin_written_on_card: bool | None = None
    card_handed_to_others: bool | None = None
    other_gross_negligence: bool | None = None
    guessable_pin: bool | None = None
    kept_with_pin_revealing_document: bool | None = None
    pin_memo_kept_with_card: bool | None = None
    pin_reused_elsewhere: bool | None = None
    card_left_exposed: bool | None = None
    card_easily_taken_while_incapacitated: bool | None = None
    other_negligence: bool | None = None  # JPE-N3: as grave as N1 / N2 (過失)

    def __post_init__(self) -> None:
        _aware_fields(self)

    @property
    def occurred_at(self) -> datetime:
        return self.fraud_at

    @property
    def subkind(self) -> str:
        return self.kind


@dataclass(frozen=True, slots=True)
class LegalCost:
    """ISA legal consultation or lawyer fees (``legal_cost``)."""

    NAME: ClassVar[str] = "legal_cost"
    OCCURRED: ClassVar[str] = "incurred_at"

    kind: str  # consultation | lawyer_fees
    incurred_at: datetime
    cause_at: datetime | None = None
    insured_person_ref: str = ""
    # ISA-X28: only true answers the clause (a prospect found); see clearly_no_prospect.
    success_prospect_found: bool | None = None
    # ISA-I1: the insured person's relation to the subscriber (None = not stated).
    insured_is_subscriber: bool | None = None
    relative_degree: int | None = None  # 親等; a spouse is 0
    lives_with_subscriber: bool | None = None
    shares_livelihood: bool | None = None
    is_child: bool | None = None
    unmarried: bool | None = None
    # ISA-X28 「…見込みのないことが明らかな場合」: True fires the exclusion.
    clearly_no_prospect: bool | None = None
    # ISA-P1 (trouble) 「インターネットを通じて生じた」: False is not a ネットトラブル.
    through_internet: bool | None = None

    def __post_init__(self) -> None:
        _aware_fields(self)

    @property
    def occurred_at(self) -> datetime:
        return self.incurred_at

    @property
    def subkind(self) -> str:
        return self.kind


Incident: TypeAlias = (
    IbTransferFraud | CardFraud | QrPaymentFraud | LiabilityClaim | SkimmingPhishingLoss | LegalCost
)

INCIDENT_TYPES: Mapping[str, type[Incident]] = {
    cls.NAME: cls
    for cls in (
        IbTransferFraud,
        CardFraud,
        QrPaymentFraud,
        LiabilityClaim,
        SkimmingPhishingLoss,
        LegalCost,
    )
}
_INCIDENT_CLASSES = tuple(INCIDENT_TYPES.values())
"""Incident types by their oneof name in ``EvaluateClaimRequest``."""


# --------------------------------------------------------------------------- claim


@dataclass(frozen=True, slots=True)
class Amounts:
    """Whole yen. ``points_yen`` is the part of the loss paid with QR-service points (DCM-A3)."""

    loss_yen: int
    recovered_yen: int = 0
    points_yen: int = 0

    def __post_init__(self) -> None:
        require_yen(self.loss_yen, "amounts.loss_yen")
        require_yen(self.recovered_yen, "amounts.recovered_yen")
        require_yen(self.points_yen, "amounts.points_yen")


@dataclass(frozen=True, slots=True)
class ClaimFacts:
    """One claim as the claimant states it.

    ``exclusions``: exclusion facts keyed by clause id (``"HNB-X10": True`` —
    the fraud was done or helped by a relative living together; ``False`` —
    it was not; key absent — not stated → REVIEW naming ``facts.exclusions[HNB-X10]``).
    ``series_id``: the series of incidents (一連の事故, DCM-A1) or the incident
    (JPE-A1) the claim belongs to; empty = the claim is its own.
    """

    claim_id: str
    policy_id: str
    customer_id: str
    claimed_at: datetime
    incident: Incident
    amounts: Amounts
    exclusions: Mapping[str, bool] = field(default_factory=dict)
    resident_in_japan: bool | None = None
    series_id: str = ""  # (proposed at top level; qr_payment.series_id in the draft proto)

    def __post_init__(self) -> None:
        require_aware(self.claimed_at, "ClaimFacts.claimed_at")
        if not isinstance(self.incident, _INCIDENT_CLASSES):
            raise TypeError(f"not an incident: {type(self.incident).__name__}")
        for key, value in self.exclusions.items():
            if not isinstance(value, bool):
                raise TypeError(f"exclusions[{key!r}] must be a bool, got {type(value).__name__}")

    @property
    def incident_type(self) -> str:
        return self.incident.NAME

    @property
    def occurred_at(self) -> datetime:
        """The incident's own instant (fraud_at, incident_at or incurred_at)."""
        return self.incident.occurred_at


TOP_LEVEL_FIELDS: Mapping[str, str] = {
    "claimed_at": "instant",
    "resident_in_japan": "bool",
    "series_id": "str",
    "customer_id": "str",
    "claim_id": "str",
}
"""Claim fields outside the incident that clause parameters may name, with their type."""

_PY_TYPE_NAMES: Mapping[str, str] = {
    "datetime": "instant",
    "datetime | None": "instant",
    "bool | None": "bool",
    "int | None": "int",
    "str": "str",
    "IssuerAnswer | None": "answer",
    "frozenset[str] | None": "code_set",
    "PaymentMethod | None": "payment_method",
    "FundingSource | None": "funding",
}


def _incident_field_types() -> Mapping[str, Mapping[str, str]]:
    table: dict[str, dict[str, str]] = {}
    for name, cls in INCIDENT_TYPES.items():
        types: dict[str, str] = {}
        for f in fields(cls):
            types[f.name] = _PY_TYPE_NAMES.get(str(f.type), "other")
        types["occurred_at"] = "instant"
        if name == "qr_payment":
            types["payment_method"] = "payment_method"
        if name == "card_fraud":
            types["instrument_token"] = "str"
        table[name] = types
    return table


INCIDENT_FIELDS: Mapping[str, Mapping[str, str]] = _incident_field_types()
"""For every incident type, its field names and their types (instant, bool, str, ...)."""


def field_type(name: str) -> set[str]:
    """Every type a field of this name has on some incident or on the claim (empty: unknown)."""
    found = {t[name] for t in INCIDENT_FIELDS.values() if name in t}
    if name in TOP_LEVEL_FIELDS:
        found.add(TOP_LEVEL_FIELDS[name])
    return found


class Resolved(NamedTuple):
    """A claim field looked up by name: its request path, its value, whether this claim has it.

    A named tuple (immutable like the dataclasses here, and built several
    times per clause evaluation at a third of a frozen dataclass's cost).
    """

    path: str
    value: object
    defined: bool


def resolve(claim: ClaimFacts, names: tuple[str, ...]) -> Resolved:
    """The first of ``names`` that this claim's incident (or the claim itself) defines.

    ``occurred_at`` is the incident's own instant and is reported by its real
    field name (``card_fraud.fraud_at``).
    """
    inc = claim.incident
    try:
        path, where, attr = _RESOLVE_PLANS[inc.NAME, names]
    except KeyError:
        if len(_RESOLVE_PLANS) >= 4096:
            _RESOLVE_PLANS.clear()
        path, where, attr = _RESOLVE_PLANS[inc.NAME, names] = _resolve_plan(
            inc.NAME, inc.OCCURRED, names
        )
    except TypeError:  # names not hashable (a list): no plan kept
        path, where, attr = _resolve_plan(inc.NAME, inc.OCCURRED, tuple(names))
    if where == _ON_INCIDENT:
        return Resolved(path, getattr(inc, attr), True)
    if where == _ON_CLAIM:
        return Resolved(path, getattr(claim, attr), True)
    return Resolved(path, None, False)


_NOWHERE, _ON_INCIDENT, _ON_CLAIM = 0, 1, 2
# (incident type, names) -> (request path, where the value is, attribute): a pure
# function of constant tables, so kept (the names come from policy clauses).
_RESOLVE_PLANS: dict[tuple[str, tuple[str, ...]], tuple[str, int, str]] = {}


def _resolve_plan(incident: str, occurred: str, names: tuple[str, ...]) -> tuple[str, int, str]:
    own = INCIDENT_FIELDS[incident]
    for name in names:
        if name == "occurred_at":
            return f"{incident}.{occurred}", _ON_INCIDENT, "occurred_at"
        if name in own:
            return f"{incident}.{name}", _ON_INCIDENT, name
        if name in TOP_LEVEL_FIELDS:
            return name, _ON_CLAIM, name
    first = names[0] if names else ""
    return f"{incident}.{first}", _NOWHERE, ""


# --------------------------------------------------------------------------- context


@dataclass(frozen=True, slots=True)
class PostureRecord:
    """One login posture verdict (HNB-P1..P4), as recorded by PostureService/CheckLogin.

    ``clause_statuses``: optional per-clause worst status of the checks of the
    verdict (e.g. ``{"HNB-P1": PASS, "HNB-P2": FAIL}``). When empty, a
    clause of a single measure can only be judged from the overall verdict.
    """

    device_id: str
    login_at: datetime
    verdict: Verdict
    verdict_id: str
    clause_statuses: Mapping[str, CheckStatus] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require_aware(self.login_at, "PostureRecord.login_at")


@dataclass(frozen=True, slots=True)
class RegistrationRecord:
    """A card or bank account registered to a payment service, with its judgements."""

    client_event_id: str
    payment_service_id: str
    instrument_token: str
    registered_at: datetime
    judgements: tuple[Judgement, ...]

    def __post_init__(self) -> None:
        require_aware(self.registered_at, "RegistrationRecord.registered_at")

    @classmethod
    def judge(
        cls, reg: Registration, settings: SecurityStandardSettings = DEFAULT_SECURITY_SETTINGS
    ) -> RegistrationRecord:
        """Record a reported registration with ``checks.security_standard.judge_registration``."""
        return cls(
            reg.client_event_id,
            reg.payment_service_id,
            reg.instrument.token,
            reg.event_time,
            judge_registration(reg, settings),
        )


@dataclass(frozen=True, slots=True)
class LoginRecord:
    """An internet login to a payment service, with its judgements (DCM-S3, KDN-X1)."""

    client_event_id: str
    payment_service_id: str
    login_at: datetime
    judgements: tuple[Judgement, ...]

    def __post_init__(self) -> None:
        require_aware(self.login_at, "LoginRecord.login_at")

    @classmethod
    def judge(
        cls, login: PaymentLogin, settings: SecurityStandardSettings = DEFAULT_SECURITY_SETTINGS
    ) -> LoginRecord:
        """Record a reported login with ``checks.security_standard.judge_payment_login``."""
        return cls(
            login.client_event_id,
            login.payment_service_id,
            login.event_time,
            judge_payment_login(login, settings),
        )


@dataclass(frozen=True, slots=True)
class LedgerUsage:
    """What earlier approved payouts already used in one cap scope.

    ``persons``: insured persons already paid in the scope (ISA-I1).
    """

    amount_yen: int = 0
    count: int = 0
    persons: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        require_yen(self.amount_yen, "LedgerUsage.amount_yen")
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 0:
            raise ValueError(f"LedgerUsage.count must be a non-negative int, got {self.count!r}")


@dataclass(frozen=True, slots=True)
class EvaluationContext:
    """What Anshin recorded before the fraud, for one customer.

    * ``postures``: login posture verdicts (any order; the engine picks the
      last one per device inside the look-back before the fraud).
    * ``coverage``: coverage periods by policy id (the ``coverage`` parameter
      of the clauses), built as the policy file's ``[cover]`` says. A name that
      is absent means "not provided" (→ REVIEW); an empty tuple means "no
      cover on record" (→ the clause fails). They are *service* periods: a
      clause's start delay (JPE-P1) is applied by the engine from the file.
    * ``registrations`` / ``logins``: payment registrations and logins with
      their judgements (DCM-S1..S3, KDN-X1).
    * ``monitoring``: Norton Monitor state by card token, as of the claim.
    * ``ledger``: usage by scope key, for every key of ``ledger_scopes``; a
      key that is absent means "not provided" (→ REVIEW), never zero.
    """

    postures: tuple[PostureRecord, ...] = ()
    coverage: Mapping[str, tuple[Period, ...]] = field(default_factory=dict)
    # By policy id: recorded events that might have given cover but cannot be
    # judged from the record (an enrolment without its plan …): at an instant
    # no period contains but one of these might, cover is not known (→ REVIEW).
    undecided_cover: Mapping[str, tuple[IgnoredEvent, ...]] = field(default_factory=dict)
    registrations: tuple[RegistrationRecord, ...] = ()
    logins: tuple[LoginRecord, ...] = ()
    monitoring: Mapping[str, MonitoringState] = field(default_factory=dict)
    ledger: Mapping[str, LedgerUsage] = field(default_factory=dict)
    # What several clauses of one evaluation derive alike (the coverage spans,
    # the last posture per device), kept with the records it is derived from:
    # a fresh dict for every context object, ``replace`` included.
    memo: dict[object, Any] = field(default_factory=dict, init=False, compare=False, repr=False)


# --------------------------------------------------------------------------- decision


@dataclass(frozen=True, slots=True)
class ClauseResult:
    """One clause (or one part of a clause) as evaluated for one decision.

    ``status`` reads from the claimant's side: PASS — the condition holds or
    the exclusion does not apply; FAIL — the clause fires; UNKNOWN — a fact is
    missing (``missing_facts`` names the request field); NOT_APPLICABLE.
    """

    clause_id: str
    part: str
    kind: str
    status: CheckStatus
    effect: Effect
    compared: tuple[Compared, ...]
    text_ja: str
    explanation_ja: str
    missing_facts: tuple[str, ...] = ()
    amount_in: int | None = None  # amount clauses: the amount before and after this clause
    amount_out: int | None = None

    @property
    def label(self) -> str:
        return f"{self.clause_id}.{self.part}" if self.part else self.clause_id

    @property
    def changed_amount(self) -> bool:
        """True for an amount clause that changed the amount."""
        return self.amount_in is not None and self.amount_in != self.amount_out

    @property
    def fired(self) -> bool:
        """True when the clause pushes towards DENY or REVIEW."""
        return self.effect in (Effect.DENY, Effect.REVIEW)

    def describe(self) -> str:
        missing = f" missing: {', '.join(self.missing_facts)}" if self.missing_facts else ""
        amount = ""
        if self.amount_in is not None and self.amount_out is not None:
            amount = f" ({format_yen(self.amount_in)} → {format_yen(self.amount_out)})"
        return (
            f"{self.label} [{self.kind}] {self.status.value} → {self.effect.value}{amount}: "
            f"{self.explanation_ja}{missing}"
        )


@dataclass(frozen=True, slots=True)
class Reservation:
    """What an APPROVE must reserve in one ledger scope, atomically with the decision.

    The store adds ``amount_yen`` and ``count`` to the scope's usage, refusing
    (and retrying the evaluation) when ``usage.amount_yen + amount_yen >
    limit_yen`` or ``usage.count + count > max_count``. ``None`` limits do not
    constrain. ``insured_person_ref`` (ISA-I1) is added to the scope's persons.
    """

    scope_key: str
    cap_ids: tuple[str, ...]
    amount_yen: int
    count: int = 1
    limit_yen: int | None = None
    max_count: int | None = None
    insured_person_ref: str = ""

    def describe(self) -> str:
        limits = []
        if self.limit_yen is not None:
            limits.append(f"limit {format_yen(self.limit_yen)}")
        if self.max_count is not None:
            limits.append(f"max {self.max_count} payout(s)")
        if self.insured_person_ref:
            limits.append(f"insured person {self.insured_person_ref}")
        return (
            f"{self.scope_key} [{', '.join(self.cap_ids)}]: +{format_yen(self.amount_yen)}, "
            f"+{self.count}" + (f" ({'; '.join(limits)})" if limits else "")
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer for one claim.

    ``payable_yen`` is 0 unless the outcome is APPROVE; ``computation`` always
    shows what the amount clauses give (its ``payable`` is the computed amount
    before the outcome is applied).
    """

    claim_id: str
    policy_id: str
    policy_version: str
    outcome: Outcome
    payable_yen: int
    computation: Computation
    clauses: tuple[ClauseResult, ...]
    reservations: tuple[Reservation, ...]
    summary_ja: str

    @property
    def fired(self) -> tuple[ClauseResult, ...]:
        """Every clause that pushed towards DENY or REVIEW."""
        return tuple(c for c in self.clauses if c.fired)

    @property
    def missing_facts(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for c in self.clauses:
            for m in c.missing_facts:
                seen.setdefault(m)
        return tuple(seen)

    def clause(self, label: str) -> ClauseResult:
        """The result of a clause by id (``"HNB-X5"``) or id.part (``"KDN-A1.percentage"``).

        An id of a clause with several parts returns its first part.
        """
        for c in self.clauses:
            if c.label == label:
                return c
        for c in self.clauses:
            if c.clause_id == label:
                return c
        raise KeyError(f"no clause {label!r} in the decision")

    def trace(self) -> str:
        """A readable trace: outcome, computation, then every clause."""
        lines = [
            f"{self.policy_id}@{self.policy_version} claim {self.claim_id}: "
            f"{self.outcome.value} {format_yen(self.payable_yen)}",
            self.summary_ja,
            "computation:",
            *(f"  {step.describe()}" for step in self.computation.steps),
            f"  computed: {format_yen(self.computation.payable)}",
            "clauses:",
            *(f"  {c.describe()}" for c in self.clauses),
        ]
        if self.reservations:
            lines.append("reservations:")
            lines.extend(f"  {r.describe()}" for r in self.reservations)
        return "\n".join(lines)
