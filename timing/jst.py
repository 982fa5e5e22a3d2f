"""Japan Standard Time: the civil clock every policy is written in.

JST is a fixed UTC+9 offset. Japan has observed no daylight-saving time since
1951, so no tz database is needed and none is consulted.

Timestamps travel as aware instants (usually UTC). Calendar logic converts to
JST first and works on JST civil dates. Every public function here refuses
naive datetimes with ``ValueError``: a naive value has no defined instant, and
guessing its zone is exactly the bug this module exists to prevent.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import lru_cache

__all__ = [
    "JST",
    "at_jst",
    "end_of_jst_day",
    "format_jst",
    "jst_date",
    "require_aware",
    "require_date",
    "start_of_jst_day",
    "to_jst",
]

JST = timezone(timedelta(hours=9), "JST")
"""Japan Standard Time, UTC+9, no DST."""


def require_aware(value: datetime, name: str = "instant") -> datetime:
    """Return ``value`` unchanged if it is a timezone-aware datetime.

    Raises ``TypeError`` for non-datetimes and ``ValueError`` for naive ones.
    """
    if type(value) is datetime and value.tzinfo is UTC:
        return value  # the usual case, decided without calling utcoffset()
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value


def require_date(value: date, name: str = "day") -> date:
    """Return ``value`` if it is a plain ``date`` (not a ``datetime``).

    ``datetime`` is a subclass of ``date``; accepting one where a civil date is
    meant would silently drop its time and zone, so it is refused.
    """
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"{name} must be a date (not a datetime), got {type(value).__name__}")
    return value


def to_jst(instant: datetime) -> datetime:
    """The same instant expressed on the JST clock."""
    return require_aware(instant).astimezone(JST)


def jst_date(instant: datetime) -> date:
    """The JST civil date on which ``instant`` falls.

    2026-03-01T14:59:59.999999Z is 2026-03-01 (23:59:59.999999 JST);
    2026-03-01T15:00:00Z is already 2026-03-02 (00:00 JST).
    """
    return to_jst(instant).date()


def start_of_jst_day(day: date) -> datetime:
    """00:00 JST at the start of ``day`` (inclusive bound), as an aware datetime.

    Aware datetimes compare by instant, so the result can be compared directly
    with UTC timestamps.
    """
    return datetime.combine(require_date(day), time(0), tzinfo=JST)


def end_of_jst_day(day: date) -> datetime:
    """24:00 JST at the end of ``day``, i.e. 00:00 JST of the next day.

    This is an *exclusive* bound: ``t < end_of_jst_day(d)`` means "t is on or
    before ``d`` in JST".
    """
    return start_of_jst_day(require_date(day) + timedelta(days=1))


def at_jst(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    microsecond: int = 0,
) -> datetime:
    """Build an aware datetime from JST wall-clock fields (convenience)."""
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=JST)


def format_jst(instant: datetime) -> str:
    """Human-readable JST wall-clock time, e.g. ``2026-03-31 23:59:59.999999 JST``.

    Seconds and microseconds are shown only when non-zero.
    """
    if type(instant) is datetime and (instant.tzinfo is UTC or instant.tzinfo is JST):
        return _format_fixed_offset(instant)
    return _format_jst(instant)


@lru_cache(maxsize=16384)
def _format_fixed_offset(instant: datetime) -> str:
    """``format_jst`` memoised (reports format the same event instants again and again).

    Only for plain datetimes in UTC or JST: fixed offsets, so two equal keys are
    the same instant (aware datetimes compare and hash by instant) and show the
    same JST text; ``fold`` changes nothing at a fixed offset. Zones with
    transitions (where equal wall-clock fields with another ``fold`` are another
    instant) and datetime subclasses are formatted every time.
    """
    return _format_jst(instant)


def _format_jst(instant: datetime) -> str:
    t = to_jst(instant)
    text = t.strftime("%Y-%m-%d %H:%M")
    if t.second or t.microsecond:
        text += t.strftime(":%S")
    if t.microsecond:
        text += f".{t.microsecond:06d}"
    return text + " JST"
