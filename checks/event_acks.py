"""The judgement an event's reporter gets back at once (pure).

Registrations and payment-app logins are judged against the security
standard (DCM-S1..S3, KDN-X1, DCM-T, DCM-C4). Activations, monitoring events
and enrolments are facts for later coverage questions; their reply says what
the event means for the clause it feeds (does this activation count for
KDN-P1? when does JPE cover begin?), judged from the event alone so the reply
does not depend on what else happened to arrive first.
"""

from __future__ import annotations

from datetime import datetime

from checks import event_model as em
from checks.cover import Cover
from checks.coverage import activation_coverage, enrolment_coverage
from checks.event_settings import EventRules
from checks.model import CheckStatus, Compared
from checks.security_standard import judge_payment_login, judge_registration
from timing import until_end_of_next_jst_day
from timing.jst import format_jst


def _jst(dt: datetime) -> str:
    return format_jst(dt)


def _activation(a: em.Activation, rules: EventRules) -> tuple[em.Judgement, ...]:
    """Under every policy whose cover lists the app; an app no policy lists is judged
    by the policies that report such activations (it does not count)."""
    covers = [c for c in rules.covers.values() if c.activation and a.app in c.activation.apps]
    if not covers:
        covers = [
            c
            for c in rules.covers.values()
            if c.activation is not None and c.activation.other_apps == "report"
        ]
    return tuple(j for cover in covers for j in _activation_under(a, cover))


def _activation_under(a: em.Activation, cover: Cover) -> tuple[em.Judgement, ...]:
    spec = cover.activation
    assert spec is not None
    coverage = activation_coverage([a], cover, a.event_time)
    if coverage.ignored:
        return tuple(i.judgement for i in coverage.ignored)
    if a.app not in spec.apps:
        return ()
    if a.action is em.ActivationAction.ACTIVATED:
        return (
            em.Judgement(
                spec.clause_ids[0],
                CheckStatus.PASS,
                "activation_counts",
                f"{_jst(a.event_time)} のアクティブ化を記録しました。{spec.started_ja}",
                (Compared("app", a.app.name, "a covered app"),),
            ),
        )
    return (
        em.Judgement(
            spec.ended_by,
            CheckStatus.PASS,
            "coverage_ends",
            f"{_jst(a.event_time)} の{a.action.name.lower()}により、この時点で"
            "補償期間が終了します。",
            (Compared("action", a.action.name, "ACTIVATED keeps cover"),),
        ),
    )


def _monitoring(m: em.MonitoringEvent) -> tuple[em.Judgement, ...]:
    if m.kind is em.MonitoringEventKind.CARD_REGISTERED:
        return (
            em.Judgement(
                "KDN-C1",
                CheckStatus.PASS,
                "card_registered",
                f"{_jst(m.event_time)} 以降の不正利用がKDN-C1の対象です。",
                (Compared("registered_at", m.event_time.isoformat(), "before fraud"),),
            ),
        )
    if m.kind is em.MonitoringEventKind.CARD_UNREGISTERED:
        return (
            em.Judgement(
                "KDN-C1",
                CheckStatus.PASS,
                "card_unregistered",
                f"{_jst(m.event_time)} にモニタリング登録が解除されました。",
                (Compared("unregistered_at", m.event_time.isoformat(), "-"),),
            ),
        )
    deadline = until_end_of_next_jst_day(m.event_time)
    return (
        em.Judgement(
            "KDN-C2",
            CheckStatus.PASS,
            "alert_recorded",
            f"通知の翌日24時({_jst(deadline.end)})までに発生した不正利用が補償対象です。"
            "カードの利用停止をおすすめします。",
            (Compared("fraud_must_occur_before", deadline.end.isoformat(), "翌日24時"),),
        ),
    )


def _enrolment(e: em.Enrolment, rules: EventRules) -> tuple[em.Judgement, ...]:
    cover = rules.covers.get(e.policy_id)
    if cover is None:
        return ()  # the policy's clauses read no cover: nothing to say
    if cover.enrolment is None:
        assert cover.activation is not None
        return (
            em.Judgement(
                cover.activation.clause_ids[0],
                CheckStatus.NOT_APPLICABLE,
                "cover_from_activations",
                f"{e.policy_id}の補償期間はアプリのアクティブ化から導かれます。",
            ),
        )
    clause = cover.enrolment.acked_by
    if e.action is em.EnrolmentAction.LEFT:
        # Judged from the event alone (the JOINED it closes arrived earlier, or
        # will): a LEFT is where the cover ends, not an enrolment without a match.
        ends = e.ends_at or e.event_time
        return (
            em.Judgement(
                clause,
                CheckStatus.PASS,
                "coverage_ends",
                f"{e.policy_id} の脱退・解約を記録しました。補償期間は {_jst(ends)} に終了し、"
                "それ以後の事故は補償の対象外です。",
                (Compared("cover_ends_at", ends.isoformat(), "LEFT ends the cover"),),
            ),
        )
    as_of = max(e.event_time, e.starts_at or e.event_time, e.ends_at or e.event_time)
    coverage = enrolment_coverage([e], cover, as_of)
    if coverage.ignored:
        return tuple(i.judgement for i in coverage.ignored)
    if not coverage.periods:
        return (
            em.Judgement(
                clause,
                CheckStatus.PASS,
                "enrolment_recorded",
                f"{e.policy_id} の{e.action.name.lower()}を記録しました。",
            ),
        )
    p = coverage.periods[-1]
    until = "継続中" if p.ends_at is None else _jst(p.ends_at)
    return (
        em.Judgement(
            clause,
            CheckStatus.PASS,
            "coverage_period",
            f"補償期間: {_jst(p.starts_at)} から {until}。{p.basis}",
            (Compared("cover_starts_at", p.starts_at.isoformat(), p.basis),),
        ),
        *p.notes,
    )


_MEMO_SIZE = 4096
_MEMO: dict[tuple[object, ...], tuple[EventRules, tuple[em.Judgement, ...]]] = {}
_V2_OR_LATER = ("2", "3", "4", "5", "6", "7", "8", "9")


def _memo_key(event: em.Registration | em.PaymentLogin, rules: EventRules) -> tuple[object, ...]:
    """Everything a registration / login judgement depends on, and nothing else.

    Ids, the customer, the token and the last four digits never change a
    judgement; the instant matters only for 3-D Secure 1.x or an unreadable
    version (the 1.x retirement), where it is part of the key.
    """
    if isinstance(event, em.PaymentLogin):
        return ("login", id(rules), event.payment_service_id, event.method, event.otp)
    inst = event.instrument
    auth = event.authentication
    at: object = None
    if isinstance(auth, em.ThreeDSecure) and not auth.protocol_version.strip().startswith(
        _V2_OR_LATER
    ):
        at = event.event_time
    return (
        "registration",
        id(rules),
        event.payment_service_id,
        inst.kind,
        inst.funding,
        inst.issued_in_japan,
        auth,
        at,
    )


def _memoised(
    event: em.Registration | em.PaymentLogin, rules: EventRules
) -> tuple[em.Judgement, ...]:
    """Bulk ingestion sees the same facts again and again: judge each once."""
    key = _memo_key(event, rules)
    hit = _MEMO.get(key)
    if hit is not None and hit[0] is rules:  # identity: a dead rules object's id can be reused
        return hit[1]
    judged = (
        judge_registration(event, rules.security)
        if isinstance(event, em.Registration)
        else judge_payment_login(event, rules.security)
    )
    if len(_MEMO) >= _MEMO_SIZE:
        _MEMO.clear()
    _MEMO[key] = (rules, judged)
    return judged


def judge_event(
    event: em.Registration | em.PaymentLogin | em.Activation | em.MonitoringEvent | em.Enrolment,
    rules: EventRules,
) -> tuple[em.Judgement, ...]:
    if isinstance(event, em.Registration | em.PaymentLogin):
        return _memoised(event, rules)
    if isinstance(event, em.Activation):
        return _activation(event, rules)
    if isinstance(event, em.MonitoringEvent):
        return _monitoring(event)
    return _enrolment(event, rules)
