"""The one parser of instants written as text: the command line, the rules
files, the release data and the feeds all read instants through it.

An instant is ISO 8601 in the RFC 3339 profile, *with* its UTC offset::

    2025-04-10T10:00:00+09:00    2025-04-10T01:00:00Z    2025-04-10 10:00+09:00

Seconds may be left out, a fraction of any length is read to the
microsecond (Google's feeds send nanoseconds; the rest is cut, never
rounded into the next second), ``T``/``t``/space separate date and time,
``Z``/``z`` is UTC. The result is an aware datetime in UTC.

Refused, always, with one :class:`InstantError` naming what was given, what
is accepted and an example:

* a date-time without an offset: it has no defined instant, and the reader,
  the server and the policy may each be in another zone — guessing is the
  bug ``timing.jst`` exists to prevent;
* a leap second (``23:59:60``): Python's datetime cannot hold it, and a
  silent shift to :59 or :00 would move a deadline;
* impossible days (``2025-02-30``), offsets beyond ±23:59, other ISO 8601
  spellings (basic ``20250410T1000+0900``, week dates, ``+0900``) and
  non-ASCII digits.

A plain date (``2025-04-10``) is an instant only where the caller says what
it means (``date_means``): midnight JST for the command-line flags whose
help says so (the policies' days are Japanese calendar days), midnight UTC
for the release data (its dates are the vendors' days, docs/release-data.md),
refused everywhere else.

TOML hands over native values: an aware ``datetime`` is taken as is, a naive
one is refused like naive text, a ``date`` follows ``date_means``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from enum import Enum
from typing import Final

from timing.jst import JST

__all__ = ["DateMeaning", "InstantError", "parse_instant"]


class DateMeaning(Enum):
    """What a plain ``YYYY-MM-DD`` stands for where an instant is expected."""

    REFUSE = "refuse"
    JST_MIDNIGHT = "00:00 JST"
    UTC_MIDNIGHT = "00:00 UTC"


_EXAMPLE: Final = "2025-04-10T10:00:00+09:00 or 2025-04-10T01:00:00Z"
_MAX_SHOWN: Final = 60  # characters of the given text an error repeats


class InstantError(ValueError):
    """An instant that cannot be read. ``str()`` is the whole human message:
    what was given, why it is refused, what is accepted, an example."""

    def __init__(self, given: object, problem: str, date_means: DateMeaning) -> None:
        self.given = given
        self.problem = problem
        self.accepted = _accepted(date_means)
        super().__init__(f"{_shown(given)}: {problem}; expected {self.accepted}")


def _accepted(date_means: DateMeaning) -> str:
    instant = f"an ISO 8601 instant with its UTC offset (e.g. {_EXAMPLE})"
    if date_means is DateMeaning.REFUSE:
        return instant
    return f"{instant}, or a date YYYY-MM-DD meaning {date_means.value} (e.g. 2025-04-10)"


def _shown(given: object) -> str:
    if isinstance(given, datetime | date | time):
        return given.isoformat()
    text = repr(given)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


# ASCII digits only: ``\d`` would take fullwidth and other Unicode digits.
_TEXT: Final = re.compile(
    r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})"
    r"(?:[Tt ](?P<h>[0-9]{2}):(?P<mi>[0-9]{2})(?::(?P<s>[0-9]{2})(?:\.(?P<frac>[0-9]+))?)?"
    r"(?P<off>[Zz]|[+-][0-9]{2}:[0-9]{2})?)?"
)


def parse_instant(value: object, *, date_means: DateMeaning = DateMeaning.REFUSE) -> datetime:
    """``value`` (text, or a TOML ``datetime`` / ``date``) as an aware UTC
    datetime, or :class:`InstantError` (a ``ValueError``); any other type is
    refused the same way, so loaders can hand over what the file held."""
    if isinstance(value, datetime):
        return _aware(value, value, date_means)
    if isinstance(value, date):
        return _day(value, value, date_means)
    if not isinstance(value, str):
        raise InstantError(value, f"expected text, got {type(value).__name__}", date_means)
    m = _TEXT.fullmatch(value)
    if m is None:
        raise InstantError(value, "not an ISO 8601 instant", date_means)
    y, mo, d = int(m["y"]), int(m["mo"]), int(m["d"])
    try:
        day = date(y, mo, d)
    except ValueError as exc:
        raise InstantError(value, f"no such day ({exc})", date_means) from None
    if m["h"] is None:
        return _day(day, value, date_means)
    if m["off"] is None:
        raise InstantError(
            value, "no UTC offset (a time without one is refused, not guessed)", date_means
        )
    if m["s"] == "60":
        raise InstantError(value, "a leap second (:60) cannot be represented", date_means)
    micro = int((m["frac"] or "").ljust(6, "0")[:6])
    try:
        clock = time(int(m["h"]), int(m["mi"]), int(m["s"] or 0), micro)
    except ValueError as exc:
        raise InstantError(value, f"no such time of day ({exc})", date_means) from None
    offset = _offset(m["off"], value, date_means)
    return _aware(datetime.combine(day, clock, tzinfo=offset), value, date_means)


def _offset(text: str, given: str, date_means: DateMeaning) -> timezone:
    if text in ("Z", "z"):
        return UTC
    hours, minutes = int(text[1:3]), int(text[4:6])
    if hours > 23 or minutes > 59:
        raise InstantError(given, f"UTC offset {text} out of range (±23:59)", date_means)
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if text[0] == "-" else delta)


def _aware(value: datetime, given: object, date_means: DateMeaning) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InstantError(
            given, "no UTC offset (a time without one is refused, not guessed)", date_means
        )
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise InstantError(given, "outside the years 1 to 9999 in UTC", date_means) from None


def _day(day: date, given: object, date_means: DateMeaning) -> datetime:
    if date_means is DateMeaning.REFUSE:
        raise InstantError(
            given, "a date without a time of day, where an instant is needed", date_means
        )
    zone = JST if date_means is DateMeaning.JST_MIDNIGHT else UTC
    return _aware(datetime.combine(day, time(0), tzinfo=zone), given, date_means)
