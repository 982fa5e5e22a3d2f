"""One recorded step of a payout computation, for explanations and audit."""

from __future__ import annotations

from dataclasses import dataclass

from timing.money import format_yen

__all__ = ["Step"]


@dataclass(frozen=True, slots=True)
class Step:
    """A named transformation of a yen amount, citing the clause that required it.

    ``input`` and ``output`` are whole yen. ``clause_id`` is whatever the
    caller passed in (e.g. ``"KDN-A1"``); it is empty when the step is not
    required by a clause (e.g. the starting loss).
    """

    name: str
    clause_id: str
    input: int
    output: int
    note: str = ""

    @property
    def changed(self) -> bool:
        return self.input != self.output

    def describe(self) -> str:
        """E.g. ``percentage [KDN-A1]: ¥1,111,111 → ¥999,999 (90% rounded down)``."""
        cite = f" [{self.clause_id}]" if self.clause_id else ""
        note = f" ({self.note})" if self.note else ""
        return f"{self.name}{cite}: {format_yen(self.input)} → {format_yen(self.output)}{note}"

    def __str__(self) -> str:
        return self.describe()
