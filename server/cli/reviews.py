"""``anshin reviews``: the open REVIEW decisions, oldest first, with what is
missing; ``anshin reviews resolve ID --approve YEN | --deny --clause … --note …
--analyst …`` resolves one (once)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from server.cli.args import yen_amount
from server.cli.channel import add_server_args, open_channel
from server.cli.exit_codes import Exit
from server.cli.failures import CommandFailed, Failure
from server.cli.output import View, add_output_arg, emit_one, emit_rows
from server.cli.render import MINUTES, format_instant, rpc_exit, yen
from server.cli.table import Column
from server.cli.verdicts import explain


def review_row(item: Any) -> list[str]:
    d = item.decision
    return [
        str(d.seq),
        format_instant(d.recorded_at, MINUTES),
        d.customer_id,
        d.policy_id,
        yen(item.claimed_yen),
        yen(item.computed_yen),
        " ".join(item.review_clause_ids),
        "\n".join(item.missing_facts) or "-",
        d.id,
    ]


REVIEWS = View(
    columns=(
        Column("seq", keep=True, right=True),
        Column("recorded (JST)", keep=True),
        Column("customer", keep=True),
        Column("policy", keep=True),
        Column("claimed", keep=True, right=True),
        Column("computed", keep=True, right=True),
        Column("review clauses"),
        Column("missing facts"),
        Column("decision id", keep=True),
    ),
    row=review_row,
)


def queue_footer(n: int, more: str = "") -> str:
    """The count on stderr under the table (the only line when the queue is empty)."""
    return f"{n} open review(s), oldest first{more}" if n else "no open reviews"


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
            return rpc_exit(exc, ns)
    more = "; more: raise --limit" if items and items[-1].next_page_token else ""
    emit_rows(items, ns.output, REVIEWS, footer=lambda n: queue_footer(n, more))
    return 0


def resolve(ns: argparse.Namespace) -> int:
    import grpc

    from anshin.v1 import common_pb2, verdicts_pb2, verdicts_pb2_grpc

    if not ns.analyst:
        raise CommandFailed(
            Failure(
                Exit.USAGE,
                "reviews resolve: who resolves?",
                "give --analyst (or set ANSHIN_ANALYST)",
            )
        )
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
            return rpc_exit(exc, ns)
    emit_one(e, ns.output, table=lambda: explain(e))
    return 0


def add_parser(sub: Any) -> None:
    """``reviews`` (+ ``reviews resolve``)."""
    r = sub.add_parser("reviews", help="the open REVIEW decisions; `reviews resolve ID` closes one")
    r.add_argument("--policy")
    r.add_argument("--customer")
    r.add_argument("--limit", type=int, default=100, help="at most 1000; default %(default)s")
    add_output_arg(r, legacy_json=True)
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
    add_output_arg(x, legacy_json=True)
    add_server_args(x, timeout=30.0)
    x.set_defaults(func=resolve)
