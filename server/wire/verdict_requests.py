"""VerdictLogService requests → what the verdict-log use cases take.

Every bad field is collected into one ``InvalidArgument``. Page tokens are
checked against the filters and order they were issued for (``pages``).
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from anshin.v1 import common_pb2, verdicts_pb2
from server.errors import Violations
from server.pii import contains_pan
from server.store.records import CLAUSE_ID, VerdictFilter
from server.wire import validate
from server.wire import verdicts as conv
from server.wire.pages import decode_token

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_NOTE_BYTES = 4000
_TIMESTAMP_SECONDS_MIN = -62135596800
_TIMESTAMP_SECONDS_MAX = 253402300799


def logged_request(request: Message) -> bytes:
    """A request as an access record keeps it (``inputs``)."""
    return orjson.dumps(json_format.MessageToDict(request))


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


def page_size(v: Violations, field: str, size: int) -> int:
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


@dataclass(frozen=True, slots=True)
class VerdictQuery:
    filter: VerdictFilter
    page_size: int
    max_pages: int  # 0: all
    after_seq: int | None  # where the page token resumes


def verdict_query(req: verdicts_pb2.QueryVerdictsRequest) -> VerdictQuery:
    v = Violations()
    f = query_filter(v, req)
    size = page_size(v, "page_size", req.page_size)
    if req.max_pages < 0:
        v.add("max_pages", "must not be negative")
    after = decode_token(v, req.page_token, "query", f.key())
    v.raise_if_any()
    return VerdictQuery(f, size, req.max_pages, after)


def verdict_id(req: verdicts_pb2.GetVerdictRequest) -> str:
    v = Violations()
    found = validate.identifier(v, "id", req.id)
    v.raise_if_any()
    assert found is not None
    return found


@dataclass(frozen=True, slots=True)
class ReviewQuery:
    policy_id: str | None
    customer_id: str | None
    page_size: int
    after_seq: int | None

    @property
    def key(self) -> tuple[str | None, str | None]:
        """What a page token of this queue is bound to."""
        return (self.policy_id, self.customer_id)


def review_query(req: verdicts_pb2.ListReviewsRequest) -> ReviewQuery:
    v = Violations()
    policy = _optional_id(v, "policy_id", req.policy_id)
    customer = _optional_id(v, "customer_id", req.customer_id)
    size = page_size(v, "page_size", req.page_size)
    after = decode_token(v, req.page_token, "reviews", (policy, customer))
    v.raise_if_any()
    return ReviewQuery(policy, customer, size, after)


@dataclass(frozen=True, slots=True)
class Resolution:
    """An analyst's resolution of a REVIEW decision, validated."""

    verdict_id: str
    analyst: str
    outcome: str  # APPROVE | DENY
    payable_yen: int
    clause_ids: tuple[str, ...]
    note: str

    def logged(self) -> dict[str, object]:
        """The request as the resolution's log entry records it."""
        return {
            "verdictId": self.verdict_id,
            "outcome": f"OUTCOME_{self.outcome}",
            "payableYen": str(self.payable_yen),
            "clauseIds": list(self.clause_ids),
            "note": self.note,
            "analyst": self.analyst,
        }


def resolution(req: verdicts_pb2.ResolveReviewRequest) -> Resolution:
    v = Violations()
    verdict = validate.identifier(v, "verdict_id", req.verdict_id)
    analyst = validate.identifier(v, "analyst", req.analyst)
    note = validate.text(v, "note", req.note, required=False, max_bytes=MAX_NOTE_BYTES)
    if note and contains_pan(note):
        v.add("note", "contains what looks like a card number: refer to cards by token")
        note = None
    outcome = {common_pb2.OUTCOME_APPROVE: "APPROVE", common_pb2.OUTCOME_DENY: "DENY"}.get(
        req.outcome
    )
    if outcome is None:
        v.add("outcome", "OUTCOME_APPROVE or OUTCOME_DENY")
    elif outcome == "APPROVE" and req.payable_yen <= 0:
        v.add("payable_yen", "an APPROVE pays a positive amount")
    elif outcome == "DENY" and req.payable_yen != 0:
        v.add("payable_yen", "a DENY pays nothing: 0")
    clause_ids: list[str] = []
    for i, c in enumerate(req.clause_ids):
        if CLAUSE_ID.match(c):
            clause_ids.append(c)
        else:
            v.add(f"clause_ids[{i}]", "not a clause id (e.g. HNB-X5)")
    if outcome == "DENY" and not req.clause_ids:
        v.add("clause_ids", "a DENY names the clauses it rests on")
    v.raise_if_any()
    assert verdict is not None and analyst is not None and outcome is not None
    return Resolution(
        verdict, analyst, outcome, int(req.payable_yen), tuple(clause_ids), note or ""
    )
