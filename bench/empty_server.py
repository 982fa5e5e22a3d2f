"""The baseline: grpc.aio services whose handlers do nothing.

Same protos, same transport, same interpreter as Anshin; only the handlers
are empty (PostureService.CheckLogin and the unary EventService reports
return an empty response), so a ratio against it isolates what Anshin's
work costs, and its throughput is the ceiling any grpc.aio service reaches
on this machine. ``--processes N`` serves the port from N processes
(SO_REUSEPORT), the empty counterpart of ``anshin serve --workers N``.

    python bench/empty_server.py HOST:PORT [--processes N]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import signal

import grpc

from anshin.v1 import events_pb2, events_pb2_grpc, posture_pb2, posture_pb2_grpc


class EmptyPosture(posture_pb2_grpc.PostureServiceServicer):
    async def CheckLogin(self, request, context):
        return posture_pb2.CheckLoginResponse()


class EmptyEvents(events_pb2_grpc.EventServiceServicer):
    async def ReportRegistration(self, request, context):
        return events_pb2.EventAck()

    async def ReportPaymentLogin(self, request, context):
        return events_pb2.EventAck()

    async def ReportActivation(self, request, context):
        return events_pb2.EventAck()

    async def ReportMonitoringEvent(self, request, context):
        return events_pb2.EventAck()

    async def ReportEnrolment(self, request, context):
        return events_pb2.EventAck()


async def serve(listen: str, reuseport: bool) -> None:
    server = grpc.aio.server(options=[("grpc.so_reuseport", 1 if reuseport else 0)])
    posture_pb2_grpc.add_PostureServiceServicer_to_server(EmptyPosture(), server)
    events_pb2_grpc.add_EventServiceServicer_to_server(EmptyEvents(), server)
    server.add_insecure_port(listen)
    await server.start()
    print("ready", flush=True)
    await server.wait_for_termination()


def run(listen: str, reuseport: bool) -> None:
    asyncio.run(serve(listen, reuseport))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("listen")
    p.add_argument("--processes", type=int, default=1)
    ns = p.parse_args()
    if ns.processes == 1:
        run(ns.listen, False)
        return
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=run, args=(ns.listen, True)) for _ in range(ns.processes)]
    for proc in procs:
        proc.start()

    def stop(*_: object) -> None:
        for proc in procs:
            proc.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for proc in procs:
        proc.join()


if __name__ == "__main__":
    main()
