"""anshin.v1.EventService: judge each reported event at once and keep it.

Idempotency (AIP-155): the same client_event_id with the same payload gets
the first reply back (``replayed``) and stores nothing; with another payload
it is ALREADY_EXISTS naming the id. The store decides this inside its write
transaction, so concurrent retries of one id cannot both be stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import grpc
import orjson
import uuid_utils
from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp

from anshin.v1 import events_pb2, events_pb2_grpc
from checks import event_model as em
from checks.coverage import monitoring_state, policy_periods
from checks.event_acks import judge_event
from server import validate
from server.clock import Clock, to_us
from server.convert import events as conv
from server.errors import ConflictError, ValidationError, Violation, Violations
from server.pii import PhoneHasher, contains_pan
from server.request_context import current_request
from server.ruleset_holder import RulesHolder
from server.store.ports import Store
from server.store.records import EventRow

if TYPE_CHECKING:
    from server.bulk import BulkPool

Converter = Callable[..., conv.ConvertedEvent]
BatchResult = tuple[list[tuple[int, EventRow]], list[tuple[int, str, str, str]], int]


def _decode(raw: bytes) -> events_pb2.IngestEventsRequest:
    try:
        return events_pb2.IngestEventsRequest.FromString(raw)
    except DecodeError as exc:
        raise ValidationError([Violation("events", "not a valid IngestEventsRequest")]) from exc


def register_event_service(service: EventService, server: grpc.aio.Server) -> None:
    """Add the EventService with IngestEvents receiving undecoded messages.

    Decoding a large stream message is work the bulk worker processes can do;
    every other method keeps the generated (de)serializers.
    """

    class _Capture:
        def __init__(self) -> None:
            self.name = ""
            self.handlers: dict[str, Any] = {}

        def add_generic_rpc_handlers(self, _: object) -> None:
            pass

        def add_registered_method_handlers(self, name: str, handlers: dict[str, Any]) -> None:
            self.name, self.handlers = name, dict(handlers)

    capture = _Capture()
    events_pb2_grpc.add_EventServiceServicer_to_server(service, capture)
    handlers = capture.handlers
    handlers["IngestEvents"] = grpc.stream_unary_rpc_method_handler(
        service.IngestEvents,
        request_deserializer=None,
        response_serializer=events_pb2.IngestEventsResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(capture.name, handlers),))
    server.add_registered_method_handlers(capture.name, handlers)


_BULK_CHUNK = 1000

_ONEOF = {
    "registration": conv.registration,
    "payment_login": conv.payment_login,
    "activation": conv.activation,
    "monitoring": conv.monitoring,
    "enrolment": conv.enrolment,
}


def _ts(us: int) -> Timestamp:
    ts = Timestamp()
    ts.FromMicroseconds(us)
    return ts


class EventService(events_pb2_grpc.EventServiceServicer):
    def __init__(
        self,
        store: Store,
        rules: RulesHolder,
        clock: Clock,
        hasher: PhoneHasher,
        bulk_pool: BulkPool | None = None,
    ) -> None:
        self._store = store
        self._rules = rules
        self._clock = clock
        self._hasher = hasher
        self._wire_cache: dict[int, tuple[tuple[object, ...], bytes]] = {}
        self._bulk_pool: BulkPool | None = bulk_pool

    # -- building rows -----------------------------------------------------

    def _judgements_wire(self, ev: conv.ConvertedEvent) -> bytes:
        """Field 4 (judgements) of EventAck in wire form, built once per distinct result.

        Judging is memoised (checks.event_acks), so identical facts return the
        very same tuple; its serialized form is cached by identity.
        """
        judgements = judge_event(ev.event, self._rules.current.events)
        hit = self._wire_cache.get(id(judgements))
        if hit is not None and hit[0] is judgements:
            return hit[1]
        wire: bytes = events_pb2.EventAck(
            judgements=[conv.clause_result(j) for j in judgements]
        ).SerializeToString(deterministic=True)
        if len(self._wire_cache) >= 4096:
            self._wire_cache.clear()
        self._wire_cache[id(judgements)] = (judgements, wire)
        return wire

    def _row(
        self, ev: conv.ConvertedEvent, now: datetime, origin: tuple[str, str] | None = None
    ) -> EventRow:
        recorded_us = to_us(now)
        # Protobuf fields concatenate: the head (id, time) + the cached judgements
        # is exactly the serialization of the whole EventAck.
        head = events_pb2.EventAck(
            event_id=str(uuid_utils.uuid7()), recorded_at=_ts(recorded_us)
        ).SerializeToString(deterministic=True)
        if origin is None:
            ctx = current_request()
            origin = (ctx.request_id, ctx.caller)
        return EventRow(
            client_event_id=ev.event.client_event_id,
            kind=ev.kind,
            customer_id=ev.event.customer_id,
            subject=ev.subject,
            event_us=to_us(ev.event.event_time),
            recorded_us=recorded_us,
            fingerprint=ev.fingerprint,
            payload=orjson.dumps(ev.payload),
            reply_head=head,
            judgements=self._judgements_wire(ev),
            request_id=origin[0],
            caller=origin[1],
        )

    @staticmethod
    def _outcome(row: EventRow, inserted: bool, stored: EventRow) -> bool:
        """True for a first delivery, False for a replay; ConflictError otherwise."""
        if inserted:
            return True
        if stored.fingerprint == row.fingerprint:
            return False
        raise ConflictError(
            f"client_event_id {row.client_event_id} was already used for a different event"
        )

    async def _report(self, convert: Converter, request: object) -> events_pb2.EventAck:
        now = self._clock()
        ev = convert(request, now, self._hasher)
        row = self._row(ev, now)
        ((inserted, stored),) = await self._store.record_events([row])
        first = self._outcome(row, inserted, stored)
        ack = events_pb2.EventAck.FromString(stored.reply)
        ack.replayed = not first
        return ack

    async def ReportRegistration(self, request, context):  # type: ignore[no-untyped-def]
        return await self._report(conv.registration, request)

    async def ReportPaymentLogin(self, request, context):  # type: ignore[no-untyped-def]
        return await self._report(conv.payment_login, request)

    async def ReportActivation(self, request, context):  # type: ignore[no-untyped-def]
        return await self._report(conv.activation, request)

    async def ReportMonitoringEvent(self, request, context):  # type: ignore[no-untyped-def]
        return await self._report(conv.monitoring, request)

    async def ReportEnrolment(self, request, context):  # type: ignore[no-untyped-def]
        return await self._report(self._converter("enrolment"), request)

    def _converter(self, which: str) -> Converter:
        """The converter of one event kind; an enrolment is checked against the
        policies of the rules in force (the policy files, not a list in code)."""
        if which == "enrolment":
            return partial(conv.enrolment, policy_ids=self._rules.current.policies.policies)
        return _ONEOF[which]

    # -- bulk ----------------------------------------------------------------

    async def IngestEvents(
        self, request_iterator: AsyncIterator[bytes], context: object
    ) -> events_pb2.IngestEventsResponse:
        resp = events_pb2.IngestEventsResponse()
        pending: list[tuple[int, EventRow]] = []
        inflight: asyncio.Future[None] | None = None

        async def flush(batch: list[tuple[int, EventRow]]) -> None:
            results = await self._store.record_events([r for _, r in batch])
            for (index, row), (inserted, stored) in zip(batch, results, strict=True):
                try:
                    first = self._outcome(row, inserted, stored)
                except ConflictError as exc:
                    resp.rejected.add(
                        index=index,
                        client_event_id=row.client_event_id,
                        code="ALREADY_EXISTS",
                        message=str(exc),
                    )
                    continue
                if first:
                    resp.accepted += 1
                else:
                    resp.replayed += 1

        base = 0  # stream position of the next message's first event
        ctx = current_request()
        origin = (ctx.request_id, ctx.caller)
        converting: list[asyncio.Future[BatchResult]] = []

        async def take(result: BatchResult) -> None:
            nonlocal base, pending, inflight
            rows, rejects, count = result
            pending.extend((base + offset, row) for offset, row in rows)
            for offset, r_id, r_code, r_message in rejects:
                resp.rejected.add(
                    index=base + offset, client_event_id=r_id, code=r_code, message=r_message
                )
            base += count
            if len(pending) >= _BULK_CHUNK:
                # One chunk is written while the next is judged; at most one in flight.
                if inflight is not None:
                    await inflight
                inflight = asyncio.ensure_future(flush(pending))
                pending = []

        async for raw in request_iterator:
            # The stream arrives undecoded (see register_event_service): with a
            # worker pool, another process decodes and judges it while this one
            # receives and writes; results are taken in stream order.
            now = self._clock()
            if self._bulk_pool is not None:
                converting.append(self._bulk_pool.convert(raw, now, origin))
                if len(converting) > 2:
                    await take(await converting.pop(0))
            else:
                await take(self.convert_batch(_decode(raw), now, origin))
        for fut in converting:
            await take(await fut)
        if inflight is not None:
            await inflight
        if pending:
            await flush(pending)
        return resp

    def convert_batch(
        self,
        message: events_pb2.IngestEventsRequest,
        now: datetime,
        origin: tuple[str, str],
    ) -> BatchResult:
        """Validate, judge and build the rows of one stream message (pure but for uuid7).

        Positions are offsets within the message; the caller adds the message's
        position on the stream.
        """
        rows: list[tuple[int, EventRow]] = []
        rejects: list[tuple[int, str, str, str]] = []
        convert = {which: self._converter(which) for which in _ONEOF}
        for index, item in enumerate(message.events):
            which = item.WhichOneof("event")
            if which is None:
                rejects.append(
                    (
                        index,
                        "",
                        "INVALID_ARGUMENT",
                        "event: one of registration, payment_login, activation, "
                        "monitoring, enrolment is required",
                    )
                )
                continue
            body = getattr(item, which)
            try:
                ev = convert[which](body, now, self._hasher)
            except ValidationError as exc:
                event_id = body.header.client_event_id
                rejects.append(
                    (
                        index,
                        "" if contains_pan(event_id) else event_id[:64],
                        "INVALID_ARGUMENT",
                        str(exc),
                    )
                )
                continue
            rows.append((index, self._row(ev, now, origin)))
        return rows, rejects, len(message.events)

    # -- queries -------------------------------------------------------------

    async def _events(
        self, customer: str, kinds: tuple[str, ...], as_of: datetime
    ) -> list[conv.Event]:
        rows = await self._store.events_of(customer, kinds, to_us(as_of))
        return [conv.event_from_payload(kind, orjson.loads(payload)) for kind, payload in rows]

    def _query_args(
        self, customer_id: str, ts: Timestamp, present: bool, field: str
    ) -> tuple[str, datetime]:
        now = self._clock()
        v = Violations()
        customer = validate.identifier(v, "customer_id", customer_id)
        at = (
            validate.instant(
                v, field, ts, present, required=False, now=now, allow_future=timedelta(days=3660)
            )
            or now
        )
        v.raise_if_any()
        assert customer is not None
        return customer, at

    async def GetCoverage(
        self, request: events_pb2.GetCoverageRequest, context: object
    ) -> events_pb2.GetCoverageResponse:
        customer, as_of = self._query_args(
            request.customer_id, request.as_of, request.HasField("as_of"), "as_of"
        )
        policies = self._rules.current.policies.policies
        policy = policies.get(request.policy_id)
        if policy is None:
            raise ValidationError([Violation("policy_id", f"one of {', '.join(sorted(policies))}")])
        # Built as a claim builds them (server/claim_context.py), from the events
        # the policy file's [cover] names; with the start delay applied (JPE-P1).
        resp = events_pb2.GetCoverageResponse()
        if policy.cover is None:
            return resp  # no clause of the policy reads a coverage period
        kinds = tuple(kind for kind, _ in policy.cover.reads)
        events = await self._events(customer, kinds, as_of)
        acts = [e for e in events if isinstance(e, em.Activation)]
        enrols = [e for e in events if isinstance(e, em.Enrolment) and e.policy_id == policy.id]
        periods = policy_periods(policy.cover, acts, enrols, as_of)
        for p in periods:
            out = resp.periods.add(clause_ids=p.clause_ids, basis=p.basis)
            out.starts_at.FromDatetime(p.starts_at)
            if p.ends_at is not None:
                out.ends_at.FromDatetime(p.ends_at)
        return resp

    async def GetSecurityStandard(
        self, request: events_pb2.GetSecurityStandardRequest, context: object
    ) -> events_pb2.GetSecurityStandardResponse:
        customer, before = self._query_args(
            request.customer_id, request.before, request.HasField("before"), "before"
        )
        v = Violations()
        service = validate.identifier(v, "payment_service_id", request.payment_service_id)
        token = (
            validate.identifier(v, "instrument_token", request.instrument_token, required=False)
            or ""
        )
        v.raise_if_any()
        reg_prefix = f"{service}/{token}" if token else f"{service}/"
        regs = await self._store.event_replies(
            customer,
            "registration",
            reg_prefix,
            to_us(before),
        )
        logins = await self._store.event_replies(
            customer,
            "payment_login",
            f"{service}/",
            to_us(before),
        )
        return events_pb2.GetSecurityStandardResponse(
            registrations=[events_pb2.EventAck.FromString(r) for r in regs],
            logins=[events_pb2.EventAck.FromString(r) for r in logins],
        )

    async def GetAlerts(
        self, request: events_pb2.GetAlertsRequest, context: object
    ) -> events_pb2.GetAlertsResponse:
        customer, before = self._query_args(
            request.customer_id, request.before, request.HasField("before"), "before"
        )
        v = Violations()
        token = validate.identifier(v, "card_token", request.card_token)
        v.raise_if_any()
        assert token is not None
        events = [
            e
            for e in await self._events(customer, ("monitoring",), before)
            if isinstance(e, em.MonitoringEvent)
        ]
        state = monitoring_state(events, token, before - timedelta(microseconds=1))
        resp = events_pb2.GetAlertsResponse()
        if state.registered_at is not None:
            resp.registered_at.FromDatetime(state.registered_at)
        for at in state.alerts_delivered_at:
            resp.alerts_delivered_at.add().FromDatetime(at)
        return resp
