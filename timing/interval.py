"""Value types for spans of time: ``Window`` (half-open) and ``Deadline``.

Both are built from aware instants and compare by instant, so UTC timestamps
can be tested against them directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from timing.jst import format_jst, require_aware, to_jst

__all__ = ["Deadline", "Window", "describe_end"]


def describe_end(end: datetime) -> str:
    """Describe an exclusive end bound in words a claims lead reads naturally.

    An end at exactly 00:00 JST is shown as 24:00 of the previous day
    ("until the end of 2026-03-31 (24:00 JST)"), because that is how the
    policies word it.
    """
    local = to_jst(end)
    if local.time() == time(0):
        last_day = (local - timedelta(days=1)).date()
        return f"until the end of {last_day.isoformat()} (24:00 JST, i.e. before {format_jst(end)})"
    return f"until {format_jst(end)} (exclusive)"


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open span of time: ``start <= t < end``.

    ``start`` is inclusive, ``end`` exclusive; both are aware datetimes.
    ``basis`` says in words how the window was derived (for explanations).
    """

    start: datetime
    end: datetime
    basis: str = ""

    def __post_init__(self) -> None:
        require_aware(self.start, "Window.start")
        require_aware(self.end, "Window.end")
        if self.end < self.start:
            raise ValueError(
                f"Window end {self.end.isoformat()} is before start {self.start.isoformat()}"
            )

    def contains(self, instant: datetime) -> bool:
        """True when ``start <= instant < end``."""
        require_aware(instant)
        return self.start <= instant < self.end

    def __contains__(self, instant: object) -> bool:
        return isinstance(instant, datetime) and self.contains(instant)

    @property
    def deadline(self) -> Deadline:
        """The end bound alone, as a ``Deadline``."""
        return Deadline(self.end, self.basis)

    def describe(self) -> str:
        """E.g. ``from 2026-03-01 10:00 JST until the end of 2026-03-31 (24:00 JST, ...)``."""
        text = f"from {format_jst(self.start)} {describe_end(self.end)}"
        return f"{text} [{self.basis}]" if self.basis else text

    def __str__(self) -> str:
        return self.describe()


@dataclass(frozen=True, slots=True)
class Deadline:
    """An exclusive upper bound with no lower bound: ``t < end``.

    Used where a clause limits only how late something may happen (KDN-C2:
    fraud up to 24:00 of the day after the alert; earlier fraud is not
    excluded by that clause).
    """

    end: datetime
    basis: str = ""

    def __post_init__(self) -> None:
        require_aware(self.end, "Deadline.end")

    def contains(self, instant: datetime) -> bool:
        """True when ``instant < end``."""
        require_aware(instant)
        return instant < self.end

    def __contains__(self, instant: object) -> bool:
        return isinstance(instant, datetime) and self.contains(instant)

    def describe(self) -> str:
        text = describe_end(self.end)
        return f"{text} [{self.basis}]" if self.basis else text

    def __str__(self) -> str:
        return self.describe()
