"""``anshin ops reload | status``: operate a running server (OperatorService)."""

from __future__ import annotations

import argparse
from typing import Any

from server.cli.channel import add_server_args, open_channel
from server.cli.output import View, add_output_arg, emit_one
from server.cli.render import SECONDS, format_instant, rpc_exit
from server.cli.table import Column

STATUS = View(
    columns=(
        Column("server version", keep=True),
        Column("pid", keep=True, right=True),
        Column("rules digest", keep=True),
        Column("loaded (JST)", keep=True),
        Column("release data"),
        Column("stale"),
        Column("reload failures", keep=True, right=True),
        Column("log", keep=True),
    ),
    row=lambda r: [
        getattr(r, "server_version", "") or "-",
        str(r.pid),
        r.rules_digest,
        format_instant(r.rules_loaded_at, SECONDS),
        "\n".join(r.release_data) or "-",
        " ".join(r.stale_products) or "-",
        str(r.reload_failures),
        "read-only" if r.log_integrity.read_only else "ok",
    ],
)
RELOAD = View(
    columns=(
        Column("changed", keep=True),
        Column("previous digest", keep=True),
        Column("digest", keep=True),
        Column("loaded (JST)", keep=True),
        Column("directory"),
        Column("release data"),
    ),
    row=lambda r: [
        "yes" if r.changed else "no",
        r.previous_digest,
        r.digest,
        format_instant(r.loaded_at, SECONDS),
        r.directory,
        "\n".join(r.release_data) or "-",
    ],
)


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
                emit_one(resp, ns.output, table=RELOAD)
            else:
                resp = stub.GetStatus(operator_pb2.GetStatusRequest(), timeout=ns.timeout)
                emit_one(resp, ns.output, table=STATUS)
        except grpc.RpcError as exc:
            return rpc_exit(exc, ns)
    return 0


def add_parser(sub: Any) -> None:
    o = sub.add_parser("ops", help="operate a running server (role: operator)")
    osub = o.add_subparsers(dest="ops_command", required=True)
    r = osub.add_parser("reload", help="reload rules, matrix and release data (like SIGHUP)")
    r.add_argument("--validate-only", action="store_true", help="load and check, do not swap")
    st = osub.add_parser("status", help="version, rules digest, release data of one process")
    for p in (r, st):
        add_output_arg(p)
        add_server_args(p, timeout=60.0)
        p.set_defaults(func=run)
