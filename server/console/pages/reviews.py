"""The review queue (ListReviews) and resolving one (ResolveReview).

The queue is oldest first with each item's age, the amount claimed and
computed, the clauses asking for a human and the missing facts. The
resolution form posts APPROVE with an amount or DENY with the clauses it
rests on, and a note; the analyst is the authenticated viewer, never a form
field. A second resolution of the same decision is refused by the use case
(AlreadyExists) and the page says so, naming the resolution on record."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from anshin.v1 import common_pb2, verdicts_pb2
from server.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from server.wire import pages
from server.wire import verdict_requests as wire
from server.wire.verdicts import entry_pb, review_facts

from ..web import begin, check_post, deps_of, field_errors, render

MAX_YEN = 2**63 - 1  # ResolveReviewRequest.payable_yen is an int64


async def queue(request: Request) -> Response:
    viewer = await begin(request, "reviews")
    deps = deps_of(request)
    params = request.query_params
    req = verdicts_pb2.ListReviewsRequest(
        policy_id=params.get("policy", "").strip().upper(),
        customer_id=params.get("customer", "").strip(),
        page_size=100,
        page_token=params.get("page", ""),
    )
    errors: dict[str, str] = {}
    items: list[verdicts_pb2.ReviewItem] = []
    more = False
    try:
        query = wire.review_query(req)
    except InvalidArgument as exc:
        errors = field_errors(exc.violations)
    else:
        rows, more = await deps.reviews.open_reviews(query, wire.logged_request(req))
        items = pages.review_items(rows, more, query.key)
    now = deps.clock()
    return render(
        request,
        "reviews.html",
        status=422 if errors else 200,
        viewer=viewer,
        items=items,
        now=now,
        errors=errors,
        params=dict(params),
        next_token=items[-1].next_page_token if items and more else "",
        can_resolve=viewer.may("resolve"),
    )


async def _form_page(
    request: Request,
    verdict_id: str,
    status: int = 200,
    **extra: Any,
) -> Response:
    """The resolution form beside the decision it resolves (a GetVerdict read)."""
    viewer = request.state.viewer
    deps = deps_of(request)
    req = verdicts_pb2.GetVerdictRequest(id=verdict_id)
    try:
        row = await deps.find.get(wire.verdict_id(req), wire.logged_request(req))
    except (NotFound, InvalidArgument):
        return render(request, "error.html", 404, viewer, title_key="not_found", message=verdict_id)
    e = entry_pb(row)
    missing, review_clauses, computed = review_facts(e.result_json)
    try:
        clause_ids = list(deps.rules.current.policies.get(e.policy_id).clause_ids)
    except KeyError:
        clause_ids = []
    resolved_by = ""
    if e.kind == "claim" and e.outcome == "REVIEW":
        resolved_by = (await deps.store.resolutions_of([e.id])).get(e.id, "")
    return render(
        request,
        "resolve.html",
        status=status,
        viewer=viewer,
        e=e,
        missing=missing,
        review_clauses=review_clauses,
        computed=computed,
        clause_ids=clause_ids,
        resolved_by=resolved_by,
        **extra,
    )


async def resolve_form(request: Request) -> Response:
    await begin(request, "resolve")
    return await _form_page(request, request.path_params["verdict_id"])


async def resolve(request: Request) -> Response:
    viewer = await begin(request, "resolve")
    form = await check_post(request, viewer)
    deps = deps_of(request)
    verdict_id = request.path_params["verdict_id"]
    outcome = str(form.get("outcome", ""))
    amount_raw = str(form.get("amount", "")).replace(",", "").replace("¥", "").strip()
    errors: dict[str, str] = {}
    amount = 0
    if outcome == "APPROVE":
        try:
            amount = int(amount_raw)
        except ValueError:
            errors["amount"] = "a whole number of yen"
        else:
            if not -MAX_YEN <= amount <= MAX_YEN:  # the request's int64 cannot hold it
                errors["amount"] = f"too large: at most ¥{MAX_YEN:,}"
                amount = 0
    req = verdicts_pb2.ResolveReviewRequest(
        verdict_id=verdict_id,
        # The analyst is who is signed in: no form field can name another.
        analyst=viewer.identity,
        outcome={"APPROVE": common_pb2.OUTCOME_APPROVE, "DENY": common_pb2.OUTCOME_DENY}.get(
            outcome, common_pb2.OUTCOME_UNSPECIFIED
        ),
        payable_yen=amount if outcome == "APPROVE" else 0,
        clause_ids=[str(c) for c in form.getlist("clauses")] if outcome == "DENY" else [],
        note=str(form.get("note", "")),
    )
    values = {"outcome": outcome, "amount": amount_raw, "note": req.note, "clauses": req.clause_ids}
    if errors:
        return await _form_page(request, verdict_id, 422, errors=errors, values=values)
    try:
        row = await deps.reviews.resolve(wire.resolution(req), deps.clock())
    except InvalidArgument as exc:
        return await _form_page(
            request, verdict_id, 422, errors=field_errors(exc.violations), values=values
        )
    except AlreadyExists as exc:
        return await _form_page(
            request, verdict_id, 409, refusal=str(exc), already=True, values=values
        )
    except (FailedPrecondition, NotFound) as exc:
        return await _form_page(request, verdict_id, 409, refusal=str(exc), values=values)
    # Post/redirect/get: a reload shows the resolution, it cannot post twice.
    return RedirectResponse(f"/decisions/{entry_pb(row).id}?resolved=1", status_code=303)
