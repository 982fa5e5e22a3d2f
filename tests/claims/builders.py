"""Baseline claims that APPROVE, and small edits that make one clause decide.

Each policy has a ``Scenario``: a claim and what Anshin recorded before the
fraud, chosen so that every clause holds and the claim is approved. A test
case changes one thing (``inc(notified_bank_at=...)``, ``stated("HNB-X10")``,
``ledger={"HNB-L1": used(9_500_000)}``) and says what must happen.

Times are JST wall-clock (``at_jst``); money is whole yen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from checks.coverage import MonitoringState, Period
from checks.event_model import (
    FundingSource,
    Instrument,
    InstrumentKind,
    Otp,
    OtpChannel,
    PaymentLogin,
    PaymentLoginMethod,
    Registration,
    ThreeDSecure,
)
from checks.model import CheckStatus, Verdict
from checks.security_standard import PaymentMethod
from rules.engine import (
    Amounts,
    CardFraud,
    ClaimFacts,
    Decision,
    EvaluationContext,
    IbTransferFraud,
    IssuerAnswer,
    IssuerAnswerKind,
    LedgerUsage,
    LegalCost,
    LiabilityClaim,
    LoginRecord,
    Outcome,
    Outline,
    PolicySet,
    PostureRecord,
    QrPaymentFraud,
    RegistrationRecord,
    Reservation,
    SkimmingPhishingLoss,
    claim_marks,
    evaluate,
    held_back,
    ledger_scopes,
    load_policies,
    outline,
    reservations_for,
)
from timing import at_jst

US = timedelta(microseconds=1)
APPROVE, DENY, REVIEW = Outcome.APPROVE, Outcome.DENY, Outcome.REVIEW


@cache
def policies() -> PolicySet:
    return load_policies()


ClaimEdit = Callable[[ClaimFacts], ClaimFacts]
ContextEdit = Callable[[EvaluationContext], EvaluationContext]


def same_claim(claim: ClaimFacts) -> ClaimFacts:
    return claim


def same_context(ctx: EvaluationContext) -> EvaluationContext:
    return ctx


# --------------------------------------------------------------------------- edits


def inc(**changes: Any) -> ClaimEdit:
    """Change fields of the incident."""
    return lambda c: replace(c, incident=replace(c.incident, **changes))


def top(**changes: Any) -> ClaimEdit:
    """Change fields of the claim itself (claimed_at, resident_in_japan, series_id, ...)."""
    return lambda c: replace(c, **changes)


def money(**changes: int) -> ClaimEdit:
    """Change amounts: loss_yen, recovered_yen, points_yen."""
    return lambda c: replace(c, amounts=replace(c.amounts, **changes))


def stated(clause_id: str, value: bool = True) -> ClaimEdit:
    """The claimant states an exclusion fact."""
    return lambda c: replace(c, exclusions={**c.exclusions, clause_id: value})


def unstated(clause_id: str) -> ClaimEdit:
    """The exclusion fact is not stated."""
    return lambda c: replace(
        c, exclusions={k: v for k, v in c.exclusions.items() if k != clause_id}
    )


def both(*edits: ClaimEdit) -> ClaimEdit:
    def apply(c: ClaimFacts) -> ClaimFacts:
        for e in edits:
            c = e(c)
        return c

    return apply


def ctx(**changes: Any) -> ContextEdit:
    return lambda x: replace(x, **changes)


def cover(name: str, *periods: Period) -> ContextEdit:
    return lambda x: replace(x, coverage={**x.coverage, name: tuple(periods)})


def no_cover_record(name: str) -> ContextEdit:
    return lambda x: replace(x, coverage={k: v for k, v in x.coverage.items() if k != name})


def ctx_both(*edits: ContextEdit) -> ContextEdit:
    def apply(x: EvaluationContext) -> EvaluationContext:
        for e in edits:
            x = e(x)
        return x

    return apply


def period(start: datetime, end: datetime | None = None, *persons: str) -> Period:
    return Period(start, end, ("TEST",), "test period", tuple(persons))


def used(amount_yen: int = 0, count: int = 0, persons: frozenset[str] = frozenset()) -> LedgerUsage:
    return LedgerUsage(amount_yen, count, persons)


# --------------------------------------------------------------------------- scenario


@dataclass(frozen=True)
class Scenario:
    claim: ClaimFacts
    context: EvaluationContext


def decide(
    claim: ClaimFacts,
    context: EvaluationContext,
    ledger: Mapping[str, LedgerUsage] | None = None,
    drop_ledger: tuple[str, ...] = (),
) -> Decision:
    """Evaluate with the ledger filled: zero usage for every scope, except ``ledger``.

    ``ledger`` keys are scope-key prefixes (``"HNB-L1"`` matches
    ``HNB-L1/customer:c1/year:2026``); ``drop_ledger`` prefixes are left out
    (the store did not provide them).
    """
    policy = policies().get(claim.policy_id)
    usage: dict[str, LedgerUsage] = {}
    for key in ledger_scopes(policy, claim, context):
        if any(key.startswith(p) for p in drop_ledger):
            continue
        usage[key] = LedgerUsage()
        for prefix, value in (ledger or {}).items():
            if key.startswith(prefix + "/") or key == prefix:
                usage[key] = value
    full = replace(context, ledger=usage)
    decision = evaluate(policy, claim, full)
    # Replay decides with ``outline``: every scenario checks it agrees.
    assert outline(policy, claim, full) == Outline.of(decision), decision.trace()
    return decision


class Book:
    """The ledger as the store keeps it, for claims decided one after another.

    ``decide`` reads the usage the approvals before it reserved (nothing yet:
    zero), and an APPROVE adds its reservations; ``approve`` is an analyst's
    approval of a REVIEW for ``payable_yen``, reserving what
    server/usecases/reviews.py reserves (``reservations_for`` on the ledger as it
    then is), so the claims after it read it too.
    """

    def __init__(self) -> None:
        self.ledger: dict[str, LedgerUsage] = {}

    def _context(self, claim: ClaimFacts, context: EvaluationContext) -> EvaluationContext:
        scopes = ledger_scopes(policies().get(claim.policy_id), claim, context)
        return replace(context, ledger={k: self.ledger.get(k, LedgerUsage()) for k in scopes})

    def _reserve(self, reservations: tuple[Reservation, ...]) -> None:
        for r in reservations:
            u = self.ledger.get(r.scope_key, LedgerUsage())
            self.ledger[r.scope_key] = LedgerUsage(u.amount_yen + r.amount_yen, u.count + r.count)

    def decide(self, claim: ClaimFacts, context: EvaluationContext) -> Decision:
        """A recorded decision: its reservations if APPROVE, and whatever the outcome
        its marks (``claim_marks``), as server/usecases/decide_claim.py writes them."""
        policy = policies().get(claim.policy_id)
        d = evaluate(policy, claim, self._context(claim, context))
        self._reserve(d.reservations)
        for key in claim_marks(policy, claim, Outcome.DENY if held_back(d) else None):
            u = self.ledger.get(key, LedgerUsage())
            self.ledger[key] = LedgerUsage(u.amount_yen, u.count + 1)
        return d

    def approve(
        self, claim: ClaimFacts, context: EvaluationContext, payable_yen: int
    ) -> tuple[Reservation, ...]:
        """An analyst approves ``claim``'s REVIEW for ``payable_yen``; what it reserved."""
        policy = policies().get(claim.policy_id)
        full = self._context(claim, context)
        # What check_approval refuses never reaches the ledger: nothing the caps or
        # the computation do not allow, nothing a re-evaluation denies.
        d = evaluate(policy, claim, full)
        assert d.outcome is Outcome.REVIEW, d.trace()
        assert 0 < payable_yen <= d.computation.payable, d.trace()
        reservations = reservations_for(policy, claim, full, payable_yen)
        for r in reservations:
            used = full.ledger[r.scope_key].amount_yen
            assert r.limit_yen is None or used + payable_yen <= r.limit_yen, (r, used)
        self._reserve(reservations)
        return reservations


def decide_in_turn(claims: list[ClaimFacts], context: EvaluationContext) -> list[Decision]:
    """Decide ``claims`` one after another as the store does (``Book``): each reads
    the usage the APPROVEs before it reserved (tests/claims/test_{jpe,dcm,kdn}.py:
    one incident claimed again)."""
    book = Book()
    return [book.decide(claim, context) for claim in claims]


# --------------------------------------------------------------------------- claims again
# One incident claimed again under new claim ids (tests/claims/test_{hnb,isa,kdn}.py).


def decided_again(scenario: Callable[[], Scenario], *edits: ClaimEdit) -> list[Decision]:
    """``scenario``'s claim once per edit, each under its own claim id, decided in turn
    as the store does (``decide_in_turn``)."""
    base = scenario()
    claims = [replace(e(base.claim), claim_id=f"again-{i}") for i, e in enumerate(edits, 1)]
    return decide_in_turn(claims, base.context)


def paid_again(scenario: Callable[[], Scenario], *edits: ClaimEdit) -> list[tuple[str, int]]:
    return [(d.outcome.value, d.payable_yen) for d in decided_again(scenario, *edits)]


def same(claim: ClaimFacts) -> ClaimFacts:
    return claim


def moved(delta: timedelta, in_utc: bool = False) -> ClaimEdit:
    """The incident's own instant moved by ``delta`` (and/or written in UTC)."""

    def edit(claim: ClaimFacts) -> ClaimFacts:
        incident = claim.incident
        name = type(incident).OCCURRED
        at = getattr(incident, name) + delta
        return replace(
            claim, incident=replace(incident, **{name: at.astimezone(UTC) if in_utc else at})
        )

    return edit


# --------------------------------------------------------------------------- HNB

HNB_FRAUD = at_jst(2026, 3, 1, 10, 0)


def hnb(fraud: datetime = HNB_FRAUD) -> Scenario:
    """An IB transfer fraud on 2026-03-01 10:00 JST, notified the next day; ¥1.5M lost, ¥0.3M back.

    ``fraud`` moves the whole story (notice, claim, logins) with the fraud.
    """
    day = timedelta(days=1)
    claim = ClaimFacts(
        claim_id="hnb-claim-1",
        policy_id="HNB",
        customer_id="ib-contract-1",
        claimed_at=fraud + 19 * day,
        incident=IbTransferFraud(
            fraud_at=fraud,
            notified_bank_at=fraud + 23 * timedelta(hours=1),
            police_consulted_at=fraud + 2 * day,
            alternative_measures_asserted=False,
            used_in_japan=True,
            token_compromised=False,
        ),
        amounts=Amounts(loss_yen=1_500_000, recovered_yen=300_000),
        exclusions={f"HNB-X{n}": False for n in (3, 4, 6, 7, 8, 9, 10, 11, 12, 15, 16, 17)},
        resident_in_japan=True,
    )
    context = EvaluationContext(
        postures=(
            PostureRecord("pc-1", fraud - 2 * day, Verdict.COMPLIANT, "v-pc-1"),
            PostureRecord("pc-2", fraud - 9 * day, Verdict.COMPLIANT, "v-pc-2"),
        ),
        coverage={"HNB": (period(at_jst(2010, 4, 1)),)},
    )
    return Scenario(claim, context)


def posture(
    device: str,
    login_at: datetime,
    verdict: Verdict,
    **clause_statuses: CheckStatus,
) -> PostureRecord:
    statuses = {k.replace("_", "-"): v for k, v in clause_statuses.items()}
    return PostureRecord(device, login_at, verdict, f"v-{device}-{login_at:%m%d%H%M}", statuses)


# --------------------------------------------------------------------------- DCM

DCM_FRAUD = at_jst(2026, 5, 10, 12)
QR_SERVICE = "paypay"
QR_CARD = "tok-card-1"


DCM_REGISTERED = at_jst(2026, 5, 1, 9)
DCM_LOGIN = at_jst(2026, 5, 10, 11)


def dcm_registration(
    at: datetime = DCM_REGISTERED,
    auth: Any = None,
    kind: InstrumentKind = InstrumentKind.CREDIT_CARD,
    token: str = QR_CARD,
    eid: str = "reg-1",
    service: str = QR_SERVICE,
) -> RegistrationRecord:
    instrument = Instrument(token, "1234", kind, FundingSource.NONE, True)
    if auth is None:
        auth = ThreeDSecure("2.2.0", "Y", "05")
    return RegistrationRecord.judge(Registration(eid, "c-dcm", at, service, instrument, auth))


def dcm_login(
    at: datetime = DCM_LOGIN,
    method: PaymentLoginMethod = PaymentLoginMethod.OTP_TWO_STEP,
    otp: Otp | None = None,
    eid: str = "login-1",
    service: str = QR_SERVICE,
) -> LoginRecord:
    if otp is None and method is PaymentLoginMethod.OTP_TWO_STEP:
        otp = Otp(OtpChannel.SMS, False)
    return LoginRecord.judge(PaymentLogin(eid, "c-dcm", at, service, method, otp))


DCM_FACTS = {f"DCM-X{n}": False for n in (1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13)}


def dcm() -> Scenario:
    """A QR-payment fraud (DCM-E1) on 2026-05-10: ¥300,000; ¥50,000 compensated, ¥10,000 points."""
    claim = ClaimFacts(
        claim_id="dcm-claim-1",
        policy_id="DCM",
        customer_id="c-dcm",
        claimed_at=at_jst(2026, 5, 20, 12),
        incident=QrPaymentFraud(
            payment_service_id=QR_SERVICE,
            instrument_token=QR_CARD,
            fraud_at=DCM_FRAUD,
            notified_at=at_jst(2026, 5, 11, 10),
            police_reported_at=at_jst(2026, 5, 11, 11),
            operator_answer=IssuerAnswer(IssuerAnswerKind.NOT_COMPENSATED, "補償対象外"),
            used_in_japan=True,
            event_kind="DCM-E1",
            funding=FundingSource.CREDIT_CARD,
            issued_in_japan=True,
        ),
        amounts=Amounts(loss_yen=300_000, recovered_yen=50_000, points_yen=10_000),
        exclusions=dict(DCM_FACTS),
        series_id="series-1",
    )
    context = EvaluationContext(
        coverage={"DCM": (period(at_jst(2025, 1, 1)),)},
        registrations=(dcm_registration(),),
        logins=(dcm_login(),),
    )
    return Scenario(claim, context)


def dcm_card() -> Scenario:
    """A credit-card fraud (DCM-E3) on 2026-05-10: ¥80,000, nothing compensated."""
    base = dcm()
    claim = replace(
        base.claim,
        claim_id="dcm-claim-2",
        incident=CardFraud(
            card_token="tok-card-9",
            fraud_at=DCM_FRAUD,
            reported_to_issuer_at=at_jst(2026, 5, 11, 9),
            police_reported_at=at_jst(2026, 5, 11, 11),
            issuer_answer=IssuerAnswer(IssuerAnswerKind.NOT_COMPENSATED, "補償対象外"),
            notified_at=at_jst(2026, 5, 12, 10),
            issued_in_japan=True,
            payment_method=PaymentMethod.CREDIT_CARD,
            funding=FundingSource.BANK_ACCOUNT,
        ),
        amounts=Amounts(loss_yen=80_000),
        series_id="series-2",  # DCM-A1: a claim without series_id is REVIEW
    )
    return Scenario(claim, replace(base.context, registrations=(), logins=()))


# --------------------------------------------------------------------------- KDN

KDN_CARD = "tok-kdn-card"
KDN_ALERT = at_jst(2026, 5, 10, 9)
KDN_FRAUD = at_jst(2026, 5, 11, 20)


KDN_REGISTERED = at_jst(2026, 4, 1)


def monitoring(
    registered: datetime | None = KDN_REGISTERED,
    alerts: tuple[datetime, ...] = (KDN_ALERT,),
    unregistered: datetime | None = None,
) -> MonitoringState:
    spans = () if registered is None else (period(registered, unregistered),)
    current = registered if unregistered is None else None
    return MonitoringState(KDN_CARD, current, alerts, spans)


def kdn() -> Scenario:
    """Card fraud on 2026-05-11 20:00, the day after the leak alert; ¥500,000 lost → 90%."""
    claim = ClaimFacts(
        claim_id="kdn-claim-1",
        policy_id="KDN",
        customer_id="c-kdn",
        claimed_at=at_jst(2026, 6, 1, 12),
        incident=CardFraud(
            card_token=KDN_CARD,
            fraud_at=KDN_FRAUD,
            reported_to_issuer_at=at_jst(2026, 5, 12, 10),
            police_reported_at=at_jst(2026, 5, 12, 15),
            issuer_answer=IssuerAnswer(
                IssuerAnswerKind.NOT_COMPENSATED, "会員規約上の補償期間外のため"
            ),
            card_in_hand=True,
            notified_at=at_jst(2026, 5, 13, 10),
            issued_in_japan=True,  # KDN-C0.issuer
        ),
        amounts=Amounts(loss_yen=500_000),
        resident_in_japan=True,  # KDN-C0.resident, KDN-L1.resident (kdn_liability keeps it)
    )
    context = EvaluationContext(
        coverage={"KDN": (period(at_jst(2026, 1, 10, 15)),)},
        monitoring={KDN_CARD: monitoring()},
    )
    return Scenario(claim, context)


def kdn_liability() -> Scenario:
    """A written claim for an information leak received 2026-05-20; ¥800,000 of damages."""
    base = kdn()
    claim = replace(
        base.claim,
        claim_id="kdn-claim-2",
        incident=LiabilityClaim(
            incident_at=at_jst(2026, 5, 1, 10),
            third_party_claim_at=at_jst(2026, 5, 20, 10),
            written_claim=True,
            claim_kind="information_leak",
            cause_known_at=at_jst(2026, 5, 2, 10),
            notified_at=at_jst(2026, 5, 25, 10),
            smartphone_accessed=True,
            claim_names_insured_smartphone=True,
        ),
        amounts=Amounts(loss_yen=800_000),
        exclusions={"KDN-Y4": False, "KDN-Y5": False, "KDN-Y6": False},
    )
    return Scenario(claim, base.context)


# --------------------------------------------------------------------------- JPE

JPE_START = at_jst(2026, 1, 15, 10)


def jpe() -> Scenario:
    """Phishing loss of ¥150,000 on 2026-04-01; service started 2026-01-15 → cover from 03-15."""
    claim = ClaimFacts(
        claim_id="jpe-claim-1",
        policy_id="JPE",
        customer_id="c-jpe",
        claimed_at=at_jst(2026, 4, 10, 12),
        incident=SkimmingPhishingLoss(
            card_token="tok-jpe",
            fraud_at=at_jst(2026, 4, 1, 10),
            kind="phishing",
            negligence=frozenset(),
        ),
        amounts=Amounts(loss_yen=150_000),
    )
    return Scenario(claim, EvaluationContext(coverage={"JPE": (period(JPE_START),)}))


# --------------------------------------------------------------------------- ISA

ISA_FACTS = {f"ISA-X{n}": False for n in range(1, 28) if n not in (22, 28)}


def isa() -> Scenario:
    """A ¥30,000 legal consultation on 2026-05-01 for trouble that began 2026-04-20."""
    claim = ClaimFacts(
        claim_id="isa-claim-1",
        policy_id="ISA",
        customer_id="c-isa",
        claimed_at=at_jst(2026, 5, 10, 12),
        incident=LegalCost(
            kind="consultation",
            incurred_at=at_jst(2026, 5, 1, 14),
            cause_at=at_jst(2026, 4, 20, 10),
            insured_person_ref="person-1",
            success_prospect_found=True,
            insured_is_subscriber=True,
            through_internet=True,
        ),
        amounts=Amounts(loss_yen=30_000),
        exclusions=dict(ISA_FACTS),
    )
    return Scenario(claim, EvaluationContext(coverage={"ISA": (period(at_jst(2024, 4, 1)),)}))


def isa_fees() -> Scenario:
    """Lawyer fees of ¥200,000 on 2026-05-01 → 70%."""
    base = isa()
    assert isinstance(base.claim.incident, LegalCost)
    claim = replace(
        base.claim,
        claim_id="isa-claim-2",
        incident=replace(base.claim.incident, kind="lawyer_fees"),
        amounts=Amounts(loss_yen=200_000),
    )
    return Scenario(claim, base.context)


# --------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    """One row of a clause table.

    ``fires``: True — the clause decides (it pushes DENY or REVIEW, or it
    changes the amount); False — it just misses (holds, does not apply, or
    leaves the amount as it is).
    """

    name: str
    clause: str
    fires: bool
    outcome: Outcome
    claim: ClaimEdit = same_claim
    context: ContextEdit = same_context
    payable: int | None = None
    ledger: Mapping[str, LedgerUsage] = field(default_factory=dict)
    drop_ledger: tuple[str, ...] = ()
    missing: str = ""  # a missing fact the clause must name
    scenario: Callable[[], Scenario] | None = None  # instead of the table's baseline


def run_case(case: Case, scenario: Callable[[], Scenario]) -> Decision:
    base = (case.scenario or scenario)()
    claim = case.claim(base.claim)
    context = case.context(base.context)
    d = decide(claim, context, case.ledger, case.drop_ledger)
    r = d.clause(case.clause)
    trace = d.trace()
    assert d.outcome is case.outcome, trace
    if case.payable is not None:
        assert d.payable_yen == case.payable, trace
    fired = r.fired or r.changed_amount
    assert fired is case.fires, f"{case.clause} fired={fired}, expected {case.fires}\n{trace}"
    if case.fires and case.outcome is not APPROVE:
        assert r.effect.value == case.outcome.value, f"{case.clause} pushed {r.effect}\n{trace}"
    if not case.fires and case.outcome is APPROVE:
        assert not d.fired, trace
    if case.missing:
        assert case.missing in r.missing_facts, trace
    return d


def case_ids(cases: list[Case]) -> list[str]:
    return [c.name for c in cases]
