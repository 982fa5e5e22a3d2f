"""Work the REVIEW queue: list the open decisions, resolve one.

Resolving a REVIEW decision appends a ``review_resolution`` entry that
points at it and, for an APPROVE, reserves the amount against the claim's
cap scopes — all in one write transaction, exactly as an automatic approval
does. An approval is re-evaluated on the ledger as it is inside that
transaction and refused (``ResolutionRefused``) when the claim, the caps or
the policy do not allow the amount.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

import orjson
import uuid_utils

from rules import engine as eng
from rules.load import RuleSet
from server.clock import Clock, from_us, to_us
from server.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    lift,
)
from server.request_context import current_request
from server.ruleset_holder import RulesHolder
from server.store.errors import ReviewError
from server.store.ports import LogQueries, ReviewQueue
from server.store.records import LedgerEntry, ResolutionWrite, Row, Usage, VerdictRecord
from server.usecases.claim_facts import (
    ClaimReads,
    FactsSnapshot,
    context_from_facts,
    gather_facts,
    ledger_scopes,
    with_ledger,
)
from server.usecases.find_verdicts import record_access
from server.wire.claims import logged_claim_request, rules_version_json
from server.wire.verdict_requests import Resolution, ReviewQuery


class ResolutionRefused(FailedPrecondition):
    """The resolution contradicts the policy or the ledger."""


class ReviewStore(ClaimReads, ReviewQueue, LogQueries, Protocol):
    """The ports the review queue uses."""


def _yen(amount: int) -> str:
    return f"¥{amount:,}"


def check_approval(
    amount: int,
    facts: eng.ClaimFacts,
    decision: eng.Decision,
    reservations: tuple[eng.Reservation, ...],
    usage: Mapping[str, Usage],
) -> None:
    """Refuse an approved amount the claim, the caps or the policy do not allow."""
    loss = facts.amounts.loss_yen
    if amount > loss:
        raise ResolutionRefused(f"payable_yen {_yen(amount)} exceeds the claimed loss {_yen(loss)}")
    for r in reservations:
        u = usage.get(r.scope_key, Usage(0, 0, frozenset()))
        caps = ", ".join(r.cap_ids)
        if r.limit_yen is not None and u.amount_yen + amount > r.limit_yen:
            remaining = max(0, r.limit_yen - u.amount_yen)
            raise ResolutionRefused(
                f"{caps}: payable_yen {_yen(amount)} exceeds what the cap still allows: "
                f"remaining {_yen(remaining)} of {_yen(r.limit_yen)} ({r.scope_key})"
            )
        if r.max_count is not None and u.count + r.count > r.max_count:
            raise ResolutionRefused(
                f"{caps}: already {u.count} payout(s) of at most {r.max_count} ({r.scope_key})"
            )
    denying = [c for c in decision.clauses if c.effect is eng.Effect.DENY]
    if denying:
        raise ResolutionRefused(
            "re-evaluated on the current ledger, "
            + "; ".join(f"{c.label} denies: {c.explanation_ja}" for c in denying)
        )
    computed = decision.computation.payable
    if amount > computed:
        raise ResolutionRefused(
            f"payable_yen {_yen(amount)} exceeds the amount the policy computes: {_yen(computed)}"
        )


def _reservations_json(
    reservations: tuple[eng.Reservation, ...], usage: Mapping[str, Usage]
) -> list[dict[str, Any]]:
    return [
        {
            "scopeKey": r.scope_key,
            "capIds": list(r.cap_ids),
            "amountYen": str(r.amount_yen),
            "count": r.count,
            "limitYen": None if r.limit_yen is None else str(r.limit_yen),
            "maxCount": r.max_count,
            "usedYenBefore": str(usage[r.scope_key].amount_yen) if r.scope_key in usage else "0",
        }
        for r in reservations
    ]


class Reviews:
    def __init__(self, store: ReviewStore, rules: RulesHolder, clock: Clock) -> None:
        self._store = store
        self._rules = rules
        self._clock = clock

    async def open_reviews(
        self, query: ReviewQuery, logged_request: bytes
    ) -> tuple[list[Row], bool]:
        """One page of the queue (oldest first) and whether more follow; the
        read is recorded first (``logged_request``: the request as JSON)."""
        await record_access(
            self._store, self._clock, "ListReviews", logged_request, query.customer_id or ""
        )
        rows = await self._store.open_reviews(
            query.policy_id, query.customer_id, query.after_seq, query.page_size + 1
        )
        return rows[: query.page_size], len(rows) > query.page_size

    async def _facts(
        self, inputs: str | bytes, facts: eng.ClaimFacts, policy: eng.Policy
    ) -> FactsSnapshot:
        """What the REVIEW decision read (recorded in its entry), or — for an
        entry recorded before decisions kept it — what the store holds now."""
        d = orjson.loads(inputs)
        recorded = d.get("facts") if isinstance(d, dict) else None
        if isinstance(recorded, dict):
            try:
                return FactsSnapshot.from_json(recorded)
            except (ValueError, KeyError, TypeError):
                pass
        return await gather_facts(self._store, policy, facts, self._clock())

    async def resolve(self, resolution: Resolution, now: datetime) -> Row:
        """Resolve the REVIEW decision ``resolution`` names; the resolution's log row."""
        try:
            return await self._resolve(resolution, now)
        except ReviewError as exc:  # found by the store inside its transaction
            lifted = lift(exc)
            assert lifted is not None
            raise lifted from exc

    async def _resolve(self, res: Resolution, now: datetime) -> Row:
        verdict_id, outcome, amount = res.verdict_id, res.outcome, res.payable_yen
        row = await self._store.verdict_row(verdict_id)
        if row is None:
            raise NotFound(f"no verdict {verdict_id}")
        stored = await self._store.resolutions_of([verdict_id])
        if verdict_id in stored:
            raise AlreadyExists(
                f"review {verdict_id} was already resolved by "
                f"{stored[verdict_id] or 'another resolution'}"
            )
        kind, stored_outcome = row[2], row[10]
        if kind != "claim" or stored_outcome != "REVIEW":
            raise FailedPrecondition(
                f"verdict {verdict_id} is a {kind} entry with outcome {stored_outcome}, "
                "not a REVIEW claim decision"
            )
        rules: RuleSet = self._rules.current
        policy_id = row[5] or ""
        try:
            policy = rules.policies.get(policy_id)
        except KeyError:
            raise ResolutionRefused(f"policy {policy_id!r} is no longer in the rules") from None
        unknown = [c for c in res.clause_ids if c not in policy.clause_ids]
        if unknown:
            raise InvalidArgument.of(
                "clause_ids", f"not clauses of {policy.label}: {', '.join(unknown)}"
            )
        facts = logged_claim_request(row[12], from_us(int(row[7])), rules.policies.policies).facts
        scopes: tuple[str, ...] = ()
        ctx = eng.EvaluationContext()
        if outcome == "APPROVE":
            snapshot = await self._facts(row[12], facts, policy)
            ctx = context_from_facts(snapshot, facts, policy, rules)
            scopes = ledger_scopes(policy, facts, ctx)
        origin = current_request()
        rules_json = rules_version_json(rules.digest, policy)
        inputs = orjson.dumps({"request": res.logged(), "caller": origin.caller})

        def resolve(original: VerdictRecord, usage: dict[str, Usage]) -> ResolutionWrite:
            # Runs inside the store's write transaction, on the usage read there.
            entries: tuple[LedgerEntry, ...] = ()
            result: dict[str, Any] = {
                "outcome": f"OUTCOME_{outcome}",
                "payableYen": str(amount),
                "refersTo": original.id,
                "claimId": facts.claim_id,
                "reservations": [],
            }
            if outcome == "APPROVE":
                full = with_ledger(ctx, usage)
                decision = eng.evaluate(policy, facts, full)
                reservations = eng.reservations_for(policy, facts, full, amount)
                check_approval(amount, facts, decision, reservations, usage)
                entries = tuple(
                    LedgerEntry(r.scope_key, r.amount_yen, r.count, r.insured_person_ref)
                    for r in reservations
                )
                result["reservations"] = _reservations_json(reservations, usage)
                result["computedYen"] = str(decision.computation.payable)
                result["reevaluatedOutcome"] = decision.outcome.value
            else:
                # The incident refused, as an automatic DENY marks it: the same incident
                # claimed again with other facts is REVIEW (rules/engine/kinds/amounts.py).
                entries = tuple(LedgerEntry(k, 0, 1, "") for k in eng.refusal_marks(policy, facts))
            record = VerdictRecord(
                id=str(uuid_utils.uuid7()),
                kind="review_resolution",
                customer_id=original.customer_id,
                device_id=None,
                policy_id=original.policy_id,
                subject_us=original.subject_us,
                recorded_us=to_us(now),
                rules_digest=rules.digest,
                rules=rules_json,
                outcome=outcome,
                clause_ids=res.clause_ids,
                inputs=inputs,
                result=orjson.dumps(result),
                request_id=origin.request_id,
                caller=origin.caller,
                refers_to=original.id,
            )
            return ResolutionWrite(record, entries)

        return await self._store.resolve_review(verdict_id, scopes, resolve)
