"""One problem ``anshin log verify`` found: a type of its own, imported by the
chain check (``verify_log``) and the coverage check (``verify_coverage``)
alike, so neither imports the other."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    seq: int  # the first bad entry's position (for a missing one: where it should be)
    entry_id: str | None
    reason: str
