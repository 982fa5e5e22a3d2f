"""Whole-yen arithmetic: rounding down, exact percentages, deductions."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from timing import format_yen, minus_recovered, parse_percent, percentage_floor
from timing.money import PercentLike


@pytest.mark.parametrize(
    ("amount", "percent", "expected"),
    [
        (1_111_111, 90, 999_999),  # KDN-A1: 999,999.9 rounds down
        (1_111_111, "90", 999_999),
        (1_000_000, 90, 900_000),
        (1_111_112, 90, 1_000_000),  # 1,000,000.8
        (1, 90, 0),
        (9, 90, 8),  # 8.1
        (10, 90, 9),
        (333, 70, 233),  # ISA-A2: 233.1
        (334, 70, 233),  # 233.8 rounds down, not up
        (300_001, 70, 210_000),  # 210,000.7
        (428_571, 70, 299_999),  # 299,999.7
        (428_572, 70, 300_000),  # 300,000.4
        (0, 70, 0),
        (123, 0, 0),
        (123, 100, 123),
        (3, Fraction(100, 3), 1),
        (1000, "62.5", 625),
        (999, Decimal("62.5"), 624),  # 624.375
        (999, "125/2", 624),
    ],
)
def test_percentage_floor(amount: int, percent: PercentLike, expected: int) -> None:
    assert percentage_floor(amount, percent) == expected


@pytest.mark.parametrize("bad", [-1, "-70", Fraction(-1, 2), Decimal("-0.5")])
def test_negative_percent_is_refused(bad: PercentLike) -> None:
    with pytest.raises(ValueError, match="negative"):
        percentage_floor(100, bad)


@pytest.mark.parametrize("bad", ["abc", "", "nan", "inf", Decimal("NaN"), Decimal("Infinity")])
def test_non_numbers_are_refused(bad: PercentLike) -> None:
    with pytest.raises(ValueError):
        parse_percent(bad)


@pytest.mark.parametrize("bad", [90.0, True, None])
def test_floats_and_bools_are_refused(bad: object) -> None:
    with pytest.raises(TypeError):
        parse_percent(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_amount_must_be_non_negative_int(bad: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        percentage_floor(bad, 90)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("loss", "recovered", "expected"),
    [
        (1_000_000, 300_000, 700_000),  # HNB-A1 / DCM-A2
        (1_000_000, 1_000_000, 0),
        (1_000_000, 1_000_001, 0),  # never negative
        (1_000_000, 0, 1_000_000),
    ],
)
def test_minus_recovered(loss: int, recovered: int, expected: int) -> None:
    assert minus_recovered(loss, recovered) == expected


def test_minus_recovered_refuses_negatives() -> None:
    with pytest.raises(ValueError):
        minus_recovered(100, -1)
    with pytest.raises(ValueError):
        minus_recovered(-1, 0)


def test_format_yen() -> None:
    assert format_yen(1_000_000) == "¥1,000,000"
    assert format_yen(0) == "¥0"
