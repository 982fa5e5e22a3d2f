"""anshin.v1.ClaimService: gather what Anshin recorded, let the pure engine
decide, record decision and ledger reservations in one transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

import orjson
import uuid_utils
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp

from anshin.v1 import claims_pb2, claims_pb2_grpc, common_pb2
from checks import event_model as em
from checks.coverage import (
    Period,
    enrolment_periods,
    kdn_periods,
    monitoring_state,
)
from checks.model import CheckStatus, Verdict
from rules import engine as eng
from rules.load import RuleSet
from server.clock import Clock, from_us, to_us
from server.convert import claims as conv
from server.convert.events import event_from_payload
from server.errors import ConflictError, ValidationError, Violation
from server.request_context import current_request
from server.ruleset_holder import RulesHolder
from server.store.base import Store, VerdictRecord
from server.store.claims_sql import ClaimWrite, LedgerEntry, Usage

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

    async def _context(
        self, facts: eng.ClaimFacts, policy: eng.Policy, rules: RuleSet
    ) -> eng.EvaluationContext:
        store = self._store
        fraud_at = conv.incident_instant(facts)
        as_of = facts.claimed_at
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
        kinds = ("registration", "payment_login", "activation", "monitoring", "enrolment")
        events = [
            event_from_payload(kind, orjson.loads(payload))
            for kind, payload in await store.events_of(facts.customer_id, kinds, to_us(as_of))
        ]
        settings = rules.events.coverage
        coverage: dict[str, tuple[Period, ...]] = {}
        name = policy.id
        if name == "KDN":
            acts = [e for e in events if isinstance(e, em.Activation)]
            coverage[name] = tuple(kdn_periods(acts, as_of, settings))
        else:
            enrols = [e for e in events if isinstance(e, em.Enrolment) and e.policy_id == name]
            # JPE: service periods; the policy file applies the JPE-P1 delay itself.
            s = replace(settings, jpe_cover_delay_months=0) if name == "JPE" else settings
            coverage[name] = tuple(enrolment_periods(enrols, name, as_of, s))
        regs = tuple(
            eng.RegistrationRecord.judge(e, rules.events.security)
            for e in events
            if isinstance(e, em.Registration)
        )
        logins = tuple(
            eng.LoginRecord.judge(e, rules.events.security)
            for e in events
            if isinstance(e, em.PaymentLogin)
        )
        monitoring = {}
        token = getattr(facts.incident, "card_token", "")
        if token:
            mons = [e for e in events if isinstance(e, em.MonitoringEvent)]
            monitoring[token] = monitoring_state(mons, token, as_of)
        return eng.EvaluationContext(
            postures=tuple(postures),
            coverage=coverage,
            registrations=regs,
            logins=logins,
            monitoring=monitoring,
        )

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
        ctx = await self._context(facts, policy, rules)
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
        inputs = orjson.dumps(json_format.MessageToDict(request))
        fraud_us = to_us(conv.incident_instant(facts))

        def decide(usage: dict[str, Usage]) -> ClaimWrite:
            # Runs inside the store's write transaction, on the usage read there.
            decision = eng.evaluate(policy, facts, self._with_ledger(ctx, usage))
            decision_id = str(uuid_utils.uuid7())
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
