"""JST conversion and day bounds: 23:59:59.999999 JST vs 00:00 JST."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from timing import JST, at_jst, end_of_jst_day, format_jst, jst_date, start_of_jst_day, to_jst

LAST_MICROSECOND_UTC = datetime(2026, 3, 1, 14, 59, 59, 999999, tzinfo=UTC)
MIDNIGHT_UTC = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)


def test_jst_is_fixed_utc_plus_nine() -> None:
    assert JST.utcoffset(None) == timedelta(hours=9)
    assert JST.tzname(None) == "JST"
    # No DST: the offset is the same in winter and summer.
    assert at_jst(2026, 1, 15).utcoffset() == at_jst(2026, 7, 15).utcoffset()


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (LAST_MICROSECOND_UTC, date(2026, 3, 1)),  # 23:59:59.999999 JST
        (MIDNIGHT_UTC, date(2026, 3, 2)),  # 00:00 JST next day
        (datetime(2026, 3, 1, 0, 0, tzinfo=UTC), date(2026, 3, 1)),  # 09:00 JST
        (datetime(2026, 2, 28, 15, 0, tzinfo=UTC), date(2026, 3, 1)),  # 00:00 JST Mar 1
        (datetime(2026, 3, 1, 8, 0, tzinfo=timezone(timedelta(hours=-5))), date(2026, 3, 1)),
        (datetime(2026, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=-5))), date(2026, 3, 2)),
    ],
)
def test_jst_date_both_sides_of_midnight(instant: datetime, expected: date) -> None:
    assert jst_date(instant) == expected


def test_to_jst_keeps_the_instant() -> None:
    local = to_jst(MIDNIGHT_UTC)
    assert local == MIDNIGHT_UTC
    assert (local.year, local.month, local.day, local.hour) == (2026, 3, 2, 0)
    assert local.tzinfo is JST


def test_day_bounds_are_midnight_jst() -> None:
    start = start_of_jst_day(date(2026, 3, 2))
    assert start == MIDNIGHT_UTC
    assert end_of_jst_day(date(2026, 3, 1)) == start
    end = end_of_jst_day(date(2026, 3, 1))
    assert end > LAST_MICROSECOND_UTC  # 23:59:59.999999 JST is before the end
    assert end <= MIDNIGHT_UTC  # 00:00 JST of the next day is not


def test_end_of_day_crosses_month_and_year() -> None:
    assert end_of_jst_day(date(2025, 12, 31)) == at_jst(2026, 1, 1)
    assert end_of_jst_day(date(2024, 2, 28)) == at_jst(2024, 2, 29)


NAIVE = datetime(2026, 3, 1, 12, 0)


@pytest.mark.parametrize("fn", [to_jst, jst_date, format_jst])
def test_naive_datetimes_are_refused(fn: Callable[[datetime], object]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        fn(NAIVE)


@pytest.mark.parametrize("fn", [start_of_jst_day, end_of_jst_day])
def test_day_functions_refuse_datetimes(fn: Callable[[date], object]) -> None:
    with pytest.raises(TypeError, match="not a datetime"):
        fn(MIDNIGHT_UTC)


@pytest.mark.parametrize(
    ("instant", "text"),
    [
        (MIDNIGHT_UTC, "2026-03-02 00:00 JST"),
        (LAST_MICROSECOND_UTC, "2026-03-01 23:59:59.999999 JST"),
        (at_jst(2026, 3, 1, 9, 30, 5), "2026-03-01 09:30:05 JST"),
    ],
)
def test_format_jst(instant: datetime, text: str) -> None:
    assert format_jst(instant) == text


# --------------------------------------------------------------------------- format_jst memo


class _Subclass(datetime):
    pass


def test_format_jst_memo_equal_instants_in_utc_and_jst_read_the_same() -> None:
    # Equal keys of the memo (same instant, other zone) must give the same text.
    utc = datetime(2026, 3, 1, 14, 59, 59, 999999, tzinfo=UTC)
    jst = utc.astimezone(JST)
    assert utc == jst and hash(utc) == hash(jst)
    assert format_jst(utc) == format_jst(jst) == "2026-03-01 23:59:59.999999 JST"
    assert format_jst(jst) == format_jst(utc)


def test_format_jst_memo_keeps_neighbouring_instants_apart() -> None:
    base = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
    texts = [format_jst(base + timedelta(microseconds=us)) for us in (0, 1, 0, 1_000_000, 1)]
    assert texts == [
        "2026-03-02 00:00 JST",
        "2026-03-02 00:00:00.000001 JST",
        "2026-03-02 00:00 JST",
        "2026-03-02 00:00:01 JST",
        "2026-03-02 00:00:00.000001 JST",
    ]


def test_format_jst_memo_fold_and_other_zones() -> None:
    base = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
    assert format_jst(base.replace(fold=1)) == format_jst(base) == "2026-03-02 00:00 JST"
    eastern = timezone(timedelta(hours=-5))
    assert format_jst(base.astimezone(eastern)) == "2026-03-02 00:00 JST"
    # A zone whose offset depends on fold: equal wall-clock fields, other instants.
    from zoneinfo import ZoneInfo

    ny = ZoneInfo("America/New_York")
    first = datetime(2026, 11, 1, 1, 30, tzinfo=ny)
    second = first.replace(fold=1)
    assert format_jst(first) == "2026-11-01 14:30 JST"
    assert format_jst(second) == "2026-11-01 15:30 JST"
    assert format_jst(first) == "2026-11-01 14:30 JST"
    sub = _Subclass(2026, 3, 1, 15, 0, tzinfo=UTC)
    assert format_jst(sub) == "2026-03-02 00:00 JST"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_jst(NAIVE)


def test_require_aware_utc_fast_path_keeps_the_checks() -> None:
    from timing.jst import require_aware

    utc = datetime(2026, 3, 1, tzinfo=UTC)
    assert require_aware(utc) is utc

    class NoOffset(datetime):
        def utcoffset(self) -> timedelta | None:
            return None

    with pytest.raises(ValueError, match="timezone-aware"):
        require_aware(NoOffset(2026, 3, 1, tzinfo=UTC))
    with pytest.raises(TypeError):
        require_aware("2026-03-01")  # type: ignore[arg-type]
