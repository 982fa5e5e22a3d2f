"""Kinds that read what Anshin recorded before the fraud.

Coverage periods (``checks.coverage.Period``), login posture verdicts,
payment registrations and logins with their security-standard judgements,
dark-web monitoring, and the card company's / operator's answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from checks.coverage import IgnoredEvent, Period, undecided_at, undecided_fact
from checks.event_model import FundingSource, Judgement
from checks.model import CheckStatus, Compared, Verdict
from checks.security_standard import (
    PaymentMethod,
    SecurityStandardSettings,
    judge_payment_method,
)
from rules.engine.kinds.base import (
    FAIL,
    NOT_APPLICABLE,
    PASS,
    UNKNOWN,
    Finding,
    KindSpec,
    ParamSpec,
    ReservationSpec,
    cmp,
    fmt,
    instant_of,
    missing,
    not_defined,
    not_provided,
    per_clause,
)
from rules.engine.kinds.cached import (
    cover_begins_calendar_months_after,
    day_window_end,
    describe_end,
    lookback_from_midnight_days_before,
    period_year_containing,
)
from rules.engine.kinds.facts import required_instant_contradiction
from rules.engine.model import (
    ClaimFacts,
    Effect,
    EvaluationContext,
    IssuerAnswer,
    IssuerAnswerKind,
    PostureRecord,
    QrPaymentFraud,
    RegistrationRecord,
    resolve,
)
from rules.engine.needs import (
    CardMonitoring,
    InstrumentRegistrations,
    LastLogins,
    Need,
    judged_registrations,
    last_of,
)
from rules.engine.policy import Clause, ClauseEffect
from timing.jst import jst_date
from timing.years import PeriodYear, YearAnchor

ALL_EFFECTS = frozenset(ClauseEffect)
INSTANT = frozenset({"instant"})

_AT = ParamSpec(
    "at",
    "fields",
    "The instant that must be covered; default the incident's own instant.",
    required=False,
    default=("occurred_at",),
    field_types=INSTANT,
)
_COVERAGE = ParamSpec(
    "coverage",
    "str",
    "The policy's own id: its cover, built as its [cover] table says "
    "(the key of EvaluationContext.coverage).",
)


def _worst(statuses: Iterable[CheckStatus]) -> CheckStatus:
    """The worst status: FAIL over UNKNOWN over PASS (WARN counts as PASS) over
    NOT_APPLICABLE. Compared by identity (an enum's ``__hash__`` is Python code)."""
    result = NOT_APPLICABLE
    for s in statuses:
        if s is FAIL:
            return FAIL
        if s is UNKNOWN:
            result = UNKNOWN
        elif s is PASS or s is CheckStatus.WARN:
            if result is NOT_APPLICABLE:
                result = PASS
        elif s is not NOT_APPLICABLE:
            raise KeyError(s)
    return result


# --------------------------------------------------------------------------- coverage


@dataclass(frozen=True, slots=True)
class _Span:
    start: datetime
    end: datetime | None
    period: Period

    def contains(self, t: datetime) -> bool:
        return self.start <= t and (self.end is None or t < self.end)


def _spans(periods: Sequence[Period], delay_months: int) -> list[_Span]:
    spans = []
    for p in periods:
        start = p.starts_at
        if delay_months:
            start = cover_begins_calendar_months_after(jst_date(p.starts_at), delay_months)
            start = max(start, p.starts_at)
        if p.ends_at is not None and p.ends_at <= start:
            continue
        spans.append(_Span(start, p.ends_at, p))
    return sorted(spans, key=lambda s: s.start)


def _describe_span(span: _Span) -> str:
    end = "open" if span.end is None else describe_end(span.end)
    return f"from {fmt(span.start)} {end}"


_SPANS = "coverage spans"  # EvaluationContext.memo key


def _spans_described(
    ctx: EvaluationContext, periods: Sequence[Period], delay_months: int, name: str
) -> tuple[list[_Span], str]:
    """``_spans`` and what the trace expects of an instant in them (``name`` the
    coverage); several clauses of one claim read the same periods, so the context
    keeps the last answer (for the very same ``periods``)."""
    hit = ctx.memo.get(_SPANS)
    if hit is not None:
        seen, delay, seen_name, spans, expected = hit
        if seen is periods and delay == delay_months and seen_name == name:
            return spans, expected
    spans = _spans(periods, delay_months)
    text = "; ".join(_describe_span(s) for s in spans) or "none"
    expected = f"in a {name} period: {text}"
    ctx.memo[_SPANS] = (periods, delay_months, name, spans, expected)
    return spans, expected


def covered_at(clause: Clause, claim: ClaimFacts, ctx: EvaluationContext) -> Finding:
    name = clause.str_param("coverage")
    at_r, at = instant_of(claim, clause.list_param("at"))
    if not at_r.defined:
        return not_defined(at_r.path)
    if at is None:
        return missing(at_r.path, "事故の日時")
    periods = ctx.coverage.get(name)
    if periods is None:
        return not_provided(f"context.coverage[{name}]", f"{name}の補償期間の記録")
    delay = clause.int_param("begins_months_after_start")
    spans, expected = _spans_described(ctx, periods, delay, name)
    started = [s for s in spans if s.start <= at]
    latest = started[-1] if started else None
    bound = clause.str_param("bound")
    compared = [cmp(at_r.path, fmt(at), expected)]
    if delay:
        compared.append(cmp(f"{name}.cover_begins", f"{delay} months after the service start", ""))
    if bound == "end" and latest is None:
        return Finding(
            NOT_APPLICABLE,
            "補償期間が始まっていないため、終了の判定は行いません。",
            tuple(compared),
        )
    if latest is None or (bound != "start" and not latest.contains(at)):
        # Outside every period on record; but an event that might have given
        # cover then and cannot be judged makes cover unknown, not absent.
        unknown = cover_not_known(name, ctx.undecided_cover.get(name, ()), at, compared)
        if unknown is not None:
            return unknown
    if latest is None:
        first = f"（最初の補償開始は{fmt(spans[0].start)}）" if spans else "（補償期間の記録なし）"
        return Finding(FAIL, f"{fmt(at)}の事故は補償期間の開始前です{first}。", tuple(compared))
    if bound != "start" and not latest.contains(at):
        assert latest.end is not None
        return Finding(
            FAIL,
            f"{fmt(at)}の事故は{fmt(latest.end)}に補償期間が終了した後です。",
            tuple(compared),
        )
    # The registration is judged against the start of the cover the misuse fell
    # in (DCM-X4 不正登録: a registration made before that cover began).
    if clause.bool_param("check_registration") and isinstance(claim.incident, QrPaymentFraud):
        reg = _last_registration(ctx.registrations, claim.incident, at)
        if reg is None:
            return not_provided(
                "context.registrations", "不正登録（QRコード決済サービスへの登録）の記録"
            )
        compared.append(
            cmp("registration.registered_at", fmt(reg.registered_at), f"≥ {fmt(latest.start)}")
        )
        if reg.registered_at < latest.start:
            return Finding(
                FAIL,
                f"{fmt(reg.registered_at)}の登録は補償期間の開始（{fmt(latest.start)}）前です。",
                tuple(compared),
            )
        return Finding(
            PASS,
            f"{fmt(reg.registered_at)}の登録は補償期間の開始（{fmt(latest.start)}）以後です。",
            tuple(compared),
        )
    if bound == "start":
        return Finding(
            PASS, f"{fmt(at)}の事故は{fmt(latest.start)}の補償開始後です。", tuple(compared)
        )
    return Finding(
        PASS, f"{fmt(at)}の事故は補償期間中（{_describe_span(latest)}）です。", tuple(compared)
    )


def cover_not_known(
    name: str, undecided: Sequence[IgnoredEvent], at: datetime, compared: Sequence[Compared] = ()
) -> Finding | None:
    """UNKNOWN (→ REVIEW) naming what the record lacks when an event that cannot be
    judged might have given cover at ``at`` (docs/claims.md: a fact the decision
    needs but lacks is REVIEW naming it, never a guess); None when none might."""
    events = undecided_at(undecided, at)
    if not events:
        return None
    paths = tuple(dict.fromkeys(undecided_fact(name, i) for i in events))
    why = " ".join(dict.fromkeys(i.judgement.explanation_ja for i in events))
    return Finding(
        UNKNOWN,
        f"{fmt(at)}の時点の補償は記録からは判断できません: {why}（要確認: {', '.join(paths)}）",
        (*compared, *(c for i in events for c in i.judgement.compared)),
        paths,
    )


def _registration_reads(clause: Clause) -> tuple[str, ...]:
    """covered_at with check_registration finds the QR registration by these (DCM-X4)."""
    if clause.bool_param("check_registration"):
        return ("instrument_token", "payment_service_id")
    return ()


def _registration_needs(clause: Clause, claim: ClaimFacts) -> tuple[Need, ...]:
    """DCM-X4 judges the registration of the QR incident's instrument as of its instant."""
    inc = claim.incident
    if not clause.bool_param("check_registration") or not isinstance(inc, QrPaymentFraud):
        return ()
    _, at = instant_of(claim, clause.list_param("at"))
    if at is None:
        return ()
    return (InstrumentRegistrations(inc.instrument_token, at, inc.payment_service_id),)


def _judged(
    records: Iterable[RegistrationRecord], token: str, at: datetime, service: str
) -> dict[str, RegistrationRecord]:
    """service → the registration of ``token`` judged as of ``at`` (needs.judged_registrations)."""
    spans = judged_registrations(
        (
            (r.instrument_token, r.payment_service_id, r.registered_at, r.client_event_id, r)
            for r in records
        ),
        token,
        at,
        service,
    )
    return {svc: last for svc, (_, last) in spans.items()}


def _last_registration(
    records: Sequence[RegistrationRecord], incident: QrPaymentFraud, at: datetime
) -> RegistrationRecord | None:
    service = incident.payment_service_id
    return _judged(records, incident.instrument_token, at, service).get(service)


def notified_before_cover_ended(
    clause: Clause, claim: ClaimFacts, ctx: EvaluationContext
) -> Finding:
    name = clause.str_param("coverage")
    at_r, at = instant_of(claim, clause.list_param("at"))
    nt, notice = instant_of(claim, clause.list_param("notice"))
    if not at_r.defined:
        return not_defined(at_r.path)
    if not nt.defined:
        return not_defined(nt.path)
    if at is None:
        return missing(at_r.path, "事故の日時")
    periods = ctx.coverage.get(name)
    if periods is None:
        return not_provided(f"context.coverage[{name}]", f"{name}の契約期間の記録")
    period = next((p for p in periods if p.contains(at)), None)
    if period is None:
        unknown = cover_not_known(name, ctx.undecided_cover.get(name, ()), at)
        if unknown is not None:
            return unknown
        cancelled = _cancelled_before(name, periods, at)
        if cancelled is not None:
            return cancelled
        # No contract on record, or only one that began after the fraud: a fraud
        # on a service the customer did not have yet means the record is
        # incomplete, not that the loss is excluded.
        return not_provided(
            f"context.coverage[{name}]", f"{fmt(at)}の時点で有効な{name}の契約の記録"
        )
    if notice is None:
        return missing(nt.path, "通知の日時")
    ended = period.ends_at
    compared = (cmp(nt.path, fmt(notice), "before " + (fmt(ended) if ended else "cancellation")),)
    if ended is not None and notice >= ended:
        return Finding(
            FAIL,
            f"{fmt(notice)}の通知は、{fmt(ended)}の解約後に行われた解約以前の被害の通知です。",
            compared,
        )
    return Finding(PASS, "通知は契約の解約前に行われています。", compared)


def _cancelled_before(name: str, periods: Sequence[Period], at: datetime) -> Finding | None:
    """FAIL when the last contract on record before ``at`` was cancelled by then: the
    loss arose after the cancellation, when there was no contract (対象となる契約者:
    「東日本ビジネスIBサービスのご契約があり…」); decided by the periods the store
    gave, never "not provided". None when no contract began before ``at``."""
    before = [p for p in periods if p.starts_at <= at]
    if not before:
        return None
    last = max(before, key=lambda p: p.starts_at)
    assert last.ends_at is not None and last.ends_at <= at  # no period contains ``at``
    return Finding(
        FAIL,
        f"{fmt(at)}の被害は、{fmt(last.ends_at)}の{name}の契約解約後に発生しています"
        "（契約のない期間の被害は補償の対象外です）。",
        (
            cmp(
                f"context.coverage[{name}]", fmt(at), f"before the cancellation {fmt(last.ends_at)}"
            ),
        ),
    )


def _cover_start_period(
    clause: Clause, claim: ClaimFacts, periods: Sequence[Period]
) -> Period | None:
    """The period whose start ``before_cover_start`` compares with: the first, or the
    one containing the incident."""
    if clause.str_param("period") == "first":
        return min(periods, key=lambda p: p.starts_at, default=None)
    return next((p for p in periods if p.contains(claim.occurred_at)), None)


def _undecided_earlier_start(
    clause: Clause, ctx: EvaluationContext, value: datetime, start: datetime
) -> tuple[IgnoredEvent, ...]:
    """The undecided events (GetCoverage ``undecided``) that, had the fact they lack
    been reported, would have started the cover ``before_cover_start`` compares with
    at or before ``value`` (< ``start``): any that might have covered from then on
    (``first``: the first cover start), or, for the period containing the incident,
    one that also reaches that period's start (it would have begun the period)."""
    first = clause.str_param("period") == "first"
    found = []
    for u in ctx.undecided_cover.get(clause.str_param("coverage"), ()):
        if u.may_cover is None:
            continue
        lo, hi = u.may_cover
        if lo is not None and lo > value:
            continue
        if first or hi is None or hi >= start:
            found.append(u)
    return tuple(found)


def before_cover_start_contradiction(
    clause: Clause, claim: ClaimFacts, ctx: EvaluationContext
) -> tuple[str, str] | None:
    """(field, message) when ``facts.exclusions[<clause>]`` and the instant it stands
    in for are both stated and disagree on the record's cover start (ISA-X22 true
    with a cause_at after the first cover start): the clause reads the instant, so
    the attestation would be accepted and ignored; the claim is refused instead."""
    stated = claim.exclusions.get(clause.id)
    fr, value = instant_of(claim, clause.list_param("field"))
    if stated is None or value is None:
        return None
    periods = ctx.coverage.get(clause.str_param("coverage"))
    period = _cover_start_period(clause, claim, periods) if periods else None
    if period is None:
        return None
    before = value < period.starts_at
    if before is stated:
        return None
    if before and _undecided_earlier_start(clause, ctx, value, period.starts_at):
        return None  # the record cannot settle the start: the clause is REVIEW
    side = "before" if before else "at or after"
    return (
        f"exclusions[{clause.id}]",
        f"{str(stated).lower()} contradicts {fr.path} {value.isoformat()}, which is {side} "
        f"the cover start on record {period.starts_at.isoformat()} ({clause.id} reads the "
        f"instant; attest {clause.id} only when {fr.path} is not known): send one of the two",
    )


def before_cover_start(clause: Clause, claim: ClaimFacts, ctx: EvaluationContext) -> Finding:
    name = clause.str_param("coverage")
    fr, value = instant_of(claim, clause.list_param("field"))
    periods = ctx.coverage.get(name)
    if periods is None:
        return not_provided(f"context.coverage[{name}]", f"{name}の補償期間の記録")
    which = clause.str_param("period")
    period = _cover_start_period(clause, claim, periods)
    if period is None:
        return Finding(NOT_APPLICABLE, "該当する補償期間がないため、この条項は判定しません。")
    start = period.starts_at
    label = "初年度補償開始日" if which == "first" else "対象期間の開始時"
    stated = claim.exclusions.get(clause.id)
    path = f"facts.exclusions[{clause.id}]"
    compared: tuple[Compared, ...]
    if not fr.defined or value is None:
        if stated is None:
            paths = (fr.path, path) if fr.defined else (path,)
            return missing(paths, f"{label}（{fmt(start)}）より前の原因・認識の有無")
        compared = (cmp(path, str(stated).lower(), "false"),)
        if stated:
            return Finding(FAIL, f"申告によれば、{label}より前の事由に起因します。", compared)
        return Finding(PASS, f"申告によれば、{label}より前の事由に起因しません。", compared)
    compared = (cmp(fr.path, fmt(value), f"≥ {fmt(start)} ({label})"),)
    if stated is not None:  # it agrees, or undecided cover leaves it open (CONTRADICTIONS)
        agrees = (value < start) is stated
        compared += (cmp(path, str(stated).lower(), "agrees" if agrees else "not settled"),)
    if value < start:
        # An event the record cannot judge might have started the cover at or
        # before ``value``: whether it was before the start is not known.
        unknown = _undecided_earlier_start(clause, ctx, value, start)
        if unknown:
            lacking = tuple(dict.fromkeys(undecided_fact(name, u) for u in unknown))
            why = " ".join(dict.fromkeys(u.judgement.explanation_ja for u in unknown))
            return Finding(
                UNKNOWN,
                f"{fmt(value)}は記録上の{label}（{fmt(start)}）より前ですが、それより前に"
                f"補償が始まっていた可能性があり、記録からは判断できません: {why}"
                f"（要確認: {', '.join(lacking)}）",
                (*compared, *(c for u in unknown for c in u.judgement.compared)),
                lacking,
            )
        return Finding(FAIL, f"{fmt(value)}は{label}（{fmt(start)}）より前です。", compared)
    return Finding(PASS, f"{fmt(value)}は{label}（{fmt(start)}）以後です。", compared)


def _person_year(clause: Clause, claim: ClaimFacts) -> PeriodYear | None:
    """The year that is the 補償期間 (``year_anchor``), or None: each cover period is one."""
    anchor = clause.params.get("year_anchor")
    if not isinstance(anchor, YearAnchor):
        return None
    return period_year_containing(claim.occurred_at, anchor)


def _person_scope(clause: Clause, claim: ClaimFacts, period: Period) -> str:
    name = clause.str_param("scope_name") or clause.id
    year = _person_year(clause, claim)
    if year is not None:  # a gap in the cover does not start a new 補償期間
        return f"{name}/customer:{claim.customer_id}/year:{year.label}"
    # In UTC: the same instant must make the same key whatever offset the event
    # or the policy file wrote it with (keys are compared as text in the ledger).
    start = period.starts_at.astimezone(UTC).isoformat()
    return f"{name}/customer:{claim.customer_id}/period:{start}"


def _person_period(clause: Clause, claim: ClaimFacts, ctx: EvaluationContext) -> Period | None:
    periods = ctx.coverage.get(clause.str_param("coverage"), ())
    return next((p for p in periods if p.contains(claim.occurred_at)), None)


def _enrolled_persons(
    clause: Clause, claim: ClaimFacts, ctx: EvaluationContext, period: Period
) -> tuple[str, ...]:
    """The persons enrolments name for the 補償期間: the period's own, or with a
    ``year_anchor`` those of every period overlapping the year, earliest first."""
    year = _person_year(clause, claim)
    if year is None:
        return period.insured_person_refs
    periods = ctx.coverage.get(clause.str_param("coverage"), ())
    overlapping = sorted(
        (
            p
            for p in periods
            if p.starts_at < year.end and (p.ends_at is None or p.ends_at > year.start)
        ),
        key=lambda p: p.starts_at,
    )
    return tuple(dict.fromkeys(ref for p in overlapping for ref in p.insured_person_refs))


def one_insured_person(clause: Clause, claim: ClaimFacts, ctx: EvaluationContext) -> Finding:
    name = clause.str_param("coverage")
    if ctx.coverage.get(name) is None:
        return not_provided(f"context.coverage[{name}]", f"{name}の補償期間の記録")
    period = _person_period(clause, claim, ctx)
    if period is None:
        return Finding(NOT_APPLICABLE, "補償期間外のため、被保険者の判定は行いません。")
    pr = resolve(claim, clause.list_param("person"))
    if not pr.defined:
        return not_defined(pr.path)
    person = pr.value if isinstance(pr.value, str) else ""
    if not person:
        return missing(pr.path, "被保険者")
    refs = _enrolled_persons(clause, claim, ctx, period)
    if refs:
        compared = (cmp(pr.path, person, refs[0]),)
        if person == refs[0]:
            return Finding(PASS, f"被保険者「{person}」はこの補償期間の被保険者です。", compared)
        return Finding(
            FAIL,
            f"この補償期間の被保険者は既に「{refs[0]}」であり、1補償期間で対象となるのは1名のみです。",
            compared,
        )
    key = _person_scope(clause, claim, period)
    usage = ctx.ledger.get(key)
    if usage is None:
        return not_provided(f"context.ledger[{key}]", "この補償期間に支払済みの被保険者の記録")
    paid = sorted(usage.persons)
    compared = (cmp(pr.path, person, " or ".join(paid) or "anyone (first insured person)"),)
    if paid and person not in usage.persons:
        return Finding(
            FAIL,
            f"この補償期間には既に「{paid[0]}」に支払っており、1補償期間で対象となるのは1名のみです。",
            compared,
        )
    return Finding(
        PASS,
        f"被保険者「{person}」はこの補償期間の唯一の被保険者です。",
        compared,
        reservation=ReservationSpec(key, insured_person_ref=person),
    )


def one_insured_person_scopes(
    clause: Clause, claim: ClaimFacts, ctx: EvaluationContext
) -> tuple[str, ...]:
    period = _person_period(clause, claim, ctx)
    if period is None or _enrolled_persons(clause, claim, ctx, period):
        return ()
    return (_person_scope(clause, claim, period),)


# --------------------------------------------------------------------------- posture

_VERDICT_STATUS = {
    Verdict.COMPLIANT: PASS,
    Verdict.NON_COMPLIANT: FAIL,
    Verdict.UNKNOWN: UNKNOWN,
}


_POSTURES = "last posture per device"  # EvaluationContext.memo key


def _last_posture_per_device(
    ctx: EvaluationContext, fraud_at: datetime, days: int
) -> tuple[PostureRecord, ...]:
    """The last verdict of each device seen from 00:00 JST ``days`` days before the fraud.

    Several clauses of one evaluation ask the same question: the context keeps
    the last answer (for the very same ``postures`` object only).
    """
    records = ctx.postures
    hit = ctx.memo.get(_POSTURES)
    if hit is not None:
        seen, at, n, result = hit
        if seen is records and at == fraud_at and n == days:
            return result  # type: ignore[no-any-return]
    start = lookback_from_midnight_days_before(fraud_at, days).start
    last: dict[str, PostureRecord] = {}
    for rec in sorted(records, key=lambda r: (r.login_at, r.verdict_id)):
        if start <= rec.login_at < fraud_at:
            last[rec.device_id] = rec
    result = tuple(last[d] for d in sorted(last))
    ctx.memo[_POSTURES] = (records, fraud_at, days, result)
    return result


def _record_status(rec: PostureRecord, checks: tuple[str, ...]) -> CheckStatus:
    if not checks:
        return _VERDICT_STATUS[rec.verdict]
    if rec.clause_statuses:
        return _worst(rec.clause_statuses.get(c, PASS) for c in checks)
    return PASS if rec.verdict is Verdict.COMPLIANT else UNKNOWN


def _posture_compared(
    recs: Sequence[PostureRecord], statuses: Sequence[CheckStatus]
) -> tuple[Compared, ...]:
    """One comparison per record, with its status (``_record_status``) for the clause."""
    return tuple(
        cmp(
            f"posture[{r.device_id}]",
            f"{status.value} ({r.verdict.value}) at {fmt(r.login_at)}, verdict {r.verdict_id}",
            "PASS",
        )
        for r, status in zip(recs, statuses, strict=True)
    )


def _excuse(clause: Clause, claim: ClaimFacts) -> tuple[str, bool | None]:
    r = resolve(claim, clause.list_param("excuse"))
    return r.path, r.value if isinstance(r.value, bool) else None


def posture_required(clause: Clause, claim: ClaimFacts, ctx: EvaluationContext) -> Finding:
    fraud_at = claim.occurred_at
    days = clause.int_param("lookback_days")
    checks = clause.list_param("checks")
    excused_by = clause.str_param("excused_by")
    recs = _last_posture_per_device(ctx, fraud_at, days)
    excuse_path, excused = _excuse(clause, claim)
    scope = "・".join(checks) if checks else "当行が求めるセキュリティ対策"
    if not recs:
        return Finding(
            UNKNOWN,
            f"不正利用前の{days}日間（{fmt(fraud_at)}まで）にログイン時の確認記録がないため、"
            f"{scope}を講じていたか確認できません（{excused_by}により人が判断します）。",
            (cmp("postures", "none", f"a verdict in the {days} days before the fraud"),),
            # Only a really absent excuse is missing: one stated false is an answer.
            (excuse_path,) if excused is None else (),
            effect=Effect.REVIEW,
        )
    statuses = [_record_status(r, checks) for r in recs]
    status = _worst(statuses)
    compared = _posture_compared(recs, statuses)
    if status is PASS:
        return Finding(
            PASS, f"不正利用前の各端末の最後の確認で{scope}は講じられています。", compared
        )
    if status is UNKNOWN:
        return Finding(
            UNKNOWN,
            f"不正利用前の端末の最後の確認で{scope}を講じていたか判定できません。",
            compared,
        )
    if excused:
        return Finding(
            FAIL,
            f"不正利用前の端末の最後の確認で{scope}が講じられていませんが、契約者が当行の求める"
            f"以上の対策をとっていたと説明しているため、{excused_by}により補償を検討します。",
            (*compared, cmp(excuse_path, "true", "")),
            effect=Effect.REVIEW,
        )
    if excused is None:
        # Not stated is REVIEW, never DENY: the customer may yet explain measures
        # beyond the bank's (the excuse clause), and nobody asked.
        return Finding(
            FAIL,
            f"不正利用前の端末の最後の確認で{scope}が講じられていません。当行が求める以上の"
            f"対策の説明の有無が申告されていないため、判断できません（要確認: {excuse_path}）。",
            (*compared, cmp(excuse_path, "", "stated")),
            (excuse_path,),
            effect=Effect.REVIEW,
        )
    return Finding(FAIL, f"不正利用前の端末の最後の確認で{scope}が講じられていません。", compared)


def posture_excuse(clause: Clause, claim: ClaimFacts, ctx: EvaluationContext) -> Finding:
    fraud_at = claim.occurred_at
    days = clause.int_param("lookback_days")
    recs = _last_posture_per_device(ctx, fraud_at, days)
    excuse_path, excused = _excuse(clause, claim)
    excuse_cmp = cmp(excuse_path, "" if excused is None else str(excused).lower(), "")
    if not recs:
        return Finding(
            UNKNOWN,
            f"不正利用前の{days}日間にログイン時の確認記録がないため、当行が求める以上の対策を"
            "とっていたかの契約者の説明により補償を検討します。",
            (cmp("postures", "none", "a verdict before the fraud"), excuse_cmp),
            # Only a really absent excuse is missing: one stated false is an answer.
            (excuse_path,) if excused is None else (),
            effect=Effect.REVIEW,
        )
    statuses = [_record_status(r, ()) for r in recs]
    status = _worst(statuses)
    compared = (*_posture_compared(recs, statuses), excuse_cmp)
    if status is PASS:
        return Finding(
            NOT_APPLICABLE,
            "当行が求めるセキュリティ対策は講じられているため適用されません。",
            compared,
        )
    if excused:
        return Finding(
            FAIL,
            "契約者が当行の求めるセキュリティ以上の対策をとっていたと説明しているため、"
            "説明内容により補償するか検討します。",
            compared,
        )
    return Finding(
        NOT_APPLICABLE,
        "当行が求める以上の対策をとっていたとの説明がないため、適用されません。",
        compared,
    )


# --------------------------------------------------------------------------- payment events


def _judgements(
    clause: Clause, claim: ClaimFacts, ctx: EvaluationContext
) -> tuple[list[Judgement], list[str]]:
    """Judgements of the clause from the last registration / login before the incident."""
    judged = clause.str_param("judgement") or clause.id
    sources = clause.list_param("sources")
    inc = claim.incident
    token = getattr(inc, "instrument_token", "")
    service = getattr(inc, "payment_service_id", "")
    at = claim.occurred_at
    found: list[Judgement] = []
    subjects: list[str] = []
    last_reg = _judged(ctx.registrations, token, at, service)
    if "registration" in sources:
        for r in last_reg.values():
            subjects.append(f"registration {r.client_event_id}")
            found.extend(j for j in r.judgements if j.clause_id == judged)
    if "login" in sources:
        services = {service} if service else set(last_reg)
        for svc in sorted(services):
            lg = last_of(
                ((x.login_at, x.client_event_id), x)
                for x in ctx.logins
                if x.payment_service_id == svc and x.login_at <= at
            )
            if lg is not None:
                subjects.append(f"login {lg.client_event_id}")
                found.extend(j for j in lg.judgements if j.clause_id == judged)
    return found, subjects


def _security_needs(clause: Clause, claim: ClaimFacts) -> tuple[Need, ...]:
    """What ``_judgements`` reads: the registrations it judges, and the logins
    (to the incident's service, or to each service the instrument was registered to)."""
    sources = clause.list_param("sources")
    inc = claim.incident
    token = str(getattr(inc, "instrument_token", "") or "")
    service = str(getattr(inc, "payment_service_id", "") or "")
    at = claim.occurred_at
    out: list[Need] = []
    if token and ("registration" in sources or ("login" in sources and not service)):
        out.append(InstrumentRegistrations(token, at, service))
    if "login" in sources and (service or token):
        out.append(LastLogins(at, service=service, instrument="" if service else token))
    return tuple(out)


def _monitoring_needs(clause: Clause, claim: ClaimFacts) -> tuple[Need, ...]:
    token = str(getattr(claim.incident, "card_token", "") or "")
    return (CardMonitoring(token, claim.claimed_at),) if token else ()


def security_standard(clause: Clause, claim: ClaimFacts, ctx: EvaluationContext) -> Finding:
    found, subjects = _judgements(clause, claim, ctx)
    if not found:
        sources = clause.list_param("sources")
        service = str(getattr(claim.incident, "payment_service_id", "") or "")
        if clause.str_param("when_none") == "not_applicable" and service:
            # The claimant says the fraud went through this service, and nothing on
            # record shows how it was registered or logged in to: not "none".
            paths = tuple(f"context.{s}s[{service}]" for s in sources)
            return Finding(
                UNKNOWN,
                f"申告された決済サービス「{service}」への登録・ログインの記録が提供されて"
                "いないため、3Dセキュア認証・二段階認証を経ていたか判断できません"
                f"（要確認: {', '.join(paths)}）。",
                (cmp("records", "none", f"a registration or login of {service}"),),
                paths,
            )
        if clause.str_param("when_none") == "not_applicable":
            return Finding(
                NOT_APPLICABLE,
                "不正利用前にこのカード等の決済サービスへの登録・ログインの記録がないため、"
                "この条項は適用されません。",
            )
        paths = tuple(f"context.{s}s" for s in sources)
        return Finding(
            UNKNOWN,
            "不正利用前の決済サービスへの登録・ログインの記録がないため、セキュリティ基準を"
            "満たすか判断できません。",
            (cmp("records", "none", ", ".join(sources)),),
            paths,
        )
    status = _worst(j.status for j in found)
    worst = [j for j in found if (PASS if j.status is CheckStatus.WARN else j.status) is status]
    compared = (
        cmp("records", ", ".join(subjects), "the last before the incident"),
        *(c for j in found for c in j.compared),
    )
    return Finding(status, " ".join(j.explanation_ja for j in worst), compared)


def alert_window(clause: Clause, claim: ClaimFacts, ctx: EvaluationContext) -> Finding:
    token = getattr(claim.incident, "card_token", "")
    if not token:
        return not_defined(f"{claim.incident_type}.card_token")
    state = ctx.monitoring.get(token)
    if state is None:
        return not_provided(f"context.monitoring[{token}]", "ダークウェブモニタリングの記録")
    at = claim.occurred_at
    spans = "; ".join(
        f"{fmt(p.starts_at)}–{fmt(p.ends_at) if p.ends_at else 'open'}" for p in state.registrations
    )
    if clause.str_param("check") == "detected":
        compared = (
            cmp("monitoring.registrations", spans or "none", "registered"),
            cmp(
                "monitoring.alerts",
                ", ".join(fmt(a) for a in state.alerts_delivered_at) or "none",
                "≥ 1 leak alert for the card",
            ),
        )
        if not state.registrations:
            return Finding(FAIL, "カードはノートンモニターに登録されていません。", compared)
        if not state.alerts_delivered_at:
            return Finding(
                FAIL,
                "カード情報のダークウェブ上への流出がノートンモニターで検知・通知されていません。",
                compared,
            )
        return Finding(
            PASS,
            f"カード情報の流出が{fmt(state.alerts_delivered_at[0])}にノートンモニターで検知・通知されています。",
            compared,
        )
    reg_cmp = (cmp("monitoring.registrations", spans or "none", f"registered before {fmt(at)}"),)
    if any(p.contains(at) for p in state.registrations):
        return Finding(PASS, f"{fmt(at)}の不正利用はノートンモニターへの登録後です。", reg_cmp)
    return Finding(
        FAIL,
        f"{fmt(at)}の不正利用の時点でカードはノートンモニターに登録されていません"
        "（登録前の不正利用）。",
        reg_cmp,
    )


@per_clause
def _table_settings(clause: Clause) -> SecurityStandardSettings:
    return SecurityStandardSettings(
        dcm_t_qr_debit_card_covered=clause.bool_param("qr_debit_card_covered"),
        card_own_funding_is_bank_account=clause.bool_param("card_own_funding_is_bank_account"),
        payment_table=clause.table_param("table"),
        texts={clause.id: clause.text_ja},
    )


def payment_method_covered(clause: Clause, claim: ClaimFacts, _: EvaluationContext) -> Finding:
    inc = claim.incident
    if not hasattr(inc, "payment_method") or not hasattr(inc, "funding"):
        return not_defined(f"{inc.NAME}.payment_method")
    method = inc.payment_method
    funding = inc.funding
    if not isinstance(method, PaymentMethod):
        return missing(f"{inc.NAME}.payment_method", "決済手段")
    if not isinstance(funding, FundingSource):
        return missing(f"{inc.NAME}.funding", "チャージ元・引き落とし先")
    j = judge_payment_method(method, funding, _table_settings(clause))
    return Finding(j.status, j.explanation_ja, j.compared)


def issuer_answer(clause: Clause, claim: ClaimFacts, _: EvaluationContext) -> Finding:
    r = resolve(claim, clause.list_param("answer"))
    if not r.defined:
        return not_defined(r.path)
    answer = r.value if isinstance(r.value, IssuerAnswer) else None
    if answer is None or answer.kind is IssuerAnswerKind.UNSPECIFIED:
        return missing(r.path, "カード会社・決済事業者の回答")
    pass_on = clause.list_param("pass_on")
    fail_on = clause.list_param("fail_on")
    kind = answer.kind.name
    compared = [cmp(f"{r.path}.kind", kind, " or ".join(pass_on))]
    if kind in fail_on:
        return Finding(
            FAIL,
            f"カード会社・決済事業者の回答（{kind}{'：' + answer.reason if answer.reason else ''}）"
            "はこの条項に当たります。",
            tuple(compared),
        )
    days = clause.int_param("reported_within_days")
    if days:
        rr, reported = instant_of(claim, clause.list_param("reported"))
        if reported is None:
            return missing(rr.path, "カード会社等へ請求した日時")
        end = day_window_end(clause.str_param("counting"), jst_date(claim.occurred_at), days)
        compared.append(cmp(rr.path, fmt(reported), describe_end(end)))
        if not reported < end:  # the window's deadline
            return Finding(
                FAIL,
                f"カード会社等への請求（{fmt(reported)}）は不正利用の発生から{days}日以内ではありません。",
                tuple(compared),
            )
    if kind not in pass_on:
        if answer.kind is IssuerAnswerKind.PENDING:  # the final answer is really absent
            return Finding(
                UNKNOWN,
                f"カード会社・決済事業者の回答（{kind}）では、補償を受けられなかったことが"
                "まだ明らかではありません。",
                tuple(compared),
                (r.path,),
            )
        # A stated answer the clause's text neither accepts nor excludes (DCM-C1 on a
        # refusal for a receiving agent's misuse): a human decides; nothing is missing.
        return Finding(
            UNKNOWN,
            f"カード会社・決済事業者の回答（{kind}）の場合について、この条項は定めていない"
            "ため、人による審査が必要です。",
            tuple(compared),
            effect=Effect.REVIEW,
        )
    if clause.bool_param("reason_required") and not answer.reason.strip():
        return missing(f"{r.path}.reason", "補償を受けられなかった理由", *compared)
    if answer.kind is IssuerAnswerKind.COMPENSATED and claim.amounts.recovered_yen == 0:
        # Compensated in whole or in part, and nothing recovered stated: the amount to
        # deduct (「補償を受けられる額を除きます」) is unknown, not zero (A19g B2). A human
        # decides, and the incident is held back (no fact named missing): a re-send
        # that turns the answer into NOT_COMPENSATED instead of stating the amount
        # would otherwise be paid the whole loss (A19h).
        return Finding(
            UNKNOWN,
            "カード会社・決済事業者が補償した（COMPENSATED）との回答ですが、補償を受けた額"
            "（amounts.recovered_yen）が申告されていないため、支払額を決められません。"
            "人による審査が必要です。",
            tuple(compared),
            effect=Effect.REVIEW,
        )
    return Finding(
        PASS,
        f"カード会社・決済事業者の回答（{kind}）はこの条項の条件を満たします。",
        tuple(compared),
    )


_ANSWER_FIELDS = ParamSpec(
    "answer",
    "fields",
    "The answer field(s): issuer_answer (card_fraud), operator_answer (qr_payment).",
    field_types=frozenset({"answer"}),
)

KINDS = (
    KindSpec(
        "covered_at",
        "The incident instant lies in a coverage period from the events (enrolment, "
        "activation). bound=start: a period had started (KDN-P1); bound=end: the period "
        "that had started had not ended (KDN-P2); bound=both: inside a period. Outside "
        "every period, an event that might have covered the instant but cannot be judged "
        "(an enrolment without its plan, an activation without the billed phone, a LEFT "
        "with no JOINED) makes it REVIEW naming the fact (GetCoverage `undecided`), never "
        "DENY.",
        (
            _COVERAGE,
            ParamSpec(
                "bound",
                "choice",
                "start, end or both.",
                choices=("start", "end", "both"),
            ),
            _AT,
            ParamSpec(
                "begins_months_after_start",
                "int",
                "Cover begins N calendar months after the JST start date (JPE-P1: 2), "
                "00:00 JST of the corresponding day, clamped to the month end (民法143条). "
                "0 = at the period start.",
            ),
            ParamSpec(
                "check_registration",
                "bool",
                "For QR incidents: the last registration of the instrument to the service "
                "before the fraud must not precede the start of the cover the fraud falls in "
                "(DCM-X4 不正登録; restrict the clause with applies_to to the events where the "
                "registration is the fraudulent one).",
                required=False,
                default=False,
            ),
        ),
        ALL_EFFECTS,
        check=covered_at,
        reads=_registration_reads,
        needs=_registration_needs,
    ),
    KindSpec(
        "notified_before_cover_ended",
        "The notice of a loss that happened in a contract period was made before that "
        "period ended (HNB-X2: not notified after cancellation). A loss after the last "
        "contract on record was cancelled fires (no contract then); no contract on record, "
        "or only one begun after the loss, is REVIEW; an undecided event as for covered_at.",
        (
            _COVERAGE,
            _AT,
            ParamSpec("notice", "fields", "The notice instant.", field_types=INSTANT),
        ),
        ALL_EFFECTS,
        check=notified_before_cover_ended,
    ),
    KindSpec(
        "before_cover_start",
        "Fires when an instant (cause, knowledge of the cause) is before the start of the "
        "cover: the period containing the incident, or the first period. When the instant "
        "is not stated, falls back to facts.exclusions[<clause id>]; both stated and "
        "disagreeing on the record's cover start is refused (INVALID_ARGUMENT naming both), "
        "never one accepted and ignored. An instant before the start that an undecided event "
        "(GetCoverage `undecided`) might have covered from, so that the start might be at or "
        "before it, is REVIEW naming the event's missing fact, and an attestation there is "
        "not refused.",
        (
            _COVERAGE,
            ParamSpec("field", "fields", "The instant compared.", field_types=INSTANT),
            ParamSpec(
                "period",
                "choice",
                "containing (the period of the incident) or first (初年度補償開始日).",
                choices=("containing", "first"),
            ),
        ),
        ALL_EFFECTS,
        check=before_cover_start,
        attests=lambda clause: (clause.id,),  # the fallback when the instant is not stated
    ),
    KindSpec(
        "one_insured_person",
        "Only one insured person per coverage period (or per anchored year): its first "
        "enrolled person, or (without enrolment persons) the person already paid in its "
        "ledger scope; an APPROVE reserves the person.",
        (
            _COVERAGE,
            ParamSpec("person", "fields", "The person field.", field_types=frozenset({"str"})),
            ParamSpec(
                "scope_name",
                "str",
                "Ledger scope name; default the clause id.",
                required=False,
                default="",
            ),
            ParamSpec(
                "year_anchor",
                "anchor",
                'The 補償期間 is the year beginning at this JST anchor ("MM-DD HH:MM") that '
                "contains the incident, whatever gaps the cover has in it; absent, each "
                "continuous cover period is one.",
                required=False,
                default=None,
            ),
        ),
        ALL_EFFECTS,
        check=one_insured_person,
        scopes=one_insured_person_scopes,
    ),
    KindSpec(
        "posture_required",
        "The last login posture verdict of every device seen in the look-back before the "
        "fraud meets the measures: none on record → REVIEW; a failing one → DENY, or "
        "REVIEW when the claim asserts alternative measures; UNKNOWN → REVIEW.",
        (
            ParamSpec(
                "lookback_days",
                "days",
                "Look-back from 00:00 JST N days before the fraud date up to the fraud.",
            ),
            ParamSpec(
                "checks",
                "clause_ids",
                "Posture clauses to read from each verdict's breakdown (HNB-P1 ...); "
                "empty = the overall verdict.",
            ),
            ParamSpec(
                "excuse",
                "fields",
                "The boolean fact asserting alternative measures.",
                field_types=frozenset({"bool"}),
            ),
            ParamSpec("excused_by", "str", "The clause cited when excused (HNB-R1)."),
        ),
        frozenset({ClauseEffect.GATE, ClauseEffect.DENY}),
        check=posture_required,
    ),
    KindSpec(
        "posture_excuse",
        "The relief for a customer who could not take the measures: fires (REVIEW) when "
        "the measures are not shown and the claim asserts alternative measures, or when "
        "no posture is on record.",
        (
            ParamSpec("lookback_days", "days", "Same look-back as posture_required."),
            ParamSpec(
                "excuse",
                "fields",
                "The boolean fact asserting alternative measures.",
                field_types=frozenset({"bool"}),
            ),
        ),
        frozenset({ClauseEffect.REVIEW}),
        check=posture_excuse,
    ),
    KindSpec(
        "security_standard",
        "The judgement of a security-standard clause (checks.security_standard) on the "
        "last registration of the instrument and/or the last login to the service before "
        "the incident; the worst judgement decides. With when_none=not_applicable, a claim "
        "that names a payment service with nothing on record for it is REVIEW "
        "(context.registrations[service]), not 'none'.",
        (
            ParamSpec(
                "judgement",
                "str",
                "The judgement clause id to read; default the clause's own id.",
                required=False,
                default="",
            ),
            ParamSpec("sources", "str_list", "registration and/or login."),
            ParamSpec(
                "when_none",
                "choice",
                "No record: unknown (REVIEW) or not_applicable.",
                choices=("unknown", "not_applicable"),
            ),
        ),
        ALL_EFFECTS,
        check=security_standard,
        needs=_security_needs,
        reads=lambda clause: ("instrument_token", "payment_service_id"),
    ),
    KindSpec(
        "alert_window",
        "Dark-web monitoring of the claim's card: check=detected — the card is registered "
        "and a leak alert exists (KDN-C0); check=registered_before — the fraud happened "
        "while the card was registered (KDN-C1).",
        (
            ParamSpec(
                "check",
                "choice",
                "detected or registered_before.",
                choices=("detected", "registered_before"),
            ),
        ),
        ALL_EFFECTS,
        check=alert_window,
        needs=_monitoring_needs,
        reads=lambda clause: ("card_token",),
    ),
    KindSpec(
        "payment_method_covered",
        "The payment method / funding source tables (DCM-T), given as the clause's `table`, "
        "judged by checks.security_standard.",
        (
            ParamSpec(
                "qr_debit_card_covered",
                "bool",
                "A debit card funding a QR service counts as the クレジットカード row.",
            ),
            ParamSpec(
                "card_own_funding_is_bank_account",
                "bool",
                "A card that is its own funding settles by bank account (口座振替).",
            ),
            ParamSpec(
                "table",
                "payment_table",
                "The rows of the tables: {method, funding, covered, label_ja}; funding [] = "
                "any; a combination no row lists is UNKNOWN.",
            ),
        ),
        ALL_EFFECTS,
        check=payment_method_covered,
        reads=lambda clause: ("payment_method", "funding"),
    ),
    KindSpec(
        "issuer_answer",
        "The card company's / operator's answer: fail_on kinds → fires; pass_on kinds → "
        "holds (with a reason when reason_required; COMPENSATED only with amounts.recovered_yen "
        "stated, else REVIEW for a human, the incident held back); PENDING → REVIEW "
        "naming the answer as missing; any other stated kind → REVIEW (the text does not "
        "settle it; nothing missing); optionally the claim to the issuer within N days of "
        "the fraud.",
        (
            _ANSWER_FIELDS,
            ParamSpec("pass_on", "answer_kinds", "Answer kinds that meet the clause."),
            ParamSpec("fail_on", "answer_kinds", "Answer kinds that make the clause fire."),
            ParamSpec(
                "reason_required",
                "bool",
                "The reason must be stated (objectively known).",
                required=False,
                default=False,
            ),
            ParamSpec(
                "reported_within_days",
                "int",
                "The claim to the issuer within N days of the fraud; 0 = not checked.",
                required=False,
                default=0,
            ),
            ParamSpec(
                "reported",
                "fields",
                "The instant of the claim to the issuer.",
                required=False,
                default=("reported_to_issuer_at",),
                field_types=INSTANT,
                relevant_if="reported_within_days",
            ),
            ParamSpec(
                "counting",
                "choice",
                "from_next_day or within_days_of.",
                required=False,
                default="within_days_of",
                choices=("from_next_day", "within_days_of"),
                relevant_if="reported_within_days",
            ),
        ),
        ALL_EFFECTS,
        check=issuer_answer,
    ),
)

# Checks of a claim against the record that refuse it (``ClaimError`` →
# INVALID_ARGUMENT) rather than decide it, by clause kind.
CONTRADICTIONS = {
    "before_cover_start": before_cover_start_contradiction,
    "required_instant": required_instant_contradiction,
}
