"""``anshin verdicts``: the analyst's view of the verdict log.

* ``anshin verdicts [filters] [-o table|json|csv|yaml]`` — entries matching
  every filter, newest first (``--oldest-first``), as a table, a JSON array
  of entries in the protobuf JSON mapping (``server.cli.output``), YAML, or
  CSV with one row per entry (``--json``/``--csv`` are kept as aliases).
  ``--limit 0`` streams everything (an export).
* ``anshin verdicts show ID`` — one entry as a readable explanation: what it is
  about, why it was decided (the claim trace, the posture checks, or the
  analyst's resolution), what was recorded (``--inputs``) and its chain hashes,
  wrapped to the terminal like every table (ids, amounts, instants and hashes
  whole); ``-o csv`` is the entry as one row of ``verdicts -o csv``.

Times are shown in JST. Filter instants take their UTC offset
(``2025-04-01T00:00:00+09:00``, ``2025-03-31T15:00:00Z``), like every
instant of the command line (``server.cli.args.instant``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from server.cli.args import instant, timestamp
from server.cli.channel import add_server_args, open_channel
from server.cli.claim import render_decision
from server.cli.output import View, add_output_arg, emit_one, emit_rows
from server.cli.render import (
    MINUTES,
    OUTCOME_STYLE,
    SECONDS,
    console,
    format_instant,
    rpc_exit,
    say,
    yen,
)
from server.cli.table import Column, whole

if TYPE_CHECKING:
    from anshin.v1 import verdicts_pb2

# analyst_access: the access log (who read what), listed for the auditor role only.
KINDS = {"login_posture": 1, "claim": 2, "review_resolution": 3, "analyst_access": 4}
CSV_COLUMNS = (
    "seq",
    "id",
    "kind",
    "customer_id",
    "device_id",
    "policy_id",
    "subject_time",
    "recorded_at",
    "outcome",
    "clause_ids",
    "payable_yen",
    "refers_to",
    "request_id",
    "caller",
    "entry_hash",
)


# --------------------------------------------------------------------------- input


def query_request(ns: argparse.Namespace) -> verdicts_pb2.QueryVerdictsRequest:
    from anshin.v1 import verdicts_pb2

    req = verdicts_pb2.QueryVerdictsRequest(
        customer_id=ns.customer or "",
        policy_id=ns.policy or "",
        kind=KINDS.get(ns.kind or "", 0),
        outcome=ns.outcome or "",
        clause_id=ns.clause or "",
        oldest_first=ns.oldest_first,
    )
    for flag, field in (
        ("since", "subject_from"),
        ("until", "subject_until"),
        ("recorded_since", "recorded_from"),
        ("recorded_until", "recorded_until"),
    ):
        value = getattr(ns, flag)
        if value is not None:
            getattr(req, field).CopyFrom(timestamp(value))
    return req


# --------------------------------------------------------------------------- output helpers


def csv_row(e: verdicts_pb2.VerdictEntry) -> list[str]:
    return [
        str(e.seq),
        e.id,
        e.kind,
        e.customer_id,
        e.device_id,
        e.policy_id,
        format_instant(e.subject_time),
        format_instant(e.recorded_at),
        e.outcome,
        " ".join(e.clause_ids),
        str(e.payable_yen),
        e.refers_to,
        e.request_id,
        e.caller.identity,
        e.entry_hash,
    ]


# --------------------------------------------------------------------------- verdicts


def _entries(stub: Any, req: Any, limit: int, timeout: float) -> Iterator[Any]:
    """Entries of a query, at most ``limit`` (0: all), streamed page by page."""
    req.page_size = min(limit, 1000) if limit else 1000
    n = 0
    for page in stub.QueryVerdicts(req, timeout=timeout):
        for e in page.entries:
            yield e
            n += 1
            if limit and n >= limit:
                return


def _access_cells(e: verdicts_pb2.VerdictEntry) -> tuple[str, str]:
    """An access-log entry's reader ("identity (role)") and what it read (RPC, entry id)."""
    if e.kind != "analyst_access":
        return "", ""
    rpc = str(json.loads(e.result_json).get("rpc", "")) if e.result_json else ""
    return e.caller.identity, " ".join(x for x in (rpc, e.refers_to) if x)


def table_row(e: verdicts_pb2.VerdictEntry) -> list[str]:
    kind = {"review_resolution": "resolved", "login_posture": "posture"}.get(e.kind, e.kind)
    reader, read = _access_cells(e)
    return [
        str(e.seq),
        format_instant(e.recorded_at, MINUTES),
        format_instant(e.subject_time, MINUTES),
        kind,
        e.customer_id,
        e.policy_id or e.device_id or reader,
        e.outcome,
        yen(e.payable_yen) if e.payable_yen else "",
        " ".join(e.clause_ids) or read,
        e.id,
    ]


ENTRIES = View(
    columns=(
        Column("seq", keep=True, right=True),
        Column("recorded (JST)", keep=True),
        Column("subject (JST)", keep=True),
        Column("kind", keep=True),
        Column("customer", keep=True),
        Column("policy/device", keep=True),
        Column("outcome", keep=True),
        Column("payable", keep=True, right=True),
        Column("clauses"),
        Column("id", keep=True),
    ),
    row=table_row,
)
# CSV keeps its documented columns: whole values, UTC instants, for spreadsheets.
CSV = View(columns=tuple(Column(c) for c in CSV_COLUMNS), row=csv_row)


def verdicts(ns: argparse.Namespace) -> int:
    import grpc

    from anshin.v1 import verdicts_pb2_grpc

    req = query_request(ns)
    with open_channel(ns) as channel:
        stub = verdicts_pb2_grpc.VerdictLogServiceStub(channel)
        try:
            entries = _entries(stub, req, ns.limit, ns.timeout)
            emit_rows(
                entries,
                ns.output,
                CSV if ns.output == "csv" else ENTRIES,
                footer=lambda n: _footer(n, ns.limit),
            )
        except grpc.RpcError as exc:
            return rpc_exit(exc, ns)
    return 0


def _footer(n: int, limit: int) -> str:
    more = " (--limit reached: narrow the filters or raise --limit)" if n == limit else ""
    return f"{n} entr{'y' if n == 1 else 'ies'}{more}"


# --------------------------------------------------------------------------- show


def show(ns: argparse.Namespace) -> int:
    import grpc

    from anshin.v1 import verdicts_pb2, verdicts_pb2_grpc

    with open_channel(ns) as channel:
        stub = verdicts_pb2_grpc.VerdictLogServiceStub(channel)
        try:
            e = stub.GetVerdict(verdicts_pb2.GetVerdictRequest(id=ns.id), timeout=ns.timeout)
            review_state = _review_state(stub, e, ns.timeout) if e.outcome == "REVIEW" else ""
        except grpc.RpcError as exc:
            return rpc_exit(exc, ns)
    emit_one(
        e,
        ns.output,
        table=lambda: explain(e, inputs=ns.inputs, review_state=review_state),
        rows=(CSV, [e]),  # -o csv: the entry as one row, the columns of `verdicts -o csv`
    )
    return 0


def _review_state(stub: Any, e: Any, timeout: float) -> str:
    """ "open" or the resolution that closed it."""
    from anshin.v1 import verdicts_pb2

    for item in stub.ListReviews(
        verdicts_pb2.ListReviewsRequest(customer_id=e.customer_id, page_size=1000),
        timeout=timeout,
    ):
        if item.decision.id == e.id:
            return "open: in the review queue (anshin reviews resolve)"
    req = verdicts_pb2.QueryVerdictsRequest(
        customer_id=e.customer_id,
        kind=verdicts_pb2.VERDICT_KIND_REVIEW_RESOLUTION,
        oldest_first=True,
        page_size=1000,
    )
    for page in stub.QueryVerdicts(req, timeout=timeout):
        for r in page.entries:
            if r.refers_to == e.id:
                return f"resolved: {r.outcome} {yen(r.payable_yen)} by entry {r.id}"
    return "resolved"


def explain(e: Any, *, inputs: bool = False, review_state: str = "") -> None:
    """One entry as a readable explanation, at the terminal's width; ids,
    amounts, instants and hashes whole (``server.cli.table``)."""
    out = console()
    head = [f"{e.kind} {e.outcome}"]
    if e.payable_yen:
        head.append(f"payable {yen(e.payable_yen)}")
    head.append(f"entry {e.id} (seq {e.seq})")
    say(head, OUTCOME_STYLE.get(e.outcome, ""), out=out, sep="   ")
    # Ids are whole whatever their script (a customer id in Japanese too).
    about = [f"customer {whole(e.customer_id)}"]
    if e.device_id:
        about.append(f"device {whole(e.device_id)}")
    if e.policy_id:
        about.append(f"policy {whole(e.policy_id)}")
    subject = "login" if e.kind == "login_posture" else "incident"
    about.append(f"{subject} at {format_instant(e.subject_time, SECONDS)} JST")
    say(about, out=out, indent=9, sep="   ")
    say(
        [
            f"recorded {format_instant(e.recorded_at, SECONDS)} JST",
            f"by {whole(e.caller.identity or '-')}",
            f"(request {e.request_id})",
        ],
        "dim",
        out=out,
        indent=9,
        sep=" ",
    )
    r = e.rules
    rules = ", ".join(
        [*r.policies, *([f"matrix {r.matrix_revision}"] if r.matrix_revision else [])]
    )
    say(f"rules {rules or '-'}  digest {r.digest or '-'}", "dim", out=out, indent=6)
    if e.clause_ids:
        say(f"clauses {', '.join(e.clause_ids)}", "bold", out=out, indent=8)
    if review_state:
        say(f"review {review_state}", "yellow", out=out, indent=7)
    if e.refers_to:
        say(f"resolves {e.refers_to}", "bold", out=out)
    result = json.loads(e.result_json) if e.result_json else {}
    if e.kind == "claim":
        _explain_claim(e, result)
    elif e.kind == "login_posture":
        _explain_posture(result)
    elif e.kind == "review_resolution":
        _explain_resolution(e, result)
    if inputs:
        say("inputs (as stored)", "bold", out=out)
        # JSON as stored, indented: a line of it is never cut (the terminal wraps it).
        print(json.dumps(json.loads(e.inputs_json), ensure_ascii=False, indent=2))
    say([f"hash {e.entry_hash}", f"prev {e.prev_hash}"], "dim", out=out)


def _explain_claim(e: Any, result: dict[str, Any]) -> None:
    from google.protobuf import json_format

    from anshin.v1 import claims_pb2

    resp = claims_pb2.EvaluateClaimResponse()
    json_format.ParseDict(result, resp, ignore_unknown_fields=True)
    say("")
    render_decision(resp, source="as recorded")


def _check_row(c: dict[str, Any]) -> list[str]:
    return [
        c.get("check_id", "") + ("\n" + " ".join(c["clause_ids"]) if c.get("clause_ids") else ""),
        c.get("status", ""),
        "\n".join(
            f"{x['name']}: {x['observed']} vs {x['expected']}" for x in c.get("compared", [])
        ),
        c.get("message_ja", ""),
    ]


POSTURE_CHECKS = View(
    columns=(
        Column("check", keep=True),
        Column("status", keep=True),
        Column("observed vs expected"),
        Column("explanation 説明"),
    ),
    row=_check_row,
)


def _reservation_row(r: dict[str, Any]) -> list[str]:
    limit = r.get("limitYen")
    return [
        r["scopeKey"],
        " ".join(r.get("capIds", [])),
        yen(int(r["amountYen"])),
        yen(int(r.get("usedYenBefore", 0))),
        yen(int(limit)) if limit is not None else "-",
    ]


RESERVATIONS = View(
    columns=(
        Column("scope", keep=True),  # a scope key is an id: never cut
        Column("caps"),
        Column("reserved", keep=True, right=True),
        Column("used before", keep=True, right=True),
        Column("limit", keep=True, right=True),
    ),
    row=_reservation_row,
)


def _explain_posture(result: dict[str, Any]) -> None:
    client = result.get("client") or {}
    parts = [
        f"{client.get('browser') or '?'} {client.get('browser_version') or ''}".strip(),
        f"{client.get('os') or '?'} {client.get('os_version') or ''}".strip(),
    ]
    say(f"client {' on '.join(parts)}", indent=7)
    say("")
    say("checks", "bold")
    emit_rows(result.get("checks", []), "table", POSTURE_CHECKS)


def _explain_resolution(e: Any, result: dict[str, Any]) -> None:
    inputs = json.loads(e.inputs_json) if e.inputs_json else {}
    request = inputs.get("request") or {}
    analyst, caller = whole(request.get("analyst", "-")), whole(inputs.get("caller", "-"))
    say(f"analyst {analyst}  (caller {caller})", indent=8)
    if request.get("note"):
        say(f"note {request['note']}", indent=5)
    reservations = result.get("reservations") or []
    if reservations:
        say("")
        say("ledger reservations", "bold")
        emit_rows(reservations, "table", RESERVATIONS)
    elif e.outcome == "APPROVE":
        say("no ledger scope applies to this claim", "dim")


# --------------------------------------------------------------------------- parsers


def _query_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--customer", help="customer id")
    p.add_argument("--policy", help="policy id (claims and resolutions), e.g. HNB")
    p.add_argument("--kind", choices=sorted(KINDS))
    p.add_argument("--outcome", help="APPROVE DENY REVIEW COMPLIANT NON_COMPLIANT UNKNOWN")
    p.add_argument("--clause", help="a clause id that fired, e.g. HNB-X5")
    p.add_argument("--since", type=instant, help="subject instant from (inclusive)")
    p.add_argument("--until", type=instant, help="subject instant until (exclusive)")
    p.add_argument("--recorded-since", type=instant, help="recorded from (inclusive)")
    p.add_argument("--recorded-until", type=instant, help="recorded until (exclusive)")
    p.add_argument("--oldest-first", action="store_true", help="default: newest first")
    p.add_argument("--limit", type=int, default=50, help="entries (0: all); default %(default)s")


def add_parser(sub: Any) -> None:
    """``verdicts`` (+ ``verdicts show``)."""
    v = sub.add_parser(
        "verdicts",
        help="find verdict-log entries; `verdicts show ID` explains one",
        description="Entries matching every filter; `anshin verdicts show ID` explains one.",
    )
    _query_flags(v)
    add_output_arg(v, legacy_json=True)
    v.add_argument("--csv", dest="output", action="store_const", const="csv", help="same as -o csv")
    add_server_args(v, timeout=600.0)
    v.set_defaults(func=verdicts)
    vsub = v.add_subparsers(dest="verdicts_command")
    s = vsub.add_parser("show", help="one entry as a readable explanation")
    s.add_argument("id")
    s.add_argument("--inputs", action="store_true", help="also the stored inputs")
    add_output_arg(s, legacy_json=True)
    add_server_args(s, timeout=30.0)
    s.set_defaults(func=show)
