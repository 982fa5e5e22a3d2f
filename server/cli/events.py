"""``anshin events ingest | coverage | security-standard | alerts``.

``ingest`` streams a JSON-lines file of events to the server; the others show
what the server believes from the events it holds (EventService GetCoverage,
GetSecurityStandard, GetAlerts), read-only.

``ingest``:

Each line is one ``anshin.v1.EventEnvelope`` in protobuf JSON. Lines are sent
in batches over the client-streaming ``IngestEvents`` RPC, so the server
applies the same validation, judgements and idempotency as to single calls.
A line that is not valid JSON for an envelope is rejected here, with its line
number, and never sent; so is a line whose instants or integers protobuf's
JSON parser would bend (``server/wire/strict_json.py``: an offset ``+09:60``,
full-width digits, an exponent inside a string), its fields named.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server.cli.args import instant_or_date, timestamp
from server.cli.channel import add_server_args, open_channel
from server.cli.exit_codes import Exit
from server.cli.output import View, add_output_arg, emit_doc, emit_one, emit_rows
from server.cli.progress import Counter
from server.cli.progress import progress as progress_bar
from server.cli.render import SECONDS, format_instant, rpc_exit
from server.cli.table import Column

if TYPE_CHECKING:
    from anshin.v1 import events_pb2


@dataclass
class Progress:
    sent_lines: list[int] = field(default_factory=list)  # stream index → line number
    local_rejects: list[tuple[int, str]] = field(default_factory=list)


def batches(
    path: Path, size: int, progress: Progress, bar: Counter
) -> Iterator[events_pb2.IngestEventsRequest]:
    from google.protobuf import json_format

    from anshin.v1 import events_pb2
    from server.wire import strict_json

    batch = events_pb2.IngestEventsRequest()
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            line = raw.strip()
            if not line:
                continue
            bar.update(1)
            env = batch.events.add()
            try:
                # Strictly (server/wire/strict_json.py): the server receives
                # binary protobuf, so an instant or a number protobuf's JSON
                # parser would bend (+09:60, full-width digits) is this line's
                # rejection, naming its fields, like a line that is not JSON.
                json_format.ParseDict(strict_json.load(line, env.DESCRIPTOR), env)
            except (strict_json.StrictJsonError, json_format.ParseError) as exc:
                del batch.events[-1]
                progress.local_rejects.append((number, f"not an EventEnvelope: {exc}"[:300]))
                continue
            progress.sent_lines.append(number)
            if len(batch.events) >= size:
                yield batch
                batch = events_pb2.IngestEventsRequest()
    if batch.events:
        yield batch


def ingest(ns: argparse.Namespace) -> int:
    import grpc

    from anshin.v1 import events_pb2_grpc

    path = Path(ns.file)
    path.stat()  # a missing file is the user's to fix, before any stream opens
    progress = Progress()
    with (
        progress_bar("ingest", unit="events", quiet=ns.quiet) as bar,
        open_channel(ns, options=[("grpc.max_send_message_length", 64 << 20)]) as channel,
    ):
        stub = events_pb2_grpc.EventServiceStub(channel)
        try:
            resp = stub.IngestEvents(batches(path, ns.batch, progress, bar), timeout=ns.timeout)
        except grpc.RpcError as exc:
            return rpc_exit(exc, ns)
    rejected = [
        (progress.sent_lines[r.index], r.code, r.client_event_id, r.message) for r in resp.rejected
    ]
    rejected += [(n, "INVALID_JSON", "", msg) for n, msg in progress.local_rejects]
    rejected.sort()
    doc = {
        "file": str(path),
        "accepted": resp.accepted,
        "replayed": resp.replayed,
        "rejected": [
            {"line": line, "code": code, "clientEventId": event_id, "message": message}
            for line, code, event_id, message in rejected
        ],
    }
    emit_ingest(doc, ns.output, show=ns.show)
    return int(Exit.FAILED) if rejected else 0


# -o csv: the rejected lines, every one.
REJECTED = View(
    columns=(
        Column("line", keep=True, right=True),
        Column("code", keep=True),
        Column("client event id", keep=True),
        Column("message"),
    ),
    row=lambda r: [str(r["line"]), r["code"], r["clientEventId"], r["message"]],
)


def emit_ingest(doc: dict[str, Any], fmt: str, *, show: int = 50) -> None:
    """``events ingest``'s summary: counts, then the rejected lines (the table
    lists ``show`` of them; json, yaml and csv all)."""

    def text() -> None:
        rejected = doc["rejected"]
        print(
            f"{doc['file']}: {doc['accepted']} accepted, {doc['replayed']} already stored "
            f"(retries), {len(rejected)} rejected"
        )
        # One line each, "line N: CODE": what to grep for and fix the file by.
        for r in rejected[: max(show, 0)]:
            print(f"  line {r['line']}: {r['code']} {r['clientEventId']} {r['message']}")
        if len(rejected) > show:
            print(f"  … {len(rejected) - show} more (use --show N)")

    emit_doc(doc, fmt, text=text, rows=(REJECTED, doc["rejected"]))


# --------------------------------------------------------------------------- what is held


def _instants(values: Any) -> str:
    return "\n".join(format_instant(v, SECONDS) for v in values) or "-"


def _status(common_pb2: Any, value: int) -> str:
    return str(common_pb2.CheckStatus.Name(value)).removeprefix("CHECK_STATUS_")


def _judgements(acks: Any) -> str:
    from anshin.v1 import common_pb2

    return (
        "\n".join(
            f"{format_instant(a.recorded_at, SECONDS)} {a.event_id}: "
            + ", ".join(f"{j.clause_id} {_status(common_pb2, j.status)}" for j in a.judgements)
            for a in acks
        )
        or "-"
    )


COVERAGE = View(
    columns=(
        Column("starts (JST)", keep=True),
        Column("ends (JST)", keep=True),
        Column("clauses"),
        Column("basis"),
    ),
    row=lambda p: [
        format_instant(p.starts_at, SECONDS),
        format_instant(p.ends_at, SECONDS) if p.HasField("ends_at") else "open",
        " ".join(p.clause_ids),
        p.basis,
    ],
)


def coverage_footer(customer: str, policy: str) -> Callable[[int], str]:
    """The count on stderr under the table; the only line when there is no
    period (README: an empty list says so on stderr)."""
    return lambda n: (
        f"{n} coverage period(s)" if n else f"no coverage periods for {customer} under {policy}"
    )


STANDARD = View(
    columns=(Column("registrations"), Column("logins")),
    row=lambda r: [_judgements(r.registrations), _judgements(r.logins)],
)
ALERTS = View(
    columns=(Column("registered (JST)", keep=True), Column("alerts delivered (JST)", keep=True)),
    row=lambda r: [
        format_instant(r.registered_at, SECONDS) if r.HasField("registered_at") else "-",
        _instants(r.alerts_delivered_at),
    ],
)


def held(ns: argparse.Namespace) -> int:
    import grpc

    from anshin.v1 import events_pb2, events_pb2_grpc

    with open_channel(ns) as channel:
        stub = events_pb2_grpc.EventServiceStub(channel)
        try:
            if ns.events_command == "coverage":
                creq = events_pb2.GetCoverageRequest(customer_id=ns.customer, policy_id=ns.policy)
                if ns.as_of is not None:
                    creq.as_of.CopyFrom(timestamp(ns.as_of))
                cov = stub.GetCoverage(creq, timeout=ns.timeout)
                if ns.output in ("json", "yaml"):
                    emit_one(cov, ns.output, table=COVERAGE)
                else:
                    footer = coverage_footer(ns.customer, ns.policy)
                    emit_rows(cov.periods, ns.output, COVERAGE, footer=footer)
                return 0
            if ns.events_command == "security-standard":
                sreq = events_pb2.GetSecurityStandardRequest(
                    customer_id=ns.customer,
                    payment_service_id=ns.payment_service,
                    instrument_token=ns.instrument,
                )
                if ns.before is not None:
                    sreq.before.CopyFrom(timestamp(ns.before))
                emit_one(
                    stub.GetSecurityStandard(sreq, timeout=ns.timeout), ns.output, table=STANDARD
                )
                return 0
            areq = events_pb2.GetAlertsRequest(customer_id=ns.customer, card_token=ns.card)
            if ns.before is not None:
                areq.before.CopyFrom(timestamp(ns.before))
            emit_one(stub.GetAlerts(areq, timeout=ns.timeout), ns.output, table=ALERTS)
            return 0
        except grpc.RpcError as exc:
            return rpc_exit(exc, ns)


def add_parser(sub: Any) -> None:
    e = sub.add_parser("events", help="event ingestion")
    esub = e.add_subparsers(dest="events_command", required=True)
    ei = esub.add_parser("ingest", help="stream a JSON-lines file of EventEnvelopes (backfill)")
    ei.add_argument("file")
    ei.add_argument("--batch", type=int, default=500, help="events per stream message")
    ei.add_argument("--show", type=int, default=50, help="rejected lines the table lists")
    add_output_arg(ei)
    ei.add_argument("--quiet", action="store_true", help="no progress bar (none off a terminal)")
    add_server_args(ei, timeout=3600.0)
    ei.set_defaults(func=ingest)
    date_help = "instant, or a date = JST midnight; default now"
    c = esub.add_parser("coverage", help="a customer's coverage periods under a policy")
    c.add_argument("--customer", required=True)
    c.add_argument("--policy", required=True, help="policy id, e.g. DCM")
    c.add_argument("--as-of", type=instant_or_date, help=date_help)
    s = esub.add_parser(
        "security-standard", help="registration and login judgements of an instrument"
    )
    s.add_argument("--customer", required=True)
    s.add_argument("--payment-service", required=True, help="payment service id")
    s.add_argument("--instrument", required=True, help="instrument token")
    s.add_argument("--before", type=instant_or_date, help=date_help)
    a = esub.add_parser("alerts", help="a card's monitoring registration and leak alerts")
    a.add_argument("--customer", required=True)
    a.add_argument("--card", required=True, help="card token")
    a.add_argument("--before", type=instant_or_date, help=date_help)
    for p in (c, s, a):
        add_output_arg(p)
        add_server_args(p, timeout=30.0)
        p.set_defaults(func=held)
