"""Whole-yen arithmetic: percentages rounded down, deductions floored at zero.

Yen are ``int``. Percentages are exact rationals (``Fraction``); floats are
refused everywhere, so 90% of ¥1,111,111 is exactly ¥999,999 and never
¥999,999.9000000001 or ¥1,000,000 through binary rounding.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import TypeAlias

__all__ = [
    "PercentLike",
    "format_yen",
    "minus_recovered",
    "parse_percent",
    "percentage_floor",
    "require_yen",
]

PercentLike: TypeAlias = int | str | Fraction | Decimal
"""A percentage, never a float.

E.g. ``70``, ``"70"``, ``"62.5"``, ``"125/2"``, ``Fraction(125, 2)``, ``Decimal("62.5")``.
"""


def require_yen(value: int, name: str = "amount") -> int:
    """Return ``value`` if it is a non-negative whole number of yen (an ``int``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int number of yen, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return value


def parse_percent(percent: PercentLike) -> Fraction:
    """The exact value of a non-negative percentage (70 → Fraction(70)).

    Accepts ``int``, ``Fraction``, finite ``Decimal`` and strings that
    ``Fraction`` parses ("70", "62.5", "125/2"). Refuses floats, bools,
    non-finite values and negatives.
    """
    value: Fraction
    if isinstance(percent, bool):
        raise TypeError("percent must not be a bool")
    if isinstance(percent, Fraction | int):
        value = Fraction(percent)
    elif isinstance(percent, Decimal):
        if not percent.is_finite():
            raise ValueError(f"percent must be finite, got {percent}")
        value = Fraction(percent)
    elif isinstance(percent, str):
        try:
            value = Fraction(percent.strip())
        except (ValueError, ZeroDivisionError) as exc:
            raise ValueError(f"percent {percent!r} is not a number") from exc
    else:
        raise TypeError(
            f"percent must be int, str, Fraction or Decimal (never float), "
            f"got {type(percent).__name__}"
        )
    if value < 0:
        raise ValueError(f"percent must not be negative, got {percent}")
    return value


def percentage_floor(amount_yen: int, percent: PercentLike) -> int:
    """``percent`` % of ``amount_yen``, rounded down to the whole yen.

    Exact: ``percentage_floor(x, p) <= x * p / 100 < percentage_floor(x, p) + 1``.
    90% of 1,111,111 = 999,999; 70% of 333 = 233.
    """
    require_yen(amount_yen, "amount_yen")
    p = parse_percent(percent)
    return (amount_yen * p.numerator) // (100 * p.denominator)


def minus_recovered(loss: int, recovered: int) -> int:
    """Loss less amounts recovered or compensated elsewhere, never below zero."""
    require_yen(loss, "loss")
    require_yen(recovered, "recovered")
    return max(0, loss - recovered)


def format_yen(amount: int) -> str:
    """``1000000`` → ``¥1,000,000`` (for explanations)."""
    return f"-¥{-amount:,}" if amount < 0 else f"¥{amount:,}"
