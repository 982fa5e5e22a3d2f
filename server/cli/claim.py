"""``anshin claim``: decide one claim and print the decision as a trace.

``anshin claim FILE`` (``-`` reads standard input) sends the
``EvaluateClaimRequest`` in FILE (protobuf JSON) to a server's
``ClaimService/EvaluateClaim`` and prints the decision as a trace a claims
lead can follow: outcome and payable amount, the computation (loss → minus
recovered → percentage → caps) and every clause
with its id, status, effect, the values compared and the Japanese
explanation (``--verbose`` adds the Japanese clause text), at the terminal's
width; ``-o json|yaml`` (``--json``) prints the reply in the protobuf JSON
mapping instead, ``-o csv`` one row per clause. Exit status
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
from server.cli.output import View, add_output_arg, emit_one, emit_rows
from server.cli.render import OUTCOME_STYLE, console, rpc_exit, say, yen
from server.cli.table import Column

if TYPE_CHECKING:
    from anshin.v1 import claims_pb2, common_pb2
    from server.errors import InvalidArgument  # imported where raised: it imports the store

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
    OSError (the CLI's one handler explains it).

    Read strictly first (``server.wire.strict_json``): the server receives
    binary protobuf and never sees the text, so an instant or an amount that
    protobuf's JSON parser would bend (``+09:60``, full-width digits, ``"1e5"``)
    is refused here, every such field named, and nothing is sent."""
    import sys

    from google.protobuf import json_format

    from anshin.v1 import claims_pb2
    from server.errors import InvalidArgument, Violation
    from server.wire import strict_json

    req = claims_pb2.EvaluateClaimRequest()
    text = sys.stdin.read() if str(path) == "-" else Path(path).read_text(encoding="utf-8")
    name = "standard input" if str(path) == "-" else str(path)
    if not text.strip():
        raise InvalidArgument.of(name, "is empty: a claim is one EvaluateClaimRequest in JSON")
    try:
        json_format.ParseDict(strict_json.load(text, req.DESCRIPTOR), req)
    except strict_json.StrictJsonError as exc:
        raise InvalidArgument(
            Violation(p.field, p.description)
            if p.field
            else Violation(name, f"not an EvaluateClaimRequest: {p.description}")
            for p in exc.problems
        ) from None
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


def step_row(s: Any) -> list[str]:
    """One step of the computation: name, clause, amount in, amount out, note."""
    name, _, scope = s.name.partition(" ") if s.name.startswith("cap ") else (s.name, "", "")
    note = s.note + (f"\nscope {scope}" if scope else "")
    return [STEP_NAMES.get(name, name), s.clause_id, yen(s.input_yen), yen(s.output_yen), note]


STEPS = View(
    columns=(
        Column("step"),
        Column("clause", keep=True),
        Column("in", keep=True, right=True),
        Column("out", keep=True, right=True),
        Column("note"),
    ),
    row=lambda row: row,
)


def clause_row(c: common_pb2.ClauseResult, verbose: bool = False) -> list[str]:
    """One clause of the trace: id (and kind), status → effect, the values
    compared, the Japanese explanation (and missing facts, and the clause text)."""
    from anshin.v1 import common_pb2

    status = _name(common_pb2.CheckStatus, c.status, "CHECK_STATUS_")
    effect = _name(common_pb2.Outcome, c.effect, "OUTCOME_")
    why = c.explanation_ja
    if c.missing_facts:
        why += f"\nmissing: {', '.join(c.missing_facts)}"
    if verbose and c.text_ja:
        why += f"\n約款: {c.text_ja}"
    return [
        _label(c) + (f"\n{c.kind}" if c.kind else ""),
        f"{status}\n→ {effect}",
        "\n".join(f"{x.name}: {x.observed} vs {x.expected}" for x in c.compared),
        why,
    ]


CLAUSES = View(
    columns=(
        Column("clause", keep=True),
        Column("status / effect", keep=True),
        Column("observed vs expected"),
        Column("explanation 説明"),
    ),
    row=clause_row,
)


def csv_clause(resp: claims_pb2.EvaluateClaimResponse) -> Any:
    """``-o csv``: one row per clause, each with the decision it belongs to."""

    def row(c: common_pb2.ClauseResult) -> list[str]:
        from anshin.v1 import common_pb2

        return [
            resp.decision_id,
            _name(common_pb2.Outcome, resp.outcome, "OUTCOME_"),
            str(resp.payable_yen),
            _label(c),
            c.kind,
            _name(common_pb2.CheckStatus, c.status, "CHECK_STATUS_"),
            _name(common_pb2.Outcome, c.effect, "OUTCOME_"),
            "; ".join(f"{x.name}: {x.observed} vs {x.expected}" for x in c.compared),
            " ".join(c.missing_facts),
            c.explanation_ja,
        ]

    names = (
        "decision_id", "outcome", "payable_yen", "clause", "kind", "status", "effect",
        "compared", "missing_facts", "explanation_ja",
    )  # fmt: skip
    return View(columns=tuple(Column(n) for n in names), row=row)


def render_decision(
    resp: claims_pb2.EvaluateClaimResponse,
    *,
    verbose: bool = False,
    local: bool = False,
    source: str = "",
) -> None:
    """A claim decision as a trace: head, computation table, clause table;
    at the terminal's width, nothing cut (``server.cli.table``)."""
    from anshin.v1 import common_pb2

    out = console()
    outcome = _name(common_pb2.Outcome, resp.outcome, "OUTCOME_")
    head = [f"outcome {outcome}", f"payable {yen(resp.payable_yen)}"]
    if local:
        head.append("(local, empty history: not recorded)")
    elif resp.dry_run:
        head.append("(dry run: not recorded)")
    else:
        head.append(f"decision {resp.decision_id}")
        if resp.replayed:
            head.append("(replayed: the stored decision of this claim_id)")
    say(head, OUTCOME_STYLE.get(outcome, ""), out=out, sep="   ")
    say(f"summary {resp.summary_ja}", out=out, indent=8)
    r = resp.rules
    say(
        f"rules   {', '.join(r.policies) or '-'}  digest {r.digest or '-'}"
        + (f"  ({source})" if source else ""),
        "dim",
        out=out,
        indent=8,
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
        say(f"decided by {', '.join(fired)}", "bold", out=out, indent=11)
    if missing:
        say(f"missing facts {', '.join(missing)}", "magenta", out=out, indent=14)

    steps = [step_row(s) for s in resp.computation]
    computed = resp.computation[-1].output_yen if resp.computation else 0
    steps.append(
        [
            "支払額 payable",
            "",
            "",
            yen(resp.payable_yen),
            outcome
            if resp.payable_yen == computed
            else f"{outcome}: computed {yen(computed)}, pays 0",
        ]
    )
    say("")
    say("computation: loss → minus recovered → percentage → caps", "bold", out=out)
    emit_rows(steps, "table", STEPS)
    say("")
    say(f"clauses ({len(resp.clauses)}, in policy-file order)", "bold", out=out)
    emit_rows(
        resp.clauses, "table", View(CLAUSES.columns, lambda c: clause_row(c, verbose=verbose))
    )


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


def field_row(f: Any) -> list[str]:
    kind = f.type + (f" ({' | '.join(f.allowed)})" if f.allowed else "")
    return [f.path, kind, ", ".join(f.clause_ids), f.question_ja, f.if_absent]


FIELDS = View(
    columns=(
        Column("field", keep=True),
        Column("type"),
        Column("clauses"),
        Column("question"),
        Column("if absent"),
    ),
    row=field_row,
)
# -o csv: one row per field, each value whole (allowed values and clauses space-separated).
FIELDS_CSV = View(
    columns=tuple(
        Column(n) for n in ("field", "type", "allowed", "clauses", "question", "if_absent")
    ),
    row=lambda f: [
        f.path, f.type, " ".join(f.allowed), " ".join(f.clause_ids), f.question_ja, f.if_absent
    ],
)  # fmt: skip


def render_form(resp: claims_pb2.GetClaimFormResponse, *, source: str) -> None:
    out = console()
    say(f"claim form  {resp.policy_id}  {resp.incident}", "bold", out=out)
    r = resp.rules
    say(
        f"rules   {', '.join(r.policies) or '-'}  digest {r.digest or '-'}  ({source})",
        "dim",
        out=out,
        indent=8,
    )
    emit_rows(resp.fields, "table", FIELDS)


def _refused(exc: InvalidArgument) -> int:
    """A claim file or form request this client cannot use (checked here, not
    by a server: no gRPC status name): a usage error, one line and a hint."""
    found = [f"{v.field}: {v.description}" for v in exc.violations] or [str(exc)]
    raise CommandFailed(
        Failure(
            Exit.USAGE,
            "; ".join(found),
            "a claim is the protobuf JSON of an EvaluateClaimRequest: `anshin claim form "
            "POLICY KIND --local` lists its fields; docs/examples/claims/ holds examples",
        )
    )


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
    emit_one(
        resp,
        ns.output,
        table=lambda: render_form(resp, source=source),
        rows=(FIELDS_CSV, resp.fields),
    )
    return int(Exit.OK)


def _input(ns: argparse.Namespace) -> str:
    """Where the claim comes from: the positional FILE (``-`` is stdin)."""
    if len(ns.words) != 1:
        raise CommandFailed(
            Failure(
                Exit.USAGE,
                "expected one claim FILE (or - for standard input), or: claim form POLICY KIND",
                "anshin claim docs/examples/claims/hnb.json --dry-run",
            )
        )
    return str(ns.words[0])


def run(ns: argparse.Namespace) -> int:
    import grpc

    from anshin.v1 import claims_pb2_grpc
    from server.errors import InvalidArgument

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
        rows=(csv_clause(resp), resp.clauses),
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
    c.add_argument(
        "--local",
        action="store_true",
        help="decide in-process on an empty history (nothing on record); record nothing "
        "(with form: derive the form from the rules, no server)",
    )
    c.add_argument("--rules", type=Path, help="rules directory for --local (default built-in)")
    c.add_argument("--dry-run", action="store_true", help="evaluate without recording/reserving")
    # --json is -o json, as on every command; the claim is the positional FILE
    # (so the older `claim --json FILE` still reads FILE, and prints JSON).
    add_output_arg(c, legacy_json=True)
    c.add_argument(
        "--json-output", dest="output", action="store_const", const="json", help=argparse.SUPPRESS
    )
    add_fail_on(c, ("APPROVE", "DENY", "REVIEW"), "DENY,REVIEW")
    c.add_argument("--verbose", "-v", action="store_true", help="also the Japanese clause text")
    add_server_args(c, timeout=30.0)
    c.set_defaults(func=run)
