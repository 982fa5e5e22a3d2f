"""Charts of a recent window: outcomes per day per policy, the clauses that
decide DENY/REVIEW most, the review queue's age, payouts against each cap.

Read through the same use cases as the other pages (QueryVerdicts for the
claims and the resolutions of the window, ListReviews for the queue), so
the views are recorded like any other read; at most ``MAX_ENTRIES`` newest
entries of each are counted, and the page says when the window held more."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import orjson
from google.protobuf.timestamp_pb2 import Timestamp
from starlette.requests import Request
from starlette.responses import Response

from anshin.v1 import verdicts_pb2
from server.wire import pages
from server.wire import verdict_requests as wire

from .. import charts as ch
from ..web import ConsoleDeps, begin, deps_of, render

MAX_ENTRIES = 10_000
DAY_CHOICES = (7, 30, 90)


async def _entries(
    deps: ConsoleDeps, kind: int, since: Timestamp
) -> tuple[list[verdicts_pb2.VerdictEntry], bool]:
    """The newest entries of ``kind`` recorded since ``since``; whether more were left."""
    req = verdicts_pb2.QueryVerdictsRequest(
        kind=kind, page_size=1000, max_pages=MAX_ENTRIES // 1000
    )
    req.recorded_from.CopyFrom(since)
    out: list[verdicts_pb2.VerdictEntry] = []
    more = False
    async for raw in deps.find.pages(wire.verdict_query(req), wire.logged_request(req)):
        page = verdicts_pb2.VerdictPage.FromString(raw)
        out.extend(page.entries)
        more = bool(page.next_page_token)
    return out, more and len(out) >= MAX_ENTRIES


def _loads(text: str) -> Any:
    try:
        return orjson.loads(text) if text else {}
    except orjson.JSONDecodeError:
        return {}


async def charts_page(request: Request) -> Response:
    viewer = await begin(request, "charts")
    deps = deps_of(request)
    try:
        days = int(request.query_params.get("days", "30"))
    except ValueError:
        days = 30
    days = days if days in DAY_CHOICES else 30
    now = deps.clock()
    since = Timestamp()
    since.FromDatetime(now - timedelta(days=days))
    claims_raw, truncated = await _entries(deps, verdicts_pb2.VERDICT_KIND_CLAIM, since)
    resolutions, _ = await _entries(deps, verdicts_pb2.VERDICT_KIND_REVIEW_RESOLUTION, since)
    claims = [
        ch.Claim(e.recorded_at.ToDatetime(tzinfo=UTC), e.policy_id, e.outcome, tuple(e.clause_ids))
        for e in claims_raw
    ]
    uses: list[ch.CapUse] = []
    for e in claims_raw:
        if e.outcome == "APPROVE":
            uses += ch.cap_uses_of_claim(_loads(e.result_json), _loads(e.inputs_json))
    for e in resolutions:
        if e.outcome == "APPROVE":
            uses += ch.cap_uses_of_resolution(_loads(e.result_json))
    # The queue: oldest first, one page of up to 1000 (a ListReviews read).
    lreq = verdicts_pb2.ListReviewsRequest(page_size=1000)
    rows, _ = await deps.reviews.open_reviews(wire.review_query(lreq), wire.logged_request(lreq))
    opened = [
        i.decision.recorded_at.ToDatetime(tzinfo=UTC)
        for i in pages.review_items(rows, False, (None, None))
    ]
    daily = ch.per_day(claims)
    top = ch.top_clauses(claims)
    ages = ch.queue_ages(opened, now)
    caps = ch.cap_usage(uses)
    return render(
        request,
        "charts.html",
        viewer=viewer,
        days=days,
        day_choices=DAY_CHOICES,
        truncated=truncated,
        max_entries=MAX_ENTRIES,
        daily=daily,
        daily_svg={p: str(ch.stacked_days(p, d)) for p, d in daily.items()},
        top=top,
        top_svg=str(ch.hbars([(c, [("deny", d), ("review", r)]) for c, d, r in top], "top clauses"))
        if top
        else None,
        ages=ages,
        ages_svg=str(ch.hbars([(label, [("age", n)]) for label, n in ages], "queue age"))
        if any(n for _, n in ages)
        else None,
        caps=caps,
        caps_svg={cap: str(ch.cap_bars(cap, u)) for cap, u in caps.items()},
        open_count=len(opened),
    )
