"""Coverage periods from reported events, as the policy files say to build them; monitoring.

Pure functions over a list of events, a ``checks.cover.Cover`` (the policy
file's ``[cover]`` table: which events, which apps or plans, which clauses)
and an explicit ``as_of``. Nothing here names a policy:

* events with ``event_time > as_of`` are invisible (what Anshin believed then);
* arrival order never matters: visible events are sorted by event time, then
  by ``client_event_id`` (then by their full value, so even duplicate ids
  give one answer);
* periods are half-open, ``starts_at <= t < ends_at``; ``ends_at=None`` means
  still open. A period that would be empty is not returned.

Events that were seen but do not count (an activation outside the carrier
shop, a product that is not listed, a second insured person, ...) are never
dropped silently: the ``*_coverage`` functions return them with a
``Judgement`` saying why; the ``*_periods`` functions return the periods only.

ASSUMPTIONs not needing a value (documented behaviour):

* An app counts as active while it is active on at least one counted device;
  deactivating or invalidating it on one device ends cover only if no other
  counted device still has it (multi-device licences). An event with an
  empty ``device_id`` applies to every device of that app.
* A coverage period of enrolments is one continuous enrolment (joined..left);
  with ``one_insured_person``, a second, different insured person joining
  while it is in force is flagged on the period.
* A LEFT enrolment ends the whole enrolment period, at its ``ends_at`` (or its
  event time when not sent).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import groupby, pairwise
from typing import Protocol, TypeVar

from checks.cover import ActivationCover, Cover, EnrolmentCover, plan_key
from checks.event_model import (
    Activation,
    ActivationAction,
    Enrolment,
    EnrolmentAction,
    Judgement,
    MonitoringEvent,
    MonitoringEventKind,
    SecurityApp,
)
from checks.model import CheckStatus, Compared
from timing.jst import format_jst, jst_date, require_aware
from timing.months import cover_begins_calendar_months_after

__all__ = [
    "Coverage",
    "IgnoredEvent",
    "MonitoringState",
    "Period",
    "activation_coverage",
    "activation_periods",
    "covered_at",
    "enrolment_coverage",
    "enrolment_periods",
    "monitoring_state",
    "policy_coverage",
    "policy_periods",
    "undecided_at",
    "undecided_fact",
]


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open coverage period ``[starts_at, ends_at)``; ``ends_at=None`` = still open.

    ``insured_person_refs`` (ISA-I1 and other enrolments): every insured
    person enrolled in the period, in order. ``notes``: judgements about the
    period, e.g. an ISA-I1 FAIL for a second insured person.
    """

    starts_at: datetime
    ends_at: datetime | None
    clause_ids: tuple[str, ...]
    basis: str
    insured_person_refs: tuple[str, ...] = ()
    notes: tuple[Judgement, ...] = ()

    def __post_init__(self) -> None:
        require_aware(self.starts_at, "Period.starts_at")
        if self.ends_at is not None:
            require_aware(self.ends_at, "Period.ends_at")
            if self.ends_at <= self.starts_at:
                raise ValueError(
                    f"empty period: ends_at {self.ends_at.isoformat()} is not after "
                    f"starts_at {self.starts_at.isoformat()}"
                )

    def contains(self, instant: datetime) -> bool:
        require_aware(instant)
        return self.starts_at <= instant and (self.ends_at is None or instant < self.ends_at)


@dataclass(frozen=True, slots=True)
class IgnoredEvent:
    """A visible event that did not count, and why.

    ``may_cover``: for an event judged UNKNOWN (a fact the record lacks, e.g.
    an enrolment without its plan), the instants it might have covered had the
    fact been reported, ``(from, until)`` with None for unbounded; None when
    the event cannot have given cover (a FAIL, or nothing to decide). Cover at
    an instant inside it cannot be judged from the record (``undecided_at``).
    """

    client_event_id: str
    event_time: datetime
    judgement: Judgement
    may_cover: tuple[datetime | None, datetime | None] | None = None

    def undecided_at(self, instant: datetime) -> bool:
        """True when this event might have given cover at ``instant``."""
        if self.may_cover is None:
            return False
        lo, hi = self.may_cover
        return (lo is None or lo <= instant) and (hi is None or instant < hi)


@dataclass(frozen=True, slots=True)
class Coverage:
    periods: tuple[Period, ...]
    ignored: tuple[IgnoredEvent, ...] = ()

    @property
    def undecided(self) -> tuple[IgnoredEvent, ...]:
        """The events that might have given cover but cannot be judged from the record."""
        return tuple(i for i in self.ignored if i.may_cover is not None)


def undecided_fact(policy_id: str, event: IgnoredEvent) -> str:
    """How a claim (and GetCoverage) names what an undecided event lacks: its
    compared field (``enrolment.plan``), else the reason, and the event."""
    judged = event.judgement
    what = judged.compared[0].name if judged.compared else judged.reason
    return f"context.coverage[{policy_id}]: {what} ({event.client_event_id})"


def undecided_at(undecided: Iterable[IgnoredEvent], instant: datetime) -> tuple[IgnoredEvent, ...]:
    """The events of ``undecided`` that might have given cover at ``instant``: when no
    period contains it, cover there is not known (REVIEW naming them), not absent."""
    require_aware(instant)
    return tuple(i for i in undecided if i.undecided_at(instant))


def covered_at(periods: Iterable[Period], instant: datetime) -> Period | None:
    """The period that contains ``instant`` (start inclusive, end exclusive), or None."""
    require_aware(instant)
    for period in periods:
        if period.contains(instant):
            return period
    return None


# --------------------------------------------------------------------------- ordering


class _Event(Protocol):
    @property
    def client_event_id(self) -> str: ...
    @property
    def customer_id(self) -> str: ...
    @property
    def event_time(self) -> datetime: ...


E = TypeVar("E", bound=_Event)


def _visible(events: Iterable[E], as_of: datetime) -> list[E]:
    """Events at or before ``as_of`` in event-time order (ties: client_event_id, then value)."""
    require_aware(as_of, "as_of")
    seen = [e for e in events if e.event_time <= as_of]
    # The same order as sorting by (event_time, client_event_id, repr(e)), without
    # building every repr (the costly part): the text form only decides between
    # events equal in both, so it is needed only when two such events are present.
    seen.sort(key=_time_and_id)
    for a, b in pairwise(seen):
        if a.event_time == b.event_time and a.client_event_id == b.client_event_id:
            seen.sort(key=lambda e: (e.event_time, e.client_event_id, repr(e)))
            break
    return seen


def _time_and_id(e: _Event) -> tuple[datetime, str]:
    return (e.event_time, e.client_event_id)


def _require_one_customer(events: Sequence[_Event]) -> None:
    customers = {e.customer_id for e in events}
    if len(customers) > 1:
        raise ValueError(
            f"coverage is per customer; events of {len(customers)} customers were given: "
            f"{sorted(customers)}"
        )


def _note(
    clause_id: str,
    status: CheckStatus,
    reason: str,
    explanation_ja: str,
    *compared: Compared,
) -> Judgement:
    return Judgement(clause_id, status, reason, explanation_ja, tuple(compared))


def _ignored(
    event: _Event,
    judgement: Judgement,
    may_cover: tuple[datetime | None, datetime | None] | None = None,
) -> IgnoredEvent:
    return IgnoredEvent(event.client_event_id, event.event_time, judgement, may_cover)


# --------------------------------------------------------------------------- activations


@dataclass(slots=True)
class _Interval:
    start: datetime
    end: datetime | None
    opened_by: str
    closed_by: str = ""


def _activation_intervals(
    events: Sequence[Activation], spec: ActivationCover
) -> tuple[list[_Interval], list[IgnoredEvent]]:
    """Run the activation state machine over sorted events of the listed apps.

    State: for each app, the set of counted devices on which it is active; in
    cover while every app (``all_apps``) or any app has one. All events at
    one instant are applied before the state is read, so a same-instant swap
    (deactivate one device, activate another) does not break the period.
    """
    active: dict[SecurityApp, set[str]] = {app: set() for app in spec.apps}
    in_force = all if spec.all_apps else any
    intervals: list[_Interval] = []
    ignored: list[IgnoredEvent] = []
    current: _Interval | None = None
    for instant, group in groupby(events, key=lambda e: e.event_time):
        causes: list[str] = []
        for e in group:
            if e.action is ActivationAction.ACTIVATED:
                rejection = _not_a_covered_device(e, spec)
                if rejection is not None:
                    ignored.append(_ignored(e, rejection, _from_on(rejection, e.event_time)))
                    continue
                active[e.app].add(e.device_id)
            elif e.action in (ActivationAction.DEACTIVATED, ActivationAction.INVALIDATED):
                before = set(active[e.app])
                if e.device_id:
                    active[e.app].discard(e.device_id)
                else:
                    active[e.app].clear()
                if before and not active[e.app]:
                    causes.append(f"{e.app.name} {e.action.name.lower()} ({e.client_event_id})")
            else:
                ignored.append(
                    _ignored(
                        e,
                        _note(
                            spec.clause_ids[0],
                            CheckStatus.UNKNOWN,
                            "activation_action_not_reported",
                            f"{format_jst(e.event_time)}の{e.app.name}のイベントは、"
                            "操作（アクティブ化・停止・無効化）が報告されていないため、"
                            "補償期間の判定に使いません。",
                            Compared(
                                "activation.action",
                                e.action.name,
                                "ACTIVATED, DEACTIVATED or INVALIDATED",
                            ),
                        ),
                        # an activation would have started cover then
                        (e.event_time, None),
                    )
                )
        now = in_force(active[a] for a in spec.apps)
        if now and current is None:
            current = _Interval(instant, None, _apps_text(active))
            intervals.append(current)
        elif not now and current is not None:
            current.end = instant
            current.closed_by = ", ".join(causes) or "no counted activation left"
            current = None
    return intervals, ignored


def _apps_text(active: Mapping[SecurityApp, set[str]]) -> str:
    parts = []
    for app in sorted(active, key=lambda a: a.value):
        devices = sorted(d or "(no device id)" for d in active[app])
        if devices:
            parts.append(f"{app.name} on {', '.join(devices)}")
    return "; ".join(parts)


def activation_coverage(
    activations: Iterable[Activation], cover: Cover, as_of: datetime
) -> Coverage:
    """Coverage periods of one customer from security-app activations, and what did not count.

    A period starts when the listed apps are active (every one of them with
    ``all_apps``, else any one) and ends when that stops (an app deactivated or
    invalidated on its last counted device) or at ``campaign_ends_at``; a later
    re-activation starts a new period. Only activations meeting the
    covered-device constraint count. Periods start no earlier than
    ``cover.in_force_from``. Activations of other apps are skipped or
    reported, as ``other_apps`` says.
    """
    spec = cover.activation
    if spec is None:
        raise ValueError(
            f"{cover.policy_id} cover does not follow app activations (its [cover] table)"
        )
    visible = _visible(activations, as_of)
    listed = [e for e in visible if e.app in spec.apps]
    report = spec.other_apps == "report"
    _require_one_customer(visible if report else listed)
    ignored: list[IgnoredEvent] = []
    if report:
        for e in visible:
            if e.app not in spec.apps and (unlisted := _unlisted(e, spec, cover)) is not None:
                ignored.append(unlisted)
    intervals, more = _activation_intervals(listed, spec)
    ignored.extend(more)
    first = spec.clause_ids[0]
    campaign_end = spec.campaign_ends_at
    periods: list[Period] = []
    for iv in intervals:
        end, closed_by = iv.end, iv.closed_by
        if campaign_end is not None:
            if iv.start >= campaign_end:
                continue
            if end is None or end > campaign_end:
                end, closed_by = campaign_end, f"campaign ended (キャンペーン終了, {spec.ended_by})"
        clipped = _clip(iv.start, end, cover.in_force_from)
        if clipped is None:
            continue
        start, was_clipped = clipped
        basis = f"{first} {spec.basis} from {format_jst(iv.start)}: {iv.opened_by}"
        if was_clipped:
            basis += f"; {cover.in_force_clause} in force only from {format_jst(start)}"
        if end is not None:
            basis += f"; {spec.ended_by} ended {format_jst(end)}: {closed_by}"
        periods.append(Period(start, end, spec.clause_ids, basis))
    ignored.sort(key=lambda i: (i.event_time, i.client_event_id))
    return Coverage(tuple(periods), _in_force(ignored, cover.in_force_from, campaign_end))


def _in_force(
    ignored: Iterable[IgnoredEvent], lo_bound: datetime | None, hi_bound: datetime | None = None
) -> tuple[IgnoredEvent, ...]:
    """``ignored`` with what each might have covered clipped to ``lo_bound`` (the
    policy's ``in_force_from``: nothing is covered before it) and ``hi_bound``
    (an activation campaign's end)."""
    if lo_bound is None and hi_bound is None:
        return tuple(ignored)
    out = []
    for i in ignored:
        if i.may_cover is not None:
            lo, hi = i.may_cover
            if lo_bound is not None and (lo is None or lo < lo_bound):
                lo = lo_bound
            if hi_bound is not None and (hi is None or hi > hi_bound):
                hi = hi_bound
            empty = lo is not None and hi is not None and hi <= lo
            i = replace(i, may_cover=None if empty else (lo, hi))
        out.append(i)
    return tuple(out)


def activation_periods(
    activations: Iterable[Activation], cover: Cover, as_of: datetime
) -> list[Period]:
    """The periods of ``activation_coverage``."""
    return list(activation_coverage(activations, cover, as_of).periods)


def _from_on(judgement: Judgement, at: datetime) -> tuple[datetime, None] | None:
    """What an activation that did not count might have covered: from ``at`` on
    when it is UNKNOWN (a fact not reported), nothing when it FAILed."""
    return (at, None) if judgement.status is CheckStatus.UNKNOWN else None


def _unlisted(e: Activation, spec: ActivationCover, cover: Cover) -> IgnoredEvent | None:
    """An activation of an app the policy does not list: it does not count."""
    if e.action is not ActivationAction.ACTIVATED:
        return None
    unknown = e.app is SecurityApp.UNSPECIFIED
    what = "が報告されていない" if unknown else f"「{e.app.name}」が対象製品ではない"
    return _ignored(
        e,
        _note(
            spec.clause_ids[0],
            CheckStatus.UNKNOWN if unknown else CheckStatus.FAIL,
            "product_not_reported" if unknown else "product_not_listed",
            f"{format_jst(e.event_time)}のアクティブ化は、製品{what}"
            f"ため、{cover.name_ja}の対象契約として数えません。",
            Compared("activation.app", e.app.name, ", ".join(sorted(a.name for a in spec.apps))),
        ),
        (e.event_time, None) if unknown else None,
    )


def _not_a_covered_device(e: Activation, spec: ActivationCover) -> Judgement | None:
    """Why an activation of a listed app does not count (the covered device), or None."""
    if e.app not in spec.carrier_shop_required_for:
        return None
    device = e.device_id or "不明"
    where = f"{format_jst(e.event_time)}の{e.app.name}のアクティブ化（端末{device}）"
    shop = spec.carrier_shop_channel
    if e.channel != shop:
        return _note(
            spec.clause_ids[0],
            CheckStatus.FAIL,
            "activation_not_via_carrier_shop",
            f"{where}は、店舗（{shop}）でのダウンロード・"
            f"アクティブ化ではない（経路「{e.channel or '不明'}」）ため、"
            "補償対象の端末として数えません。",
            Compared("activation.channel", e.channel or "(not reported)", shop),
        )
    if spec.require_billed_phone and not e.phone_ref:
        return _note(
            spec.clause_ids[0],
            CheckStatus.UNKNOWN,
            "billed_phone_not_reported",
            f"{where}は、利用料金の請求対象の電話番号が報告されていないため、"
            "補償対象の端末として数えません。",
            Compared("activation.phone_ref", "(not reported)", "billed phone number"),
        )
    return None


def _clip(
    start: datetime, end: datetime | None, in_force_from: datetime | None
) -> tuple[datetime, bool] | None:
    """(start clipped to ``in_force_from``, clipped?) or None when the period ended before it."""
    if in_force_from is None:
        return start, False
    if end is not None and end <= in_force_from:
        return None
    if start < in_force_from:
        return in_force_from, True
    return start, False


# --------------------------------------------------------------------------- enrolments


@dataclass(slots=True)
class _Open:
    start: datetime
    planned_end: datetime | None
    opened_by: Enrolment
    persons: list[str] = field(default_factory=list)
    notes: list[Judgement] = field(default_factory=list)


def enrolment_coverage(enrolments: Iterable[Enrolment], cover: Cover, as_of: datetime) -> Coverage:
    """Coverage periods of one customer from the JOINED / LEFT enrolments in ``cover``'s policy.

    A JOINED starts at ``starts_at`` (or its event time) and may carry a planned
    ``ends_at``; a LEFT ends the period at its ``ends_at`` (or its event time).
    Only JOINED enrolments of a listed plan count (when ``plans`` lists any).
    Cover begins ``begins_months_after_start`` calendar months after the JST
    start date (00:00 JST, clamped to month end) — an enrolment ending before
    that gives no period — and no earlier than ``in_force_from``. The insured
    person refs of each period are returned; with ``one_insured_person`` a
    second, different person is flagged (a FAIL note on the period).
    Enrolments of other policies are skipped.
    """
    spec = cover.enrolment
    if spec is None:
        raise ValueError(f"{cover.policy_id} cover does not follow enrolments (its [cover] table)")
    policy = cover.policy_id
    visible = [e for e in _visible(enrolments, as_of) if e.policy_id.strip().upper() == policy]
    _require_one_customer(visible)

    raw: list[tuple[_Open, datetime | None, str]] = []
    ignored: list[IgnoredEvent] = []
    current: _Open | None = None
    floor: datetime | None = None  # end of the last closed period: periods never overlap
    # Undecided JOINEDs (ignored's indices) no LEFT has ended yet: a LEFT ends the
    # contract whether or not its plan was reported, so it ends what they might cover.
    pending: list[int] = []
    undecided_left = False  # a LEFT has ended undecided cover: a later one is a repeat

    for e in visible:
        if e.action is EnrolmentAction.JOINED:
            if spec.plans:
                rejection = _plan_rejection(e, spec, cover)
                if rejection is not None:
                    may = (e.starts_at or e.event_time, e.ends_at)
                    unknown = rejection.status is CheckStatus.UNKNOWN
                    if unknown:
                        pending.append(len(ignored))
                    ignored.append(_ignored(e, rejection, may if unknown else None))
                    continue
            start = e.starts_at or e.event_time
            if (
                current is not None
                and current.planned_end is not None
                and (current.planned_end <= start)
            ):
                raw.append((current, current.planned_end, "planned end reached"))
                floor = max(current.planned_end, current.start)
                current = None
            if current is None:
                if floor is not None and start < floor:
                    start = floor
                current = _Open(start, e.ends_at, e)
                if e.insured_person_ref:
                    current.persons.append(e.insured_person_ref)
                continue
            if current.planned_end is not None:
                current.planned_end = (
                    None if e.ends_at is None else max(current.planned_end, e.ends_at)
                )
            ref = e.insured_person_ref
            if ref and ref not in current.persons:
                if spec.one_insured_person and current.persons:
                    current.notes.append(
                        _second_person(e, current.persons[0], spec.one_insured_person)
                    )
                current.persons.append(ref)
        elif e.action is EnrolmentAction.LEFT:
            left_at = e.ends_at or e.event_time
            paired = bool(pending)
            for k in pending:
                ignored[k] = _ended_by_left(ignored[k], left_at)
            pending = []
            undecided_left = undecided_left or paired
            if current is None and paired:
                continue  # it ended the undecided JOINED(s): not a LEFT without a JOINED
            if current is None:
                ignored.append(
                    _ignored(
                        e,
                        _note(
                            spec.clause_ids[0],
                            CheckStatus.UNKNOWN,
                            "left_without_joined",
                            f"{format_jst(e.event_time)}の脱退・解約は、対応する加入が"
                            "見つからないため、補償期間の判定に使いません。",
                        ),
                        # a contract ended here whose start was never reported: before
                        # it (and after any earlier period) cover is not known
                        (floor, left_at) if floor is None and not undecided_left else None,
                    )
                )
                continue
            planned = current.planned_end
            end = left_at if planned is None else min(left_at, planned)
            raw.append((current, end, f"left ({e.client_event_id})"))
            floor = max(end, current.start)
            current = None
        else:
            pending.append(len(ignored))  # had it been a JOINED, a LEFT would end it
            ignored.append(
                _ignored(
                    e,
                    _note(
                        spec.clause_ids[0],
                        CheckStatus.UNKNOWN,
                        "enrolment_action_not_reported",
                        f"{format_jst(e.event_time)}の加入イベントは、加入・脱退の別が"
                        "報告されていないため、補償期間の判定に使いません。",
                    ),
                    # a JOINED would have started cover then
                    (e.starts_at or e.event_time, e.ends_at),
                )
            )
    if current is not None:
        raw.append((current, current.planned_end, "planned end" if current.planned_end else ""))

    periods: list[Period] = []
    for opened, closed_at, how in raw:
        period = _enrolment_period(cover, spec, opened, closed_at, how)
        if isinstance(period, Period):
            periods.append(period)
        elif period is not None:
            ignored.append(period)
    ignored.sort(key=lambda i: (i.event_time, i.client_event_id))
    return Coverage(tuple(periods), _in_force(ignored, cover.in_force_from))


def _ended_by_left(event: IgnoredEvent, left_at: datetime) -> IgnoredEvent:
    """``event`` (undecided) with what it might have covered ending at ``left_at``, as a
    LEFT ends a decided period: the earlier of the LEFT and its own planned end."""
    assert event.may_cover is not None
    lo, hi = event.may_cover
    hi = left_at if hi is None else min(hi, left_at)
    empty = lo is not None and hi <= lo
    return replace(event, may_cover=None if empty else (lo, hi))


def enrolment_periods(
    enrolments: Iterable[Enrolment], cover: Cover, as_of: datetime
) -> list[Period]:
    """The periods of ``enrolment_coverage``."""
    return list(enrolment_coverage(enrolments, cover, as_of).periods)


def _plan_rejection(e: Enrolment, spec: EnrolmentCover, cover: Cover) -> Judgement | None:
    plan = plan_key(e.plan)
    if plan in spec.plans:
        return None
    missing = plan == ""
    return _note(
        spec.clause_ids[0],
        CheckStatus.UNKNOWN if missing else CheckStatus.FAIL,
        "plan_not_reported" if missing else "product_not_listed",
        f"{format_jst(e.event_time)}の加入は、"
        f"{'プランが報告されていない' if missing else f'プラン「{e.plan}」が対象製品ではない'}"
        f"ため、{cover.name_ja}の対象契約として数えません。",
        Compared("enrolment.plan", e.plan or "(not reported)", ", ".join(sorted(spec.plans))),
    )


def _second_person(e: Enrolment, first: str, clause_id: str) -> Judgement:
    return _note(
        clause_id,
        CheckStatus.FAIL,
        "second_insured_person_in_period",
        f"{format_jst(e.event_time)}に被保険者「{e.insured_person_ref}」が加わりましたが、"
        f"この補償期間の被保険者は既に「{first}」であり、1補償期間で対象となるのは1名のみです。",
        Compared("insured_person_ref", e.insured_person_ref, first),
    )


def _enrolment_period(
    cover: Cover,
    spec: EnrolmentCover,
    opened: _Open,
    end: datetime | None,
    how: str,
) -> Period | IgnoredEvent | None:
    start = opened.start
    basis = f"{spec.basis}: from {format_jst(start)}"
    months = cover.begins_months_after_start
    if months:
        service_day = jst_date(start)
        start = cover_begins_calendar_months_after(service_day, months)
        basis = (
            f"{spec.basis}: service start {service_day.isoformat()}, "
            f"{cover.begins_clause} cover from {format_jst(start)} "
            f"(補償期間は提供開始日より{months}か月後)"
        )
        if end is not None and end <= start:
            return _ignored(
                opened.opened_by,
                _note(
                    cover.begins_clause,
                    CheckStatus.NOT_APPLICABLE,
                    "ended_before_cover_began",
                    f"提供開始日{service_day.isoformat()}のサービスは、補償開始"
                    f"（{format_jst(start)}）より前の{format_jst(end)}に終了したため、"
                    "補償期間はありません。",
                    Compared("ends_at", format_jst(end), f"after {format_jst(start)}"),
                ),
            )
    clipped = _clip(start, end, cover.in_force_from)
    if clipped is None:
        assert cover.in_force_from is not None
        return _ignored(
            opened.opened_by,
            _note(
                cover.in_force_clause,
                CheckStatus.NOT_APPLICABLE,
                "ended_before_in_force",
                f"{format_jst(start)}からの契約は、保険の開始（{format_jst(cover.in_force_from)}）"
                "より前に終了したため、補償期間はありません。",
            ),
        )
    start, was_clipped = clipped
    if was_clipped:
        basis += f"; {cover.in_force_clause} in force only from {format_jst(start)}"
    if end is not None and end <= start:
        return None
    if end is not None:
        basis += f" until {format_jst(end)}" + (f" ({how})" if how else "")
    return Period(
        start,
        end,
        spec.clause_ids,
        basis,
        tuple(opened.persons),
        tuple(opened.notes),
    )


# --------------------------------------------------------------------------- both sources


def policy_coverage(
    cover: Cover,
    activations: Iterable[Activation],
    enrolments: Iterable[Enrolment],
    as_of: datetime,
) -> Coverage:
    """The coverage periods of one customer under ``cover``, from every source it names.

    With both sources, a period of one that overlaps a period of the other is
    one period (clause ids, bases, persons and notes of both); periods that
    only touch stay apart. What did not count is listed from both.
    """
    parts: list[Coverage] = []
    if cover.activation is not None:
        parts.append(activation_coverage(activations, cover, as_of))
    if cover.enrolment is not None:
        parts.append(enrolment_coverage(enrolments, cover, as_of))
    if len(parts) == 1:
        return parts[0]
    periods = _union(p for part in parts for p in part.periods)
    ignored = sorted(
        (i for part in parts for i in part.ignored), key=lambda i: (i.event_time, i.client_event_id)
    )
    return Coverage(tuple(periods), tuple(ignored))


def policy_periods(
    cover: Cover,
    activations: Iterable[Activation],
    enrolments: Iterable[Enrolment],
    as_of: datetime,
) -> list[Period]:
    """The periods of ``policy_coverage``."""
    return list(policy_coverage(cover, activations, enrolments, as_of).periods)


def _union(periods: Iterable[Period]) -> list[Period]:
    """Periods as one cover, in time order: overlapping periods become one."""
    out: list[Period] = []
    for p in sorted(periods, key=lambda p: p.starts_at):  # stable: source order on ties
        last = out[-1] if out else None
        if last is not None and (last.ends_at is None or p.starts_at < last.ends_at):
            out[-1] = _joined(last, p)
        else:
            out.append(p)
    return out


def _joined(a: Period, b: Period) -> Period:
    end = None if a.ends_at is None or b.ends_at is None else max(a.ends_at, b.ends_at)
    return Period(
        a.starts_at,
        end,
        tuple(dict.fromkeys((*a.clause_ids, *b.clause_ids))),
        f"{a.basis}; and {b.basis}",
        tuple(dict.fromkeys((*a.insured_person_refs, *b.insured_person_refs))),
        (*a.notes, *b.notes),
    )


# --------------------------------------------------------------------------- monitoring


@dataclass(frozen=True, slots=True)
class MonitoringState:
    """Dark-web monitoring of one card as of an instant (KDN-C0..C2).

    ``registered_at``: start of the registration in force at ``as_of`` (the
    first CARD_REGISTERED since the card was last unregistered), None when the
    card is not registered. ``registrations``: every registration span.
    ``alerts_delivered_at``: every leak alert delivered, in time order.
    """

    card_token: str
    registered_at: datetime | None
    alerts_delivered_at: tuple[datetime, ...]
    registrations: tuple[Period, ...] = ()


def monitoring_state(
    events: Iterable[MonitoringEvent], card_token: str, as_of: datetime
) -> MonitoringState:
    """Registration and alerts of ``card_token`` from events at or before ``as_of``."""
    visible = [e for e in _visible(events, as_of) if e.card_token == card_token]
    _require_one_customer(visible)
    registered_at: datetime | None = None
    spans: list[Period] = []
    alerts: list[datetime] = []
    for e in visible:
        if e.kind is MonitoringEventKind.CARD_REGISTERED:
            if registered_at is None:
                registered_at = e.event_time
        elif e.kind is MonitoringEventKind.CARD_UNREGISTERED:
            if registered_at is not None and e.event_time > registered_at:
                spans.append(_registration_span(registered_at, e.event_time))
            registered_at = None
        elif e.kind is MonitoringEventKind.LEAK_ALERT_DELIVERED:
            alerts.append(e.event_time)
    if registered_at is not None:
        spans.append(_registration_span(registered_at, None))
    return MonitoringState(card_token, registered_at, tuple(alerts), tuple(spans))


def _registration_span(start: datetime, end: datetime | None) -> Period:
    basis = f"card registered in Norton Monitor from {format_jst(start)}"
    if end is not None:
        basis += f" until {format_jst(end)} (unregistered)"
    return Period(start, end, ("KDN-C0", "KDN-C1"), basis)
