"""``anshin claim``: decide one claim and print the decision as a trace.

``anshin claim --json FILE`` sends the ``EvaluateClaimRequest`` in FILE
(protobuf JSON) to a server's ``ClaimService/EvaluateClaim`` and prints the
decision as a trace a claims lead can follow: outcome and payable amount, the
computation (loss → minus recovered → percentage → caps) and every clause
with its id, status, effect, the values compared and the Japanese
explanation (``--verbose`` adds the Japanese clause text).

``--local`` decides in-process instead, with the built-in rules (or
``--rules DIR``) and an **empty history**: no posture verdict, no enrolment,
no event and no earlier payout on record, exactly as a server with an empty
database would answer a dry run
(``server.usecases.claim_on_empty_history``). Nothing is recorded.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server.cli.channel import add_server_args, open_channel
from server.cli.render import (
    OUTCOME_STYLE,
    STATUS_STYLE,
    console,
    print_invalid,
    print_message,
    print_rpc_error,
    yen,
)

if TYPE_CHECKING:
    from anshin.v1 import claims_pb2, common_pb2

EXIT_INVALID = 2  # the claim was refused (INVALID_ARGUMENT) or the server failed

EFFECT_STYLE = {"APPROVE": "green", "DENY": "bold red", "REVIEW": "yellow", "NONE": "dim"}
STEP_NAMES = {
    "loss": "損害額 loss",
    "minus recovered": "回収額控除 minus recovered",
    "points excluded": "ポイント除外 points excluded",
    "percentage": "支払割合 percentage",
    "cap": "限度額 cap",
}


# --------------------------------------------------------------------------- input


def read_request(path: Path, *, dry_run: bool) -> claims_pb2.EvaluateClaimRequest:
    """The EvaluateClaimRequest in ``path`` (protobuf JSON); ``dry_run`` forces a dry run."""
    from google.protobuf import json_format

    from anshin.v1 import claims_pb2
    from server.errors import InvalidArgument

    req = claims_pb2.EvaluateClaimRequest()
    try:
        json_format.Parse(path.read_text(encoding="utf-8"), req)
    except json_format.ParseError as exc:
        raise InvalidArgument.of(str(path), f"not an EvaluateClaimRequest: {exc}") from None
    if dry_run:
        req.dry_run = True
    return req


def evaluate_locally(
    req: claims_pb2.EvaluateClaimRequest, rules_dir: Path | None
) -> claims_pb2.EvaluateClaimResponse:
    """Decide under ``rules_dir`` (default built-in) on an empty history; record nothing.

    Raises ``server.errors.InvalidArgument`` for a claim the server would
    refuse with INVALID_ARGUMENT.
    """
    from rules.load import load_rules
    from server.clock import system_clock
    from server.usecases.claim_on_empty_history import evaluate_on_empty_history

    resp = evaluate_on_empty_history(req, load_rules(rules_dir), system_clock())
    resp.dry_run = req.dry_run
    return resp


# --------------------------------------------------------------------------- output


def _name(enum: Any, value: int, prefix: str) -> str:
    return str(enum.Name(value)).removeprefix(prefix)


def _label(c: common_pb2.ClauseResult) -> str:
    return f"{c.clause_id}.{c.part}" if c.part else c.clause_id


def render_decision(
    resp: claims_pb2.EvaluateClaimResponse,
    *,
    verbose: bool = False,
    local: bool = False,
    source: str = "",
) -> None:
    """A claim decision as a trace: head, computation table, clause table."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from anshin.v1 import common_pb2

    out = console(120)
    outcome = _name(common_pb2.Outcome, resp.outcome, "OUTCOME_")
    head = Text()
    head.append("outcome ", style="bold")
    head.append(outcome, style=OUTCOME_STYLE.get(outcome, ""))
    head.append(f"   payable {yen(resp.payable_yen)}")
    if local:
        head.append("   (local, empty history: not recorded)", style="dim")
    elif resp.dry_run:
        head.append("   (dry run: not recorded)", style="dim")
    else:
        head.append(f"   decision {resp.decision_id}")
        if resp.replayed:
            head.append("  (replayed: the stored decision of this claim_id)", style="dim")
    out.print(head)
    out.print(Text(f"summary {resp.summary_ja}"))
    r = resp.rules
    out.print(
        Text(
            f"rules   {', '.join(r.policies) or '-'}  digest {r.digest or '-'}"
            + (f"  ({source})" if source else ""),
            style="dim",
        )
    )
    fired = [
        _label(c)
        for c in resp.clauses
        if c.effect in (common_pb2.OUTCOME_DENY, common_pb2.OUTCOME_REVIEW)
    ]
    missing: dict[str, None] = {}
    for c in resp.clauses:
        for m in c.missing_facts:
            missing.setdefault(m)
    if fired:
        out.print(Text(f"decided by {', '.join(fired)}", style="bold"))
    if missing:
        out.print(Text(f"missing facts {', '.join(missing)}", style="magenta"))

    steps = Table(title="computation: loss → minus recovered → percentage → caps", box=box.SIMPLE)
    steps.add_column("step", no_wrap=True)
    steps.add_column("clause", no_wrap=True)
    steps.add_column("in", justify="right", no_wrap=True)
    steps.add_column("out", justify="right", no_wrap=True)
    steps.add_column("note", overflow="fold")
    for s in resp.computation:
        name, _, scope = s.name.partition(" ") if s.name.startswith("cap ") else (s.name, "", "")
        note = s.note + (f"\nscope {scope}" if scope else "")
        steps.add_row(
            STEP_NAMES.get(name, name), s.clause_id, yen(s.input_yen), yen(s.output_yen), note
        )
    computed = resp.computation[-1].output_yen if resp.computation else 0
    steps.add_row(
        Text("支払額 payable", style="bold"),
        "",
        "",
        Text(yen(resp.payable_yen), style=OUTCOME_STYLE.get(outcome, "")),
        outcome if resp.payable_yen == computed else f"{outcome}: computed {yen(computed)}, pays 0",
    )
    out.print(steps)

    table = Table(
        title=f"clauses ({len(resp.clauses)}, in policy-file order)", show_lines=True, expand=True
    )
    table.add_column("clause", no_wrap=True)
    table.add_column("status / effect", no_wrap=True)
    table.add_column("observed vs expected", ratio=2, overflow="fold")
    table.add_column("explanation 説明", ratio=3, overflow="fold")
    for c in resp.clauses:
        status = _name(common_pb2.CheckStatus, c.status, "CHECK_STATUS_")
        effect = _name(common_pb2.Outcome, c.effect, "OUTCOME_")
        cell = Text(_label(c))
        if c.kind:
            cell.append(f"\n{c.kind}", style="dim")
        se = Text(status, style=STATUS_STYLE.get(status, ""))
        se.append("\n→ ")
        se.append(effect, style=EFFECT_STYLE.get(effect, ""))
        compared = Text("\n".join(f"{x.name}: {x.observed} vs {x.expected}" for x in c.compared))
        why = Text(c.explanation_ja)
        if c.missing_facts:
            why.append(f"\nmissing: {', '.join(c.missing_facts)}", style="magenta")
        if verbose and c.text_ja:
            why.append(f"\n約款: {c.text_ja}", style="dim")
        table.add_row(cell, se, compared, why)
    out.print(table)


# --------------------------------------------------------------------------- command


def run(ns: argparse.Namespace) -> int:
    import grpc

    from anshin.v1 import claims_pb2_grpc
    from server.errors import InvalidArgument

    req = read_request(Path(ns.json), dry_run=ns.dry_run)
    if ns.local:
        try:
            resp = evaluate_locally(req, ns.rules)
        except InvalidArgument as exc:
            print_invalid([(v.field, v.description) for v in exc.violations], str(exc))
            return EXIT_INVALID
        source = f"local, {ns.rules or 'built-in rules'}, empty history"
    else:
        with open_channel(ns) as channel:
            try:
                resp = claims_pb2_grpc.ClaimServiceStub(channel).EvaluateClaim(
                    req, timeout=ns.timeout
                )
            except grpc.RpcError as exc:
                print_rpc_error(exc, ns.server)
                return EXIT_INVALID
        source = ns.server
    if ns.json_output:
        print_message(resp)
    else:
        render_decision(resp, verbose=ns.verbose, local=ns.local, source=source)
    return 0


def add_parser(sub: Any) -> None:
    c = sub.add_parser("claim", help="decide one claim (EvaluateClaim) and print its trace")
    c.add_argument("--json", required=True, metavar="FILE", help="an EvaluateClaimRequest (JSON)")
    c.add_argument(
        "--local",
        action="store_true",
        help="decide in-process on an empty history (nothing on record); record nothing",
    )
    c.add_argument("--rules", type=Path, help="rules directory for --local (default built-in)")
    c.add_argument("--dry-run", action="store_true", help="evaluate without recording/reserving")
    c.add_argument("--json-output", action="store_true", help="print the raw reply as JSON")
    c.add_argument("--verbose", "-v", action="store_true", help="also the Japanese clause text")
    add_server_args(c, timeout=30.0)
    c.set_defaults(func=run)
