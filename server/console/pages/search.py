"""Search: QueryVerdicts' filters as a form, one page at a time.

The form becomes a QueryVerdictsRequest and goes through the same
validation (server/wire/verdict_requests.py) and the same use case as the
RPC: the same cursor (page token, bound to the filters and order), and the
read is recorded as QueryVerdicts records it."""

from __future__ import annotations

from collections.abc import Mapping

from google.protobuf.timestamp_pb2 import Timestamp
from starlette.requests import Request
from starlette.responses import Response

from anshin.v1 import verdicts_pb2
from server.errors import InvalidArgument
from server.wire import verdict_requests as wire
from timing.instants import InstantError, parse_instant

from ..web import begin, deps_of, field_errors, render

KINDS = {
    "login_posture": verdicts_pb2.VERDICT_KIND_LOGIN_POSTURE,
    "claim": verdicts_pb2.VERDICT_KIND_CLAIM,
    "review_resolution": verdicts_pb2.VERDICT_KIND_REVIEW_RESOLUTION,
    "analyst_access": verdicts_pb2.VERDICT_KIND_ANALYST_ACCESS,
}
OUTCOMES = ("APPROVE", "DENY", "REVIEW", "COMPLIANT", "NON_COMPLIANT", "UNKNOWN", "RECORDED")
PAGE_SIZES = (20, 50, 100, 200)
_RANGES = {
    "since": "subject_from",
    "until": "subject_until",
    "recorded_since": "recorded_from",
    "recorded_until": "recorded_until",
}
FIELDS = ("customer", "policy", "kind", "outcome", "clause", *_RANGES, "order", "size")


def query_request(
    params: Mapping[str, str], errors: dict[str, str]
) -> verdicts_pb2.QueryVerdictsRequest:
    """The form's values as the RPC's request (``errors``: what the form itself refuses)."""
    req = verdicts_pb2.QueryVerdictsRequest(
        customer_id=params.get("customer", "").strip(),
        policy_id=params.get("policy", "").strip().upper(),
        outcome=params.get("outcome", "").strip(),
        clause_id=params.get("clause", "").strip().upper(),
        oldest_first=params.get("order") == "oldest",
        page_token=params.get("page", ""),
        max_pages=1,
    )
    kind = params.get("kind", "")
    if kind:
        if kind in KINDS:
            req.kind = KINDS[kind]
        else:
            errors["kind"] = "unknown kind"
    try:  # the select offers PAGE_SIZES; any size the RPC takes is taken
        req.page_size = min(max(int(params.get("size") or 50), 1), wire.MAX_PAGE_SIZE)
    except ValueError:
        errors["size"] = "a whole number"
    for name, field in _RANGES.items():
        raw = params.get(name, "").strip()
        if not raw:
            continue
        try:
            at = parse_instant(raw)
        except InstantError as exc:
            errors[name] = str(exc)
            continue
        ts = Timestamp()
        ts.FromDatetime(at)
        getattr(req, field).CopyFrom(ts)
    return req


# Field names of the RPC's violations -> the form's.
_FORM_FIELD = {
    "customer_id": "customer",
    "policy_id": "policy",
    "clause_id": "clause",
    "page_token": "page",
    **{v: k for k, v in _RANGES.items()},
}


async def search(request: Request) -> Response:
    viewer = await begin(request, "search")
    deps = deps_of(request)
    params = {k: v for k, v in request.query_params.items() if k in (*FIELDS, "page")}
    errors: dict[str, str] = {}
    req = query_request(params, errors)
    entries: list[verdicts_pb2.VerdictEntry] = []
    next_token = ""
    try:  # the RPC's own validation, beside what the form refused itself
        query = wire.verdict_query(req)
    except InvalidArgument as exc:
        errors.update({_FORM_FIELD.get(k, k): v for k, v in field_errors(exc.violations).items()})
    else:
        if not errors:
            async for raw in deps.find.pages(query, wire.logged_request(req)):
                page = verdicts_pb2.VerdictPage.FromString(raw)
                entries.extend(page.entries)
                next_token = page.next_page_token
    filters = {k: v for k, v in params.items() if k != "page" and v}
    return render(
        request,
        "search.html",
        status=422 if errors else 200,
        viewer=viewer,
        params=params,
        filters=filters,
        errors=errors,
        entries=entries,
        next_token=next_token,
        paged=bool(params.get("page")),
        # The access log is offered only to the roles that read it (auditors).
        kinds=[k for k in KINDS if viewer.reads(k)],
        outcomes=OUTCOMES,
        sizes=PAGE_SIZES,
    )
