"""anshin.v1.VerdictLogService: find and read log entries (use case
find_verdicts), work the REVIEW queue (use case reviews)."""

from __future__ import annotations

import asyncio
from contextlib import aclosing

import grpc

from anshin.v1 import verdicts_pb2, verdicts_pb2_grpc
from server.api.handlers import Registry, register_with
from server.clock import Clock
from server.logs import get_logger
from server.request_context import current_request
from server.security.stream_limits import StreamLimits
from server.usecases.find_verdicts import FindVerdicts
from server.usecases.prove_entry import ProveEntry
from server.usecases.reviews import Reviews
from server.wire import pages
from server.wire import verdict_requests as wire
from server.wire.verdicts import entry_pb, inclusion_proof_pb

log = get_logger("anshin.verdicts")


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
    def __init__(
        self,
        find: FindVerdicts,
        reviews: Reviews,
        clock: Clock,
        prove: ProveEntry,
        limits: StreamLimits | None = None,
    ) -> None:
        self._find = find
        self._reviews = reviews
        self._clock = clock
        self._prove = prove
        # Server streams' guards: streams per identity, read-ahead, idle time.
        self._limits = limits or StreamLimits()

    async def QueryVerdicts(  # encoded pages: see register_verdict_log_service
        self, request: verdicts_pb2.QueryVerdictsRequest, context: grpc.aio.ServicerContext
    ) -> None:
        query = wire.verdict_query(request)
        limits = self._limits
        with limits.slot(current_request().caller):
            stalled: asyncio.Future[None] | None = None
            # Closed with this stream (a caller gone, max_pages reached, the
            # reader idle): the batch read ahead is cancelled at once.
            found = self._find.pages(query, wire.logged_request(request), limits.batch_bytes)
            async with aclosing(found):
                async for page in found:
                    stalled = await self._send(context, page)
                    if stalled is not None:
                        break
            if stalled is not None:
                await self._end_idle(context, stalled)

    async def _send(
        self, context: grpc.aio.ServicerContext, message: object
    ) -> asyncio.Future[None] | None:
        """Send one message of a server stream: None once the reader has taken
        it, or the write still in flight when the reader took nothing for the
        idle time.

        ``context.write`` returns once gRPC has sent the message, which it
        does only as the reader's HTTP/2 flow-control window lets it, so a
        reader that stops reading stops the stream, which then holds this one
        message and the batch read ahead. (So does a handler's ``yield``, as
        measured with grpcio 1.85; issue 18's 8 GB came from batches of
        megabytes per stream, now sized by ``StreamLimits.batch_bytes``. The
        explicit write is what lets an idle reader be noticed.)"""
        write: asyncio.Future[None] = asyncio.ensure_future(context.write(message))
        try:
            done, _ = await asyncio.wait([write], timeout=self._limits.settings.idle_seconds)
        except BaseException:
            write.cancel()
            raise
        if done:
            _written(write)
            return None
        return write

    async def _end_idle(
        self, context: grpc.aio.ServicerContext, stalled: asyncio.Future[None]
    ) -> None:
        """End a stream whose reader went idle. Its reads and read-ahead are
        gone already; gRPC cannot send a status while a message is in flight
        (grpc.aio refuses the batch), so the status follows when the reader
        takes that message, or the call ends when the reader goes away. The
        stream keeps its slot until then: the reader still holds the message."""
        idle = self._limits.settings.idle_seconds
        log.info("stream_idle", idle_seconds=idle, hint="the reader took no data; stream ended")
        try:
            await asyncio.wait([stalled])
            _written(stalled)
        finally:
            stalled.cancel()
        await context.abort(
            grpc.StatusCode.DEADLINE_EXCEEDED,
            f"the reader took no data for {idle:g} s: stream ended",
        )

    async def GetVerdict(
        self, request: verdicts_pb2.GetVerdictRequest, context: object
    ) -> verdicts_pb2.VerdictEntry:
        row = await self._find.get(wire.verdict_id(request), wire.logged_request(request))
        entry = entry_pb(row)
        if request.include_proof:
            entry.inclusion_proof.CopyFrom(inclusion_proof_pb(await self._prove(int(row[0]))))
        return entry

    async def ListReviews(
        self, request: verdicts_pb2.ListReviewsRequest, context: grpc.aio.ServicerContext
    ) -> None:
        query = wire.review_query(request)
        with self._limits.slot(current_request().caller):
            rows, more = await self._reviews.open_reviews(query, wire.logged_request(request))
            for item in pages.review_items(rows, more, query.key):
                stalled = await self._send(context, item)
                if stalled is not None:
                    await self._end_idle(context, stalled)

    async def ResolveReview(
        self, request: verdicts_pb2.ResolveReviewRequest, context: object
    ) -> verdicts_pb2.VerdictEntry:
        now = self._clock()
        row = await self._reviews.resolve(wire.resolution(request), now)
        return entry_pb(row)


try:  # grpc's own error for a batch it could not execute (no public name)
    from grpc._cython.cygrpc import ExecuteBatchError as _WRITE_FAILED
except ImportError:  # pragma: no cover - another grpc build: any write failure
    _WRITE_FAILED = Exception


def _written(write: asyncio.Future[None]) -> None:
    """The outcome of a finished ``context.write``. A reader that went away
    while a message was in flight makes grpc fail the write's batch
    (``ExecuteBatchError``); that is the caller cancelling, not a server
    fault: it ends the stream as CANCELLED (no INTERNAL, no traceback)."""
    try:
        write.result()
    except _WRITE_FAILED:
        # grpc marks the call cancelled only after this error reaches us, so
        # context.cancelled() cannot tell; the failed batch itself says the
        # stream can no longer be written: nothing else fails a write.
        raise asyncio.CancelledError("the reader went away mid-write") from None
