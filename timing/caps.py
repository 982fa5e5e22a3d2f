"""Payout caps applied to a requested amount, with a step-by-step trace.

Pure: the ledger lives elsewhere. The caller passes, for every cap that
applies to this claim, its limit and how much of it is already used in the
cap's scope (per incident, per series of incidents 一連の事故, per card, per
customer per year, per programme per year, ...). ``scope`` is an opaque
label for explanations (``"card:abc"``, ``"customer:42/year:2026"``).

Two kinds of cap:

* ``CapUsage`` — an amount cap: at most ``limit`` yen in the scope; pays at
  most ``limit - used`` (never negative, even if the ledger overshot).
* ``CountCap`` — a count cap: at most ``max_count`` payouts in the scope.
  "Once per policy year" (KDN-L2 / KDN-Y1) is ``CountCap(max_count=1)``; with
  ``used_count >= max_count`` nothing is payable.

Caps are applied in the order given; each step's output is
``min(input, remaining)``. The *binding* cap is the last one that reduced the
amount, i.e. the one that determined the final payable amount (with ties, the
first of equally tight caps in the given order).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

from timing.money import format_yen, require_yen
from timing.trace import Step

__all__ = ["Cap", "CapResult", "CapUsage", "CountCap", "apply_caps"]


def _require_count(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return value


@dataclass(frozen=True, slots=True)
class CapUsage:
    """An amount cap (yen) and how much of it is already used in its scope."""

    cap_id: str
    limit: int
    used: int = 0
    scope: str = ""

    def __post_init__(self) -> None:
        require_yen(self.limit, "limit")
        require_yen(self.used, "used")

    @property
    def remaining(self) -> int:
        """Yen still payable under this cap (0 when used up or overshot)."""
        return max(0, self.limit - self.used)

    def apply(self, amount: int) -> Step:
        out = min(amount, self.remaining)
        if self.remaining == 0:
            note = f"limit {format_yen(self.limit)} already used up ({format_yen(self.used)} paid)"
        else:
            note = (
                f"limit {format_yen(self.limit)}, used {format_yen(self.used)}, "
                f"remaining {format_yen(self.remaining)}"
            )
        note += "; binding" if out < amount else "; not binding"
        return Step(_step_name(self.scope), self.cap_id, amount, out, note)


@dataclass(frozen=True, slots=True)
class CountCap:
    """A cap on the number of payouts in a scope ("once per policy year": max_count=1)."""

    cap_id: str
    max_count: int
    used_count: int = 0
    scope: str = ""

    def __post_init__(self) -> None:
        _require_count(self.max_count, "max_count")
        _require_count(self.used_count, "used_count")

    @property
    def exhausted(self) -> bool:
        return self.used_count >= self.max_count

    def apply(self, amount: int) -> Step:
        out = 0 if self.exhausted else amount
        note = f"{self.used_count} of {self.max_count} payout(s) already made"
        if self.exhausted:
            note += "; no further payout in this scope"
            if amount > 0:
                note += "; binding"
        else:
            note += "; not binding"
        return Step(_step_name(self.scope), self.cap_id, amount, out, note)


Cap: TypeAlias = CapUsage | CountCap


def _step_name(scope: str) -> str:
    # The clause ID is cited by ``Step.clause_id``; the name carries the scope.
    return f"cap {scope}" if scope else "cap"


@dataclass(frozen=True, slots=True)
class CapResult:
    """The payable amount after caps, the cap that bound, and every step."""

    requested: int
    payable: int
    binding: Cap | None
    steps: tuple[Step, ...]

    @property
    def binding_cap(self) -> str | None:
        """The ``cap_id`` of the binding cap, or ``None`` when no cap reduced the amount."""
        return None if self.binding is None else self.binding.cap_id

    @property
    def capped(self) -> bool:
        return self.payable < self.requested


def apply_caps(amount: int, caps: Sequence[Cap]) -> CapResult:
    """Apply every cap in order to ``amount`` (yen) and record each step.

    ``0 <= payable <= amount`` and ``payable <= cap.remaining`` for every
    amount cap; ``payable == 0`` if any count cap is exhausted.
    """
    require_yen(amount, "amount")
    current = amount
    binding: Cap | None = None
    steps: list[Step] = []
    for cap in caps:
        if not isinstance(cap, CapUsage | CountCap):
            raise TypeError(f"not a cap: {cap!r}")
        step = cap.apply(current)
        if step.output < current:
            binding = cap
        steps.append(step)
        current = step.output
    return CapResult(amount, current, binding, tuple(steps))
