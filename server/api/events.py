"""anshin.v1.EventService: reports and the bulk stream (use case record_events),
and what the recorded events say now (use case event_queries)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from anshin.v1 import events_pb2, events_pb2_grpc
from server.api.handlers import Registry, register_with
from server.clock import Clock
from server.usecases.event_queries import EventQueries
from server.usecases.record_events import RecordEvents
from server.wire import events as wire


def register_event_service(service: EventService, server: Registry) -> None:
    """Add the EventService with IngestEvents receiving undecoded messages:
    decoding a large stream message is work the bulk worker processes can do;
    every other method keeps the generated (de)serializers."""
    register_with(
        events_pb2_grpc.add_EventServiceServicer_to_server,
        service,
        server,
        {
            "IngestEvents": grpc.stream_unary_rpc_method_handler(
                service.IngestEvents,
                request_deserializer=None,
                response_serializer=events_pb2.IngestEventsResponse.SerializeToString,
            )
        },
    )


class EventService(events_pb2_grpc.EventServiceServicer):
    def __init__(self, record: RecordEvents, queries: EventQueries, clock: Clock) -> None:
        self._record = record
        self._queries = queries
        self._clock = clock

    async def ReportRegistration(
        self, request: events_pb2.ReportRegistrationRequest, context: object
    ) -> events_pb2.EventAck:
        return await self._record.report("registration", request)

    async def ReportPaymentLogin(
        self, request: events_pb2.ReportPaymentLoginRequest, context: object
    ) -> events_pb2.EventAck:
        return await self._record.report("payment_login", request)

    async def ReportActivation(
        self, request: events_pb2.ReportActivationRequest, context: object
    ) -> events_pb2.EventAck:
        return await self._record.report("activation", request)

    async def ReportMonitoringEvent(
        self, request: events_pb2.ReportMonitoringEventRequest, context: object
    ) -> events_pb2.EventAck:
        return await self._record.report("monitoring", request)

    async def ReportEnrolment(
        self, request: events_pb2.ReportEnrolmentRequest, context: object
    ) -> events_pb2.EventAck:
        return await self._record.report("enrolment", request)

    async def IngestEvents(  # undecoded messages: see register_event_service
        self, request_iterator: AsyncIterator[bytes], context: object
    ) -> events_pb2.IngestEventsResponse:
        return await self._record.ingest(request_iterator)

    async def GetCoverage(
        self, request: events_pb2.GetCoverageRequest, context: object
    ) -> events_pb2.GetCoverageResponse:
        customer, as_of = wire.coverage_query(request, self._clock())
        coverage = await self._queries.coverage(customer, request.policy_id, as_of)
        return wire.coverage_response(coverage, request.policy_id)

    async def GetSecurityStandard(
        self, request: events_pb2.GetSecurityStandardRequest, context: object
    ) -> events_pb2.GetSecurityStandardResponse:
        customer, service, token, before = wire.security_standard_query(request, self._clock())
        regs, logins = await self._queries.security_standard(customer, service, token, before)
        return wire.security_standard_response(regs, logins)

    async def GetAlerts(
        self, request: events_pb2.GetAlertsRequest, context: object
    ) -> events_pb2.GetAlertsResponse:
        customer, token, before = wire.alerts_query(request, self._clock())
        return wire.alerts_response(await self._queries.alerts(customer, token, before))
