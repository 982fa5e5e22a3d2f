"""``anshin check-login``: build a CheckLoginRequest from flags, show the verdict
of a server (recorded in its log) or of ``--local`` rules (recorded nowhere).

Against a server, ``--customer``, ``--device`` and ``--token`` are required:
the log records them as facts of the login, so none is made up. ``--local``
records nothing, and there they default to ``local-customer``,
``local-device`` and ``active``.

Exit status 0 whatever the verdict, unless ``--fail-on`` names it
(``--fail-on NON_COMPLIANT,UNKNOWN``: exit 1 then; ``exit_codes``).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server.cli.args import instant, timestamp
from server.cli.channel import add_server_args, open_channel
from server.cli.exit_codes import Exit, add_fail_on, decision_exit
from server.cli.failures import CommandFailed, Failure
from server.cli.output import View, add_output_arg, emit_one, emit_rows
from server.cli.render import OUTCOME_STYLE, console, rpc_exit, say
from server.cli.table import Column

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


VERDICTS = ("COMPLIANT", "NON_COMPLIANT", "UNKNOWN")
LOCAL_DEFAULTS = {"customer": "local-customer", "device": "local-device", "token": "active"}


def recorded_facts(ns: argparse.Namespace) -> None:
    """Fill ``--customer``/``--device``/``--token``: required against a server
    (they are recorded), placeholders with ``--local`` (nothing is)."""
    empty = [f"--{k}" for k in LOCAL_DEFAULTS if getattr(ns, k) is not None and not getattr(ns, k)]
    if empty:
        raise CommandFailed(
            Failure(
                Exit.USAGE,
                f"check-login: {', '.join(empty)} must not be empty",
                "give the ids the bank knows the customer and device by (the verdict records them)",
            )
        )
    missing = [f"--{k}" for k in LOCAL_DEFAULTS if getattr(ns, k) is None]
    if missing and not ns.local:
        raise CommandFailed(
            Failure(
                Exit.USAGE,
                f"check-login against a server records the login: give {', '.join(missing)}",
                "or evaluate without recording: --local",
            )
        )
    for key, value in LOCAL_DEFAULTS.items():
        if getattr(ns, key) is None:
            setattr(ns, key, value)


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
            raise CommandFailed(
                Failure(
                    Exit.USAGE,
                    f"--hint {line!r}: not a Sec-CH-UA header",
                    f"one of {', '.join(HINT_FIELDS)}",
                )
            )
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
    """The verdict, the client, the rules, then the checks as a table that
    wraps the Japanese guidance and never cuts an instant or a version."""
    from anshin.v1 import common_pb2, posture_pb2

    out = console()
    verdict = verdict_name(resp)
    c = resp.client
    prec = common_pb2.Precision.Name
    say(
        [f"verdict {verdict}", f"id {resp.verdict_id}"],
        OUTCOME_STYLE.get(verdict, ""),
        out=out,
        sep="   ",
    )
    say(
        f"client  {posture_pb2.ClientDescription.Kind.Name(c.kind).removeprefix('KIND_')}: "
        f"{c.browser} {c.browser_version} "
        f"({prec(c.browser_version_precision).removeprefix('PRECISION_')})"
        f" on {c.os} {c.os_version} ({prec(c.os_version_precision).removeprefix('PRECISION_')})"
        + (f"  in-app: {c.in_app}" if c.in_app else "")
        + (f"  bot: {c.bot}" if c.bot else ""),
        out=out,
        indent=8,
    )
    for note in c.notes:
        say(f"        note: {note}", out=out, indent=14)
    r = resp.rules
    say(
        f"rules   digest {r.digest}  matrix {r.matrix_revision or '-'}  "
        f"releases {', '.join(r.release_data) or '-'}",
        out=out,
        indent=8,
    )
    emit_rows(resp.checks, "table", CHECKS)


def _compared(x: Any) -> str:
    from anshin.v1 import common_pb2

    exact = x.precision in (0, common_pb2.PRECISION_EXACT)
    how = str(common_pb2.Precision.Name(x.precision)).removeprefix("PRECISION_").lower()
    return f"{x.name}: {x.observed} vs {x.expected}" + ("" if exact else f" [{how}]")


def check_row(chk: Any) -> list[str]:
    from anshin.v1 import common_pb2

    return [
        chk.check_id,
        str(common_pb2.CheckStatus.Name(chk.status)).removeprefix("CHECK_STATUS_"),
        " ".join(chk.clause_ids),
        "\n".join(_compared(x) for x in chk.compared),
        chk.reason + (f"\n{chk.message_ja}" if chk.message_ja else ""),
    ]


# -o csv: one row per check (the verdict is in -o json/yaml and the table).
CHECKS = View(
    columns=(
        Column("check", keep=True),
        Column("status", keep=True),
        Column("clauses"),
        Column("compared"),
        Column("reason / 案内"),
    ),
    row=check_row,
)


def verdict_name(resp: posture_pb2.CheckLoginResponse) -> str:
    from anshin.v1 import posture_pb2

    return str(posture_pb2.PostureVerdict.Name(resp.verdict)).removeprefix("POSTURE_VERDICT_")


def run(ns: argparse.Namespace) -> int:
    recorded_facts(ns)
    req = build_request(ns)
    if ns.local:
        resp = evaluate_locally(req, ns.rules)
    else:
        import grpc  # here: --local opens no channel

        from anshin.v1 import posture_pb2_grpc

        with open_channel(ns) as channel:
            try:
                resp = posture_pb2_grpc.PostureServiceStub(channel).CheckLogin(
                    req, timeout=ns.timeout
                )
            except grpc.RpcError as exc:
                return rpc_exit(exc, ns)
    if ns.output == "csv":
        emit_rows(resp.checks, "csv", CHECKS)
    else:
        emit_one(resp, ns.output, table=lambda: render(resp))
    return int(decision_exit(verdict_name(resp), ns.fail_on))


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
    c.add_argument("--customer", help="customer id (required unless --local)")
    c.add_argument("--device", help="device id (required unless --local)")
    c.add_argument("--av-product")
    c.add_argument("--av-running", choices=["true", "false"])
    c.add_argument("--av-updated-at", type=instant)
    c.add_argument("--wsc-state", type=lambda s: int(s, 0), help="productState, e.g. 0x061000")
    c.add_argument("--phishwall", choices=["installed", "absent"])
    c.add_argument("--phishwall-version", default="")
    c.add_argument("--phishwall-extension-version", default="")
    c.add_argument(
        "--token",
        choices=["active", "reported_lost", "not_issued", "suspended", "unknown"],
        help="transaction token status (required unless --local)",
    )
    c.add_argument("--touch-points", type=int)
    c.add_argument(
        "--local", action="store_true", help="evaluate in-process with --rules, record nothing"
    )
    c.add_argument("--rules", type=Path)
    add_output_arg(c, legacy_json=True)
    add_fail_on(c, VERDICTS, "NON_COMPLIANT,UNKNOWN")
    add_server_args(
        c, timeout=10.0, server_help="call this server (recorded in its log); default %(default)s"
    )
    c.set_defaults(func=run)
