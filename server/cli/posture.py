"""``anshin posture CUSTOMER``: the latest posture verdict of each of a
customer's devices, as the server holds it (PostureService/GetPosture).

Read-only: nothing is recorded. ``--as-of`` takes an instant with its UTC
offset, or a plain date meaning JST midnight (``server.cli.args.instant_or_date``).
"""

from __future__ import annotations

import argparse
from typing import Any

from server.cli.args import instant_or_date, timestamp
from server.cli.channel import add_server_args, open_channel
from server.cli.output import View, add_output_arg, emit_rows
from server.cli.render import SECONDS, format_instant, rpc_exit
from server.cli.table import Column


def _name(enum: Any, value: int, prefix: str) -> str:
    return str(enum.Name(value)).removeprefix(prefix)


def device_row(d: Any) -> list[str]:
    from anshin.v1 import common_pb2, posture_pb2

    # NOT_APPLICABLE is not a failure (the check does not apply to this
    # device): only what did not pass where it applied is listed.
    passed = (common_pb2.CHECK_STATUS_PASS, common_pb2.CHECK_STATUS_NOT_APPLICABLE)
    failing = [
        f"{c.check_id} {_name(common_pb2.CheckStatus, c.status, 'CHECK_STATUS_')}"
        for c in d.checks
        if c.status not in passed
    ]
    return [
        d.device_id,
        _name(posture_pb2.PostureVerdict, d.verdict, "POSTURE_VERDICT_"),
        format_instant(d.login_time, SECONDS),
        ", ".join(failing) or "-",
        d.verdict_id,
    ]


DEVICES = View(
    columns=(
        Column("device", keep=True),
        Column("verdict", keep=True),
        Column("login (JST)", keep=True),
        Column("checks not passed"),
        Column("verdict id", keep=True),
    ),
    row=device_row,
)


def run(ns: argparse.Namespace) -> int:
    import grpc

    from anshin.v1 import posture_pb2, posture_pb2_grpc

    req = posture_pb2.GetPostureRequest(customer_id=ns.customer, lookback_days=ns.lookback_days)
    if ns.as_of is not None:
        req.as_of.CopyFrom(timestamp(ns.as_of))
    with open_channel(ns) as channel:
        try:
            resp = posture_pb2_grpc.PostureServiceStub(channel).GetPosture(req, timeout=ns.timeout)
        except grpc.RpcError as exc:
            return rpc_exit(exc, ns)
    emit_rows(resp.devices, ns.output, DEVICES, footer=lambda n: f"{n} device(s)")
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser("posture", help="a customer's devices and their latest posture verdict")
    p.add_argument("customer", help="customer id")
    p.add_argument("--as-of", type=instant_or_date, help="instant, or a date = JST midnight")
    p.add_argument("--lookback-days", type=int, default=0, help="default: the rules' look-back")
    add_output_arg(p)
    add_server_args(p, timeout=30.0)
    p.set_defaults(func=run)
