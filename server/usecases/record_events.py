"""Record what payment apps and security-app vendors report: judge each event
at once and keep it (EventService's Report* calls and the IngestEvents stream).

Idempotency (AIP-155): the same client_event_id with the same payload gets
the first reply back (``replayed``) and stores nothing; with another payload
it is ``AlreadyExists`` naming the id. The store decides this inside its
write transaction, so concurrent retries of one id cannot both be stored.

``EventJudge`` is the pure part (validate, judge, build the stored row), the
same code in this process and in the bulk worker processes (server/bulk.py);
``RecordEvents`` writes what it built.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from functools import partial
from typing import Protocol

import orjson
import uuid_utils
from google.protobuf.message import Message

from anshin.v1 import events_pb2
from checks.event_acks import judge_event
from server.clock import Clock, to_us
from server.errors import AlreadyExists, InvalidArgument
from server.logs import get_logger
from server.pii import PhoneHasher, contains_pan
from server.request_context import current_request
from server.ruleset_holder import RulesHolder
from server.store.ports import EventLog
from server.store.records import EventRow
from server.usecases.rejections import RejectionTally
from server.wire import events as wire

log = get_logger("anshin.events")

# (stream offset, row) of the events a message holds, its rejects as
# (offset, client event id, status name, message), and its event count.
Reject = tuple[int, str, str, str]
BatchResult = tuple[list[tuple[int, EventRow]], list[Reject], int]
Converter = Callable[[Message, datetime, PhoneHasher], wire.ConvertedEvent]
Origin = tuple[str, str]  # (request id, caller)

BULK_CHUNK = 1000  # rows per write transaction of a stream
# Stream messages being converted ahead of the one written (bulk pool only).
CONVERT_AHEAD = 2
# What the caller is told about an event whose conversion failed unexpectedly
# (a bug, logged with its traceback): the rest of the stream goes on.
EVENT_FAULT = "the server could not judge this event (a server fault, logged); nothing was stored"


class EventJudge:
    """Validate, judge and build the rows of reported events (pure but for uuid7)."""

    def __init__(self, rules: RulesHolder, hasher: PhoneHasher) -> None:
        self._rules = rules
        self._hasher = hasher
        self._acks = wire.AckEncoder()

    def converter(self, kind: str) -> Converter:
        """The converter of one event kind; an enrolment is checked against the
        policies of the rules in force (the policy files, not a list in code)."""
        if kind == "enrolment":
            return partial(wire.enrolment, policy_ids=self._rules.current.policies.policies)
        return wire.CONVERTERS[kind]

    def convert(self, kind: str, message: Message, now: datetime) -> wire.ConvertedEvent:
        return self.converter(kind)(message, now, self._hasher)

    def row(self, ev: wire.ConvertedEvent, now: datetime, origin: Origin) -> EventRow:
        recorded_us = to_us(now)
        judgements = judge_event(ev.event, self._rules.current.events)
        return EventRow(
            client_event_id=ev.event.client_event_id,
            kind=ev.kind,
            customer_id=ev.event.customer_id,
            subject=ev.subject,
            event_us=to_us(ev.event.event_time),
            recorded_us=recorded_us,
            fingerprint=ev.fingerprint,
            payload=orjson.dumps(ev.payload),
            reply_head=self._acks.head(str(uuid_utils.uuid7()), recorded_us),
            judgements=self._acks.judgements(judgements),
            request_id=origin[0],
            caller=origin[1],
        )

    def convert_batch(
        self, message: events_pb2.IngestEventsRequest, now: datetime, origin: Origin
    ) -> BatchResult:
        """The rows and rejects of one stream message. Positions are offsets
        within the message; the caller adds the message's position on the stream."""
        rows: list[tuple[int, EventRow]] = []
        rejects: list[Reject] = []
        convert = {kind: self.converter(kind) for kind in wire.CONVERTERS}
        hasher = self._hasher
        for index, item in enumerate(message.events):
            which = item.WhichOneof("event")
            if which is None:
                rejects.append((index, "", "INVALID_ARGUMENT", wire.NO_EVENT))
                continue
            body = getattr(item, which)
            try:
                ev = convert[which](body, now, hasher)
                row = self.row(ev, now, origin)
            except InvalidArgument as exc:
                rejects.append((index, _shown_id(body), "INVALID_ARGUMENT", str(exc)))
                continue
            except Exception:
                # One event nobody foresaw must not take the stream (or, in a
                # bulk worker, the pool) with it: reject it, keep the rest.
                log.exception("ingest_event_fault", kind=which, offset=index)
                rejects.append((index, _shown_id(body), "INTERNAL", EVENT_FAULT))
                continue
            rows.append((index, row))
        return rows, rejects, len(message.events)

    def convert_raw(self, raw: bytes, now: datetime, origin: Origin) -> BatchResult:
        return self.convert_batch(wire.decode_ingest(raw), now, origin)


def _drop(fut: asyncio.Future[object] | asyncio.Future[None] | asyncio.Future[BatchResult]) -> None:
    """Cancel ``fut``, or take its error if it has one: the call ends with its
    own error, and asyncio must not log this one as never retrieved."""
    if not fut.done():
        fut.cancel()
    elif not fut.cancelled():
        fut.exception()


def _shown_id(body: Message) -> str:
    event_id = str(getattr(getattr(body, "header", None), "client_event_id", ""))
    return "" if contains_pan(event_id) else event_id[:64]


class BatchConverter(Protocol):
    """Converts stream messages elsewhere (server/bulk.py: worker processes)."""

    def convert(self, raw: bytes, now: datetime, origin: Origin) -> asyncio.Future[BatchResult]: ...


def first_delivery(row: EventRow, inserted: bool, stored: EventRow) -> bool:
    """True for a first delivery, False for a replay; ``AlreadyExists`` otherwise."""
    if inserted:
        return True
    if stored.fingerprint == row.fingerprint:
        return False
    raise AlreadyExists(
        f"client_event_id {row.client_event_id} was already used for a different event"
    )


class RecordEvents:
    def __init__(
        self,
        store: EventLog,
        judge: EventJudge,
        clock: Clock,
        pool: BatchConverter | None = None,
    ) -> None:
        self._store = store
        self._judge = judge
        self._clock = clock
        self._pool = pool

    async def report(self, kind: str, message: Message) -> events_pb2.EventAck:
        """One reported event: judged, stored (or found stored), acknowledged."""
        now = self._clock()
        ev = self._judge.convert(kind, message, now)
        ctx = current_request()
        row = self._judge.row(ev, now, (ctx.request_id, ctx.caller))
        ((inserted, stored),) = await self._store.record_events([row])
        first = first_delivery(row, inserted, stored)
        return wire.ack(stored.reply, replayed=not first)

    async def ingest(self, stream: AsyncIterator[bytes]) -> events_pb2.IngestEventsResponse:
        """A stream of undecoded IngestEventsRequest messages. With a worker
        pool, other processes decode and judge while this one receives and
        writes; results are taken in stream order, and one chunk is written
        while the next is judged. Rejections are summarised past the first
        ones (usecases/rejections.py), so the reply fits any default client."""
        accepted = replayed = 0
        rejected = RejectionTally()
        pending: list[tuple[int, EventRow]] = []
        inflight: asyncio.Future[None] | None = None
        store, judge, pool = self._store, self._judge, self._pool

        async def flush(batch: list[tuple[int, EventRow]]) -> None:
            nonlocal accepted, replayed
            results = await store.record_events([r for _, r in batch])
            for (index, row), (inserted, stored) in zip(batch, results, strict=True):
                try:
                    first = first_delivery(row, inserted, stored)
                except AlreadyExists as exc:
                    rejected.add((index, row.client_event_id, "ALREADY_EXISTS", str(exc)))
                    continue
                if first:
                    accepted += 1
                else:
                    replayed += 1

        base = 0  # stream position of the next message's first event
        ctx = current_request()
        origin = (ctx.request_id, ctx.caller)
        converting: list[asyncio.Future[BatchResult]] = []

        async def take(result: BatchResult) -> None:
            nonlocal base, pending, inflight
            rows, rejects, count = result
            pending.extend((base + offset, row) for offset, row in rows)
            rejected.extend([(base + o, event_id, code, msg) for o, event_id, code, msg in rejects])
            base += count
            if len(pending) >= BULK_CHUNK:
                # At most one chunk in flight.
                if inflight is not None:
                    await inflight
                inflight = asyncio.ensure_future(flush(pending))
                pending = []

        try:
            async for raw in stream:
                now = self._clock()
                if pool is not None:
                    converting.append(pool.convert(raw, now, origin))
                    if len(converting) > CONVERT_AHEAD:
                        await take(await converting.pop(0))
                else:
                    await take(judge.convert_raw(raw, now, origin))
            while converting:
                await take(await converting.pop(0))
            if inflight is not None:
                await inflight
                inflight = None
            if pending:
                await flush(pending)
        finally:
            # The call failed (a malformed message, the caller gone): batches
            # still converting are dropped, and a chunk being written finishes
            # — its rows are stored or not, a retry of the stream is idempotent.
            for fut in converting:
                _drop(fut)
            if inflight is not None:
                await asyncio.wait([inflight])
                _drop(inflight)
        return wire.ingest_response(
            accepted, replayed, rejected.listed(), rejected.total, rejected.counted()
        )
