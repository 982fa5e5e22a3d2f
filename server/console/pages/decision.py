"""One log entry as a readable explanation (GetVerdict with its proof).

A claim: every clause with its result, the values compared, the Japanese
clause text and explanation; the amount's steps; the facts the decision
read (inputs.facts); a login: every posture check; a resolution: analyst,
note, reservations. Then where it sits in the log: seq, hashes, and the
inclusion proof under a signed checkpoint (or that it is pending)."""

from __future__ import annotations

import json
from typing import Any

import orjson
from google.protobuf import json_format
from starlette.requests import Request
from starlette.responses import Response

from anshin.v1 import claims_pb2, common_pb2, verdicts_pb2
from server.errors import InvalidArgument, NotFound
from server.log.receipt import Pending
from server.wire import verdict_requests as wire
from server.wire.verdicts import entry_pb

from ..format import jst, short_enum
from ..web import begin, deps_of, render


def _json(text: str) -> Any:
    try:
        return orjson.loads(text) if text else {}
    except orjson.JSONDecodeError:
        return {}


def _pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)


def facts_view(inputs: Any) -> dict[str, Any] | None:
    """The facts a claim decision read, laid out for reading (None: not recorded)."""
    facts = inputs.get("facts") if isinstance(inputs, dict) else None
    if not isinstance(facts, dict):
        return None
    events = []
    for item in facts.get("events") or []:
        if isinstance(item, list) and len(item) == 2 and isinstance(item[1], dict):
            kind, payload = item
            events.append(
                {"kind": kind, "at": payload.get("event_time", ""), "payload": _pretty(payload)}
            )
    ledger = [
        {"scope": scope, "amount": u[0], "count": u[1]}
        for scope, u in sorted((facts.get("ledger") or {}).items())
        if isinstance(u, list) and len(u) >= 2
    ]
    now_us = facts.get("now_us")
    return {
        "postures": [_pretty(p) for p in facts.get("postures") or []],
        "events": events,
        "ledger": ledger,
        "decided_at": jst(int(now_us), seconds=True) if isinstance(now_us, int) else "-",
    }


def clause_rows(claim: claims_pb2.EvaluateClaimResponse | None) -> list[dict[str, Any]]:
    if claim is None:
        return []
    return [
        {
            "c": c,
            "status": short_enum(common_pb2.CheckStatus.Name(c.status)),
            "effect": short_enum(common_pb2.Outcome.Name(c.effect)),
        }
        for c in claim.clauses
    ]


async def decision(request: Request) -> Response:
    viewer = await begin(request, "decision")
    deps = deps_of(request)
    verdict_id = request.path_params["verdict_id"]
    req = verdicts_pb2.GetVerdictRequest(id=verdict_id, include_proof=True)
    try:
        row = await deps.find.get(wire.verdict_id(req), wire.logged_request(req))
    except (NotFound, InvalidArgument):
        return render(request, "error.html", 404, viewer, title_key="not_found", message=verdict_id)
    e = entry_pb(row)
    proof = await deps.prove(int(row[0]))
    result = _json(e.result_json)
    inputs = _json(e.inputs_json)
    claim = None
    if e.kind == "claim":
        claim = claims_pb2.EvaluateClaimResponse()
        json_format.ParseDict(result, claim, ignore_unknown_fields=True)
    resolved_by = ""
    if e.kind == "claim" and e.outcome == "REVIEW":
        resolved_by = (await deps.store.resolutions_of([e.id])).get(e.id, "")
    request_json = inputs.get("request") if isinstance(inputs, dict) else None
    return render(
        request,
        "decision.html",
        viewer=viewer,
        e=e,
        claim=claim,
        clause_rows=clause_rows(claim),
        checks=result.get("checks", []) if e.kind == "login_posture" else [],
        resolution=result if e.kind == "review_resolution" else None,
        resolution_request=request_json if e.kind == "review_resolution" else None,
        facts=facts_view(inputs) if e.kind == "claim" else None,
        inputs_pretty=_pretty(inputs),
        pending=isinstance(proof, Pending),
        proof=None if isinstance(proof, Pending) else proof,
        resolved_by=resolved_by,
        just_resolved=request.query_params.get("resolved") == "1",
        can_resolve=viewer.may("resolve"),
    )
