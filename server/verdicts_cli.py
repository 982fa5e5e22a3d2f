"""``anshin verdicts`` and ``anshin reviews``: the analyst's view of the verdict log.

* ``anshin verdicts [filters] [--json | --csv]`` — entries matching every
  filter, newest first (``--oldest-first``), as a table (``--json``: one JSON
  object per line with the stored inputs and result embedded; ``--csv``: one
  row per entry). ``--limit 0`` streams everything (an export).
* ``anshin verdicts show ID`` — one entry as a readable explanation: what it is
  about, why it was decided (the claim trace, the posture checks, or the
  analyst's resolution), what was recorded (``--inputs``) and its chain hashes.
* ``anshin reviews`` — the open REVIEW decisions, oldest first, with what is
  missing; ``anshin reviews resolve ID --approve YEN | --deny --clause … --note …
  --analyst …`` resolves one (once).

Times are shown in JST. Filter instants accept ``2025-04-01`` (00:00 JST),
``2025-04-01T09:30`` (JST) or an explicit offset (``2025-04-01T00:30:00Z``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from anshin.v1 import verdicts_pb2

EXIT_FAILED = 2
JST = timezone(timedelta(hours=9), "JST")
_MINUTES = "%Y-%m-%d %H:%M"
_KINDS = {"login_posture": 1, "claim": 2, "review_resolution": 3}
_OUTCOME_STYLE = {
    "APPROVE": "bold green",
    "DENY": "bold red",
    "REVIEW": "bold yellow",
    "COMPLIANT": "green",
    "NON_COMPLIANT": "red",
    "UNKNOWN": "magenta",
}
_STATUS_STYLE = {
    "PASS": "green",
    "WARN": "yellow",
    "FAIL": "bold red",
    "UNKNOWN": "magenta",
    "NOT_APPLICABLE": "dim",
}
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


def parse_instant(value: str) -> datetime:
    """``YYYY-MM-DD`` (00:00 JST), a date-time without offset (JST) or with one."""
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r}: not a date or date-time (e.g. 2025-04-01 or 2025-04-01T09:00+09:00)"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=JST)
    return dt.astimezone(UTC)


def _yen_arg(value: str) -> int:
    try:
        amount = int(value.replace(",", "").replace("_", "").removeprefix("¥"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: an amount in whole yen") from None
    if amount <= 0:
        raise argparse.ArgumentTypeError(f"{value!r}: a positive amount")
    return amount


def query_request(ns: argparse.Namespace) -> verdicts_pb2.QueryVerdictsRequest:
    from google.protobuf.timestamp_pb2 import Timestamp

    from anshin.v1 import verdicts_pb2

    req = verdicts_pb2.QueryVerdictsRequest(
        customer_id=ns.customer or "",
        policy_id=ns.policy or "",
        kind=_KINDS.get(ns.kind or "", 0),
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
            ts = Timestamp()
            ts.FromDatetime(value)
            getattr(req, field).CopyFrom(ts)
    return req


# --------------------------------------------------------------------------- output helpers


def _jst(ts: Any, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    if not ts.seconds and not ts.nanos:
        return "-"
    return str(ts.ToDatetime(tzinfo=UTC).astimezone(JST).strftime(fmt))


def _iso(ts: Any) -> str:
    return str(ts.ToDatetime(tzinfo=UTC).astimezone(JST).isoformat())


def _yen(amount: int) -> str:
    return f"¥{amount:,}"


def _console() -> Any:
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 160)


def _fail(exc: Any, server: str) -> int:
    import grpc

    from server.claim_cli import _print_invalid, _violations

    code = exc.code()
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        _print_invalid(_violations(exc), exc.details())
    else:
        print(f"{server}: {code.name}: {exc.details()}", file=sys.stderr)
    return EXIT_FAILED


def entry_json(e: verdicts_pb2.VerdictEntry) -> dict[str, Any]:
    """An entry as JSON with its stored inputs and result embedded (not as text)."""
    from google.protobuf import json_format

    d = json_format.MessageToDict(e, preserving_proto_field_name=True)
    for key in ("inputs_json", "result_json"):
        text = d.pop(key, "")
        d[key.removesuffix("_json")] = json.loads(text) if text else None
    return d


def csv_row(e: verdicts_pb2.VerdictEntry) -> list[str]:
    return [
        str(e.seq),
        e.id,
        e.kind,
        e.customer_id,
        e.device_id,
        e.policy_id,
        _iso(e.subject_time),
        _iso(e.recorded_at),
        e.outcome,
        " ".join(e.clause_ids),
        str(e.payable_yen),
        e.refers_to,
        e.request_id,
        e.caller.identity,
        e.entry_hash,
    ]


def _styled(outcome: str) -> Any:
    from rich.text import Text

    return Text(outcome, style=_OUTCOME_STYLE.get(outcome, ""))


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


def verdicts(ns: argparse.Namespace) -> int:
    import grpc

    from anshin.v1 import verdicts_pb2_grpc
    from server.client_channel import open_channel

    req = query_request(ns)
    with open_channel(ns) as channel:
        stub = verdicts_pb2_grpc.VerdictLogServiceStub(channel)
        try:
            if ns.json:
                for e in _entries(stub, req, ns.limit, ns.timeout):
                    print(json.dumps(entry_json(e), ensure_ascii=False))
                return 0
            if ns.csv:
                out = csv.writer(sys.stdout, lineterminator="\n")
                out.writerow(CSV_COLUMNS)
                for e in _entries(stub, req, ns.limit, ns.timeout):
                    out.writerow(csv_row(e))
                return 0
            rows = list(_entries(stub, req, ns.limit, ns.timeout))
        except grpc.RpcError as exc:
            return _fail(exc, ns.server)
    render_table(rows, ns.limit)
    return 0


def render_table(rows: list[Any], limit: int) -> None:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)
    table.add_column("seq", justify="right", no_wrap=True)
    table.add_column("recorded (JST)", no_wrap=True)
    table.add_column("subject (JST)", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("customer", no_wrap=True)
    table.add_column("policy/device", no_wrap=True)
    table.add_column("outcome", no_wrap=True)
    table.add_column("payable", justify="right", no_wrap=True)
    table.add_column("clauses", overflow="fold", min_width=14)
    table.add_column("id", no_wrap=True, min_width=36)
    for e in rows:
        kind = {"review_resolution": "resolved", "login_posture": "posture"}.get(e.kind, e.kind)
        table.add_row(
            str(e.seq),
            _jst(e.recorded_at, _MINUTES),
            _jst(e.subject_time, _MINUTES),
            kind,
            e.customer_id,
            e.policy_id or e.device_id,
            _styled(e.outcome),
            _yen(e.payable_yen) if e.payable_yen else "",
            " ".join(e.clause_ids),
            e.id,
        )
    console = _console()
    console.print(table)
    more = " (--limit reached: narrow the filters or raise --limit)" if len(rows) == limit else ""
    console.print(f"{len(rows)} entr{'y' if len(rows) == 1 else 'ies'}{more}", style="dim")


# --------------------------------------------------------------------------- show


def show(ns: argparse.Namespace) -> int:
    import grpc

    from anshin.v1 import verdicts_pb2, verdicts_pb2_grpc
    from server.client_channel import open_channel

    with open_channel(ns) as channel:
        stub = verdicts_pb2_grpc.VerdictLogServiceStub(channel)
        try:
            e = stub.GetVerdict(verdicts_pb2.GetVerdictRequest(id=ns.id), timeout=ns.timeout)
            review_state = _review_state(stub, e, ns.timeout) if e.outcome == "REVIEW" else ""
        except grpc.RpcError as exc:
            return _fail(exc, ns.server)
    if ns.json:
        print(json.dumps(entry_json(e), ensure_ascii=False, indent=2))
        return 0
    explain(e, inputs=ns.inputs, review_state=review_state)
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
                return f"resolved: {r.outcome} {_yen(r.payable_yen)} by entry {r.id}"
    return "resolved"


def explain(e: Any, *, inputs: bool = False, review_state: str = "") -> None:
    from rich.text import Text

    console = _console()
    head = Text()
    head.append(f"{e.kind} ", style="bold")
    head.append_text(_styled(e.outcome))
    if e.payable_yen:
        head.append(f"   payable {_yen(e.payable_yen)}")
    head.append(f"   entry {e.id} (seq {e.seq})", style="dim")
    console.print(head)
    about = [f"customer {e.customer_id}"]
    if e.device_id:
        about.append(f"device {e.device_id}")
    if e.policy_id:
        about.append(f"policy {e.policy_id}")
    about.append(
        f"{'login' if e.kind == 'login_posture' else 'incident'} at {_jst(e.subject_time)} JST"
    )
    console.print(Text("   ".join(about)))
    console.print(
        Text(
            f"recorded {_jst(e.recorded_at)} JST by {e.caller.identity or '-'}"
            f" (request {e.request_id})",
            style="dim",
        )
    )
    r = e.rules
    rules = ", ".join(
        [*r.policies, *([f"matrix {r.matrix_revision}"] if r.matrix_revision else [])]
    )
    console.print(Text(f"rules {rules or '-'}  digest {r.digest or '-'}", style="dim"))
    if e.clause_ids:
        console.print(Text(f"clauses {', '.join(e.clause_ids)}", style="bold"))
    if review_state:
        console.print(Text(f"review {review_state}", style="yellow"))
    if e.refers_to:
        console.print(Text(f"resolves {e.refers_to}", style="bold"))
    result = json.loads(e.result_json) if e.result_json else {}
    if e.kind == "claim":
        _explain_claim(e, result)
    elif e.kind == "login_posture":
        _explain_posture(console, result)
    elif e.kind == "review_resolution":
        _explain_resolution(console, e, result)
    if inputs:
        from rich.syntax import Syntax

        console.print(Text("inputs (as stored)", style="bold"))
        console.print(
            Syntax(json.dumps(json.loads(e.inputs_json), ensure_ascii=False, indent=2), "json")
        )
    console.print(Text(f"hash {e.entry_hash}  prev {e.prev_hash}", style="dim"))


def _explain_claim(e: Any, result: dict[str, Any]) -> None:
    from google.protobuf import json_format

    from anshin.v1 import claims_pb2
    from server.claim_cli import render

    resp = claims_pb2.EvaluateClaimResponse()
    json_format.ParseDict(result, resp, ignore_unknown_fields=True)
    render(resp, source="as recorded")


def _explain_posture(console: Any, result: dict[str, Any]) -> None:
    from rich.table import Table
    from rich.text import Text

    client = result.get("client") or {}
    parts = [
        f"{client.get('browser') or '?'} {client.get('browser_version') or ''}".strip(),
        f"{client.get('os') or '?'} {client.get('os_version') or ''}".strip(),
    ]
    console.print(Text(f"client {' on '.join(parts)}"))
    table = Table(title="checks", show_lines=True, expand=True)
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("observed vs expected", ratio=2, overflow="fold")
    table.add_column("explanation 説明", ratio=3, overflow="fold")
    for c in result.get("checks", []):
        status = c.get("status", "")
        cell = Text(c.get("check_id", ""))
        if c.get("clause_ids"):
            cell.append("\n" + " ".join(c["clause_ids"]), style="dim")
        compared = "\n".join(
            f"{x['name']}: {x['observed']} vs {x['expected']}" for x in c.get("compared", [])
        )
        table.add_row(
            cell,
            Text(status, style=_STATUS_STYLE.get(status, "")),
            compared,
            c.get("message_ja", ""),
        )
    console.print(table)


def _explain_resolution(console: Any, e: Any, result: dict[str, Any]) -> None:
    from rich.table import Table
    from rich.text import Text

    inputs = json.loads(e.inputs_json) if e.inputs_json else {}
    request = inputs.get("request") or {}
    console.print(
        Text(f"analyst {request.get('analyst', '-')}  (caller {inputs.get('caller', '-')})")
    )
    if request.get("note"):
        console.print(Text(f"note {request['note']}"))
    reservations = result.get("reservations") or []
    if reservations:
        table = Table(title="ledger reservations")
        table.add_column("scope", overflow="fold")
        table.add_column("caps", no_wrap=True)
        table.add_column("reserved", justify="right", no_wrap=True)
        table.add_column("used before", justify="right", no_wrap=True)
        table.add_column("limit", justify="right", no_wrap=True)
        for r in reservations:
            limit = r.get("limitYen")
            table.add_row(
                r["scopeKey"],
                " ".join(r.get("capIds", [])),
                _yen(int(r["amountYen"])),
                _yen(int(r.get("usedYenBefore", 0))),
                _yen(int(limit)) if limit is not None else "-",
            )
        console.print(table)
    elif e.outcome == "APPROVE":
        console.print(Text("no ledger scope applies to this claim", style="dim"))


# --------------------------------------------------------------------------- reviews


def reviews(ns: argparse.Namespace) -> int:
    import grpc

    from anshin.v1 import verdicts_pb2, verdicts_pb2_grpc
    from server.client_channel import open_channel

    req = verdicts_pb2.ListReviewsRequest(
        policy_id=ns.policy or "", customer_id=ns.customer or "", page_size=ns.limit
    )
    with open_channel(ns) as channel:
        stub = verdicts_pb2_grpc.VerdictLogServiceStub(channel)
        try:
            items = list(stub.ListReviews(req, timeout=ns.timeout))
        except grpc.RpcError as exc:
            return _fail(exc, ns.server)
    if ns.json:
        from google.protobuf import json_format

        for item in items:
            d = json_format.MessageToDict(item, preserving_proto_field_name=True)
            d["decision"] = entry_json(item.decision)
            print(json.dumps(d, ensure_ascii=False))
        return 0
    from rich import box
    from rich.table import Table

    if not items:
        _console().print("no open reviews", style="dim")
        return 0
    table = Table(box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)
    table.add_column("seq", justify="right", no_wrap=True)
    table.add_column("recorded (JST)", no_wrap=True)
    table.add_column("customer", no_wrap=True)
    table.add_column("policy", no_wrap=True)
    table.add_column("claimed", justify="right", no_wrap=True)
    table.add_column("computed", justify="right", no_wrap=True)
    table.add_column("review clauses", overflow="fold")
    table.add_column("missing facts", overflow="fold", min_width=20)
    table.add_column("decision id", no_wrap=True, min_width=36)
    for item in items:
        d = item.decision
        table.add_row(
            str(d.seq),
            _jst(d.recorded_at, _MINUTES),
            d.customer_id,
            d.policy_id,
            _yen(item.claimed_yen),
            _yen(item.computed_yen),
            " ".join(item.review_clause_ids),
            "\n".join(item.missing_facts) or "-",
            d.id,
        )
    console = _console()
    console.print(table)
    more = "; more: raise --limit" if items and items[-1].next_page_token else ""
    console.print(f"{len(items)} open review(s), oldest first{more}", style="dim")
    return 0


def resolve(ns: argparse.Namespace) -> int:
    import grpc

    from anshin.v1 import common_pb2, verdicts_pb2, verdicts_pb2_grpc
    from server.client_channel import open_channel

    if not ns.analyst:
        print("anshin: give --analyst (or set ANSHIN_ANALYST)", file=sys.stderr)
        return EXIT_FAILED
    req = verdicts_pb2.ResolveReviewRequest(
        verdict_id=ns.id,
        outcome=common_pb2.OUTCOME_APPROVE if ns.approve else common_pb2.OUTCOME_DENY,
        payable_yen=ns.approve or 0,
        clause_ids=ns.clause or [],
        note=ns.note or "",
        analyst=ns.analyst,
    )
    with open_channel(ns) as channel:
        stub = verdicts_pb2_grpc.VerdictLogServiceStub(channel)
        try:
            e = stub.ResolveReview(req, timeout=ns.timeout)
        except grpc.RpcError as exc:
            return _fail(exc, ns.server)
    if ns.json:
        print(json.dumps(entry_json(e), ensure_ascii=False, indent=2))
    else:
        explain(e)
    return 0


# --------------------------------------------------------------------------- parsers


def _query_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--customer", help="customer id")
    p.add_argument("--policy", help="policy id (claims and resolutions), e.g. HNB")
    p.add_argument("--kind", choices=sorted(_KINDS))
    p.add_argument("--outcome", help="APPROVE DENY REVIEW COMPLIANT NON_COMPLIANT UNKNOWN")
    p.add_argument("--clause", help="a clause id that fired, e.g. HNB-X5")
    p.add_argument("--since", type=parse_instant, help="subject instant from (inclusive)")
    p.add_argument("--until", type=parse_instant, help="subject instant until (exclusive)")
    p.add_argument("--recorded-since", type=parse_instant, help="recorded from (inclusive)")
    p.add_argument("--recorded-until", type=parse_instant, help="recorded until (exclusive)")
    p.add_argument("--oldest-first", action="store_true", help="default: newest first")
    p.add_argument("--limit", type=int, default=50, help="entries (0: all); default %(default)s")


def add_parsers(sub: Any, default_server: str) -> None:
    """``verdicts`` (+ ``verdicts show``) and ``reviews`` (+ ``reviews resolve``)."""
    from server.client_channel import add_client_args

    v = sub.add_parser(
        "verdicts",
        help="find verdict-log entries; `verdicts show ID` explains one",
        description="Entries matching every filter; `anshin verdicts show ID` explains one.",
    )
    v.add_argument("--server", default=default_server, help="default %(default)s")
    v.add_argument("--timeout", type=float, default=600.0)
    _query_flags(v)
    fmt = v.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="one JSON object per line")
    fmt.add_argument("--csv", action="store_true", help="CSV with a header row")
    add_client_args(v)
    v.set_defaults(func=verdicts)
    vsub = v.add_subparsers(dest="verdicts_command")
    s = vsub.add_parser("show", help="one entry as a readable explanation")
    s.add_argument("id")
    s.add_argument("--server", default=default_server, help="default %(default)s")
    s.add_argument("--timeout", type=float, default=30.0)
    s.add_argument("--inputs", action="store_true", help="also the stored inputs")
    s.add_argument("--json", action="store_true", help="the entry as JSON")
    add_client_args(s)
    s.set_defaults(func=show)

    r = sub.add_parser("reviews", help="the open REVIEW decisions; `reviews resolve ID` closes one")
    r.add_argument("--server", default=default_server, help="default %(default)s")
    r.add_argument("--timeout", type=float, default=30.0)
    r.add_argument("--policy")
    r.add_argument("--customer")
    r.add_argument("--limit", type=int, default=100, help="at most 1000; default %(default)s")
    r.add_argument("--json", action="store_true", help="one JSON object per line")
    add_client_args(r)
    r.set_defaults(func=reviews)
    rsub = r.add_subparsers(dest="reviews_command")
    x = rsub.add_parser("resolve", help="resolve one REVIEW decision (once)")
    x.add_argument("id", help="the REVIEW decision's entry id")
    how = x.add_mutually_exclusive_group(required=True)
    how.add_argument("--approve", type=_yen_arg, metavar="YEN", help="approve paying YEN")
    how.add_argument("--deny", action="store_true")
    x.add_argument("--clause", action="append", help="a clause decided on (repeatable)")
    x.add_argument("--note", default="")
    x.add_argument(
        "--analyst",
        default=os.environ.get("ANSHIN_ANALYST", ""),
        help="who resolves (default $ANSHIN_ANALYST)",
    )
    x.add_argument("--server", default=default_server, help="default %(default)s")
    x.add_argument("--timeout", type=float, default=30.0)
    x.add_argument("--json", action="store_true", help="the resolution entry as JSON")
    add_client_args(x)
    x.set_defaults(func=resolve)
