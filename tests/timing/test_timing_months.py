"""Calendar months per 民法143条 and JPE-P1 cover start."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from timing import (
    add_calendar_months,
    at_jst,
    calendar_months_period_last_day,
    cover_begins_calendar_months_after,
    last_day_of_month,
)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 1, 15), 1, date(2026, 2, 15)),
        (date(2026, 1, 31), 1, date(2026, 2, 28)),  # no Feb 31: month end
        (date(2026, 1, 31), 2, date(2026, 3, 31)),  # Mar 31 exists
        (date(2026, 1, 30), 1, date(2026, 2, 28)),
        (date(2026, 1, 29), 1, date(2026, 2, 28)),
        (date(2026, 1, 28), 1, date(2026, 2, 28)),  # exists, not a clamp
        (date(2024, 1, 31), 1, date(2024, 2, 29)),  # leap year
        (date(2024, 12, 31), 2, date(2025, 2, 28)),  # clamp, crosses year
        (date(2023, 12, 31), 2, date(2024, 2, 29)),  # clamp to leap day
        (date(2024, 2, 29), 12, date(2025, 2, 28)),  # leap day + 1 year
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 5, 31), -3, date(2026, 2, 28)),  # negative months
        (date(2026, 3, 15), 0, date(2026, 3, 15)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
    ],
)
def test_add_calendar_months(start: date, months: int, expected: date) -> None:
    assert add_calendar_months(start, months) == expected


@pytest.mark.parametrize(
    ("service_start", "cover_from"),
    [
        (date(2026, 1, 15), at_jst(2026, 3, 15)),
        (date(2026, 1, 31), at_jst(2026, 3, 31)),
        (date(2024, 12, 31), at_jst(2025, 2, 28)),  # clamp
        (date(2023, 12, 31), at_jst(2024, 2, 29)),  # leap year
        (date(2025, 12, 31), at_jst(2026, 2, 28)),
    ],
)
def test_jpe_p1_cover_begins_two_months_after_start(
    service_start: date, cover_from: datetime
) -> None:
    begins = cover_begins_calendar_months_after(service_start, months=2)
    assert begins == cover_from
    # Both sides of the boundary: a loss at 00:00 JST is covered, one microsecond earlier not.
    assert cover_from >= begins
    assert cover_from - timedelta(microseconds=1) < begins


def test_jpe_p1_jan_31_boundary_in_utc() -> None:
    begins = cover_begins_calendar_months_after(date(2026, 1, 31), months=2)
    assert begins == datetime(2026, 3, 30, 15, 0, tzinfo=UTC)
    assert datetime(2026, 3, 30, 14, 59, 59, 999999, tzinfo=UTC) < begins


@pytest.mark.parametrize(
    ("first_day", "months", "last_day"),
    [
        (date(2026, 3, 1), 1, date(2026, 3, 31)),
        (date(2026, 1, 28), 1, date(2026, 2, 27)),  # day before the corresponding day
        (date(2026, 1, 29), 1, date(2026, 2, 28)),  # no corresponding day: month end
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2024, 1, 30), 1, date(2024, 2, 29)),
        (date(2024, 1, 29), 1, date(2024, 2, 28)),  # Feb 29 exists in 2024
        (date(2026, 2, 1), 2, date(2026, 3, 31)),
        (date(2026, 4, 1), 12, date(2027, 3, 31)),
    ],
)
def test_civil_code_143_period_last_day(first_day: date, months: int, last_day: date) -> None:
    assert calendar_months_period_last_day(first_day, months) == last_day


def test_month_helpers_refuse_bad_input() -> None:
    with pytest.raises(TypeError, match="not a datetime"):
        add_calendar_months(at_jst(2026, 1, 31), 1)
    with pytest.raises(TypeError, match="months must be an int"):
        add_calendar_months(date(2026, 1, 31), True)
    with pytest.raises(ValueError, match="months must be >= 1"):
        calendar_months_period_last_day(date(2026, 1, 31), 0)
    with pytest.raises(OverflowError):
        add_calendar_months(date(9999, 12, 1), 1)


def test_last_day_of_month() -> None:
    assert [last_day_of_month(2024, 2), last_day_of_month(2025, 2), last_day_of_month(2100, 2)] == [
        29,
        28,
        28,
    ]
