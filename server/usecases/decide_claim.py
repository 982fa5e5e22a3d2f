"""Decide a claim: gather what Anshin recorded, let the pure engine decide,
record the decision and its ledger reservations in one transaction.

The path of a claim (docs/architecture.md): ``api/claims.py`` converts the
request (``wire.claims.claim_request``) and calls ``DecideClaim``, which

1. reads the facts through the store's ports (``claim_facts.gather_facts``:
   posture verdicts, the events the policy reads),
2. builds the engine's context from them (``claim_facts.context_from_facts``)
   and the cap scopes it will read,
3. in the store's write transaction (``ClaimLedger.decide_claim``), on the
   ledger usage read there: ``rules.engine.evaluate``, the reply, the log
   entry (with the facts, so the decision can be re-made: replay) and the
   reservations of an APPROVE,
4. answers with the stored reply — the first one again for a retried claim
   id with the same request, ``AlreadyExists`` for one with another.

The claims row keeps no copy of the reply when the entry's ``result`` (the
reply in JSON) rebuilds it byte for byte, which is checked before it is
stored: the entry binds the reply's SHA-256 (server/log/coverage.py), so a
retry answers only a reply that matches its entry in the log — a claims row
pointing at another decision, carrying another fingerprint or a forged
reply is refused (``FailedPrecondition``), never answered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import orjson
import uuid_utils
from google.protobuf import json_format

from anshin.v1 import claims_pb2
from rules import engine as eng
from rules.load import RuleSet
from server.clock import to_us
from server.errors import AlreadyExists, FailedPrecondition
from server.log import coverage
from server.request_context import current_request
from server.store.ports import ClaimLedger
from server.store.records import ClaimWrite, LedgerEntry, StoredClaim, Usage, VerdictRecord
from server.usecases.claim_facts import (
    ClaimReads,
    context_from_facts,
    gather_facts,
    ledger_scopes,
    with_ledger,
)
from server.wire import claims as wire


class ClaimStore(ClaimReads, ClaimLedger, Protocol):
    """The ports a claim decision uses."""


class DecideClaim:
    def __init__(self, store: ClaimStore) -> None:
        self._store = store

    async def __call__(
        self, claim: wire.ClaimRequest, rules: RuleSet, now: datetime
    ) -> claims_pb2.EvaluateClaimResponse:
        """Decide ``claim`` under ``rules`` (the rules it was validated under) at ``now``."""
        facts = claim.facts
        policy = rules.policies.get(facts.policy_id)
        snapshot = await gather_facts(self._store, policy, facts, now)
        ctx = context_from_facts(snapshot, facts, policy, rules)
        scopes = ledger_scopes(policy, facts, ctx)
        version = wire.rules_version(rules.digest, policy)
        if claim.dry_run:
            usage = await self._store.ledger_usage(scopes)
            decision = eng.evaluate(policy, facts, with_ledger(ctx, usage))
            return wire.response(decision, version, dry_run=True)

        fingerprint = claim.fingerprint()
        origin = current_request()
        request_json = claim.logged()
        fraud_us = to_us(facts.incident.occurred_at)
        recorded_us = to_us(now)

        def decide(usage: dict[str, Usage]) -> ClaimWrite:
            # Runs inside the store's write transaction, on the usage read there.
            context = with_ledger(ctx, usage)
            decision = eng.evaluate(policy, facts, context)
            decision_id = str(uuid_utils.uuid7())
            # What the decision read, so that it can be re-made (usecases/replay.py).
            inputs = orjson.dumps(
                {"request": request_json, "facts": snapshot.with_ledger(context.ledger).to_json()}
            )
            resp = wire.recorded_response(decision, version, decision_id, recorded_us)
            # What the claimant stated counts whatever the outcome (a refused
            # incident re-claimed under another series is compared with it).
            # A DENY, or a REVIEW a clause judged, marks the incident refused too.
            held = eng.Outcome.DENY if eng.held_back(decision) else None
            marks = eng.claim_marks(policy, facts, held)
            entries: tuple[LedgerEntry, ...] = tuple(LedgerEntry(k, 0, 1, "") for k in marks)
            if decision.outcome is eng.Outcome.APPROVE:
                entries += tuple(
                    LedgerEntry(r.scope_key, r.amount_yen, r.count, r.insured_person_ref)
                    for r in decision.reservations
                )
            verdict = VerdictRecord(
                id=decision_id,
                kind="claim",
                customer_id=facts.customer_id,
                device_id=None,
                policy_id=policy.id,
                subject_us=fraud_us,
                recorded_us=recorded_us,
                rules_digest=rules.digest,
                rules=wire.rules_version_json(rules.digest, policy),
                outcome=decision.outcome.value,
                clause_ids=wire.fired_clause_ids(decision),
                inputs=inputs,
                result=wire.logged_response(resp),
                request_id=origin.request_id,
                caller=origin.caller,
            )
            reply = resp.SerializeToString(deterministic=True)
            # Nothing kept beside the entry when its result rebuilds the reply exactly.
            kept = b"" if reply_from_result(verdict.result) == reply else None
            return ClaimWrite(verdict, reply, fingerprint, entries, stored_reply=kept)

        decided, stored = await self._store.decide_claim(facts.claim_id, scopes, decide)
        if decided:
            return wire.stored_response(stored.reply, replayed=False)
        if stored.fingerprint != fingerprint:
            raise AlreadyExists(
                f"claim_id {facts.claim_id} was already decided for a different claim"
            )
        entry = await self._store.get_verdict(stored.decision_id)
        return wire.stored_response(checked_reply(facts.claim_id, stored, entry), replayed=True)


def reply_from_result(result: bytes) -> bytes:
    """The EvaluateClaimResponse a claim entry's ``result`` (its JSON form) records."""
    msg = json_format.ParseDict(orjson.loads(result), claims_pb2.EvaluateClaimResponse())
    reply: bytes = msg.SerializeToString(deterministic=True)
    return reply


def checked_reply(claim_id: str, stored: StoredClaim, entry: VerdictRecord | None) -> bytes:
    """The reply to send again for ``claim_id``: the claims row's, checked against
    its decision entry in the log (or rebuilt from it); ``FailedPrecondition``
    when they disagree — the row was changed behind the service's back."""

    def refuse(why: str) -> FailedPrecondition:
        return FailedPrecondition(
            f"claim_id {claim_id}: its stored record disagrees with the verdict log ({why}); "
            "refusing to answer from it — run `anshin log verify`"
        )

    if entry is None or entry.kind != "claim":
        raise refuse(f"decision {stored.decision_id} is not a claim entry of the log")
    bound = coverage.read_bound(orjson.loads(entry.inputs))
    if bound is None or bound.claim is None:  # an entry from before claims were bound
        if not stored.reply:
            raise refuse(f"decision {entry.id} binds no reply and the row keeps none")
        return stored.reply
    if bound.claim.claim_id != claim_id:
        raise refuse(f"decision {entry.id} decided claim_id {bound.claim.claim_id}")
    if bound.claim.fingerprint != stored.fingerprint:
        raise refuse(f"the request fingerprint differs from decision {entry.id}'s")
    reply = stored.reply or reply_from_result(entry.result)
    if coverage.reply_digest(reply) != bound.claim.reply_sha256:
        raise refuse(f"the reply differs from the one decision {entry.id} recorded")
    return reply
