"""``anshin check-login``: build a CheckLoginRequest from flags, show the verdict."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp

from anshin.v1 import common_pb2, posture_pb2, posture_pb2_grpc

_HINT_FIELDS = {
    "sec-ch-ua": "sec_ch_ua",
    "sec-ch-ua-full-version-list": "full_version_list",
    "sec-ch-ua-platform": "platform",
    "sec-ch-ua-platform-version": "platform_version",
    "sec-ch-ua-mobile": "mobile",
    "sec-ch-ua-model": "model",
}
_STATUS_STYLE = {
    "PASS": "green",
    "WARN": "yellow",
    "FAIL": "bold red",
    "UNKNOWN": "magenta",
    "NOT_APPLICABLE": "dim",
}


def _ts(dt: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(dt)
    return ts


def build_request(ns: argparse.Namespace) -> posture_pb2.CheckLoginRequest:
    req = posture_pb2.CheckLoginRequest(
        customer_id=ns.customer,
        device_id=ns.device,
        user_agent=ns.ua,
        login_time=_ts(ns.at or datetime.now(UTC)),
        token_status=posture_pb2.TokenStatus.Value(f"TOKEN_STATUS_{ns.token.upper()}"),
    )
    for line in ns.hint:
        name, _, value = line.partition(":")
        field = _HINT_FIELDS.get(name.strip().lower())
        if field is None:
            raise SystemExit(f"--hint {line!r}: not a Sec-CH-UA header ({', '.join(_HINT_FIELDS)})")
        setattr(req.client_hints, field, value.strip())
    if ns.av_product or ns.av_running or ns.av_updated_at or ns.wsc_state is not None:
        req.antivirus.product = ns.av_product or ""
        if ns.av_running:
            req.antivirus.running = ns.av_running == "true"
        if ns.av_updated_at:
            req.antivirus.signatures_updated_at.CopyFrom(_ts(ns.av_updated_at))
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
    req: posture_pb2.CheckLoginRequest, rules_dir: object
) -> posture_pb2.CheckLoginResponse:
    from checks.posture import evaluate_login
    from rules.load import load_rules
    from server.convert import posture as conv
    from server.ruleset_holder import rules_version_json
    from server.services.posture import _rules_pb

    rules = load_rules(rules_dir)  # type: ignore[arg-type]
    facts = conv.login_facts(req, datetime.now(UTC))
    result = evaluate_login(facts, rules.posture)
    d = conv.result_dict(result)
    revision = result.matrix_revision.id if result.matrix_revision else None
    return posture_pb2.CheckLoginResponse(
        verdict_id="(local: not recorded)",
        verdict=conv.verdict_pb(result.verdict.value),
        checks=[conv.check_pb(c) for c in d["checks"]],
        client=conv.client_pb(d["client"]),
        rules=_rules_pb(rules_version_json(rules, revision, result.release_products)),
    )


def render(resp: posture_pb2.CheckLoginResponse) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    verdict = posture_pb2.PostureVerdict.Name(resp.verdict).removeprefix("POSTURE_VERDICT_")
    c = resp.client
    prec = common_pb2.Precision.Name
    console.print(f"[bold]verdict[/bold] {verdict}   id {resp.verdict_id}")
    console.print(
        f"client  {posture_pb2.ClientDescription.Kind.Name(c.kind).removeprefix('KIND_')}: "
        f"{c.browser} {c.browser_version} "
        f"({prec(c.browser_version_precision).removeprefix('PRECISION_')})"
        f" on {c.os} {c.os_version} ({prec(c.os_version_precision).removeprefix('PRECISION_')})"
        + (f"  in-app: {c.in_app}" if c.in_app else "")
        + (f"  bot: {c.bot}" if c.bot else "")
    )
    for note in c.notes:
        console.print(f"        note: {note}")
    r = resp.rules
    console.print(
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
            f"[{_STATUS_STYLE.get(status, '')}]{status}[/]",
            " ".join(chk.clause_ids),
            compared,
            reason,
        )
    console.print(table)


def check_login(ns: argparse.Namespace) -> int:
    import grpc

    req = build_request(ns)
    if ns.local:
        resp = evaluate_locally(req, ns.rules)
    else:
        from server.client_channel import open_channel

        with open_channel(ns) as channel:
            try:
                resp = posture_pb2_grpc.PostureServiceStub(channel).CheckLogin(req, timeout=10)
            except grpc.RpcError as exc:
                print(f"{exc.code().name}: {exc.details()}", file=sys.stderr)
                return 2
    if ns.json:
        print(json.dumps(json_format.MessageToDict(resp), ensure_ascii=False, indent=2))
    else:
        render(resp)
    return 0
