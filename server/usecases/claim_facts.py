"""What a claim decision reads, and the ``EvaluationContext`` built from it.

A claim decision reads three things from the store: the login posture
verdicts of the customer's devices before the fraud and the recorded events
the claim can depend on (the engine's questions, ``rules.engine.claim_needs``,
answered by ``EventLog.claim_events``), both read by
``gather_facts`` before the write transaction, in one visit to the store
(``ClaimFactsLog.claim_facts``), and,
inside it, the ledger usage of the claim's cap scopes. ``FactsSnapshot``
holds exactly that, plus ``now`` (the decision instant the request was
validated at). It is recorded in the claim's verdict-log entry
(``inputs.facts``, see ``facts_json``), so a decision can be re-made later —
under the same rules to audit it, or under a candidate rules directory to see
what a change would have done (``server/usecases/replay.py``) — without
reconstructing the past from the store.

``context_from_facts`` is the one pure function, shared by the live decision
and by replay, that turns a snapshot into the engine's ``EvaluationContext``
under a given ``RuleSet``: events are kept raw (as stored), so coverage
periods and the security-standard judgements of registrations and logins are
derived under *that* rule set's event settings.

Stored form (``inputs.facts`` of a claim entry; instants are integer
microseconds since the epoch, UTC)::

    {"v": 1,
     "now_us": 1744254000000000,
     "postures": [{"device_id": "pc-1", "login_us": …, "verdict": "COMPLIANT",
                   "verdict_id": "…", "clauses": {"HNB-P1": "PASS", …}}, …],
     "events": [["enrolment", {…the stored event payload…}], …],
     "ledger": {"HNB-L1/ib-contract-1/2025": [amount_yen, count, [persons…]], …}}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import orjson

from checks import event_model as em
from checks.coverage import IgnoredEvent, Period, monitoring_state, policy_coverage
from checks.model import CheckStatus, Verdict
from rules import engine as eng
from rules.load import RuleSet
from server.clock import from_us, to_us
from server.errors import InvalidArgument
from server.store.ports import ClaimFactsLog, EventLog, VerdictLog
from server.store.records import Usage
from server.wire.events import event_from_payload

FACTS_VERSION = 1
# How far back before the fraud posture verdicts are gathered; the policy's
# own look-back (HNB posture_required) then picks what counts.
POSTURE_WINDOW = timedelta(days=400)
_SEVERITY = {
    CheckStatus.FAIL: 4,
    CheckStatus.UNKNOWN: 3,
    CheckStatus.WARN: 2,
    CheckStatus.PASS: 1,
    CheckStatus.NOT_APPLICABLE: 0,
}
# Enum members by value: a dict lookup instead of an Enum call (which raises
# the same ValueError for anything else: ``or`` falls back to it).
_VERDICTS = {v.value: v for v in Verdict}
_STATUSES = {s.value: s for s in CheckStatus}


@dataclass(frozen=True, slots=True)
class FactsSnapshot:
    """What one claim decision read from the store (``ledger`` None: not read yet)."""

    now_us: int
    postures: tuple[eng.PostureRecord, ...] = ()
    events: tuple[tuple[str, dict[str, Any]], ...] = ()
    ledger: Mapping[str, eng.LedgerUsage] | None = None
    raw_events: tuple[tuple[str, bytes], ...] | None = field(default=None, compare=False)

    @classmethod
    def from_rows(
        cls,
        now_us: int,
        postures: Iterable[eng.PostureRecord],
        event_rows: Sequence[tuple[str, bytes]],
    ) -> FactsSnapshot:
        """From what the store returned (event payloads as the stored JSON bytes)."""
        rows = tuple(event_rows)
        return cls(
            now_us,
            tuple(postures),
            tuple((kind, orjson.loads(payload)) for kind, payload in rows),
            None,
            rows,
        )

    def with_ledger(self, usage: Mapping[str, eng.LedgerUsage]) -> FactsSnapshot:
        return replace(self, ledger=dict(usage))

    def to_json(self) -> dict[str, Any]:
        """The JSON-ready form recorded in the claim entry (payloads embedded as stored)."""
        if self.raw_events is not None:
            events: list[Any] = [[k, orjson.Fragment(p)] for k, p in self.raw_events]
        else:
            events = [[k, p] for k, p in self.events]
        return {
            "v": FACTS_VERSION,
            "now_us": self.now_us,
            "postures": [
                {
                    "device_id": p.device_id,
                    "login_us": to_us(p.login_at),
                    "verdict": p.verdict.value,
                    "verdict_id": p.verdict_id,
                    "clauses": {k: s.value for k, s in p.clause_statuses.items()},
                }
                for p in self.postures
            ],
            "events": events,
            "ledger": {
                k: [u.amount_yen, u.count, sorted(u.persons)]
                for k, u in (self.ledger or {}).items()
            },
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> FactsSnapshot:
        """The inverse of ``to_json`` (``d`` as decoded from the stored entry)."""
        if d.get("v") != FACTS_VERSION:
            raise ValueError(f"facts version {d.get('v')!r}: this build reads {FACTS_VERSION}")
        return cls(
            int(d["now_us"]),
            tuple(
                eng.PostureRecord(
                    device_id=p["device_id"],
                    login_at=from_us(p["login_us"]),
                    verdict=_VERDICTS.get(p["verdict"]) or Verdict(p["verdict"]),
                    verdict_id=p["verdict_id"],
                    clause_statuses={
                        k: _STATUSES.get(s) or CheckStatus(s) for k, s in p["clauses"].items()
                    },
                )
                for p in d["postures"]
            ),
            tuple((k, p) for k, p in d["events"]),
            {
                k: eng.LedgerUsage(int(a), int(c), frozenset(persons))
                for k, (a, c, persons) in d["ledger"].items()
            },
        )


def context_from_facts(
    snapshot: FactsSnapshot, claim: eng.ClaimFacts, policy: eng.Policy, rules: RuleSet
) -> eng.EvaluationContext:
    """The engine's view of what was on record for ``claim``, under ``rules``.

    Pure: no clock, no store. Coverage periods of the claim's policy, built as
    its ``[cover]`` says (app activations, enrolments in the policy, or both;
    *service* periods: a clause applies its own start delay, JPE-P1), the
    registrations and logins judged under ``rules.events.security``, the dark-web monitoring
    state of the claim's card, the posture verdicts, and the ledger usage if
    the snapshot has it (``ledger`` empty otherwise: read ``ledger_scopes``
    first, then add it).
    """
    as_of = claim.claimed_at
    name = policy.id
    acts: list[em.Activation] = []
    enrols: list[em.Enrolment] = []
    mons: list[em.MonitoringEvent] = []
    regs: list[eng.RegistrationRecord] = []
    logins: list[eng.LoginRecord] = []
    security = rules.events.security
    for kind, payload in snapshot.events:  # one pass, in order, each by its type
        e = event_from_payload(kind, payload)
        if isinstance(e, em.Enrolment):
            if e.policy_id == name:
                enrols.append(e)
        elif isinstance(e, em.Activation):
            acts.append(e)
        elif isinstance(e, em.MonitoringEvent):
            mons.append(e)
        elif isinstance(e, em.Registration):
            regs.append(eng.RegistrationRecord.judge(e, security))
        elif isinstance(e, em.PaymentLogin):
            logins.append(eng.LoginRecord.judge(e, security))
    coverage: dict[str, tuple[Period, ...]] = {}
    undecided: dict[str, tuple[IgnoredEvent, ...]] = {}
    if policy.cover is not None:  # None: no clause of the policy reads a coverage period
        cover = policy_coverage(policy.cover.service(), acts, enrols, as_of)
        coverage[name] = cover.periods
        undecided[name] = cover.undecided
    monitoring = {}
    token = getattr(claim.incident, "card_token", "")
    if token:
        monitoring[token] = monitoring_state(mons, token, as_of)
    return eng.EvaluationContext(
        postures=snapshot.postures,
        coverage=coverage,
        undecided_cover=undecided,
        registrations=tuple(regs),
        logins=tuple(logins),
        monitoring=monitoring,
        ledger=dict(snapshot.ledger or {}),
    )


def ledger_scopes(
    policy: eng.Policy, facts: eng.ClaimFacts, ctx: eng.EvaluationContext
) -> tuple[str, ...]:
    """The cap scopes whose ledger usage the decision reads; a claim the policy
    cannot evaluate (``eng.ClaimError``) is ``InvalidArgument`` naming its field."""
    try:
        return eng.ledger_scopes(policy, facts, ctx)
    except eng.ClaimError as exc:
        raise InvalidArgument.of(exc.field, exc.message) from exc


def with_ledger(ctx: eng.EvaluationContext, usage: Mapping[str, Usage]) -> eng.EvaluationContext:
    """``ctx`` with the ledger usage the store read (inside its transaction)."""
    return replace(
        ctx,
        ledger={k: eng.LedgerUsage(u.amount_yen, u.count, u.persons) for k, u in usage.items()},
    )


def clause_statuses(result: Mapping[str, Any]) -> dict[str, CheckStatus]:
    """The worst status of the checks serving each clause (HNB-P1..P4) of a
    logged posture verdict's result."""
    worst: dict[str, CheckStatus] = {}
    for check in result.get("checks", []):
        status = CheckStatus(check["status"])
        for clause in check["clause_ids"]:
            if clause not in worst or _SEVERITY[status] > _SEVERITY[worst[clause]]:
                worst[clause] = status
    return worst


class ClaimReads(VerdictLog, EventLog, ClaimFactsLog, Protocol):
    """The ports a claim's facts are read through."""


async def gather_facts(
    store: ClaimReads, policy: eng.Policy, facts: eng.ClaimFacts, now: datetime
) -> FactsSnapshot:
    """What a decision reads from the store before its transaction: the
    posture verdicts of the customer's devices before the fraud, and the
    recorded events it can depend on: the questions the engine asks of them
    (``claim_needs``), answered by the store (the ledger is read inside it).
    A claim the policy cannot evaluate is ``InvalidArgument`` naming its field."""
    fraud_at = facts.incident.occurred_at
    try:
        needs = eng.claim_needs(policy, facts)
    except eng.ClaimError as exc:
        raise InvalidArgument.of(exc.field, exc.message) from exc
    # Both reads in one visit to the store (``ClaimFactsLog.claim_facts``).
    # The store's window is inclusive; the engine judges the logins *before*
    # the fraud (kinds/events.py): a login at the very instant would be
    # returned as its device's last and then dropped, losing the earlier one.
    records, rows = await store.claim_facts(
        facts.customer_id, to_us(fraud_at - POSTURE_WINDOW), to_us(fraud_at) - 1, needs
    )
    postures = [
        eng.PostureRecord(
            device_id=rec.device_id or "",
            login_at=from_us(rec.subject_us),
            verdict=Verdict(rec.outcome),
            verdict_id=rec.id,
            clause_statuses=clause_statuses(orjson.loads(rec.result)),
        )
        for rec in records
    ]
    return FactsSnapshot.from_rows(to_us(now), postures, rows)
