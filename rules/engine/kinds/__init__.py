"""The registry of clause kinds: name → ``KindSpec`` (parameters, effects, function).

A policy file may only use kinds listed here; adding a policy that reuses
them is a data-only change. Adding a kind is a code change (a function and
its ``KindSpec``) plus a line in docs/claims.md.
"""

from __future__ import annotations

from collections.abc import Mapping

from rules.engine.kinds import amounts, events, facts, timing
from rules.engine.kinds.base import AmountFinding, Finding, KindSpec, ParamSpec, ReservationSpec

__all__ = ["KINDS", "AmountFinding", "Finding", "KindSpec", "ParamSpec", "ReservationSpec"]


def _registry() -> Mapping[str, KindSpec]:
    table: dict[str, KindSpec] = {}
    for spec in (*timing.KINDS, *facts.KINDS, *events.KINDS, *amounts.KINDS):
        if spec.name in table:
            raise RuntimeError(f"clause kind {spec.name!r} registered twice")
        table[spec.name] = spec
    return table


KINDS: Mapping[str, KindSpec] = _registry()
"""Every clause kind by name."""
