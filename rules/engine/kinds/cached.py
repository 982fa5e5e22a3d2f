"""The timing core's pure functions, memoised for the engine.

A claim formats and windows the same few instants many times, and a batch of
claims shares most of them; the functions are pure, so caching them changes
nothing but speed.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

from timing import interval, jst, months, windows, years

__all__ = [
    "cover_begins_calendar_months_after",
    "day_window_end",
    "days_counted_from_next_day",
    "describe_end",
    "format_jst",
    "lookback_from_midnight_days_before",
    "period_year_containing",
    "until_end_of_next_jst_day",
    "within_days_of",
]


def _format_jst(instant: datetime) -> str:
    """``timing.jst.format_jst`` without strftime (the same text, faster)."""
    t = jst.to_jst(instant)
    # %Y is not zero-padded (year 999 → "999"); the other fields are.
    text = f"{t.year}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}"
    if t.second or t.microsecond:
        text += f":{t.second:02d}"
    if t.microsecond:
        text += f".{t.microsecond:06d}"
    return text + " JST"


format_jst = lru_cache(maxsize=4096)(_format_jst)
describe_end = lru_cache(maxsize=2048)(interval.describe_end)
days_counted_from_next_day = lru_cache(maxsize=2048)(windows.days_counted_from_next_day)
within_days_of = lru_cache(maxsize=2048)(windows.within_days_of)
lookback_from_midnight_days_before = lru_cache(maxsize=2048)(
    windows.lookback_from_midnight_days_before
)
until_end_of_next_jst_day = lru_cache(maxsize=2048)(windows.until_end_of_next_jst_day)
period_year_containing = lru_cache(maxsize=2048)(years.period_year_containing)
cover_begins_calendar_months_after = lru_cache(maxsize=1024)(
    months.cover_begins_calendar_months_after
)


@lru_cache(maxsize=1024)
def day_window_end(counting: str, day: date, days: int) -> datetime:
    """The exclusive end of the ``days``-day window counted from an event on the JST
    ``day``: ``days_counted_from_next_day`` (``counting`` "from_next_day") or
    ``within_days_of``. Both end at 24:00 JST of day N whatever the event's time of
    day, so the end is kept by the day: claims share their days, hardly ever their
    instants, and a window per instant is most of a deadline check's cost."""
    start = jst.start_of_jst_day(day)
    if counting == "from_next_day":
        return days_counted_from_next_day(start, days).end
    return within_days_of(start, days).end
