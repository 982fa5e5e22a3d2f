"""A policy as data: its clauses, each of a registered kind with typed parameters.

Values are validated by ``rules.engine.load``; the typed getters here only
narrow the (already checked) parameter values for mypy and fail loudly on a
programming error.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeAlias

from checks.cover import Cover
from checks.security_standard import PaymentMethodRow
from timing.years import YearAnchor

__all__ = ["Clause", "ClauseEffect", "ParamValue", "Policy", "PolicySet"]

_NO_PARAM = object()

ParamValue: TypeAlias = (
    int
    | bool
    | str
    | Fraction
    | datetime
    | date
    | YearAnchor
    | tuple[str, ...]
    | tuple[PaymentMethodRow, ...]
)


class ClauseEffect(enum.Enum):
    """What a clause does when it fires, as written in the policy file.

    * ``DENY`` — an exclusion (免責): it applies → DENY.
    * ``REVIEW`` — the insurer "may" decide: it applies → REVIEW.
    * ``gate`` — a condition of payment (支払条件) or an amount rule: not met
      → DENY; met → pushes towards APPROVE (conditions) or shapes the amount.

    Whatever the effect, a clause that cannot be judged for lack of a fact
    gives REVIEW naming the fact.
    """

    DENY = "DENY"
    REVIEW = "REVIEW"
    GATE = "gate"


@dataclass(frozen=True, slots=True)
class Clause:
    """One clause (or one part of a clause) of a policy file."""

    id: str
    kind: str
    effect: ClauseEffect
    text_ja: str
    params: Mapping[str, ParamValue]
    part: str = ""
    summary: str = ""
    applies_to: tuple[str, ...] = ()
    any_of: str = ""
    # What the kinds derive from this clause, kept with it (not in module globals
    # keyed by id()): a fresh dict for every clause object, ``replace`` included.
    memo: dict[object, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    @property
    def label(self) -> str:
        """``HNB-X5`` or, for a clause in parts, ``KDN-A1.percentage``."""
        return f"{self.id}.{self.part}" if self.part else self.id

    def _get(self, name: str) -> ParamValue:
        try:
            return self.params[name]
        except KeyError:
            raise KeyError(f"clause {self.label}: no parameter {name!r}") from None

    def int_param(self, name: str) -> int:
        value = self.params.get(name, _NO_PARAM)  # the hot path: no _get call
        if isinstance(value, bool) or not isinstance(value, int):
            self._get(name)  # no such parameter: KeyError
            raise TypeError(f"clause {self.label}: {name} is not an int")
        return value

    def bool_param(self, name: str) -> bool:
        value = self.params.get(name, _NO_PARAM)  # the hot path: no _get call
        if not isinstance(value, bool):
            self._get(name)  # no such parameter: KeyError
            raise TypeError(f"clause {self.label}: {name} is not a bool")
        return value

    def str_param(self, name: str) -> str:
        value = self.params.get(name, _NO_PARAM)  # the hot path: no _get call
        if not isinstance(value, str):
            self._get(name)  # no such parameter: KeyError
            raise TypeError(f"clause {self.label}: {name} is not a string")
        return value

    def list_param(self, name: str) -> tuple[str, ...]:
        value = self.params.get(name, _NO_PARAM)  # the hot path: no _get call
        if not isinstance(value, tuple):
            self._get(name)  # no such parameter: KeyError
            raise TypeError(f"clause {self.label}: {name} is not a list")
        return value

    def table_param(self, name: str) -> tuple[PaymentMethodRow, ...]:
        value = self._get(name)
        if not isinstance(value, tuple) or not all(isinstance(r, PaymentMethodRow) for r in value):
            raise TypeError(f"clause {self.label}: {name} is not a payment table")
        return value  # type: ignore[return-value]

    def percent_param(self, name: str) -> Fraction:
        value = self._get(name)
        if not isinstance(value, Fraction):
            raise TypeError(f"clause {self.label}: {name} is not a percentage")
        return value

    def instant_param(self, name: str) -> datetime:
        value = self._get(name)
        if not isinstance(value, datetime):
            raise TypeError(f"clause {self.label}: {name} is not an instant")
        return value

    def anchor_param(self, name: str) -> YearAnchor:
        value = self._get(name)
        if not isinstance(value, YearAnchor):
            raise TypeError(f"clause {self.label}: {name} is not a year anchor")
        return value


@dataclass(frozen=True, slots=True)
class Policy:
    """One policy file: identity, version, its clauses in file order, and where its
    cover comes from (``[cover]``; None when no clause reads a coverage period)."""

    id: str
    name: str
    version: str
    effective_from: date
    source_seed: str
    incidents: tuple[str, ...]
    clauses: tuple[Clause, ...]
    path: Path | None = None
    params: Mapping[str, ParamValue] = field(default_factory=dict)
    cover: Cover | None = None
    # The engine's compiled plans by (incident type, sub-kind), kept with the
    # policy they were compiled from (rules.engine.evaluate).
    plans: dict[tuple[str, str], Any] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    @property
    def label(self) -> str:
        """``HNB@2024-02-20`` (as in ``RulesVersion.policies``)."""
        return f"{self.id}@{self.version}"

    def clause(self, label: str) -> Clause:
        for c in self.clauses:
            if c.label == label:
                return c
        for c in self.clauses:
            if c.id == label:
                return c
        raise KeyError(f"{self.id}: no clause {label!r}")

    @property
    def clause_ids(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for c in self.clauses:
            seen.setdefault(c.id)
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class PolicySet:
    """Every policy of a rules directory, by id, with the directory's content digest."""

    policies: Mapping[str, Policy]
    digest: str
    directory: Path | None = None

    def get(self, policy_id: str) -> Policy:
        key = policy_id.strip().upper()
        try:
            return self.policies[key]
        except KeyError:
            raise KeyError(
                f"unknown policy id {policy_id!r}; expected one of {sorted(self.policies)}"
            ) from None

    def __contains__(self, policy_id: object) -> bool:
        return isinstance(policy_id, str) and policy_id.strip().upper() in self.policies

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(p.label for p in self.policies.values())
