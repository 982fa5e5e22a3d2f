"""``anshin reviews``: the open REVIEW decisions, oldest first, with what is
missing; ``anshin reviews resolve ID --approve YEN | --deny --clause … --note …
--analyst …`` resolves one (once)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from server.cli.args import yen_amount
from server.cli.channel import add_server_args, open_channel
from server.cli.render import MINUTES, console, format_instant, print_json, yen
from server.cli.verdicts import EXIT_FAILED, WIDTH, entry_json, explain, fail


def reviews(ns: argparse.Namespace) -> int:
    import grpc

    from anshin.v1 import verdicts_pb2, verdicts_pb2_grpc

    req = verdicts_pb2.ListReviewsRequest(
        policy_id=ns.policy or "", customer_id=ns.customer or "", page_size=ns.limit
    )
    with open_channel(ns) as channel:
        stub = verdicts_pb2_grpc.VerdictLogServiceStub(channel)
        try:
            items = list(stub.ListReviews(req, timeout=ns.timeout))
        except grpc.RpcError as exc:
            return fail(exc, ns.server)
    if ns.json:
        from google.protobuf import json_format

        for item in items:
            d = json_format.MessageToDict(item, preserving_proto_field_name=True)
            d["decision"] = entry_json(item.decision)
            print_json(d, indent=False)
        return 0
    from rich import box
    from rich.table import Table

    out = console(WIDTH)
    if not items:
        out.print("no open reviews", style="dim")
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
            format_instant(d.recorded_at, MINUTES),
            d.customer_id,
            d.policy_id,
            yen(item.claimed_yen),
            yen(item.computed_yen),
            " ".join(item.review_clause_ids),
            "\n".join(item.missing_facts) or "-",
            d.id,
        )
    out.print(table)
    more = "; more: raise --limit" if items and items[-1].next_page_token else ""
    out.print(f"{len(items)} open review(s), oldest first{more}", style="dim")
    return 0


def resolve(ns: argparse.Namespace) -> int:
    import grpc

    from anshin.v1 import common_pb2, verdicts_pb2, verdicts_pb2_grpc

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
            return fail(exc, ns.server)
    if ns.json:
        print_json(entry_json(e))
    else:
        explain(e)
    return 0


def add_parser(sub: Any) -> None:
    """``reviews`` (+ ``reviews resolve``)."""
    r = sub.add_parser("reviews", help="the open REVIEW decisions; `reviews resolve ID` closes one")
    r.add_argument("--policy")
    r.add_argument("--customer")
    r.add_argument("--limit", type=int, default=100, help="at most 1000; default %(default)s")
    r.add_argument("--json", action="store_true", help="one JSON object per line")
    add_server_args(r, timeout=30.0)
    r.set_defaults(func=reviews)
    rsub = r.add_subparsers(dest="reviews_command")
    x = rsub.add_parser("resolve", help="resolve one REVIEW decision (once)")
    x.add_argument("id", help="the REVIEW decision's entry id")
    how = x.add_mutually_exclusive_group(required=True)
    how.add_argument("--approve", type=yen_amount, metavar="YEN", help="approve paying YEN")
    how.add_argument("--deny", action="store_true")
    x.add_argument("--clause", action="append", help="a clause decided on (repeatable)")
    x.add_argument("--note", default="")
    x.add_argument(
        "--analyst",
        default=os.environ.get("ANSHIN_ANALYST", ""),
        help="who resolves (default $ANSHIN_ANALYST)",
    )
    x.add_argument("--json", action="store_true", help="the resolution entry as JSON")
    add_server_args(x, timeout=30.0)
    x.set_defaults(func=resolve)
