"""Coverage periods from reported events: KDN-P1/P2, ISA-P1/P2/I1, DCM, HNB, JPE-P1; KDN-C0..C2.

Pure functions over a list of events and an explicit ``as_of``:

* events with ``event_time > as_of`` are invisible (what Anshin believed then);
* arrival order never matters: visible events are sorted by event time, then
  by ``client_event_id`` (then by their full value, so even duplicate ids
  give one answer);
* periods are half-open, ``starts_at <= t < ends_at``; ``ends_at=None`` means
  still open. A period that would be empty is not returned.

Every assumption is a named field of ``CoverageSettings`` (documented there).
Events that were seen but do not count (an activation outside the carrier
shop, a product that is not listed, a second insured person, ...) are never
dropped silently: the ``*_coverage`` functions return them with a
``Judgement`` saying why; the ``*_periods`` functions return the periods only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby, pairwise
from typing import Protocol, TypeVar

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
from rules.timing.jst import at_jst, format_jst, jst_date, require_aware
from rules.timing.months import cover_begins_calendar_months_after

__all__ = [
    "DEFAULT_COVERAGE_SETTINGS",
    "ENROLMENT_CLAUSES",
    "ISA_PRODUCTS",
    "KDN_APPS",
    "Coverage",
    "CoverageSettings",
    "IgnoredEvent",
    "MonitoringState",
    "Period",
    "covered_at",
    "enrolment_coverage",
    "enrolment_periods",
    "isa_coverage",
    "isa_periods",
    "kdn_coverage",
    "kdn_periods",
    "monitoring_state",
]

KDN_APPS = frozenset({SecurityApp.NORTON_360, SecurityApp.NORTON_MONITOR})
"""KDN-P1: 「ノートン360」と「ノートンモニター」 — both must be active."""

ISA_PRODUCTS = frozenset(
    {
        SecurityApp.VIRUS_BUSTER_CLOUD_MONTHLY_3,
        SecurityApp.VIRUS_BUSTER_CLOUD_MONTHLY_1,
        SecurityApp.J_SAFE,
        SecurityApp.J_SAFE_3,
    }
)
"""ISA-P1: ウイルスバスター クラウド 月額版 3台版 / 1台版, J-SAFE, J-SAFE 3台版."""


@dataclass(frozen=True, slots=True)
class CoverageSettings:
    """Every assumption of the coverage periods, with its default.

    kdn_campaign_ends_at (default None = not ended / not announced):
        KDN-P2 「本保険無料特典キャンペーンが主催者により終了されたとき」. When set,
        every KDN period ends at this instant at the latest, and activations at
        or after it start no period. It is configuration, not an event, so it
        applies whatever ``as_of`` is.
    kdn_carrier_shop_channel (default "carrier_shop"):
        The ``Activation.channel`` value that means "downloaded and activated in
        a carrier (KDDI) shop".
    kdn_carrier_shop_required_for (ASSUMPTION, default {NORTON_360}):
        Seed 001 §1-3 defines the covered smartphone as the one where the
        Norton 360 app was downloaded in a KDDI shop and activated, using the
        phone number billed for the app. The text names only Norton 360 (Norton
        Monitor is an account service, not a device protection), so only
        Norton 360 activations must come from the carrier shop; an activation of
        a listed app through another channel does not count and is reported.
    kdn_require_billed_phone (ASSUMPTION, default True):
        The same activations must carry the billed phone number
        (``phone_ref``); an activation without it does not count (UNKNOWN).
    isa_products (default ``ISA_PRODUCTS``):
        ISA-P1, the four listed products.
    isa_in_force_from (default 2024-04-01 00:00 JST):
        ISA-P2 「2024年4月1日から…2024年4月1日以前に…ご契約されている方にもお付けします」:
        periods are clipped to start no earlier than this instant.
    isa_plan_ids (ASSUMPTION, default the lower-case ``SecurityApp`` names of
        ``isa_products``, e.g. "j_safe_3"):
        The ``Enrolment.plan`` values that name a listed ISA product.
    jpe_cover_delay_months (default 2):
        JPE-P1 「補償期間は提供開始日より2か月後」 via
        ``rules.timing.cover_begins_calendar_months_after``.

    ASSUMPTIONs not needing a value (documented behaviour):
    * An app counts as active while it is active on at least one counted
      device; deactivating or invalidating it on one device ends cover only if
      no other counted device still has it (multi-device licences). An event
      with an empty ``device_id`` applies to every device of that app.
    * ISA-I1 「1補償期間で対象となるのは1名のみ」: a coverage period is one
      continuous enrolment (joined..left); a second, different insured person
      joining while it is in force is flagged as an ISA-I1 violation.
    * A LEFT enrolment ends the whole enrolment period, at its ``ends_at``
      (or its event time when not sent).
    """

    kdn_campaign_ends_at: datetime | None = None
    kdn_carrier_shop_channel: str = "carrier_shop"
    kdn_carrier_shop_required_for: frozenset[SecurityApp] = frozenset({SecurityApp.NORTON_360})
    kdn_require_billed_phone: bool = True
    isa_products: frozenset[SecurityApp] = ISA_PRODUCTS
    isa_in_force_from: datetime = field(default_factory=lambda: at_jst(2024, 4, 1))
    isa_plan_ids: frozenset[str] | None = None
    jpe_cover_delay_months: int = 2

    def __post_init__(self) -> None:
        if self.kdn_campaign_ends_at is not None:
            require_aware(self.kdn_campaign_ends_at, "kdn_campaign_ends_at")
        require_aware(self.isa_in_force_from, "isa_in_force_from")

    @property
    def isa_plans(self) -> frozenset[str]:
        if self.isa_plan_ids is not None:
            return self.isa_plan_ids
        return frozenset(app.name.lower() for app in self.isa_products)


DEFAULT_COVERAGE_SETTINGS = CoverageSettings()


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
    """A visible event that did not count, and why."""

    client_event_id: str
    event_time: datetime
    judgement: Judgement


@dataclass(frozen=True, slots=True)
class Coverage:
    periods: tuple[Period, ...]
    ignored: tuple[IgnoredEvent, ...] = ()


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


def _ignored(event: _Event, judgement: Judgement) -> IgnoredEvent:
    return IgnoredEvent(event.client_event_id, event.event_time, judgement)


# --------------------------------------------------------------------------- activations


@dataclass(slots=True)
class _Interval:
    start: datetime
    end: datetime | None
    opened_by: str
    closed_by: str = ""


def _activation_intervals(
    events: Sequence[Activation],
    apps: frozenset[SecurityApp],
    reject: Callable[[Activation], Judgement | None],
    in_force: Callable[[Mapping[SecurityApp, set[str]]], bool],
    describe: Callable[[Mapping[SecurityApp, set[str]]], str],
) -> tuple[list[_Interval], list[IgnoredEvent]]:
    """Run the activation state machine over sorted events of ``apps``.

    State: for each app, the set of counted devices on which it is active.
    All events at one instant are applied before the state is read, so a
    same-instant swap (deactivate one device, activate another) does not
    break the period.
    """
    active: dict[SecurityApp, set[str]] = {app: set() for app in apps}
    intervals: list[_Interval] = []
    ignored: list[IgnoredEvent] = []
    current: _Interval | None = None
    for instant, group in groupby(events, key=lambda e: e.event_time):
        causes: list[str] = []
        for e in group:
            if e.action is ActivationAction.ACTIVATED:
                rejection = reject(e)
                if rejection is not None:
                    ignored.append(_ignored(e, rejection))
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
                            "KDN-P1" if e.app in KDN_APPS else "ISA-P1",
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
                    )
                )
        now = in_force(active)
        if now and current is None:
            current = _Interval(instant, None, describe(active))
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


def kdn_coverage(
    activations: Iterable[Activation],
    as_of: datetime,
    settings: CoverageSettings = DEFAULT_COVERAGE_SETTINGS,
) -> Coverage:
    """KDN-P1/P2 coverage periods of one customer, with the activations that did not count.

    KDN-P1: a period starts when both Norton 360 and Norton Monitor are active
    (the later activation completes it). KDN-P2: it ends at the earliest of
    either app deactivated, either app invalidated, or the campaign end
    (``settings.kdn_campaign_ends_at``). A later re-activation starts a new
    period. Only activations meeting the covered-device constraint count
    (see ``CoverageSettings``). Events of other apps are not KDN events and
    are skipped.
    """
    visible = [e for e in _visible(activations, as_of) if e.app in KDN_APPS]
    _require_one_customer(visible)

    def reject(e: Activation) -> Judgement | None:
        if e.app not in settings.kdn_carrier_shop_required_for:
            return None
        device = e.device_id or "不明"
        where = f"{format_jst(e.event_time)}の{e.app.name}のアクティブ化（端末{device}）"
        if e.channel != settings.kdn_carrier_shop_channel:
            return _note(
                "KDN-P1",
                CheckStatus.FAIL,
                "activation_not_via_carrier_shop",
                f"{where}は、店舗（{settings.kdn_carrier_shop_channel}）でのダウンロード・"
                f"アクティブ化ではない（経路「{e.channel or '不明'}」）ため、"
                "補償対象の端末として数えません。",
                Compared(
                    "activation.channel",
                    e.channel or "(not reported)",
                    settings.kdn_carrier_shop_channel,
                ),
            )
        if settings.kdn_require_billed_phone and not e.phone_ref:
            return _note(
                "KDN-P1",
                CheckStatus.UNKNOWN,
                "billed_phone_not_reported",
                f"{where}は、利用料金の請求対象の電話番号が報告されていないため、"
                "補償対象の端末として数えません。",
                Compared("activation.phone_ref", "(not reported)", "billed phone number"),
            )
        return None

    intervals, ignored = _activation_intervals(
        visible, KDN_APPS, reject, lambda active: all(active[a] for a in KDN_APPS), _apps_text
    )
    campaign_end = settings.kdn_campaign_ends_at
    periods: list[Period] = []
    for iv in intervals:
        start, end, closed_by = iv.start, iv.end, iv.closed_by
        if campaign_end is not None:
            if start >= campaign_end:
                continue
            if end is None or end > campaign_end:
                end, closed_by = campaign_end, "campaign ended (キャンペーン終了, KDN-P2)"
        basis = f"KDN-P1 both apps active from {format_jst(start)}: {iv.opened_by}" + (
            f"; KDN-P2 ended {format_jst(end)}: {closed_by}" if end is not None else ""
        )
        periods.append(Period(start, end, ("KDN-P1", "KDN-P2"), basis))
    return Coverage(tuple(periods), tuple(ignored))


def kdn_periods(
    activations: Iterable[Activation],
    as_of: datetime,
    settings: CoverageSettings = DEFAULT_COVERAGE_SETTINGS,
) -> list[Period]:
    """KDN-P1/P2 periods (see ``kdn_coverage``)."""
    return list(kdn_coverage(activations, as_of, settings).periods)


def _clip_isa(
    start: datetime, end: datetime | None, in_force_from: datetime
) -> tuple[datetime, bool] | None:
    """(start clipped to ISA-P2, clipped?) or None when the period ended before it."""
    if end is not None and end <= in_force_from:
        return None
    if start < in_force_from:
        return in_force_from, True
    return start, False


def isa_coverage(
    activations: Iterable[Activation],
    as_of: datetime,
    settings: CoverageSettings = DEFAULT_COVERAGE_SETTINGS,
) -> Coverage:
    """ISA-P1/P2 coverage periods of one subscriber from security-app activations.

    ISA-P1: in cover while a listed product is active (any of them; a switch
    between listed products at one instant keeps the period). Activations of
    any other product do not count and are reported. ISA-P2: periods start no
    earlier than ``settings.isa_in_force_from`` (2024-04-01 00:00 JST), even
    for earlier subscribers.
    """
    visible = _visible(activations, as_of)
    _require_one_customer(visible)
    products = settings.isa_products
    ignored: list[IgnoredEvent] = []
    listed: list[Activation] = []
    for e in visible:
        if e.app in products:
            listed.append(e)
        elif e.action is ActivationAction.ACTIVATED:
            unknown = e.app is SecurityApp.UNSPECIFIED
            what = "が報告されていない" if unknown else f"「{e.app.name}」が対象製品ではない"
            ignored.append(
                _ignored(
                    e,
                    _note(
                        "ISA-P1",
                        CheckStatus.UNKNOWN if unknown else CheckStatus.FAIL,
                        "product_not_reported" if unknown else "product_not_listed",
                        f"{format_jst(e.event_time)}のアクティブ化は、製品"
                        f"{what}"
                        "ため、ネットトラブル弁護士費用保険の対象契約として数えません。",
                        Compared(
                            "activation.app",
                            e.app.name,
                            ", ".join(sorted(p.name for p in products)),
                        ),
                    ),
                )
            )
    intervals, more = _activation_intervals(
        listed,
        products,
        lambda _e: None,
        lambda active: any(active[p] for p in products),
        _apps_text,
    )
    ignored.extend(more)
    periods: list[Period] = []
    for iv in intervals:
        clipped = _clip_isa(iv.start, iv.end, settings.isa_in_force_from)
        if clipped is None:
            continue
        start, was_clipped = clipped
        basis = f"ISA-P1 listed product active from {format_jst(iv.start)}: {iv.opened_by}"
        if was_clipped:
            basis += f"; ISA-P2 in force only from {format_jst(start)} (2024年4月1日から)"
        if iv.end is not None:
            basis += f"; ended {format_jst(iv.end)}: {iv.closed_by}"
        periods.append(Period(start, iv.end, ("ISA-P1", "ISA-P2"), basis))
    ignored.sort(key=lambda i: (i.event_time, i.client_event_id))
    return Coverage(tuple(periods), tuple(ignored))


def isa_periods(
    activations: Iterable[Activation],
    as_of: datetime,
    settings: CoverageSettings = DEFAULT_COVERAGE_SETTINGS,
) -> list[Period]:
    """ISA-P1/P2 periods (see ``isa_coverage``)."""
    return list(isa_coverage(activations, as_of, settings).periods)


# --------------------------------------------------------------------------- enrolments

ENROLMENT_CLAUSES: Mapping[str, tuple[str, ...]] = {
    "DCM": ("DCM-E1", "DCM-E2", "DCM-E3", "DCM-X4"),
    "HNB": ("HNB-X2", "HNB-L1"),
    "JPE": ("JPE-P1",),
    "ISA": ("ISA-P1", "ISA-P2", "ISA-I1"),
}
"""Policies whose cover follows enrolments, and the clauses their periods serve."""

_ENROLMENT_BASIS: Mapping[str, str] = {
    "DCM": "DCM membership (保険責任期間: 加入した時に始まり、脱退した時に終わります)",
    "HNB": "HNB IB contract (東日本ビジネスIBサービスのご契約) from start to cancellation",
    "JPE": "JPE service (提供開始日) — cover from 2 calendar months after the start",
    "ISA": "ISA subscription (対象セキュリティーソフトのご契約)",
}


@dataclass(slots=True)
class _Open:
    start: datetime
    planned_end: datetime | None
    opened_by: Enrolment
    persons: list[str] = field(default_factory=list)
    notes: list[Judgement] = field(default_factory=list)


def enrolment_coverage(
    enrolments: Iterable[Enrolment],
    policy_id: str,
    as_of: datetime,
    settings: CoverageSettings = DEFAULT_COVERAGE_SETTINGS,
) -> Coverage:
    """Coverage periods of one customer under ``policy_id`` from JOINED / LEFT enrolments.

    * DCM: membership, joined .. left (保険責任期間).
    * HNB: IB contract, start .. cancellation.
    * JPE: service start .. end, but cover begins ``jpe_cover_delay_months``
      calendar months after the JST start date (JPE-P1, 00:00 JST, clamped to
      month end); an enrolment ending before that gives no period.
    * ISA: subscription to a listed plan, clipped to ISA-P2; ISA-I1 — the
      insured person refs of each period are returned and a second, different
      person is flagged (an ISA-I1 FAIL note on the period).

    A JOINED starts at ``starts_at`` (or its event time) and may carry a planned
    ``ends_at``; a LEFT ends the period at its ``ends_at`` (or its event time).
    Enrolments of other policies are skipped. KDN cover comes from activations
    (``kdn_coverage``), not enrolments.
    """
    policy = policy_id.strip().upper()
    if policy == "KDN":
        raise ValueError("KDN coverage follows app activations: use kdn_coverage / kdn_periods")
    if policy not in ENROLMENT_CLAUSES:
        raise ValueError(
            f"unknown policy id {policy_id!r}; expected one of {sorted(ENROLMENT_CLAUSES)}"
        )
    visible = [e for e in _visible(enrolments, as_of) if e.policy_id.strip().upper() == policy]
    _require_one_customer(visible)

    raw: list[tuple[_Open, datetime | None, str]] = []
    ignored: list[IgnoredEvent] = []
    current: _Open | None = None
    floor: datetime | None = None  # end of the last closed period: periods never overlap

    for e in visible:
        if e.action is EnrolmentAction.JOINED:
            if policy == "ISA":
                rejection = _isa_plan_rejection(e, settings)
                if rejection is not None:
                    ignored.append(_ignored(e, rejection))
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
                if policy == "ISA" and current.persons:
                    current.notes.append(_isa_second_person(e, current.persons[0]))
                current.persons.append(ref)
        elif e.action is EnrolmentAction.LEFT:
            if current is None:
                ignored.append(
                    _ignored(
                        e,
                        _note(
                            ENROLMENT_CLAUSES[policy][0],
                            CheckStatus.UNKNOWN,
                            "left_without_joined",
                            f"{format_jst(e.event_time)}の脱退・解約は、対応する加入が"
                            "見つからないため、補償期間の判定に使いません。",
                        ),
                    )
                )
                continue
            left_at = e.ends_at or e.event_time
            planned = current.planned_end
            end = left_at if planned is None else min(left_at, planned)
            raw.append((current, end, f"left ({e.client_event_id})"))
            floor = max(end, current.start)
            current = None
        else:
            ignored.append(
                _ignored(
                    e,
                    _note(
                        ENROLMENT_CLAUSES[policy][0],
                        CheckStatus.UNKNOWN,
                        "enrolment_action_not_reported",
                        f"{format_jst(e.event_time)}の加入イベントは、加入・脱退の別が"
                        "報告されていないため、補償期間の判定に使いません。",
                    ),
                )
            )
    if current is not None:
        raw.append((current, current.planned_end, "planned end" if current.planned_end else ""))

    periods: list[Period] = []
    for opened, closed_at, how in raw:
        period = _enrolment_period(policy, opened, closed_at, how, settings)
        if isinstance(period, Period):
            periods.append(period)
        elif period is not None:
            ignored.append(period)
    ignored.sort(key=lambda i: (i.event_time, i.client_event_id))
    return Coverage(tuple(periods), tuple(ignored))


def enrolment_periods(
    enrolments: Iterable[Enrolment],
    policy_id: str,
    as_of: datetime,
    settings: CoverageSettings = DEFAULT_COVERAGE_SETTINGS,
) -> list[Period]:
    """Enrolment-based periods (see ``enrolment_coverage``)."""
    return list(enrolment_coverage(enrolments, policy_id, as_of, settings).periods)


def _isa_plan_rejection(e: Enrolment, settings: CoverageSettings) -> Judgement | None:
    plans = settings.isa_plans
    plan = e.plan.strip().lower()
    if plan in plans:
        return None
    missing = plan == ""
    return _note(
        "ISA-P1",
        CheckStatus.UNKNOWN if missing else CheckStatus.FAIL,
        "plan_not_reported" if missing else "product_not_listed",
        f"{format_jst(e.event_time)}の加入は、"
        f"{'プランが報告されていない' if missing else f'プラン「{e.plan}」が対象製品ではない'}"
        "ため、ネットトラブル弁護士費用保険の対象契約として数えません。",
        Compared("enrolment.plan", e.plan or "(not reported)", ", ".join(sorted(plans))),
    )


def _isa_second_person(e: Enrolment, first: str) -> Judgement:
    return _note(
        "ISA-I1",
        CheckStatus.FAIL,
        "second_insured_person_in_period",
        f"{format_jst(e.event_time)}に被保険者「{e.insured_person_ref}」が加わりましたが、"
        f"この補償期間の被保険者は既に「{first}」であり、1補償期間で対象となるのは1名のみです。",
        Compared("insured_person_ref", e.insured_person_ref, first),
    )


def _enrolment_period(
    policy: str,
    opened: _Open,
    end: datetime | None,
    how: str,
    settings: CoverageSettings,
) -> Period | IgnoredEvent | None:
    start = opened.start
    basis = f"{_ENROLMENT_BASIS[policy]}: from {format_jst(start)}"
    if policy == "JPE":
        service_day = jst_date(start)
        start = cover_begins_calendar_months_after(service_day, settings.jpe_cover_delay_months)
        basis = (
            f"{_ENROLMENT_BASIS[policy]}: service start {service_day.isoformat()}, "
            f"JPE-P1 cover from {format_jst(start)} "
            f"(補償期間は提供開始日より{settings.jpe_cover_delay_months}か月後)"
        )
        if end is not None and end <= start:
            return _ignored(
                opened.opened_by,
                _note(
                    "JPE-P1",
                    CheckStatus.NOT_APPLICABLE,
                    "ended_before_cover_began",
                    f"提供開始日{service_day.isoformat()}のサービスは、補償開始"
                    f"（{format_jst(start)}）より前の{format_jst(end)}に終了したため、"
                    "補償期間はありません。",
                    Compared("ends_at", format_jst(end), f"after {format_jst(start)}"),
                ),
            )
    elif policy == "ISA":
        clipped = _clip_isa(start, end, settings.isa_in_force_from)
        if clipped is None:
            return _ignored(
                opened.opened_by,
                _note(
                    "ISA-P2",
                    CheckStatus.NOT_APPLICABLE,
                    "ended_before_in_force",
                    f"{format_jst(start)}からの契約は、保険の開始（{format_jst(settings.isa_in_force_from)}）"
                    "より前に終了したため、補償期間はありません。",
                ),
            )
        start, was_clipped = clipped
        if was_clipped:
            basis += f"; ISA-P2 in force only from {format_jst(start)} (2024年4月1日から)"
    if end is not None and end <= start:
        return None
    if end is not None:
        basis += f" until {format_jst(end)}" + (f" ({how})" if how else "")
    return Period(
        start,
        end,
        ENROLMENT_CLAUSES[policy],
        basis,
        tuple(opened.persons),
        tuple(opened.notes),
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
