"""``anshin health``: the standard ``grpc.health.v1`` check; exit 0 when
SERVING, 1 when not (``exit_codes``). ``--list``: every service's status
(``Health/List``)."""

from __future__ import annotations

import argparse
from typing import Any

from server.cli.channel import add_server_args, open_channel
from server.cli.exit_codes import Exit
from server.cli.output import View, add_output_arg, emit_rows
from server.cli.render import rpc_exit
from server.cli.table import Column


def _status_name(value: int) -> str:
    from grpc_health.v1 import health_pb2

    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(value))


SERVICES = View(
    columns=(Column("service", keep=True), Column("status", keep=True)),
    row=lambda item: [item[0] or "(server)", _status_name(item[1].status)],
)


def _entry_dict(item: Any) -> dict[str, Any]:
    from server.cli.output import message_dict

    return {"service": item[0], **message_dict(item[1])}


def run(ns: argparse.Namespace) -> int:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    serving = health_pb2.HealthCheckResponse.SERVING
    with open_channel(ns) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            if ns.list:
                resp = stub.List(health_pb2.HealthListRequest(), timeout=ns.timeout)
                items = sorted(resp.statuses.items())
                emit_rows(items, ns.output, SERVICES, to_dict=_entry_dict)
                ok = all(s.status == serving for _, s in items)
                return int(Exit.OK if ok else Exit.NEGATIVE)
            one = stub.Check(health_pb2.HealthCheckRequest(service=ns.service), timeout=ns.timeout)
        except grpc.RpcError as exc:
            return rpc_exit(exc, ns)
    if ns.output == "table":
        print(_status_name(one.status))  # one word, as scripts and probes read it
    else:
        emit_rows([(ns.service, one)], ns.output, SERVICES, to_dict=_entry_dict)
    return int(Exit.OK if one.status == serving else Exit.NEGATIVE)


def add_parser(sub: Any) -> None:
    h = sub.add_parser("health", help="ask a server's grpc.health.v1 service")
    h.add_argument("--service", default="", help="one service (default: the server)")
    h.add_argument("--list", action="store_true", help="every service's status (Health/List)")
    add_output_arg(h)
    add_server_args(h, timeout=3.0)
    h.set_defaults(func=run)
