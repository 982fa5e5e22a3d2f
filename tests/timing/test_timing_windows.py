"""Day-counted windows, on both sides of every boundary, named after their clauses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from timing import (
    Deadline,
    Window,
    at_jst,
    days_counted_from_next_day,
    lookback_from_midnight_days_before,
    until_end_of_next_jst_day,
    within_days_of,
)

US = timedelta(microseconds=1)

# HNB-X5: 不正利用の発生した翌日から30日以内に当行に通知 ------------------------------


@pytest.mark.parametrize(
    ("fraud", "notice", "inside"),
    [
        # Fraud any time on 2026-03-01 JST: day 30 (03-31) in, day 31 (04-01) out.
        (at_jst(2026, 3, 1, 10), at_jst(2026, 3, 31, 23, 59, 59, 999999), True),
        (at_jst(2026, 3, 1, 10), at_jst(2026, 4, 1), False),
        # The same boundary written in UTC: 14:59:59.999999Z vs 15:00Z on 03-31.
        (at_jst(2026, 3, 1, 10), datetime(2026, 3, 31, 14, 59, 59, 999999, tzinfo=UTC), True),
        (at_jst(2026, 3, 1, 10), datetime(2026, 3, 31, 15, 0, tzinfo=UTC), False),
        # Fraud at the very start or end of its JST day: same deadline.
        (at_jst(2026, 3, 1, 0, 0), at_jst(2026, 3, 31, 23, 59, 59, 999999), True),
        (at_jst(2026, 3, 1, 23, 59, 59, 999999), at_jst(2026, 3, 31, 23, 59, 59, 999999), True),
        (at_jst(2026, 3, 1, 23, 59, 59, 999999), at_jst(2026, 4, 1), False),
        # Fraud at 00:00 JST 03-02 (15:00Z 03-01) is a day later: 04-01 is now day 30.
        (datetime(2026, 3, 1, 15, 0, tzinfo=UTC), at_jst(2026, 4, 1, 23, 59, 59, 999999), True),
        (datetime(2026, 3, 1, 15, 0, tzinfo=UTC), at_jst(2026, 4, 2), False),
        # Day 0 (the fraud's own day, after the fraud) is inside; before the fraud is not.
        (at_jst(2026, 3, 1, 10), at_jst(2026, 3, 1, 10), True),
        (at_jst(2026, 3, 1, 10), at_jst(2026, 3, 1, 10) - US, False),
    ],
)
def test_hnb_x5_day_30_in_day_31_out(fraud: datetime, notice: datetime, inside: bool) -> None:
    window = days_counted_from_next_day(fraud, 30)
    assert window.contains(notice) is inside
    assert (notice in window) is inside


def test_hnb_x5_window_bounds_and_description() -> None:
    window = days_counted_from_next_day(at_jst(2026, 3, 1, 10), 30)
    assert window.start == at_jst(2026, 3, 1, 10)
    assert window.end == at_jst(2026, 4, 1)
    assert window.end == datetime(2026, 3, 31, 15, 0, tzinfo=UTC)
    text = window.describe()
    assert "until the end of 2026-03-31 (24:00 JST" in text
    assert "翌日から30日以内" in text


def test_day_counting_crosses_month_ends_and_leap_day() -> None:
    # Day 1 = 2024-02-29 (leap day) for fraud on 02-28; day 2 = 03-01.
    assert days_counted_from_next_day(at_jst(2024, 2, 28, 12), 2).end == at_jst(2024, 3, 2)
    assert days_counted_from_next_day(at_jst(2025, 2, 28, 12), 2).end == at_jst(2025, 3, 3)
    assert days_counted_from_next_day(at_jst(2025, 12, 31, 12), 1).end == at_jst(2026, 1, 2)


# DCM-C3 / KDN-C5: 発生から365日以内 (same day-after counting, 民法140条) ------------------


@pytest.mark.parametrize(
    ("fraud", "notice", "inside"),
    [
        # 2026-03-01 + 365 days (day-after counting) = 2027-03-01 is day 365.
        (at_jst(2026, 3, 1, 10), at_jst(2027, 3, 1, 23, 59, 59, 999999), True),
        (at_jst(2026, 3, 1, 10), at_jst(2027, 3, 2), False),
        # Across a leap day: 2023-03-01 + 365 days = 2024-02-29.
        (at_jst(2023, 3, 1, 10), at_jst(2024, 2, 29, 23, 59, 59, 999999), True),
        (at_jst(2023, 3, 1, 10), at_jst(2024, 3, 1), False),
    ],
)
def test_dcm_c3_kdn_c5_within_365_days(fraud: datetime, notice: datetime, inside: bool) -> None:
    window = within_days_of(fraud, 365)
    assert window.contains(notice) is inside
    assert window == Window(
        days_counted_from_next_day(fraud, 365).start,
        days_counted_from_next_day(fraud, 365).end,
        window.basis,
    )
    assert "民法140条" in window.basis


# KDN-C2: 通知を受けた日の翌日24時までに発生した不正利用 ----------------------------------


@pytest.mark.parametrize(
    ("alert", "fraud", "covered"),
    [
        (at_jst(2026, 5, 10, 9), at_jst(2026, 5, 11, 23, 59, 59, 999999), True),
        (at_jst(2026, 5, 10, 9), at_jst(2026, 5, 12), False),  # 翌々日以降
        (at_jst(2026, 5, 10, 9), datetime(2026, 5, 11, 14, 59, 59, 999999, tzinfo=UTC), True),
        (at_jst(2026, 5, 10, 9), datetime(2026, 5, 11, 15, 0, tzinfo=UTC), False),
        # Alert at 23:59:59.999999 or 00:00 JST: the JST date decides.
        (at_jst(2026, 5, 10, 23, 59, 59, 999999), at_jst(2026, 5, 12) - US, True),
        (at_jst(2026, 5, 11, 0, 0), at_jst(2026, 5, 12, 23, 59, 59, 999999), True),
        (at_jst(2026, 5, 11, 0, 0), at_jst(2026, 5, 13), False),
        # Fraud before the alert is not excluded by C2 (a deadline, no lower bound).
        (at_jst(2026, 5, 10, 9), at_jst(2026, 4, 1), True),
    ],
)
def test_kdn_c2_by_24h_of_next_day(alert: datetime, fraud: datetime, covered: bool) -> None:
    deadline = until_end_of_next_jst_day(alert)
    assert isinstance(deadline, Deadline)
    assert deadline.contains(fraud) is covered


def test_kdn_c2_deadline_is_midnight_two_days_later() -> None:
    deadline = until_end_of_next_jst_day(at_jst(2026, 5, 10, 9))
    assert deadline.end == at_jst(2026, 5, 12)
    assert "until the end of 2026-05-11 (24:00 JST" in deadline.describe()


# KDN-C6: 本補償に請求した日の366日前の午前0時から、請求した時まで --------------------------


CLAIM = at_jst(2026, 3, 10, 10, 0)


@pytest.mark.parametrize(
    ("fraud", "inside"),
    [
        (at_jst(2025, 3, 9, 0, 0), True),  # 366 days before 2026-03-10 = 2025-03-09
        (at_jst(2025, 3, 8, 23, 59, 59, 999999), False),
        (datetime(2025, 3, 8, 15, 0, tzinfo=UTC), True),  # same boundary in UTC
        (datetime(2025, 3, 8, 14, 59, 59, 999999, tzinfo=UTC), False),
        (CLAIM, True),  # 請求した時まで: the claim instant itself is included
        (CLAIM + US, False),
    ],
)
def test_kdn_c6_366_days_before_claim_date(fraud: datetime, inside: bool) -> None:
    window = lookback_from_midnight_days_before(CLAIM, 366)
    assert window.start == at_jst(2025, 3, 9)
    assert window.contains(fraud) is inside


def test_kdn_c6_uses_the_jst_claim_date() -> None:
    # A claim at 2026-03-09T15:00Z is already 2026-03-10 00:00 JST.
    window = lookback_from_midnight_days_before(datetime(2026, 3, 9, 15, 0, tzinfo=UTC), 366)
    assert window.start == at_jst(2025, 3, 9)
    # Across a leap day: 366 days before 2024-03-01 is 2023-03-01.
    assert lookback_from_midnight_days_before(at_jst(2024, 3, 1, 12), 366).start == at_jst(
        2023, 3, 1
    )


# Argument checking ------------------------------------------------------------------


NAIVE = datetime(2026, 3, 1, 10)


def test_windows_refuse_naive_instants() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        days_counted_from_next_day(NAIVE, 30)
    with pytest.raises(ValueError, match="timezone-aware"):
        within_days_of(NAIVE, 365)
    with pytest.raises(ValueError, match="timezone-aware"):
        until_end_of_next_jst_day(NAIVE)
    with pytest.raises(ValueError, match="timezone-aware"):
        lookback_from_midnight_days_before(NAIVE, 366)
    window = days_counted_from_next_day(at_jst(2026, 3, 1), 30)
    with pytest.raises(ValueError, match="timezone-aware"):
        window.contains(NAIVE)
    with pytest.raises(ValueError, match="timezone-aware"):
        _ = NAIVE in window


@pytest.mark.parametrize("days", [0, -1])
def test_window_length_must_be_positive(days: int) -> None:
    with pytest.raises(ValueError, match="days must be >= 1"):
        days_counted_from_next_day(at_jst(2026, 3, 1), days)


def test_window_rejects_reversed_bounds() -> None:
    with pytest.raises(ValueError, match="before start"):
        Window(at_jst(2026, 3, 2), at_jst(2026, 3, 1))
