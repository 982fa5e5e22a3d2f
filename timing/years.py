"""Years anchored at a JST month/day/time: calendar, fiscal and policy years.

A ``YearAnchor`` names the JST wall-clock moment at which each year begins
(KDN-L2: July 1 16:00 JST). The year containing an instant is the half-open
``Window`` [anchor in year Y, anchor in year Y+1); its label is Y, the
calendar year in which it *starts* (policy year "2026" = 2026-07-01 16:00 JST
to 2027-07-01 16:00 JST; fiscal year 2026 = 2026-04-01 to 2027-04-01).

Feb 29 is rejected as an anchor: it does not exist in three years out of four,
and whether such a year should begin on Feb 28 or Mar 1 is a business
decision, so the caller must pick one of those explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from timing.interval import Window
from timing.jst import JST, require_aware, to_jst

__all__ = [
    "CALENDAR_YEAR",
    "FISCAL_YEAR_APRIL",
    "PeriodYear",
    "YearAnchor",
    "period_year_containing",
    "year_containing",
    "year_label",
]

_NON_LEAP_YEAR = 2001


@dataclass(frozen=True, slots=True)
class YearAnchor:
    """The JST month, day, hour and minute at which each year begins."""

    month: int
    day: int
    hour: int = 0
    minute: int = 0

    def __post_init__(self) -> None:
        for name in ("month", "day", "hour", "minute"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"YearAnchor.{name} must be an int, got {type(value).__name__}")
        if (self.month, self.day) == (2, 29):
            raise ValueError(
                "YearAnchor Feb 29 is ambiguous in non-leap years; anchor on Feb 28 or Mar 1"
            )
        # Validates month, day (in a non-leap year), hour and minute ranges.
        datetime(_NON_LEAP_YEAR, self.month, self.day, self.hour, self.minute)

    def start_in(self, year: int) -> datetime:
        """The instant (aware, JST) at which the year labelled ``year`` begins."""
        return datetime(year, self.month, self.day, self.hour, self.minute, tzinfo=JST)

    def describe(self) -> str:
        """E.g. ``07-01 16:00 JST``."""
        return f"{self.month:02d}-{self.day:02d} {self.hour:02d}:{self.minute:02d} JST"


CALENDAR_YEAR = YearAnchor(1, 1)
"""JST calendar year: January 1 00:00 JST (HNB-L1 ASSUMPTION default)."""

FISCAL_YEAR_APRIL = YearAnchor(4, 1)
"""Japanese fiscal year (年度): April 1 00:00 JST (ISA-A3 ASSUMPTION default)."""


@dataclass(frozen=True, slots=True)
class PeriodYear:
    """One year of an anchored series, identified by the calendar year it starts in."""

    anchor: YearAnchor
    label: int

    @property
    def start(self) -> datetime:
        """Inclusive start instant."""
        return self.anchor.start_in(self.label)

    @property
    def end(self) -> datetime:
        """Exclusive end instant (the start of the next year)."""
        return self.anchor.start_in(self.label + 1)

    @property
    def window(self) -> Window:
        return Window(
            self.start,
            self.end,
            f"year {self.label} anchored at {self.anchor.describe()}",
        )

    def contains(self, instant: datetime) -> bool:
        return self.window.contains(instant)

    def next(self) -> PeriodYear:
        return PeriodYear(self.anchor, self.label + 1)

    def previous(self) -> PeriodYear:
        return PeriodYear(self.anchor, self.label - 1)

    def describe(self) -> str:
        return self.window.describe()

    def __str__(self) -> str:
        return f"{self.label} ({self.describe()})"


def period_year_containing(instant: datetime, anchor: YearAnchor) -> PeriodYear:
    """The anchored year that contains ``instant`` (start inclusive, end exclusive).

    KDN-L2 (anchor July 1 16:00): 2026-07-01 15:59:59.999999 JST is in year
    2025; 2026-07-01 16:00 JST is in year 2026.
    """
    local = to_jst(require_aware(instant))
    label = local.year
    if local < anchor.start_in(label):
        label -= 1
    return PeriodYear(anchor, label)


def year_containing(instant: datetime, anchor: YearAnchor) -> Window:
    """The ``Window`` of the anchored year that contains ``instant``."""
    return period_year_containing(instant, anchor).window


def year_label(instant: datetime, anchor: YearAnchor) -> int:
    """The label (calendar year of its start) of the anchored year containing ``instant``."""
    return period_year_containing(instant, anchor).label
