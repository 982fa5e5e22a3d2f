"""Anchored years: KDN-L2 policy year, calendar year, fiscal year."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from timing import (
    CALENDAR_YEAR,
    FISCAL_YEAR_APRIL,
    PeriodYear,
    YearAnchor,
    at_jst,
    period_year_containing,
    year_containing,
    year_label,
)

KDN_POLICY_YEAR = YearAnchor(7, 1, 16)  # KDN-L2: 7月1日の午後4時から翌年の7月1日の午後4時まで


@pytest.mark.parametrize(
    ("instant", "label"),
    [
        (at_jst(2026, 7, 1, 15, 59, 59, 999999), 2025),
        (at_jst(2026, 7, 1, 16, 0), 2026),
        (datetime(2026, 7, 1, 6, 59, 59, 999999, tzinfo=UTC), 2025),  # same, in UTC
        (datetime(2026, 7, 1, 7, 0, tzinfo=UTC), 2026),
        (at_jst(2026, 1, 1), 2025),
        (at_jst(2026, 12, 31, 23, 59), 2026),
        (at_jst(2027, 7, 1, 15, 59, 59, 999999), 2026),
    ],
)
def test_kdn_l2_policy_year_boundary(instant: datetime, label: int) -> None:
    assert year_label(instant, KDN_POLICY_YEAR) == label
    window = year_containing(instant, KDN_POLICY_YEAR)
    assert window.start == at_jst(label, 7, 1, 16)
    assert window.end == at_jst(label + 1, 7, 1, 16)
    assert window.contains(instant)


@pytest.mark.parametrize(
    ("anchor", "instant", "label"),
    [
        (CALENDAR_YEAR, at_jst(2025, 12, 31, 23, 59, 59, 999999), 2025),  # HNB-L1 default
        (CALENDAR_YEAR, at_jst(2026, 1, 1), 2026),
        (CALENDAR_YEAR, datetime(2025, 12, 31, 15, 0, tzinfo=UTC), 2026),  # 00:00 JST
        (FISCAL_YEAR_APRIL, at_jst(2026, 3, 31, 23, 59, 59, 999999), 2025),  # ISA-A3 default
        (FISCAL_YEAR_APRIL, at_jst(2026, 4, 1), 2026),
        (FISCAL_YEAR_APRIL, datetime(2026, 3, 31, 15, 0, tzinfo=UTC), 2026),
        (FISCAL_YEAR_APRIL, datetime(2026, 3, 31, 14, 59, 59, 999999, tzinfo=UTC), 2025),
        (YearAnchor(2, 28), at_jst(2024, 2, 29), 2024),  # leap day inside a Feb 28 year
        (YearAnchor(3, 1), at_jst(2024, 2, 29), 2023),
    ],
)
def test_calendar_and_fiscal_year_boundaries(
    anchor: YearAnchor, instant: datetime, label: int
) -> None:
    assert year_label(instant, anchor) == label


def test_period_year_navigation_and_text() -> None:
    year = period_year_containing(at_jst(2026, 8, 1), KDN_POLICY_YEAR)
    assert year == PeriodYear(KDN_POLICY_YEAR, 2026)
    assert year.next().start == year.end
    assert year.previous().end == year.start
    assert str(year).startswith("2026 (from 2026-07-01 16:00 JST until 2027-07-01 16:00 JST")


def test_feb_29_anchor_is_rejected() -> None:
    with pytest.raises(ValueError, match="Feb 29"):
        YearAnchor(2, 29)


@pytest.mark.parametrize(
    ("month", "day", "hour", "minute"),
    [(13, 1, 0, 0), (4, 31, 0, 0), (7, 1, 24, 0), (7, 1, 16, 60), (0, 1, 0, 0)],
)
def test_invalid_anchor_is_rejected(month: int, day: int, hour: int, minute: int) -> None:
    with pytest.raises(ValueError):
        YearAnchor(month, day, hour, minute)


def test_year_functions_refuse_naive() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        year_label(datetime(2026, 7, 1, 16), KDN_POLICY_YEAR)
