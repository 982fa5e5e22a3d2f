"""ISA-I1's one-insured-person key, for a policy whose 補償期間 is each cover
period (no ``year_anchor``): the key names the period by its start instant, and
the ledger compares keys as text, so the same instant written with another
offset must give the same key (else a second insured person would find the
first one's reservation missing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

from checks.coverage import Period
from rules.engine.kinds.events import _person_scope

JST = timezone(timedelta(hours=9))


def _scope(starts_at: datetime) -> str:
    clause: Any = SimpleNamespace(id="ISA-I1", params={}, str_param=lambda name: "")
    claim: Any = SimpleNamespace(customer_id="c-1", occurred_at=starts_at + timedelta(days=1))
    period = Period(starts_at=starts_at, ends_at=None, clause_ids=("ISA-I1",), basis="test")
    return _person_scope(clause, claim, period)


def test_isa_i1_period_key_is_the_same_instant_whatever_its_offset() -> None:
    jst = datetime(2025, 4, 1, 0, 0, tzinfo=JST)
    assert _scope(jst) == _scope(jst.astimezone(UTC))
    assert _scope(jst).endswith("/period:2025-03-31T15:00:00+00:00")


def test_isa_i1_period_key_differs_for_another_period() -> None:
    jst = datetime(2025, 4, 1, 0, 0, tzinfo=JST)
    assert _scope(jst) != _scope(jst + timedelta(microseconds=1))
