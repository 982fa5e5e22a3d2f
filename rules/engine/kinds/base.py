"""The clause-kind protocol: parameter specs, findings, and small shared helpers.

A clause kind is a small pure function. A *condition* kind answers
``(clause, claim, context) -> Finding``; an *amount* kind answers
``(clause, claim, context, amount_in) -> AmountFinding`` and is applied in
the fixed order of its ``stage`` (recovered → points → percentage → caps).
Kinds that read the ledger also say which scope keys they read
(``scopes``), so the store can compute the usage before evaluating.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Literal, NamedTuple, TypeAlias, TypeVar

from checks.model import CheckStatus, Compared
from rules.engine.kinds.cached import format_jst
from rules.engine.model import ClaimFacts, Effect, EvaluationContext, Resolved, resolve
from rules.engine.needs import Need
from rules.engine.policy import Clause, ClauseEffect, ParamValue
from timing.trace import Step

__all__ = [
    "FAIL",
    "NOT_APPLICABLE",
    "PASS",
    "UNKNOWN",
    "AmountFinding",
    "Finding",
    "KindSpec",
    "ParamSpec",
    "ReservationSpec",
    "cmp",
    "fmt",
    "instant_of",
    "missing",
    "not_defined",
    "not_provided",
    "per_clause",
]

PASS = CheckStatus.PASS
FAIL = CheckStatus.FAIL
UNKNOWN = CheckStatus.UNKNOWN
NOT_APPLICABLE = CheckStatus.NOT_APPLICABLE

ParamType: TypeAlias = Literal[
    "days",  # int >= 1
    "int",  # int >= 0
    "count",  # int >= 1
    "yen",  # int >= 0, whole yen
    "percent",  # int or string ("70", "62.5"), never a float
    "bool",
    "str",
    "choice",  # one of ``choices``
    "fields",  # a claim field name or a list of alternatives (first the incident defines)
    "str_list",
    "clause_ids",  # list of clause ids (may be empty)
    "answer_kinds",  # list of IssuerAnswerKind names
    "instant",  # TOML offset date-time (or ISO string) with an explicit offset
    "anchor",  # "MM-DD HH:MM" JST, the start of each year
    "incident",  # an incident type name
    "payment_table",  # rows {method, funding, covered, label_ja} (checks.security_standard)
]


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter of a kind: name, type, whether required, default and documentation.

    Policy values (money, percentages, day counts, anchors, dates) are always
    ``required``: they live in the policy file, never in code.
    ``field_types`` restricts ``fields`` parameters (e.g. ``{"instant"}``).
    ``relevant_if`` names a parameter without which this one is not used.
    """

    name: str
    type: ParamType
    doc: str
    required: bool = True
    default: ParamValue | None = None
    choices: tuple[str, ...] = ()
    field_types: frozenset[str] = frozenset()
    relevant_if: str = ""  # another parameter that must be truthy for this one to be used


# The three answers a kind builds are named tuples, not frozen dataclasses: just as
# immutable, read by attribute alike, and built at a third of the cost (a frozen
# dataclass sets each field through object.__setattr__) — a claim builds dozens.
# They stay inside the engine: the Decision holds ClauseResults and Reservations.


class ReservationSpec(NamedTuple):
    """A ledger scope an APPROVE must reserve in (see ``model.Reservation``)."""

    scope_key: str
    limit_yen: int | None = None
    max_count: int | None = None
    insured_person_ref: str = ""
    # Further scopes the same approval counts in, unlimited (an incident's day).
    also: tuple[ReservationSpec, ...] = ()


class Finding(NamedTuple):
    """What a kind found. ``effect`` overrides the usual mapping (e.g. DENY excused → REVIEW)."""

    status: CheckStatus
    explanation_ja: str
    compared: tuple[Compared, ...] = ()
    missing_facts: tuple[str, ...] = ()
    effect: Effect | None = None
    reservation: ReservationSpec | None = None


class AmountFinding(NamedTuple):
    """An amount kind's answer: the finding, the amount it passes on, and its steps."""

    finding: Finding
    output: int
    steps: tuple[Step, ...] = ()
    binding: bool = False


CheckFn: TypeAlias = Callable[[Clause, ClaimFacts, EvaluationContext], Finding]
AmountFn: TypeAlias = Callable[[Clause, ClaimFacts, EvaluationContext, int], AmountFinding]
ScopeFn: TypeAlias = Callable[[Clause, ClaimFacts, EvaluationContext], tuple[str, ...]]
MarksFn: TypeAlias = Callable[[Clause, ClaimFacts, bool], tuple[str, ...]]
AttestsFn: TypeAlias = Callable[[Clause], tuple[str, ...]]
NeedsFn: TypeAlias = Callable[[Clause, ClaimFacts], tuple[Need, ...]]


@dataclass(frozen=True, slots=True)
class KindSpec:
    """A registered clause kind."""

    name: str
    summary: str
    params: tuple[ParamSpec, ...]
    effects: frozenset[ClauseEffect]
    check: CheckFn | None = None
    amount: AmountFn | None = None
    stage: int = 0
    scopes: ScopeFn | None = None
    # Ledger keys a recorded decision counts in whatever its outcome (series caps:
    # the claimant's statement of the incident's series, kinds/amounts.py).
    marks: MarksFn | None = None
    # The ``facts.exclusions`` keys a clause of this kind reads (attestations the
    # claimant states): what the API accepts for the clause's policy, no more.
    attests: AttestsFn | None = None
    # Claim fields a clause of this kind reads that no parameter names (the
    # claim form lists them): e.g. the payment method and funding of DCM-T.
    reads: AttestsFn | None = None
    # The recorded events a clause of this kind reads for a claim, as questions
    # the store answers (rules/engine/needs.py); coverage events come from the
    # policy's [cover] and are not asked here.
    needs: NeedsFn | None = None
    # True when ``check`` returns the very same Finding object for the same
    # inputs (it is built by a memoised pure function): the engine may then
    # reuse the ClauseResult it built from that object.
    memoised: bool = False

    @property
    def category(self) -> Literal["condition", "amount"]:
        return "amount" if self.amount is not None else "condition"

    def param(self, name: str) -> ParamSpec:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)


# --------------------------------------------------------------------------- helpers


_T = TypeVar("_T")


def per_clause(fn: Callable[[Clause], _T]) -> Callable[[Clause], _T]:
    """Memoise a pure function of a clause's (immutable) id, kind and parameters.

    The value is kept by the clause itself (``Clause.memo``, keyed by the
    function), so it lives exactly as long as the clause and can never answer
    for another clause object.
    """

    def wrapper(clause: Clause) -> _T:
        memo = clause.memo
        if fn in memo:
            return memo[fn]  # type: ignore[no-any-return]
        value = memo[fn] = fn(clause)
        return value

    return wrapper


# ``format_jst``, memoised (one claim formats the same instants many times): the
# cached function itself, not a function calling it — a claim calls it dozens of times.
fmt: Callable[[datetime], str] = format_jst


def cmp(name: str, observed: object, expected: str) -> Compared:
    text = observed if isinstance(observed, str) else str(observed)
    return Compared(name, text if text != "" else "(not stated)", expected)


def missing(paths: tuple[str, ...] | str, what_ja: str, *compared: Compared) -> Finding:
    """UNKNOWN → REVIEW: a fact the clause needs is not stated."""
    names = (paths,) if isinstance(paths, str) else paths
    return Finding(
        UNKNOWN,
        f"{what_ja}が申告されていないため、判断できません（要確認: {', '.join(names)}）。",
        tuple(compared),
        names,
    )


@lru_cache(maxsize=1024)
def not_provided(path: str, what_ja: str) -> Finding:
    """UNKNOWN → REVIEW: the store did not provide a record the clause needs."""
    return Finding(
        UNKNOWN,
        f"{what_ja}が提供されていないため、判断できません（要確認: {path}）。",
        (),
        (path,),
    )


@lru_cache(maxsize=1024)
def not_defined(path: str) -> Finding:
    """The claim's incident type has no such field: the clause does not concern it."""
    return Finding(
        NOT_APPLICABLE,
        f"この事故の種類には項目「{path}」がないため、この条項は適用されません。",
    )


def instant_of(claim: ClaimFacts, names: tuple[str, ...]) -> tuple[Resolved, datetime | None]:
    r = resolve(claim, names)
    return r, r.value if isinstance(r.value, datetime) else None
