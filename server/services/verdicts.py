"""anshin.v1.VerdictLogService: find, read and resolve verdict-log entries.

Queries are keyset pages on the log sequence (see
``server/store/sql/verdict_queries.py``); a page token is opaque to clients
and bound to the filters and order it was issued for. Resolving a REVIEW
decision appends a ``review_resolution`` entry that points at it and, for an
APPROVE, reserves the amount against the claim's cap scopes — all in one
write transaction, exactly as an automatic approval does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any

import grpc
import orjson
import uuid_utils
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp

from anshin.v1 import claims_pb2, common_pb2, verdicts_pb2, verdicts_pb2_grpc
from rules import engine as eng
from rules.engine.evaluate import _applies, _reservations  # the engine's own reservation rule
from rules.engine.kinds import KINDS, ReservationSpec
from server import validate
from server.claim_context import FactsSnapshot, context_from_facts
from server.clock import Clock, from_us, to_us
from server.convert import claims as claim_conv
from server.convert import verdicts as conv
from server.errors import ConflictError, NotFoundError, ValidationError, Violation, Violations
from server.pii import contains_pan
from server.request_context import current_request
from server.ruleset_holder import RulesHolder
from server.services.claims import ClaimService
from server.store.errors import AlreadyResolved, NotUnderReview, ReviewNotFound
from server.store.ports import Store
from server.store.records import (
    CLAUSE_ID,
    LedgerEntry,
    ResolutionWrite,
    Usage,
    VerdictFilter,
    VerdictRecord,
)
from server.verdict_pages import decode_token, encode_token, page_batch

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_NOTE_BYTES = 4000
_TIMESTAMP_SECONDS_MIN = -62135596800
_TIMESTAMP_SECONDS_MAX = 253402300799


class ResolutionRefused(Exception):
    """FAILED_PRECONDITION: the resolution contradicts the policy or the ledger."""


def register_verdict_log_service(service: VerdictLogService, server: grpc.aio.Server) -> None:
    """Add the VerdictLogService with QueryVerdicts sending pre-encoded pages."""

    class _Capture:
        def __init__(self) -> None:
            self.name = ""
            self.handlers: dict[str, Any] = {}

        def add_generic_rpc_handlers(self, _: object) -> None:
            pass

        def add_registered_method_handlers(self, name: str, handlers: dict[str, Any]) -> None:
            self.name, self.handlers = name, dict(handlers)

    capture = _Capture()
    verdicts_pb2_grpc.add_VerdictLogServiceServicer_to_server(service, capture)
    handlers = capture.handlers
    handlers["QueryVerdicts"] = grpc.unary_stream_rpc_method_handler(
        service.QueryVerdicts,
        request_deserializer=verdicts_pb2.QueryVerdictsRequest.FromString,
        response_serializer=None,  # the pages are encoded bytes already
    )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(capture.name, handlers),))
    server.add_registered_method_handlers(capture.name, handlers)


# --------------------------------------------------------------------------- validation


def _range_bound(v: Violations, field: str, ts: Timestamp, present: bool) -> int | None:
    """A Timestamp as µs, rounded up (so ``t >= bound`` / ``t < bound`` stay exact)."""
    if not present:
        return None
    if not 0 <= ts.nanos < 1_000_000_000:
        v.add(field, "nanos out of range")
        return None
    if not _TIMESTAMP_SECONDS_MIN <= ts.seconds <= _TIMESTAMP_SECONDS_MAX:
        v.add(field, "not a valid instant")
        return None
    return ts.seconds * 1_000_000 + -(-ts.nanos // 1000)


def _page_size(v: Violations, field: str, size: int) -> int:
    if size < 0:
        v.add(field, "must not be negative")
        return DEFAULT_PAGE_SIZE
    return min(size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def _optional_id(v: Violations, field: str, value: str) -> str | None:
    return validate.identifier(v, field, value, required=False)


def query_filter(v: Violations, req: verdicts_pb2.QueryVerdictsRequest) -> VerdictFilter:
    kind = None
    if req.kind:
        kind = conv.KIND_NAMES.get(req.kind)
        if kind is None:
            v.add("kind", f"unknown enum value {req.kind}")
    outcome = None
    if req.outcome:
        outcome = req.outcome.strip().upper().removeprefix("OUTCOME_")
        if outcome not in conv.OUTCOMES:
            v.add("outcome", f"one of {', '.join(sorted(conv.OUTCOMES))}")
            outcome = None
    clause = None
    if req.clause_id:
        if CLAUSE_ID.match(req.clause_id):
            clause = req.clause_id
        else:
            v.add("clause_id", "not a clause id (e.g. HNB-X5)")
    bounds = {
        name: _range_bound(v, name, getattr(req, name), req.HasField(name))
        for name in ("subject_from", "subject_until", "recorded_from", "recorded_until")
    }
    for lo, hi in (("subject_from", "subject_until"), ("recorded_from", "recorded_until")):
        a, b = bounds[lo], bounds[hi]
        if a is not None and b is not None and a > b:
            v.add(hi, f"before {lo}")
    return VerdictFilter(
        customer_id=_optional_id(v, "customer_id", req.customer_id),
        policy_id=_optional_id(v, "policy_id", req.policy_id),
        kind=kind,
        outcome=outcome,
        clause_id=clause,
        subject_from_us=bounds["subject_from"],
        subject_until_us=bounds["subject_until"],
        recorded_from_us=bounds["recorded_from"],
        recorded_until_us=bounds["recorded_until"],
        oldest_first=req.oldest_first,
    )


# --------------------------------------------------------------------------- resolving


def _reservation_specs(
    policy: eng.Policy, facts: eng.ClaimFacts, ctx: eng.EvaluationContext
) -> list[tuple[str, ReservationSpec]]:
    """What an APPROVE of ``facts`` reserves, by clause: the same findings
    ``evaluate`` collects its reservations from (the clauses with ledger scopes)."""
    specs: list[tuple[str, ReservationSpec]] = []
    amount = facts.amounts.loss_yen
    for clause in policy.clauses:
        kind = KINDS[clause.kind]
        if kind.scopes is None or not _applies(clause, facts):
            continue
        if kind.amount is not None:
            finding = kind.amount(clause, facts, ctx, amount).finding
        elif kind.check is not None:
            finding = kind.check(clause, facts, ctx)
        else:
            continue
        if finding.reservation is not None:
            specs.append((clause.id, finding.reservation))
    return specs


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


class VerdictLogService(verdicts_pb2_grpc.VerdictLogServiceServicer):
    def __init__(self, store: Store, rules: RulesHolder, clock: Clock) -> None:
        self._store = store
        self._rules = rules
        self._clock = clock
        # Gathers a claim's facts (postures, events) as the automatic decision
        # does, for REVIEW entries recorded without them.
        self._claims = ClaimService(store, rules, clock)

    async def _facts(self, inputs: str, facts: eng.ClaimFacts, policy_id: str) -> FactsSnapshot:
        """What the REVIEW decision read (recorded in its entry), or — for an
        entry recorded before decisions kept it — what the store holds now."""
        d = orjson.loads(inputs)
        recorded = d.get("facts") if isinstance(d, dict) else None
        if isinstance(recorded, dict):
            try:
                return FactsSnapshot.from_json(recorded)
            except (ValueError, KeyError, TypeError):
                pass
        return await self._claims._snapshot(facts, policy_id, self._clock())

    # -- accountability ----------------------------------------------------

    async def _record_access(
        self, rpc: str, request: Any, customer_id: str, *, refers_to: str | None = None
    ) -> None:
        """Log who read what, durably, before any of it is sent (issue 7:
        analysts' queries are themselves recorded). Only accepted requests
        are recorded: a refused one reads nothing."""
        ctx = current_request()
        now_us = to_us(self._clock())
        await self._store.append_verdict(
            VerdictRecord(
                id=str(uuid_utils.uuid7()),
                kind="analyst_access",
                customer_id=customer_id,
                device_id=None,
                subject_us=now_us,
                recorded_us=now_us,
                rules_digest="",
                rules=b"{}",
                outcome="RECORDED",
                clause_ids=(),
                inputs=orjson.dumps(json_format.MessageToDict(request)),
                result=orjson.dumps({"rpc": rpc}),
                request_id=ctx.request_id,
                caller=ctx.caller,
                refers_to=refers_to,
            )
        )

    # -- queries -----------------------------------------------------------

    async def QueryVerdicts(
        self, request: verdicts_pb2.QueryVerdictsRequest, context: object
    ) -> AsyncIterator[bytes]:
        """Pages as encoded VerdictPage bytes (registered without a serializer,
        see ``register_verdict_log_service``). The next batch is read while the
        current one is being sent."""
        v = Violations()
        f = query_filter(v, request)
        size = _page_size(v, "page_size", request.page_size)
        if request.max_pages < 0:
            v.add("max_pages", "must not be negative")
        key = f.key()
        after = decode_token(v, request.page_token, "query", key)
        v.raise_if_any()
        # The record of this read is made durable while the first page is
        # read (its commit wait overlaps the query); nothing is sent before both.
        recorded = asyncio.ensure_future(
            self._record_access("QueryVerdicts", request, f.customer_id or "")
        )
        loop = asyncio.get_running_loop()
        store = self._store

        async def batch(after_seq: int | None) -> tuple[list[bytes], int | None]:
            """(pages, the seq the next batch starts after, None at the end)."""
            rows = await store.query_verdicts(f, after_seq, size + 1)
            return await loop.run_in_executor(None, page_batch, rows, size, key)

        pending = asyncio.ensure_future(batch(after))
        sent = 0
        try:
            await recorded
            while True:
                pages, resume = await pending
                more = resume is not None
                if more and (not request.max_pages or sent + len(pages) < request.max_pages):
                    pending = asyncio.ensure_future(batch(resume))
                for page in pages:
                    yield page
                    sent += 1
                    if request.max_pages and sent >= request.max_pages:
                        return
                if not more:
                    return
        finally:
            if not pending.done():
                pending.cancel()
            if not recorded.done():
                recorded.cancel()

    async def GetVerdict(
        self, request: verdicts_pb2.GetVerdictRequest, context: object
    ) -> verdicts_pb2.VerdictEntry:
        v = Violations()
        verdict_id = validate.identifier(v, "id", request.id)
        v.raise_if_any()
        assert verdict_id is not None
        row = await self._store.verdict_row(verdict_id)
        if row is None:
            raise NotFoundError(f"no verdict {verdict_id}")
        await self._record_access("GetVerdict", request, str(row[3]), refers_to=verdict_id)
        return conv.entry_pb(row)

    # -- review queue ------------------------------------------------------

    async def ListReviews(
        self, request: verdicts_pb2.ListReviewsRequest, context: object
    ) -> AsyncIterator[verdicts_pb2.ReviewItem]:
        v = Violations()
        policy = _optional_id(v, "policy_id", request.policy_id)
        customer = _optional_id(v, "customer_id", request.customer_id)
        size = _page_size(v, "page_size", request.page_size)
        key = (policy, customer)
        after = decode_token(v, request.page_token, "reviews", key)
        v.raise_if_any()
        await self._record_access("ListReviews", request, customer or "")
        rows = await self._store.open_reviews(policy, customer, after, size + 1)
        more = len(rows) > size
        rows = rows[:size]
        for i, row in enumerate(rows):
            missing, review_clauses, computed = conv.review_facts(row[13])
            claimed = 0
            try:
                claimed = int(conv.claim_request(row[12]).get("amounts", {}).get("lossYen", 0))
            except (ValueError, TypeError, AttributeError, orjson.JSONDecodeError):
                claimed = 0
            last = i == len(rows) - 1
            yield verdicts_pb2.ReviewItem(
                decision=conv.entry_pb(row),
                missing_facts=missing,
                review_clause_ids=review_clauses,
                claimed_yen=claimed,
                computed_yen=computed,
                next_page_token=""
                if last and not more
                else encode_token("reviews", key, int(row[0])),
            )

    async def ResolveReview(
        self, request: verdicts_pb2.ResolveReviewRequest, context: grpc.aio.ServicerContext
    ) -> verdicts_pb2.VerdictEntry:
        try:
            return await self._resolve(request)
        except ResolutionRefused as exc:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        except NotUnderReview as exc:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        except ReviewNotFound as exc:
            raise NotFoundError(str(exc)) from exc
        except AlreadyResolved as exc:
            raise ConflictError(str(exc)) from exc
        raise AssertionError("unreachable")  # abort raises

    async def _resolve(
        self, request: verdicts_pb2.ResolveReviewRequest
    ) -> verdicts_pb2.VerdictEntry:
        now = self._clock()
        v = Violations()
        verdict_id = validate.identifier(v, "verdict_id", request.verdict_id)
        analyst = validate.identifier(v, "analyst", request.analyst)
        note = validate.text(v, "note", request.note, required=False, max_bytes=MAX_NOTE_BYTES)
        if note and contains_pan(note):
            v.add("note", "contains what looks like a card number: refer to cards by token")
            note = None
        outcome = {common_pb2.OUTCOME_APPROVE: "APPROVE", common_pb2.OUTCOME_DENY: "DENY"}.get(
            request.outcome
        )
        if outcome is None:
            v.add("outcome", "OUTCOME_APPROVE or OUTCOME_DENY")
        elif outcome == "APPROVE" and request.payable_yen <= 0:
            v.add("payable_yen", "an APPROVE pays a positive amount")
        elif outcome == "DENY" and request.payable_yen != 0:
            v.add("payable_yen", "a DENY pays nothing: 0")
        clause_ids: list[str] = []
        for i, c in enumerate(request.clause_ids):
            if CLAUSE_ID.match(c):
                clause_ids.append(c)
            else:
                v.add(f"clause_ids[{i}]", "not a clause id (e.g. HNB-X5)")
        if outcome == "DENY" and not request.clause_ids:
            v.add("clause_ids", "a DENY names the clauses it rests on")
        v.raise_if_any()
        assert verdict_id is not None and analyst is not None and outcome is not None

        row = await self._store.verdict_row(verdict_id)
        if row is None:
            raise ReviewNotFound(f"no verdict {verdict_id}")
        stored = await self._store.resolutions_of([verdict_id])
        if verdict_id in stored:
            raise AlreadyResolved(verdict_id, stored[verdict_id])
        kind, stored_outcome = row[2], row[10]
        if kind != "claim" or stored_outcome != "REVIEW":
            raise NotUnderReview(
                f"verdict {verdict_id} is a {kind} entry with outcome {stored_outcome}, "
                "not a REVIEW claim decision"
            )
        rules = self._rules.current
        policy_id = row[5] or ""
        try:
            policy = rules.policies.get(policy_id)
        except KeyError:
            raise ResolutionRefused(f"policy {policy_id!r} is no longer in the rules") from None
        unknown = [c for c in clause_ids if c not in policy.clause_ids]
        if unknown:
            raise ValidationError(
                [Violation("clause_ids", f"not clauses of {policy.label}: {', '.join(unknown)}")]
            )
        claim_req = claims_pb2.EvaluateClaimRequest()
        json_format.ParseDict(conv.claim_request(row[12]), claim_req, ignore_unknown_fields=True)
        facts = claim_conv.claim_facts(
            claim_req, from_us(int(row[7])), frozenset(rules.policies.policies)
        )
        amount = int(request.payable_yen)
        scopes: tuple[str, ...] = ()
        ctx = eng.EvaluationContext()
        if outcome == "APPROVE":
            ctx = context_from_facts(
                await self._facts(row[12], facts, policy.id), facts, policy, rules
            )
            scopes = eng.ledger_scopes(policy, facts, ctx)
        caller = current_request()
        rules_json = orjson.dumps(
            {"digest": rules.digest, "policies": [f"{policy.id}@{policy.version}"]}
        )
        inputs = orjson.dumps(
            {
                "request": {
                    "verdictId": verdict_id,
                    "outcome": f"OUTCOME_{outcome}",
                    "payableYen": str(amount),
                    "clauseIds": clause_ids,
                    "note": note or "",
                    "analyst": analyst,
                },
                "caller": caller.caller,
            }
        )

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
                full = replace(
                    ctx,
                    ledger={
                        k: eng.LedgerUsage(u.amount_yen, u.count, u.persons)
                        for k, u in usage.items()
                    },
                )
                decision = eng.evaluate(policy, facts, full)
                reservations = _reservations(_reservation_specs(policy, facts, full), amount)
                check_approval(amount, facts, decision, reservations, usage)
                entries = tuple(
                    LedgerEntry(r.scope_key, r.amount_yen, r.count, r.insured_person_ref)
                    for r in reservations
                )
                result["reservations"] = [
                    {
                        "scopeKey": r.scope_key,
                        "capIds": list(r.cap_ids),
                        "amountYen": str(r.amount_yen),
                        "count": r.count,
                        "limitYen": None if r.limit_yen is None else str(r.limit_yen),
                        "maxCount": r.max_count,
                        "usedYenBefore": str(usage[r.scope_key].amount_yen)
                        if r.scope_key in usage
                        else "0",
                    }
                    for r in reservations
                ]
                result["computedYen"] = str(decision.computation.payable)
                result["reevaluatedOutcome"] = decision.outcome.value
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
                clause_ids=tuple(clause_ids),
                inputs=inputs,
                result=orjson.dumps(result),
                request_id=caller.request_id,
                caller=caller.caller,
                refers_to=original.id,
            )
            return ResolutionWrite(record, entries)

        row = await self._store.resolve_review(verdict_id, scopes, resolve)
        return conv.entry_pb(row)
