"""anshin.v1.ClaimService: gather what Anshin recorded, let the pure engine
decide, record decision and ledger reservations in one transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import orjson
import uuid_utils
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp

from anshin.v1 import claims_pb2, claims_pb2_grpc, common_pb2
from checks.model import CheckStatus, Verdict
from rules import engine as eng
from rules.load import RuleSet
from server.claim_context import FactsSnapshot, context_from_facts
from server.clock import Clock, from_us, to_us
from server.convert import claims as conv
from server.errors import ConflictError, ValidationError, Violation
from server.request_context import current_request
from server.ruleset_holder import RulesHolder
from server.store.ports import Store
from server.store.records import ClaimEventQuery, ClaimWrite, LedgerEntry, Usage, VerdictRecord

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


def _ts(us: int) -> Timestamp:
    ts = Timestamp()
    ts.FromMicroseconds(us)
    return ts


def _clause_statuses(result: Mapping[str, Any]) -> dict[str, CheckStatus]:
    """The worst status of the checks serving each clause (HNB-P1..P4)."""
    worst: dict[str, CheckStatus] = {}
    for check in result.get("checks", []):
        status = CheckStatus(check["status"])
        for clause in check["clause_ids"]:
            if clause not in worst or _SEVERITY[status] > _SEVERITY[worst[clause]]:
                worst[clause] = status
    return worst


class ClaimService(claims_pb2_grpc.ClaimServiceServicer):
    def __init__(self, store: Store, rules: RulesHolder, clock: Clock) -> None:
        self._store = store
        self._rules = rules
        self._clock = clock

    async def _snapshot(
        self, facts: eng.ClaimFacts, policy_id: str, now: datetime
    ) -> FactsSnapshot:
        """What this decision reads from the store before its transaction: the
        posture verdicts and the events (the ledger is read inside it)."""
        store = self._store
        fraud_at = conv.incident_instant(facts)
        postures = []
        for rec in await store.latest_posture_by_device(
            facts.customer_id, to_us(fraud_at - POSTURE_WINDOW), to_us(fraud_at)
        ):
            result = orjson.loads(rec.result)
            postures.append(
                eng.PostureRecord(
                    device_id=rec.device_id or "",
                    login_at=from_us(rec.subject_us),
                    verdict=Verdict(rec.outcome),
                    verdict_id=rec.id,
                    clause_statuses=_clause_statuses(result),
                )
            )
        rows = await self._event_rows(facts, policy_id, fraud_at)
        return FactsSnapshot.from_rows(to_us(now), postures, rows)

    async def _event_rows(
        self, facts: eng.ClaimFacts, policy_id: str, fraud_at: datetime
    ) -> list[tuple[str, bytes]]:
        """The recorded events this claim's decision can read, oldest first:
        only what the engine looks at (``EventLog.claim_events``)."""
        inc = facts.incident
        # The events the policy file's [cover] builds periods from (activations
        # cover whatever they activated; an enrolment, its policy): one query
        # each, the first also loading the instrument, service and card parts.
        cover = self._rules.current.policies.get(policy_id).cover
        reads = cover.reads if cover is not None else (("enrolment", policy_id),)
        rows: list[tuple[str, bytes]] = []
        for i, (cover_kind, cover_subject) in enumerate(reads):
            rows += await self._store.claim_events(
                ClaimEventQuery(
                    customer_id=facts.customer_id,
                    as_of_us=to_us(facts.claimed_at),
                    incident_us=to_us(fraud_at),
                    cover_kind=cover_kind,
                    cover_subject=cover_subject,
                    instrument=str(getattr(inc, "instrument_token", "") or "") if i == 0 else "",
                    service=str(getattr(inc, "payment_service_id", "") or "") if i == 0 else "",
                    card=str(getattr(inc, "card_token", "") or "") if i == 0 else "",
                )
            )
        return rows

    @staticmethod
    def _with_ledger(
        ctx: eng.EvaluationContext, usage: Mapping[str, Usage]
    ) -> eng.EvaluationContext:
        return replace(
            ctx,
            ledger={k: eng.LedgerUsage(u.amount_yen, u.count, u.persons) for k, u in usage.items()},
        )

    def _rules_pb(self, rules: RuleSet, policy: eng.Policy) -> common_pb2.RulesVersion:
        return common_pb2.RulesVersion(
            digest=rules.digest, policies=[f"{policy.id}@{policy.version}"]
        )

    async def EvaluateClaim(
        self, request: claims_pb2.EvaluateClaimRequest, context: object
    ) -> claims_pb2.EvaluateClaimResponse:
        now = self._clock()
        rules = self._rules.current
        facts = conv.claim_facts(request, now, frozenset(rules.policies.policies))
        policy = rules.policies.get(facts.policy_id)
        snapshot = await self._snapshot(facts, policy.id, now)
        ctx = context_from_facts(snapshot, facts, policy, rules)
        try:
            scopes = eng.ledger_scopes(policy, facts, ctx)
        except eng.ClaimError as exc:
            raise ValidationError([Violation(exc.field, str(exc))]) from exc
        rules_pb = self._rules_pb(rules, policy)
        if request.dry_run:
            usage = await self._store.ledger_usage(scopes)
            decision = eng.evaluate(policy, facts, self._with_ledger(ctx, usage))
            return conv.response(decision, rules_pb, dry_run=True)

        fingerprint = hashlib.sha256(conv.fingerprint_of(request)).hexdigest()
        request_ctx = current_request()
        request_json = json_format.MessageToDict(request)
        fraud_us = to_us(conv.incident_instant(facts))

        def decide(usage: dict[str, Usage]) -> ClaimWrite:
            # Runs inside the store's write transaction, on the usage read there.
            with_ledger = self._with_ledger(ctx, usage)
            decision = eng.evaluate(policy, facts, with_ledger)
            decision_id = str(uuid_utils.uuid7())
            # What the decision read, so that it can be re-made (server/replay.py).
            inputs = orjson.dumps(
                {
                    "request": request_json,
                    "facts": snapshot.with_ledger(with_ledger.ledger).to_json(),
                }
            )
            recorded_us = to_us(now)
            resp = conv.response(decision, rules_pb, dry_run=False)
            resp.decision_id = decision_id
            resp.recorded_at.CopyFrom(_ts(recorded_us))
            entries: tuple[LedgerEntry, ...] = ()
            if decision.outcome is eng.Outcome.APPROVE:
                entries = tuple(
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
                rules=orjson.dumps(
                    {"digest": rules.digest, "policies": [f"{policy.id}@{policy.version}"]}
                ),
                outcome=decision.outcome.value,
                clause_ids=conv.fired_clause_ids(decision),
                inputs=inputs,
                result=orjson.dumps(json_format.MessageToDict(resp)),
                request_id=request_ctx.request_id,
                caller=request_ctx.caller,
            )
            return ClaimWrite(
                verdict, resp.SerializeToString(deterministic=True), fingerprint, entries
            )

        decided, stored = await self._store.decide_claim(facts.claim_id, scopes, decide)
        resp = claims_pb2.EvaluateClaimResponse.FromString(stored.reply)
        if not decided:
            if stored.fingerprint != fingerprint:
                raise ConflictError(
                    f"claim_id {facts.claim_id} was already decided for a different claim"
                )
            resp.replayed = True
        return resp
