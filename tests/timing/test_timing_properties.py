"""Property-based tests (hypothesis) for the claim-timing core."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from timing import (
    JST,
    CapUsage,
    CountCap,
    Window,
    YearAnchor,
    add_calendar_months,
    apply_caps,
    calendar_months_period_last_day,
    compute_payout,
    days_counted_from_next_day,
    jst_date,
    last_day_of_month,
    lookback_from_midnight_days_before,
    percentage_floor,
    start_of_jst_day,
    until_end_of_next_jst_day,
    within_days_of,
    year_containing,
)

ZONES = st.sampled_from(
    [UTC, JST, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))]
)
instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=ZONES
)
dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31))
day_counts = st.integers(min_value=1, max_value=1000)
yen = st.integers(min_value=0, max_value=10**12)
percents = st.fractions(min_value=0, max_value=200, max_denominator=1000)


@given(instants, instants, day_counts)
def test_day_windows_are_monotone(a: datetime, b: datetime, days: int) -> None:
    early, late = sorted([a, b])
    assert days_counted_from_next_day(early, days).end <= days_counted_from_next_day(late, days).end
    assert within_days_of(early, days).end <= within_days_of(late, days).end
    assert until_end_of_next_jst_day(early).end <= until_end_of_next_jst_day(late).end
    assert (
        lookback_from_midnight_days_before(early, days).start
        <= lookback_from_midnight_days_before(late, days).start
    )


@given(instants, day_counts)
def test_day_window_ends_at_jst_midnight_after_day_n(event: datetime, days: int) -> None:
    window = days_counted_from_next_day(event, days)
    last_inside = window.end - timedelta(microseconds=1)
    assert jst_date(last_inside) == jst_date(event) + timedelta(days=days)
    assert window.contains(last_inside)
    assert not window.contains(window.end)
    assert window.contains(event)


@given(instants, instants, instants)
def test_contains_agrees_with_half_open_bounds(a: datetime, b: datetime, t: datetime) -> None:
    start, end = sorted([a, b])
    window = Window(start, end)
    assert window.contains(t) == (start <= t < end)


@given(instants, day_counts, instants)
def test_lookback_contains_agrees_with_bounds(reference: datetime, days: int, t: datetime) -> None:
    window = lookback_from_midnight_days_before(reference, days)
    expected_start = start_of_jst_day(jst_date(reference) - timedelta(days=days))
    assert window.contains(t) == (expected_start <= t <= reference)


@given(dates, st.integers(min_value=-1200, max_value=1200))
def test_add_calendar_months_lands_in_the_right_month(day: date, months: int) -> None:
    result = add_calendar_months(day, months)
    assert (result.year * 12 + result.month) - (day.year * 12 + day.month) == months
    last = last_day_of_month(result.year, result.month)
    assert 1 <= result.day <= last
    assert result.day == min(day.day, last)


@given(dates, st.integers(min_value=1, max_value=1200))
def test_period_last_day_is_just_before_the_next_period(first_day: date, months: int) -> None:
    last = calendar_months_period_last_day(first_day, months)
    corresponding = add_calendar_months(first_day, months)
    assert last in (corresponding - timedelta(days=1), corresponding)
    assert last > first_day


@given(yen, percents)
def test_percentage_floor_bounds(amount: int, percent: Fraction) -> None:
    result = percentage_floor(amount, percent)
    exact = Fraction(amount) * percent / 100
    assert result <= exact < result + 1


@given(yen, st.integers(min_value=0, max_value=100).map(str))
def test_percentage_floor_accepts_strings(amount: int, percent: str) -> None:
    assert percentage_floor(amount, percent) == percentage_floor(amount, int(percent))


amount_caps = st.builds(
    CapUsage,
    cap_id=st.sampled_from(["KDN-A1", "DCM-A1", "DCM-A4", "HNB-L1", "ISA-A2"]),
    limit=yen,
    used=yen,
    scope=st.just("s"),
)
count_caps = st.builds(
    CountCap,
    cap_id=st.just("KDN-L2"),
    max_count=st.integers(0, 3),
    used_count=st.integers(0, 3),
)


@given(yen, st.lists(st.one_of(amount_caps, count_caps), max_size=5))
def test_caps_never_exceed_any_remaining_and_never_negative(
    amount: int, caps: list[CapUsage | CountCap]
) -> None:
    result = apply_caps(amount, caps)
    assert 0 <= result.payable <= amount
    for cap in caps:
        if isinstance(cap, CapUsage):
            assert result.payable <= cap.remaining
        elif cap.exhausted:
            assert result.payable == 0
    assert [s.output for s in result.steps] == sorted(
        (s.output for s in result.steps), reverse=True
    )
    if result.binding is None:
        assert result.payable == amount
    else:
        assert result.binding in caps


@given(yen, yen, st.none() | percents, st.lists(amount_caps, max_size=3))
def test_computation_is_bounded(
    loss: int, recovered: int, percent: Fraction | None, caps: list[CapUsage]
) -> None:
    comp = compute_payout(loss, recovered=recovered, percent=percent, caps=caps)
    share = Fraction(100) if percent is None else percent
    assert 0 <= comp.payable <= Fraction(max(0, loss - recovered)) * share / 100
    assert comp.steps[-1].output == comp.payable
    for earlier, later in zip(comp.steps, comp.steps[1:], strict=False):
        assert later.input == earlier.output


anchors = st.builds(
    YearAnchor,
    month=st.integers(1, 12),
    day=st.integers(1, 28),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
)


@given(instants, anchors)
def test_year_containing_contains_and_is_one_year(instant: datetime, anchor: YearAnchor) -> None:
    window = year_containing(instant, anchor)
    assert window.contains(instant)
    start, end = window.start.astimezone(JST), window.end.astimezone(JST)
    assert end.year == start.year + 1
    assert (start.month, start.day, start.hour, start.minute) == (
        anchor.month,
        anchor.day,
        anchor.hour,
        anchor.minute,
    )
    assert timedelta(days=365) <= end - start <= timedelta(days=366)
