"""``anshin health``: the standard ``grpc.health.v1`` check; exit 0 when SERVING."""

from __future__ import annotations

import argparse
from typing import Any

from server.cli.channel import add_server_args, open_channel
from server.cli.render import print_rpc_error


def run(ns: argparse.Namespace) -> int:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with open_channel(ns) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            resp = stub.Check(health_pb2.HealthCheckRequest(service=ns.service), timeout=ns.timeout)
        except grpc.RpcError as exc:
            print_rpc_error(exc, ns.server)
            return 2
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
    print(status)
    return 0 if resp.status == health_pb2.HealthCheckResponse.SERVING else 1


def add_parser(sub: Any) -> None:
    h = sub.add_parser("health", help="ask a server's grpc.health.v1 service")
    h.add_argument("--service", default="")
    add_server_args(h, timeout=3.0)
    h.set_defaults(func=run)
