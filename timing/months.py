"""Calendar-month arithmetic per 民法143条 (JST civil dates).

民法143条: a period in months is reckoned by the calendar. When it does not
start at the beginning of a month, it expires on the day *before* the day in
the last month that corresponds to the first counted day (起算日); if the last
month has no corresponding day, it expires on that month's last day.

Two building blocks, deliberately kept apart:

* ``add_calendar_months(day, n)`` — the *corresponding day* (応当日) n months
  later, clamped to the month's last day when it does not exist
  (2026-01-31 + 1 = 2026-02-28, + 2 = 2026-03-31; 2024-12-31 + 2 = 2025-02-28;
  2023-12-31 + 2 = 2024-02-29).
* ``calendar_months_period_last_day(first_day, n)`` — the last day of a
  period of n months whose first counted day is ``first_day`` (143条 proper).
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

from timing.jst import require_date, start_of_jst_day

__all__ = [
    "add_calendar_months",
    "calendar_months_period_last_day",
    "cover_begins_calendar_months_after",
    "last_day_of_month",
]


def _require_months(months: int) -> int:
    if isinstance(months, bool) or not isinstance(months, int):
        raise TypeError(f"months must be an int, got {type(months).__name__}")
    return months


def last_day_of_month(year: int, month: int) -> int:
    """Number of days in ``month`` of ``year`` (28, 29, 30 or 31)."""
    return calendar.monthrange(year, month)[1]


def _shift(day: date, months: int) -> tuple[int, int, bool]:
    """(year, month, corresponding_day_exists) ``months`` after ``day``."""
    index = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(index, 12)
    month = month0 + 1
    if not 1 <= year <= 9999:
        raise OverflowError(f"{day.isoformat()} + {months} months is outside the date range")
    return year, month, day.day <= last_day_of_month(year, month)


def add_calendar_months(day: date, months: int) -> date:
    """The corresponding day (応当日) ``months`` calendar months after ``day``.

    Same day-of-month; when that day does not exist in the target month, the
    last day of that month. ``months`` may be zero or negative. The result is
    always in the target month and never past its end.
    """
    require_date(day)
    _require_months(months)
    year, month, exists = _shift(day, months)
    return date(year, month, day.day if exists else last_day_of_month(year, month))


def calendar_months_period_last_day(first_day: date, months: int) -> date:
    """Last day (inclusive) of an n-month period whose first counted day is ``first_day``.

    民法143条: the day before the corresponding day in the last month; when the
    last month has no corresponding day, that month's last day.

    ``first_day`` is the 起算日 — under 民法140条 usually the day *after* the
    event. Examples: 2026-03-01, 1 month → 2026-03-31; 2026-01-28, 1 month →
    2026-02-27; 2026-01-29/30/31, 1 month → 2026-02-28 (no Feb 29/30/31).
    ``months`` must be >= 1.
    """
    require_date(first_day)
    _require_months(months)
    if months < 1:
        raise ValueError(f"months must be >= 1, got {months}")
    year, month, exists = _shift(first_day, months)
    if not exists:
        return date(year, month, last_day_of_month(year, month))
    return date(year, month, first_day.day) - timedelta(days=1)


def cover_begins_calendar_months_after(service_start: date, months: int) -> datetime:
    """When cover begins for "補償期間は提供開始日よりNか月後" (JPE-P1, months=2).

    Cover begins at 00:00 JST (inclusive) of the corresponding day ``months``
    calendar months after the JST service start date, clamped to the month's
    last day (``add_calendar_months``). A loss at or after the returned
    instant is in cover; a loss before it is not.

    JPE-P1 examples (months=2): start 2026-01-15 → 2026-03-15 00:00 JST;
    start 2026-01-31 → 2026-03-31 00:00 JST; start 2024-12-31 → 2025-02-28
    00:00 JST (clamped); start 2023-12-31 → 2024-02-29 00:00 JST (leap year).

    The policy rules file refers to the ``months`` parameter by name
    (e.g. ``cover_begins_calendar_months_after(start, months=2)``).
    """
    return start_of_jst_day(add_calendar_months(service_start, months))
