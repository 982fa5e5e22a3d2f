"""``anshin check-login``: build a CheckLoginRequest from flags, show the verdict
of a server (recorded in its log) or of ``--local`` rules (recorded nowhere)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server.cli.args import instant, timestamp
from server.cli.channel import add_server_args, open_channel
from server.cli.render import STATUS_STYLE, console, print_message, print_rpc_error

if TYPE_CHECKING:
    from anshin.v1 import posture_pb2

HINT_FIELDS = {
    "sec-ch-ua": "sec_ch_ua",
    "sec-ch-ua-full-version-list": "full_version_list",
    "sec-ch-ua-platform": "platform",
    "sec-ch-ua-platform-version": "platform_version",
    "sec-ch-ua-mobile": "mobile",
    "sec-ch-ua-model": "model",
}


def build_request(ns: argparse.Namespace) -> posture_pb2.CheckLoginRequest:
    from anshin.v1 import posture_pb2

    req = posture_pb2.CheckLoginRequest(
        customer_id=ns.customer,
        device_id=ns.device,
        user_agent=ns.ua,
        login_time=timestamp(ns.at or datetime.now(UTC)),
        token_status=posture_pb2.TokenStatus.Value(f"TOKEN_STATUS_{ns.token.upper()}"),
    )
    for line in ns.hint:
        name, _, value = line.partition(":")
        field = HINT_FIELDS.get(name.strip().lower())
        if field is None:
            raise SystemExit(f"--hint {line!r}: not a Sec-CH-UA header ({', '.join(HINT_FIELDS)})")
        setattr(req.client_hints, field, value.strip())
    if ns.av_product or ns.av_running or ns.av_updated_at or ns.wsc_state is not None:
        req.antivirus.product = ns.av_product or ""
        if ns.av_running:
            req.antivirus.running = ns.av_running == "true"
        if ns.av_updated_at:
            req.antivirus.signatures_updated_at.CopyFrom(timestamp(ns.av_updated_at))
        if ns.wsc_state is not None:
            req.antivirus.wsc_product_state = ns.wsc_state
    if ns.phishwall:
        req.phishwall.installed = ns.phishwall == "installed"
        req.phishwall.client_version = ns.phishwall_version
        req.phishwall.extension_version = ns.phishwall_extension_version
    if ns.touch_points is not None:
        req.max_touch_points = ns.touch_points
    return req


def evaluate_locally(
    req: posture_pb2.CheckLoginRequest, rules_dir: Path | None
) -> posture_pb2.CheckLoginResponse:
    """The verdict under ``rules_dir`` (default built-in), in-process; recorded nowhere."""
    from rules.load import load_rules
    from server.usecases.check_login import evaluate_unrecorded

    return evaluate_unrecorded(req, load_rules(rules_dir), datetime.now(UTC))


def render(resp: posture_pb2.CheckLoginResponse) -> None:
    from rich.table import Table

    from anshin.v1 import common_pb2, posture_pb2

    out = console()
    verdict = posture_pb2.PostureVerdict.Name(resp.verdict).removeprefix("POSTURE_VERDICT_")
    c = resp.client
    prec = common_pb2.Precision.Name
    out.print(f"[bold]verdict[/bold] {verdict}   id {resp.verdict_id}")
    out.print(
        f"client  {posture_pb2.ClientDescription.Kind.Name(c.kind).removeprefix('KIND_')}: "
        f"{c.browser} {c.browser_version} "
        f"({prec(c.browser_version_precision).removeprefix('PRECISION_')})"
        f" on {c.os} {c.os_version} ({prec(c.os_version_precision).removeprefix('PRECISION_')})"
        + (f"  in-app: {c.in_app}" if c.in_app else "")
        + (f"  bot: {c.bot}" if c.bot else "")
    )
    for note in c.notes:
        out.print(f"        note: {note}")
    r = resp.rules
    out.print(
        f"rules   digest {r.digest}  matrix {r.matrix_revision or '-'}  "
        f"releases {', '.join(r.release_data) or '-'}"
    )
    table = Table(show_lines=False)
    for col in ("check", "status", "clauses", "compared", "reason / 案内"):
        table.add_column(col)
    for chk in resp.checks:
        status = common_pb2.CheckStatus.Name(chk.status).removeprefix("CHECK_STATUS_")
        compared = "\n".join(
            f"{x.name}: {x.observed} vs {x.expected}"
            + (
                ""
                if x.precision in (0, common_pb2.PRECISION_EXACT)
                else f" [{prec(x.precision).removeprefix('PRECISION_').lower()}]"
            )
            for x in chk.compared
        )
        reason = chk.reason + (f"\n{chk.message_ja}" if chk.message_ja else "")
        table.add_row(
            chk.check_id,
            f"[{STATUS_STYLE.get(status, '')}]{status}[/]",
            " ".join(chk.clause_ids),
            compared,
            reason,
        )
    out.print(table)


def run(ns: argparse.Namespace) -> int:
    import grpc

    from anshin.v1 import posture_pb2_grpc

    req = build_request(ns)
    if ns.local:
        resp = evaluate_locally(req, ns.rules)
    else:
        with open_channel(ns) as channel:
            try:
                resp = posture_pb2_grpc.PostureServiceStub(channel).CheckLogin(
                    req, timeout=ns.timeout
                )
            except grpc.RpcError as exc:
                print_rpc_error(exc, ns.server)
                return 2
    if ns.json:
        print_message(resp)
    else:
        render(resp)
    return 0


def add_parser(sub: Any) -> None:
    c = sub.add_parser("check-login", help="judge one login's posture (HNB-P1..P3)")
    c.add_argument("--ua", required=True, help="the raw User-Agent")
    c.add_argument(
        "--hint",
        action="append",
        default=[],
        metavar="'Sec-CH-UA-…: value'",
        help="a client-hint header line as received (repeatable)",
    )
    c.add_argument("--at", type=instant, help="login instant (default now)")
    c.add_argument("--customer", default="cli-customer")
    c.add_argument("--device", default="cli-device")
    c.add_argument("--av-product")
    c.add_argument("--av-running", choices=["true", "false"])
    c.add_argument("--av-updated-at", type=instant)
    c.add_argument("--wsc-state", type=lambda s: int(s, 0), help="productState, e.g. 0x061000")
    c.add_argument("--phishwall", choices=["installed", "absent"])
    c.add_argument("--phishwall-version", default="")
    c.add_argument("--phishwall-extension-version", default="")
    c.add_argument(
        "--token",
        default="active",
        choices=["active", "reported_lost", "not_issued", "suspended", "unknown"],
    )
    c.add_argument("--touch-points", type=int)
    c.add_argument(
        "--local", action="store_true", help="evaluate in-process with --rules, record nothing"
    )
    c.add_argument("--rules", type=Path)
    c.add_argument("--json", action="store_true", help="print the reply as JSON")
    add_server_args(
        c, timeout=10.0, server_help="call this server (recorded in its log); default %(default)s"
    )
    c.set_defaults(func=run)
