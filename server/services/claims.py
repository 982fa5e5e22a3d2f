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


_EVENT_KINDS = ("registration", "payment_login", "activation", "monitoring", "enrolment")
_ROWS = "SELECT kind, payload FROM events WHERE customer_id = ? AND kind = ? AND event_us <= ?"
_ORDER = " ORDER BY event_us, client_event_id"


def claim_event_rows(
    conn: Any,
    customer_id: str,
    as_of_us: int,
    fraud_us: int,
    *,
    coverage: str,
    policy_id: str,
    instrument: str,
    service: str,
    card: str,
) -> list[tuple[str, bytes]]:
    """The events of one customer a claim's decision reads, by the existing
    (customer_id, kind, event_us) index, instead of every event on record.

    * coverage: the KDN app activations, or the enrolments in the policy;
    * payment registrations of the claim's instrument (DCM-S1/S2, DCM-X4,
      KDN-X1 look at no other instrument): of those at or before the
      incident, the first and the last of each payment service (the engine
      judges the last one and lists services in the order of their first),
      and every one after it up to the claim;
    * for each payment service the instrument was registered to (or the
      claim's own service), the last login at or before the incident —
      the only login DCM-S3 / KDN-X1 judge — chosen as the engine chooses
      (latest instant, then the greatest client event id);
    * the dark-web monitoring events of the claim's card (KDN-C0..C2).

    Each part is in (event_us, client_event_id) order, as ``events_of`` gives
    them. Everything is at or before the claim instant.
    """
    out: list[tuple[str, bytes]] = []

    def rows(sql: str, *params: object) -> list[tuple[str, bytes]]:
        return [(r[0], r[1].encode()) for r in conn.execute(sql, params).fetchall()]

    if coverage == "activation":
        out += rows(_ROWS + _ORDER, customer_id, "activation", as_of_us)
    else:
        out += rows(
            _ROWS + " AND subject = ?" + _ORDER, customer_id, "enrolment", as_of_us, policy_id
        )
    services = {service} if service else set()
    if instrument:
        # subject is "<service>/<token>"; the exact token is checked on the decoded event.
        suffix = f"/{instrument}"
        regs = conn.execute(
            "SELECT kind, payload, event_us, client_event_id FROM events WHERE customer_id = ?"
            " AND kind = ? AND event_us <= ?"
            # The last n characters, portably (PostgreSQL's substr has no negative start).
            " AND substr(subject, length(subject) - ? + 1) = ?" + _ORDER,
            (customer_id, "registration", as_of_us, len(suffix), suffix),
        ).fetchall()
        # service → (event_us, id) of its first and last registration before the incident
        first: dict[str, tuple[int, str]] = {}
        last: dict[str, tuple[int, str]] = {}
        keep: list[tuple[str, str, int, str]] = []
        for kind, payload, event_us, event_id in regs:
            d = orjson.loads(payload)
            if d["instrument"]["token"] != instrument:
                continue
            svc = d["payment_service_id"]
            services.add(svc)
            keep.append((kind, svc, event_us, event_id))
            if event_us <= fraud_us:
                key = (event_us, event_id)
                first[svc] = min(first.get(svc, key), key)
                last[svc] = max(last.get(svc, key), key)
        # Judging a registration is the costly part. Of those at or before the
        # incident the engine reads the last of each service (and lists the
        # services in the order of their first); later ones, up to the claim,
        # are all kept (a clause may look at a later instant of the claim).
        wanted = {(svc, *first[svc]) for svc in first} | {(svc, *last[svc]) for svc in last}
        by_id = {r[3]: r for r in regs}
        out += [
            (kind, by_id[event_id][1].encode())
            for kind, svc, event_us, event_id in keep
            if event_us > fraud_us or (svc, event_us, event_id) in wanted
        ]
    for svc in sorted(services):
        out += rows(
            _ROWS + " AND subject = ? ORDER BY event_us DESC, client_event_id DESC LIMIT 1",
            customer_id,
            "payment_login",
            fraud_us,
            f"{svc}/",
        )
    if card:
        out += rows(_ROWS + " AND subject = ?" + _ORDER, customer_id, "monitoring", as_of_us, card)
    return out


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
        """The recorded events this claim's decision can read, oldest first.

        Only what the engine looks at is loaded (see ``claim_event_rows``);
        a store without ``read`` (another backend) gives every event of the
        customer, a superset that decides the same.
        """
        store = self._store
        inc = facts.incident
        token = str(getattr(inc, "instrument_token", "") or "")
        service = str(getattr(inc, "payment_service_id", "") or "")
        card = str(getattr(inc, "card_token", "") or "")
        as_us = to_us(facts.claimed_at)
        read = getattr(store, "read", None)
        if read is None:
            rows = await store.events_of(facts.customer_id, _EVENT_KINDS, as_us)
        else:
            rows = await read(
                lambda conn: claim_event_rows(
                    conn,
                    facts.customer_id,
                    as_us,
                    to_us(fraud_at),
                    coverage="activation" if policy_id == "KDN" else "enrolment",
                    policy_id=policy_id,
                    instrument=token,
                    service=service,
                    card=card,
                )
            )
        return list(rows)

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
