"""``anshin ops reload | status``: operate a running server (OperatorService)."""

from __future__ import annotations

import argparse
from typing import Any

from server.cli.channel import add_server_args, open_channel
from server.cli.render import print_message, print_rpc_error


def run(ns: argparse.Namespace) -> int:
    import grpc

    from anshin.v1 import operator_pb2, operator_pb2_grpc

    with open_channel(ns) as channel:
        stub = operator_pb2_grpc.OperatorServiceStub(channel)
        try:
            if ns.ops_command == "reload":
                resp: Any = stub.ReloadRules(
                    operator_pb2.ReloadRulesRequest(validate_only=ns.validate_only),
                    timeout=ns.timeout,
                )
            else:
                resp = stub.GetStatus(operator_pb2.GetStatusRequest(), timeout=ns.timeout)
        except grpc.RpcError as exc:
            print_rpc_error(exc, ns.server)
            return 1
    print_message(resp)
    return 0


def add_parser(sub: Any) -> None:
    o = sub.add_parser("ops", help="operate a running server (role: operator)")
    osub = o.add_subparsers(dest="ops_command", required=True)
    r = osub.add_parser("reload", help="reload rules, matrix and release data (like SIGHUP)")
    r.add_argument("--validate-only", action="store_true", help="load and check, do not swap")
    st = osub.add_parser("status", help="rules digest, release data, last reload of one process")
    for p in (r, st):
        add_server_args(p, timeout=60.0)
        p.set_defaults(func=run)
