"""Clause-shaped time windows counted in JST days.

Every function takes aware instants, converts to JST, counts whole JST civil
days, and returns a ``Window`` (start inclusive, end exclusive) or, where a
clause bounds only the end, a ``Deadline``.

Day counting follows 民法140条 (初日不算入): the day on which the event
happens is day 0 and is not counted; day 1 is the next JST day. A deadline
"within N days" ends at 24:00 JST of day N, which as an exclusive bound is
00:00 JST of day N+1.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from timing.interval import Deadline, Window
from timing.jst import jst_date, require_aware, start_of_jst_day

__all__ = [
    "INSTANT_RESOLUTION",
    "days_counted_from_next_day",
    "lookback_from_midnight_days_before",
    "until_end_of_next_jst_day",
    "within_days_of",
]

INSTANT_RESOLUTION = timedelta(microseconds=1)
"""The resolution of ``datetime``. ``t <= x`` is exactly ``t < x + INSTANT_RESOLUTION``."""


def _require_days(days: int) -> int:
    if isinstance(days, bool) or not isinstance(days, int):
        raise TypeError(f"days must be an int, got {type(days).__name__}")
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    return days


def days_counted_from_next_day(event: datetime, days: int) -> Window:
    """翌日からN日以内: N days counted from the JST day after ``event``.

    Day 1 is the JST day after ``event``'s JST date; the window ends at
    24:00 JST of day N (exclusive bound: 00:00 JST of day N+1). The window
    starts at the ``event`` instant itself (nothing can be notified before it
    happened), so the event's own day (day 0) is inside the window too.

    HNB-X5: fraud at any time on 2026-03-01 JST, 30 days →
    notice up to 2026-03-31 23:59:59.999999 JST is in, 2026-04-01 00:00 JST is out.
    """
    require_aware(event, "event")
    _require_days(days)
    event_day = jst_date(event)
    end = start_of_jst_day(event_day + timedelta(days=days + 1))
    basis = f"{days} days counted from the day after {event_day.isoformat()} (翌日から{days}日以内)"
    return Window(event, end, basis)


def within_days_of(event: datetime, days: int) -> Window:
    """N日以内 "from" an event where the text does not say 翌日から.

    Used for DCM-C3 (不正使用の発生から365日以内に通知) and KDN-C5
    (不正利用の発生から365日以内にクレジットカード会社等へ請求).

    Semantics (chosen and documented): identical to
    ``days_counted_from_next_day``. Under 民法140条 a period expressed in days
    does not count its first day (初日不算入), so "within 365 days from the
    fraud" runs to 24:00 JST of the 365th day after the fraud's JST date. The
    140条 proviso (the first day counts when the period starts exactly at
    00:00) is deliberately not applied: an event that happens to occur at
    00:00:00 is not a period that "starts at midnight", and applying it would
    make the deadline jump by a day on a one-microsecond difference.
    """
    window = days_counted_from_next_day(event, days)
    basis = (
        f"within {days} days of {jst_date(event).isoformat()}, "
        f"counted from the next day (民法140条 初日不算入)"
    )
    return Window(window.start, window.end, basis)


def until_end_of_next_jst_day(event: datetime) -> Deadline:
    """翌日24時まで: up to 24:00 JST of the day after ``event``'s JST date.

    The exclusive bound is 00:00 JST two days after the event's JST date.
    KDN-C2: alert received on 2026-05-10 (any time) → fraud up to
    2026-05-11 23:59:59.999999 JST is covered, from 2026-05-12 00:00 JST
    (翌々日以降) it is not.

    Returns a ``Deadline`` (no lower bound): the clause limits only how late
    the fraud may be; fraud before the alert is not excluded by it.
    """
    require_aware(event, "event")
    event_day = jst_date(event)
    end = start_of_jst_day(event_day + timedelta(days=2))
    return Deadline(end, f"by 24:00 JST of the day after {event_day.isoformat()} (翌日24時まで)")


def lookback_from_midnight_days_before(reference: datetime, days: int) -> Window:
    """From 00:00 JST of the day N days before ``reference``'s JST date, up to ``reference``.

    KDN-C6 (本補償に請求した日の366日前の午前0時から、請求した時まで): claim at
    2026-03-10 10:00 JST, 366 days → fraud from 2025-03-09 00:00 JST is in,
    2025-03-08 23:59:59.999999 JST is out.

    The end is *inclusive* of the ``reference`` instant ("請求した時まで"); as an
    exclusive bound it is ``reference + INSTANT_RESOLUTION`` (one microsecond).
    """
    require_aware(reference, "reference")
    _require_days(days)
    ref_day = jst_date(reference)
    start = start_of_jst_day(ref_day - timedelta(days=days))
    basis = (
        f"from 00:00 JST of the day {days} days before {ref_day.isoformat()} "
        f"up to and including the reference time ({days}日前の午前0時から)"
    )
    return Window(start, reference + INSTANT_RESOLUTION, basis)
