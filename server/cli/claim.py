"""``anshin claim``: decide one claim and print the decision as a trace.

``anshin claim FILE`` (``-`` reads standard input; ``--json FILE`` is the
older spelling) sends the ``EvaluateClaimRequest`` in FILE (protobuf JSON)
to a server's ``ClaimService/EvaluateClaim`` and prints the
decision as a trace a claims lead can follow: outcome and payable amount, the
computation (loss → minus recovered → percentage → caps) and every clause
with its id, status, effect, the values compared and the Japanese
explanation (``--verbose`` adds the Japanese clause text); ``-o json|yaml`` prints the
reply in the protobuf JSON mapping instead. Exit status
(``server/cli/exit_codes.py``): 0 for any decision unless ``--fail-on
DENY,REVIEW`` names it (then 1), 2 for a claim refused as invalid, 3 when the
server cannot be reached or the call fails.

``--local`` decides in-process instead, with the built-in rules (or
``--rules DIR``) and an **empty history**: no posture verdict, no enrolment,
no event and no earlier payout on record, exactly as a server with an empty
database would answer a dry run
(``server.usecases.claim_on_empty_history``). Nothing is recorded.

``anshin claim form POLICY KIND`` prints the claim form
(``ClaimService/GetClaimForm``): the facts a decision under POLICY needs for
an incident KIND (``card_fraud``, ``qr_payment:DCM-E1`` …), each with its
request path, type, the clauses that read it, the Japanese question and what
leaving it out means. ``--local`` derives it from the built-in rules (or
``--rules DIR``) without a server.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server.cli.channel import add_server_args, open_channel
from server.cli.exit_codes import Exit, add_fail_on, decision_exit
from server.cli.failures import CommandFailed, Failure
from server.cli.output import add_output_arg, emit_one
from server.cli.render import (
    OUTCOME_STYLE,
    STATUS_STYLE,
    console,
    print_invalid,
    rpc_exit,
    yen,
)
from server.errors import InvalidArgument

if TYPE_CHECKING:
    from anshin.v1 import claims_pb2, common_pb2

EFFECT_STYLE = {"APPROVE": "green", "DENY": "bold red", "REVIEW": "yellow", "NONE": "dim"}
STEP_NAMES = {
    "loss": "損害額 loss",
    "minus recovered": "回収額控除 minus recovered",
    "points excluded": "ポイント除外 points excluded",
    "percentage": "支払割合 percentage",
    "cap": "限度額 cap",
}


# --------------------------------------------------------------------------- input


def read_request(path: str | Path, *, dry_run: bool) -> claims_pb2.EvaluateClaimRequest:
    """The EvaluateClaimRequest in ``path`` (protobuf JSON; ``-`` is standard
    input); ``dry_run`` forces a dry run. A missing or unreadable file is an
    OSError (the CLI's one handler explains it)."""
    import sys

    from google.protobuf import json_format

    from anshin.v1 import claims_pb2
    from server.errors import InvalidArgument

    req = claims_pb2.EvaluateClaimRequest()
    text = sys.stdin.read() if str(path) == "-" else Path(path).read_text(encoding="utf-8")
    name = "standard input" if str(path) == "-" else str(path)
    try:
        json_format.Parse(text, req)
    except json_format.ParseError as exc:
        raise InvalidArgument.of(name, f"not an EvaluateClaimRequest: {exc}") from None
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


def form_locally(
    policy_id: str, incident: str, rules_dir: Path | None
) -> claims_pb2.GetClaimFormResponse:
    """The claim form under ``rules_dir`` (default built-in), as the server answers it."""
    from rules.load import load_rules
    from server.usecases.claim_form import form_for
    from server.wire.claims import claim_form_response

    form = form_for(load_rules(rules_dir), policy_id, incident)
    return claim_form_response(form.policy, form.incident, form.fields, form.digest)


def render_form(resp: claims_pb2.GetClaimFormResponse, *, source: str) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    out = console(140)
    out.print(Text(f"claim form  {resp.policy_id}  {resp.incident}", style="bold"))
    r = resp.rules
    out.print(
        Text(
            f"rules   {', '.join(r.policies) or '-'}  digest {r.digest or '-'}  ({source})",
            style="dim",
        )
    )
    table = Table(box=box.SIMPLE, show_lines=False)
    for name in ("field", "type", "clauses", "question", "if absent"):
        table.add_column(name, overflow="fold")
    for f in resp.fields:
        kind = f.type + (f" ({' | '.join(f.allowed)})" if f.allowed else "")
        table.add_row(f.path, kind, ", ".join(f.clause_ids), f.question_ja, f.if_absent)
    out.print(table)


def _refused(exc: InvalidArgument) -> int:
    """A claim (or form request) refused with INVALID_ARGUMENT, decided locally."""
    print_invalid([(v.field, v.description) for v in exc.violations], str(exc))
    return int(Exit.USAGE)


def run_form(ns: argparse.Namespace, policy_id: str, incident: str) -> int:
    import grpc

    from anshin.v1 import claims_pb2, claims_pb2_grpc
    from server.errors import InvalidArgument

    if ns.local:
        try:
            resp = form_locally(policy_id, incident, ns.rules)
        except InvalidArgument as exc:
            return _refused(exc)
        source = f"local, {ns.rules or 'built-in rules'}"
    else:
        with open_channel(ns) as channel:
            try:
                resp = claims_pb2_grpc.ClaimServiceStub(channel).GetClaimForm(
                    claims_pb2.GetClaimFormRequest(policy_id=policy_id, incident=incident),
                    timeout=ns.timeout,
                )
            except grpc.RpcError as exc:
                return rpc_exit(exc, ns)
        source = ns.server
    emit_one(resp, ns.output, table=lambda: render_form(resp, source=source))
    return int(Exit.OK)


def _input(ns: argparse.Namespace) -> str:
    """Where the claim comes from: the positional FILE (``-`` is stdin), or the
    older ``--json FILE``; exactly one of them."""
    words = list(ns.words)
    if ns.json is not None:
        if words:
            raise CommandFailed(
                Failure(
                    Exit.USAGE,
                    "give the claim either as FILE or with --json FILE, not both",
                    "anshin claim FILE  (or - to read standard input)",
                )
            )
        return str(ns.json)
    if len(words) != 1:
        raise CommandFailed(
            Failure(
                Exit.USAGE,
                "expected one claim FILE (or - for standard input), or: claim form POLICY KIND",
                "anshin claim docs/examples/claims/hnb.json --dry-run",
            )
        )
    return str(words[0])


def run(ns: argparse.Namespace) -> int:
    import grpc

    from anshin.v1 import claims_pb2_grpc
    from server.errors import InvalidArgument

    if ns.json_output:
        ns.output = "json"
    if ns.words and ns.words[0] == "form":
        if len(ns.words) != 3:
            raise CommandFailed(
                Failure(
                    Exit.USAGE,
                    "expected: claim form POLICY KIND",
                    "anshin claim form DCM qr_payment:DCM-E1 --local",
                )
            )
        return run_form(ns, ns.words[1], ns.words[2])
    source_file = _input(ns)
    try:
        req = read_request(source_file, dry_run=ns.dry_run)
    except InvalidArgument as exc:
        return _refused(exc)
    if ns.local:
        try:
            resp = evaluate_locally(req, ns.rules)
        except InvalidArgument as exc:
            return _refused(exc)
        source = f"local, {ns.rules or 'built-in rules'}, empty history"
    else:
        with open_channel(ns) as channel:
            try:
                resp = claims_pb2_grpc.ClaimServiceStub(channel).EvaluateClaim(
                    req, timeout=ns.timeout
                )
            except grpc.RpcError as exc:
                return rpc_exit(exc, ns)
        source = ns.server
    emit_one(
        resp,
        ns.output,
        table=lambda: render_decision(resp, verbose=ns.verbose, local=ns.local, source=source),
    )
    return int(decision_exit(_name_outcome(resp), ns.fail_on))


def _name_outcome(resp: claims_pb2.EvaluateClaimResponse) -> str:
    from anshin.v1 import common_pb2

    return _name(common_pb2.Outcome, resp.outcome, "OUTCOME_")


def add_parser(sub: Any) -> None:
    c = sub.add_parser(
        "claim",
        help="decide one claim (EvaluateClaim) from FILE (- for stdin) and print its trace; "
        "`claim form POLICY KIND`: the claim form (GetClaimForm)",
    )
    c.add_argument(
        "words",
        nargs="*",
        metavar="FILE | form POLICY KIND",
        help="an EvaluateClaimRequest (protobuf JSON; - reads standard input), or "
        "`form POLICY KIND` for the claim form (e.g. form DCM qr_payment:DCM-E1)",
    )
    c.add_argument("--json", metavar="FILE", help="older spelling of the claim FILE argument")
    c.add_argument(
        "--local",
        action="store_true",
        help="decide in-process on an empty history (nothing on record); record nothing "
        "(with form: derive the form from the rules, no server)",
    )
    c.add_argument("--rules", type=Path, help="rules directory for --local (default built-in)")
    c.add_argument("--dry-run", action="store_true", help="evaluate without recording/reserving")
    add_output_arg(c)
    c.add_argument("--json-output", action="store_true", help="same as -o json (older spelling)")
    add_fail_on(c, ("APPROVE", "DENY", "REVIEW"), "DENY,REVIEW")
    c.add_argument("--verbose", "-v", action="store_true", help="also the Japanese clause text")
    add_server_args(c, timeout=30.0)
    c.set_defaults(func=run)
