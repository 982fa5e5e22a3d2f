"""anshin.v1.VerdictLogService: find and read log entries (use case
find_verdicts), work the REVIEW queue (use case reviews)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

import grpc

from anshin.v1 import verdicts_pb2, verdicts_pb2_grpc
from server.api.handlers import Registry, register_with
from server.clock import Clock
from server.usecases.find_verdicts import FindVerdicts
from server.usecases.reviews import Reviews
from server.wire import pages
from server.wire import verdict_requests as wire
from server.wire.verdicts import entry_pb


def register_verdict_log_service(service: VerdictLogService, server: Registry) -> None:
    """Add the VerdictLogService with QueryVerdicts sending pre-encoded pages."""
    register_with(
        verdicts_pb2_grpc.add_VerdictLogServiceServicer_to_server,
        service,
        server,
        {
            "QueryVerdicts": grpc.unary_stream_rpc_method_handler(
                service.QueryVerdicts,
                request_deserializer=verdicts_pb2.QueryVerdictsRequest.FromString,
                response_serializer=None,  # the pages are encoded bytes already
            )
        },
    )


class VerdictLogService(verdicts_pb2_grpc.VerdictLogServiceServicer):
    def __init__(self, find: FindVerdicts, reviews: Reviews, clock: Clock) -> None:
        self._find = find
        self._reviews = reviews
        self._clock = clock

    async def QueryVerdicts(  # encoded pages: see register_verdict_log_service
        self, request: verdicts_pb2.QueryVerdictsRequest, context: object
    ) -> AsyncIterator[bytes]:
        query = wire.verdict_query(request)
        # Closed with this stream (a caller gone, max_pages reached): the
        # batch read ahead is cancelled at once, not when collected.
        async with aclosing(self._find.pages(query, wire.logged_request(request))) as found:
            async for page in found:
                yield page

    async def GetVerdict(
        self, request: verdicts_pb2.GetVerdictRequest, context: object
    ) -> verdicts_pb2.VerdictEntry:
        row = await self._find.get(wire.verdict_id(request), wire.logged_request(request))
        return entry_pb(row)

    async def ListReviews(
        self, request: verdicts_pb2.ListReviewsRequest, context: object
    ) -> AsyncIterator[verdicts_pb2.ReviewItem]:
        query = wire.review_query(request)
        rows, more = await self._reviews.open_reviews(query, wire.logged_request(request))
        for item in pages.review_items(rows, more, query.key):
            yield item

    async def ResolveReview(
        self, request: verdicts_pb2.ResolveReviewRequest, context: object
    ) -> verdicts_pb2.VerdictEntry:
        now = self._clock()
        row = await self._reviews.resolve(wire.resolution(request), now)
        return entry_pb(row)
