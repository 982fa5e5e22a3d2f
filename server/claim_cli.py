"""``anshin claim`` and ``anshin rules validate``.

``anshin claim --json FILE`` sends the ``EvaluateClaimRequest`` in FILE
(protobuf JSON) to a server's ``ClaimService/EvaluateClaim`` and prints the
decision as a trace a claims lead can follow: outcome and payable amount, the
computation (loss → minus recovered → percentage → caps) and every clause
with its id, status, effect, the values compared and the Japanese
explanation (``--verbose`` adds the Japanese clause text).

``--local`` decides in-process instead, with the built-in rules (or
``--rules DIR``) and an **empty history**: no posture verdict, no enrolment,
no event and no earlier payout on record, exactly as a server with an empty
database would answer a dry run. Nothing is recorded.

``anshin rules validate DIR`` loads a rules directory as the server would and
lists every problem (file, clause, key).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from anshin.v1 import claims_pb2, common_pb2
    from server.store.base import VerdictRecord
    from server.store.claims_sql import Usage

EXIT_INVALID = 2  # the claim was refused (INVALID_ARGUMENT) or the server failed

_OUTCOME_STYLE = {"APPROVE": "bold green", "DENY": "bold red", "REVIEW": "bold yellow"}
_EFFECT_STYLE = {"APPROVE": "green", "DENY": "bold red", "REVIEW": "yellow", "NONE": "dim"}
_STATUS_STYLE = {
    "PASS": "green",
    "WARN": "yellow",
    "FAIL": "bold red",
    "UNKNOWN": "magenta",
    "NOT_APPLICABLE": "dim",
}
_STEP_NAMES = {
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

    req = claims_pb2.EvaluateClaimRequest()
    try:
        json_format.Parse(path.read_text(encoding="utf-8"), req)
    except json_format.ParseError as exc:
        raise ValueError(f"{path}: not an EvaluateClaimRequest: {exc}") from None
    if dry_run:
        req.dry_run = True
    return req


# --------------------------------------------------------------------------- local


class _EmptyHistory:
    """A store on which nothing was ever recorded (the part ClaimService reads)."""

    async def latest_posture_by_device(
        self, customer_id: str, since_us: int, until_us: int
    ) -> list[VerdictRecord]:
        return []

    async def events_of(
        self, customer_id: str, kinds: Sequence[str], until_us: int
    ) -> list[tuple[str, bytes]]:
        return []

    async def ledger_usage(self, scopes: Sequence[str]) -> dict[str, Usage]:
        from server.store.claims_sql import Usage

        return {s: Usage(0, 0, frozenset()) for s in scopes}


def evaluate_locally(
    req: claims_pb2.EvaluateClaimRequest, rules_dir: Path | None
) -> claims_pb2.EvaluateClaimResponse:
    """Decide with the servicer's own code on an empty history; record nothing.

    Raises ``server.errors.ValidationError`` for a claim the server would
    refuse with INVALID_ARGUMENT.
    """
    from anshin.v1 import claims_pb2
    from rules.load import load_rules
    from server.clock import system_clock
    from server.ruleset_holder import RulesHolder
    from server.services.claims import ClaimService
    from server.store.base import Store

    local = claims_pb2.EvaluateClaimRequest()
    local.CopyFrom(req)
    local.dry_run = True  # nothing to record into
    service = ClaimService(
        cast(Store, _EmptyHistory()), RulesHolder(load_rules(rules_dir)), system_clock
    )
    resp = asyncio.run(service.EvaluateClaim(local, None))
    resp.dry_run = req.dry_run
    return resp


# --------------------------------------------------------------------------- output


def _yen(amount: int) -> str:
    return f"¥{amount:,}"


def _name(enum: Any, value: int, prefix: str) -> str:
    return str(enum.Name(value)).removeprefix(prefix)


def _label(c: common_pb2.ClauseResult) -> str:
    return f"{c.clause_id}.{c.part}" if c.part else c.clause_id


def render(
    resp: claims_pb2.EvaluateClaimResponse,
    *,
    verbose: bool = False,
    local: bool = False,
    source: str = "",
) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from anshin.v1 import common_pb2

    console = Console(width=None if sys.stdout.isatty() else 120)
    outcome = _name(common_pb2.Outcome, resp.outcome, "OUTCOME_")
    head = Text()
    head.append("outcome ", style="bold")
    head.append(outcome, style=_OUTCOME_STYLE.get(outcome, ""))
    head.append(f"   payable {_yen(resp.payable_yen)}")
    if local:
        head.append("   (local, empty history: not recorded)", style="dim")
    elif resp.dry_run:
        head.append("   (dry run: not recorded)", style="dim")
    else:
        head.append(f"   decision {resp.decision_id}")
        if resp.replayed:
            head.append("  (replayed: the stored decision of this claim_id)", style="dim")
    console.print(head)
    console.print(Text(f"summary {resp.summary_ja}"))
    r = resp.rules
    console.print(
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
        console.print(Text(f"decided by {', '.join(fired)}", style="bold"))
    if missing:
        console.print(Text(f"missing facts {', '.join(missing)}", style="magenta"))

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
            _STEP_NAMES.get(name, name), s.clause_id, _yen(s.input_yen), _yen(s.output_yen), note
        )
    computed = resp.computation[-1].output_yen if resp.computation else 0
    steps.add_row(
        Text("支払額 payable", style="bold"),
        "",
        "",
        Text(_yen(resp.payable_yen), style=_OUTCOME_STYLE.get(outcome, "")),
        outcome
        if resp.payable_yen == computed
        else f"{outcome}: computed {_yen(computed)}, pays 0",
    )
    console.print(steps)

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
        se = Text(status, style=_STATUS_STYLE.get(status, ""))
        se.append("\n→ ")
        se.append(effect, style=_EFFECT_STYLE.get(effect, ""))
        compared = Text("\n".join(f"{x.name}: {x.observed} vs {x.expected}" for x in c.compared))
        why = Text(c.explanation_ja)
        if c.missing_facts:
            why.append(f"\nmissing: {', '.join(c.missing_facts)}", style="magenta")
        if verbose and c.text_ja:
            why.append(f"\n約款: {c.text_ja}", style="dim")
        table.add_row(cell, se, compared, why)
    console.print(table)


def _violations(exc: Any) -> list[tuple[str, str]]:
    """Field violations of an INVALID_ARGUMENT (google.rpc.BadRequest details)."""
    try:
        from google.rpc import error_details_pb2
        from grpc_status import rpc_status

        status = rpc_status.from_call(exc)
    except Exception:  # no details: the message says it
        return []
    out: list[tuple[str, str]] = []
    for detail in status.details if status else ():
        br = error_details_pb2.BadRequest()
        if detail.Unpack(br):
            out.extend((v.field, v.description) for v in br.field_violations)
    return out


def _print_invalid(violations: Sequence[tuple[str, str]], message: str) -> None:
    print(
        f"INVALID_ARGUMENT: {message}" if not violations else "INVALID_ARGUMENT:", file=sys.stderr
    )
    for field, description in violations:
        print(f"  {field}: {description}", file=sys.stderr)


def claim(ns: argparse.Namespace) -> int:
    import grpc
    from google.protobuf import json_format

    from anshin.v1 import claims_pb2_grpc
    from server.errors import ValidationError

    path = Path(ns.json)
    req = read_request(path, dry_run=ns.dry_run)
    if ns.local:
        try:
            resp = evaluate_locally(req, ns.rules)
        except ValidationError as exc:
            _print_invalid([(v.field, v.description) for v in exc.violations], str(exc))
            return EXIT_INVALID
        source = f"local, {ns.rules or 'built-in rules'}, empty history"
    else:
        from server.client_channel import open_channel

        with open_channel(ns) as channel:
            try:
                resp = claims_pb2_grpc.ClaimServiceStub(channel).EvaluateClaim(
                    req, timeout=ns.timeout
                )
            except grpc.RpcError as exc:
                code = exc.code()
                details = exc.details()
                if code == grpc.StatusCode.INVALID_ARGUMENT:
                    _print_invalid(_violations(exc), details)
                else:
                    print(f"{ns.server}: {code.name}: {details}", file=sys.stderr)
                return EXIT_INVALID
        source = ns.server
    if ns.json_output:
        print(json.dumps(json_format.MessageToDict(resp), ensure_ascii=False, indent=2))
    else:
        render(resp, verbose=ns.verbose, local=ns.local, source=source)
    return 0


# --------------------------------------------------------------------------- rules validate


def explain_rule(ns: argparse.Namespace) -> int:
    from rules.load import load_rules
    from server.usecases.explain_clause import UnknownClause, explain_clause, render

    try:
        print(render(explain_clause(load_rules(ns.rules), ns.clause_id)))
    except UnknownClause as exc:
        print(f"anshin rules explain: {exc}", file=sys.stderr)
        return 1
    return 0


def validate_rules(ns: argparse.Namespace) -> int:
    """Every problem of a rules directory (file, clause, key); 1 when there is any."""
    from rules.engine import validate_dir
    from rules.load import RulesError, load_rules

    root = Path(ns.dir)
    if not root.is_dir():
        print(f"{root}: not a directory", file=sys.stderr)
        return 1
    problems: list[str] = []
    policies_dir = root / "policies"
    raw = validate_dir(policies_dir) if policies_dir.is_dir() else []
    for problem in raw:
        file = problem.split(":", 1)[0]
        # "hnb.toml: clause HNB-X5: kind: …" → the file's path, as the operator typed it
        problems.append(f"{policies_dir}/{problem}" if (policies_dir / file).is_file() else problem)
    if not policies_dir.is_dir():
        problems.append(f"{policies_dir}: missing (the policy files)")
    rules = None
    try:
        rules = load_rules(root)
    except RulesError as exc:
        if str(exc) != "; ".join(raw):  # policy problems are listed above, one per line
            problems.insert(0, str(exc))
    if problems or rules is None:
        for problem in problems:
            print(problem)
        print(f"{root}: {len(problems)} problem(s); the server would refuse to load these rules")
        return 1
    policies = rules.policies.policies
    clauses = sum(len(p.clauses) for p in policies.values())
    clause_ids = sum(len(p.clause_ids) for p in policies.values())
    for pid in sorted(policies):
        p = policies[pid]
        file = p.path.name if p.path else "-"
        print(
            f"  {p.label:16} {file:10} {len(p.clause_ids):3} clauses "
            f"({len(p.clauses)} entries)  {p.name}"
        )
    print(
        f"{root}: valid — {len(policies)} policies, {clause_ids} clauses "
        f"({clauses} entries), rules digest {rules.digest}"
    )
    return 0


# --------------------------------------------------------------------------- parsers


def add_parsers(sub: Any, default_server: str) -> None:
    """``claim`` and ``rules validate`` on the ``anshin`` sub-command parser."""
    from server.client_channel import add_client_args

    c = sub.add_parser("claim", help="decide one claim (EvaluateClaim) and print its trace")
    c.add_argument("--json", required=True, metavar="FILE", help="an EvaluateClaimRequest (JSON)")
    c.add_argument("--server", default=default_server, help="default %(default)s")
    c.add_argument(
        "--local",
        action="store_true",
        help="decide in-process on an empty history (nothing on record); record nothing",
    )
    c.add_argument("--rules", type=Path, help="rules directory for --local (default built-in)")
    c.add_argument("--dry-run", action="store_true", help="evaluate without recording/reserving")
    c.add_argument("--json-output", action="store_true", help="print the raw reply as JSON")
    c.add_argument("--verbose", "-v", action="store_true", help="also the Japanese clause text")
    c.add_argument("--timeout", type=float, default=30.0)
    add_client_args(c)
    c.set_defaults(func=claim)

    r = sub.add_parser("rules", help="rules directories")
    rsub = r.add_subparsers(dest="rules_command", required=True)
    v = rsub.add_parser("validate", help="load DIR as the server would; list every problem")
    v.add_argument("dir", metavar="DIR", help="a rules directory (e.g. rules/data)")
    v.set_defaults(func=validate_rules)
    x = rsub.add_parser(
        "explain", help="a clause's text, rules file:line, deciding function and tests"
    )
    x.add_argument("clause_id", metavar="CLAUSE-ID")
    x.add_argument("--rules", type=Path, help="rules directory (default built-in)")
    x.set_defaults(func=explain_rule)
