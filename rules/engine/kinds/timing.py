"""Timing kinds: deadlines and windows in JST, composed from ``timing``."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache

from rules.engine.kinds.base import (
    FAIL,
    NOT_APPLICABLE,
    PASS,
    Finding,
    KindSpec,
    ParamSpec,
    cmp,
    fmt,
    instant_of,
    missing,
    not_defined,
)
from rules.engine.kinds.cached import (
    day_window_end,
    describe_end,
    lookback_from_midnight_days_before,
    until_end_of_next_jst_day,
)
from rules.engine.model import ClaimFacts, EvaluationContext
from rules.engine.needs import CardMonitoring, Need
from rules.engine.policy import Clause, ClauseEffect
from timing.jst import jst_date

INSTANT = frozenset({"instant"})
ALL_EFFECTS = frozenset(ClauseEffect)

EVENT = ParamSpec(
    "event",
    "fields",
    "The instant the period counts from; default the incident's own instant (occurred_at).",
    required=False,
    default=("occurred_at",),
    field_types=INSTANT,
)
AT = ParamSpec(
    "at",
    "fields",
    "The instant that must fall in the window; default the incident's own instant.",
    required=False,
    default=("occurred_at",),
    field_types=INSTANT,
)


@lru_cache(maxsize=1024)
def _notice_deadline(counting: str, day: date, days: int) -> tuple[datetime, str, str]:
    """(the deadline, how the trace shows it, the window as the explanation words it)
    for a notice counted from an event on the JST ``day``: they depend on the day
    alone (``day_window_end``), so they are kept by it."""
    end = day_window_end(counting, day, days)
    last = (jst_date(end) - timedelta(days=1)).isoformat()
    return end, describe_end(end), f"{day.isoformat()}の翌日から{days}日以内（{last} 24時まで）"


def notice_within_days_after(clause: Clause, claim: ClaimFacts, _: EvaluationContext) -> Finding:
    ev, event = instant_of(claim, clause.list_param("event"))
    nt, notice = instant_of(claim, clause.list_param("notice"))
    if not ev.defined:
        return not_defined(ev.path)
    if not nt.defined:
        return not_defined(nt.path)
    if event is None:
        return missing(ev.path, "起算となる日時")
    days = clause.int_param("days")
    if notice is None:
        if clause.str_param("if_absent") == "not_applicable":
            return _no_notice_instant(nt.path)
        return missing(nt.path, "通知・届出の日時")
    end, shown_end, head = _notice_deadline(clause.str_param("counting"), jst_date(event), days)
    compared = (
        cmp(ev.path, fmt(event), "day 0 (not counted)"),
        cmp(nt.path, fmt(notice), shown_end),
    )
    if notice < end:  # the window's deadline: only lateness is judged
        return Finding(PASS, f"{fmt(notice)}の通知は{head}に行われています。", compared)
    return Finding(FAIL, f"{fmt(notice)}の通知は{head}に行われていません。", compared)


@lru_cache(maxsize=64)
def _no_notice_instant(path: str) -> Finding:
    """No instant to time: another part of the clause judges whether it was done."""
    return Finding(
        NOT_APPLICABLE,
        f"{path} の日時が申告されていないため、期限の判断は行いません"
        "（届出の有無は別に判断します）。",
        (cmp(path, "", "stated"),),
    )


def lookback_from_midnight(clause: Clause, claim: ClaimFacts, _: EvaluationContext) -> Finding:
    ref, reference = instant_of(claim, clause.list_param("reference"))
    at_r, at = instant_of(claim, clause.list_param("at"))
    if not at_r.defined:
        return not_defined(at_r.path)
    if reference is None:
        return missing(ref.path, "基準となる日時")
    if at is None:
        return missing(at_r.path, "事故の日時")
    days = clause.int_param("days")
    window = lookback_from_midnight_days_before(reference, days)
    compared = (
        cmp(at_r.path, fmt(at), f"from {fmt(window.start)} up to {fmt(reference)} inclusive"),
    )
    head = f"{fmt(reference)}の{days}日前の午前0時（{fmt(window.start)}）から{fmt(reference)}まで"
    if window.contains(at):
        return Finding(PASS, f"{fmt(at)}の事故は{head}に発生しています。", compared)
    return Finding(FAIL, f"{fmt(at)}の事故は{head}の期間外です。", compared)


def occurred_after(clause: Clause, claim: ClaimFacts, _: EvaluationContext) -> Finding:
    at_r, at = instant_of(claim, clause.list_param("at"))
    if not at_r.defined:
        return not_defined(at_r.path)
    if at is None:
        return missing(at_r.path, "事故の日時")
    after = clause.instant_param("after")
    inclusive = clause.bool_param("inclusive")
    ok = at >= after if inclusive else at > after
    expected = f"{'at or after' if inclusive else 'after'} {fmt(after)}"
    compared = (cmp(at_r.path, fmt(at), expected),)
    bound = f"{fmt(after)}{'以降' if inclusive else 'より後'}"
    if ok:
        return Finding(PASS, f"{fmt(at)}の事故は{bound}に発生しています。", compared)
    return Finding(FAIL, f"{fmt(at)}の事故は{bound}に発生したものではありません。", compared)


def until_end_of_next_day(clause: Clause, claim: ClaimFacts, ctx: EvaluationContext) -> Finding:
    at_r, at = instant_of(claim, clause.list_param("at"))
    if not at_r.defined:
        return not_defined(at_r.path)
    if at is None:
        return missing(at_r.path, "事故の日時")
    reference_name = clause.str_param("reference")
    if reference_name == "monitoring.first_alert":
        token_r = _card_token(claim)
        if token_r is None:
            return not_defined(f"{claim.incident_type}.card_token")
        state = ctx.monitoring.get(token_r)
        if state is None:
            return missing(
                f"context.monitoring[{token_r}]", "カードのダークウェブモニタリングの記録"
            )
        alerts = [a for a in state.alerts_delivered_at if a <= at]
        if not alerts:
            return Finding(
                NOT_APPLICABLE,
                f"{fmt(at)}の事故より前に流出の通知はないため、通知後の期限は適用されません。",
                (cmp("monitoring.alerts_before_fraud", "0", "≥ 1 for a deadline"),),
            )
        reference = min(alerts)
        ref_path = "monitoring.first_alert"
    else:
        ref_r, ref_value = instant_of(claim, (reference_name,))
        if ref_value is None:
            return missing(ref_r.path, "基準となる日時")
        reference, ref_path = ref_value, ref_r.path
    deadline = until_end_of_next_jst_day(reference)
    compared = (
        cmp(ref_path, fmt(reference), "reference"),
        cmp(at_r.path, fmt(at), describe_end(deadline.end)),
    )
    head = f"{fmt(reference)}の通知を受けた日の翌日24時まで"
    if deadline.contains(at):
        return Finding(PASS, f"{fmt(at)}の事故は{head}に発生しています。", compared)
    return Finding(
        FAIL, f"{fmt(at)}の事故は{head}に発生したものではありません（翌々日以降）。", compared
    )


def _card_token(claim: ClaimFacts) -> str | None:
    token = getattr(claim.incident, "card_token", None)
    return token if isinstance(token, str) and token else None


def _alert_needs(clause: Clause, claim: ClaimFacts) -> tuple[Need, ...]:
    """monitoring.first_alert reads the monitoring events of the claim's card."""
    token = _card_token(claim)
    if clause.str_param("reference") != "monitoring.first_alert" or token is None:
        return ()
    return (CardMonitoring(token, claim.claimed_at),)


KINDS = (
    KindSpec(
        "notice_within_days_after",
        "A notice (notification, report, claim) made within N days of an event; "
        "day 1 is the JST day after the event, the deadline is 24:00 JST of day N "
        "(民法140条 初日不算入). Only lateness is judged.",
        (
            ParamSpec("days", "days", "N, the number of days."),
            ParamSpec(
                "counting",
                "choice",
                "from_next_day (the text says 翌日から) or within_days_of (the text says "
                "〜から N日以内; same counting under 民法140条, documented separately).",
                choices=("from_next_day", "within_days_of"),
            ),
            EVENT,
            ParamSpec(
                "notice",
                "fields",
                "The instant of the notice (e.g. notified_bank_at, notified_at).",
                field_types=INSTANT,
            ),
            ParamSpec(
                "if_absent",
                "choice",
                "No notice instant stated: review (REVIEW naming it) or not_applicable "
                "(another part judges whether the notice was made at all: DCM-X12).",
                required=False,
                default="review",
                choices=("review", "not_applicable"),
            ),
        ),
        ALL_EFFECTS,
        check=notice_within_days_after,
    ),
    KindSpec(
        "lookback_from_midnight",
        "The incident happened between 00:00 JST of the day N days before a reference "
        "instant and the reference instant itself (inclusive).",
        (
            ParamSpec("days", "days", "N, the number of days before the reference date."),
            ParamSpec(
                "reference",
                "fields",
                "The reference instant (claimed_at for KDN-C6).",
                field_types=INSTANT,
            ),
            AT,
        ),
        ALL_EFFECTS,
        check=lookback_from_midnight,
    ),
    KindSpec(
        "occurred_after",
        "The incident happened after a fixed instant (a start of cover).",
        (
            ParamSpec("after", "instant", "The instant, with its offset (+09:00)."),
            ParamSpec(
                "inclusive",
                "bool",
                "true: an incident at exactly ``after`` is covered; false: only strictly later.",
            ),
            AT,
        ),
        ALL_EFFECTS,
        check=occurred_after,
    ),
    KindSpec(
        "until_end_of_next_jst_day",
        "The incident happened by 24:00 JST of the day after a reference instant "
        "(翌日24時まで). Earlier incidents are not excluded by this kind.",
        (
            ParamSpec(
                "reference",
                "str",
                "A claim instant field, or monitoring.first_alert: the first dark-web alert "
                "for the claim's card delivered at or before the incident.",
            ),
            AT,
        ),
        ALL_EFFECTS,
        check=until_end_of_next_day,
        needs=_alert_needs,
        # monitoring.first_alert is the first alert for the claim's card.
        reads=lambda clause: (
            ("card_token",) if clause.str_param("reference") == "monitoring.first_alert" else ()
        ),
    ),
)
