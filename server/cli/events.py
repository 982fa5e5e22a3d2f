"""``anshin events ingest``: stream a JSON-lines file of events to the server.

Each line is one ``anshin.v1.EventEnvelope`` in protobuf JSON. Lines are sent
in batches over the client-streaming ``IngestEvents`` RPC, so the server
applies the same validation, judgements and idempotency as to single calls.
A line that is not valid JSON for an envelope is rejected here, with its line
number, and never sent.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server.cli.channel import add_server_args, open_channel
from server.cli.render import print_rpc_error

if TYPE_CHECKING:
    from tqdm import tqdm

    from anshin.v1 import events_pb2


@dataclass
class Progress:
    sent_lines: list[int] = field(default_factory=list)  # stream index → line number
    local_rejects: list[tuple[int, str]] = field(default_factory=list)


def batches(
    path: Path, size: int, progress: Progress, bar: tqdm
) -> Iterator[events_pb2.IngestEventsRequest]:
    from google.protobuf import json_format

    from anshin.v1 import events_pb2

    batch = events_pb2.IngestEventsRequest()
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            bar.update(len(raw))
            line = raw.strip()
            if not line:
                continue
            env = batch.events.add()
            try:
                json_format.Parse(line, env)
            except json_format.ParseError as exc:
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
    from tqdm import tqdm

    from anshin.v1 import events_pb2_grpc

    path = Path(ns.file)
    progress = Progress()
    with (
        tqdm(
            total=path.stat().st_size,
            unit="B",
            unit_scale=True,
            desc="ingest",
            disable=ns.quiet,
            file=sys.stderr,
        ) as bar,
        open_channel(ns, options=[("grpc.max_send_message_length", 64 << 20)]) as channel,
    ):
        stub = events_pb2_grpc.EventServiceStub(channel)
        try:
            resp = stub.IngestEvents(batches(path, ns.batch, progress, bar), timeout=ns.timeout)
        except grpc.RpcError as exc:
            print_rpc_error(exc, ns.server)
            return 2
    rejected = [
        (progress.sent_lines[r.index], r.code, r.client_event_id, r.message) for r in resp.rejected
    ]
    rejected += [(n, "INVALID_JSON", "", msg) for n, msg in progress.local_rejects]
    rejected.sort()
    print(
        f"{path}: {resp.accepted} accepted, {resp.replayed} already stored (retries), "
        f"{len(rejected)} rejected"
    )
    for line, code, event_id, message in rejected[: ns.show]:
        print(f"  line {line}: {code} {event_id} {message}")
    if len(rejected) > ns.show:
        print(f"  … {len(rejected) - ns.show} more (use --show N)")
    return 1 if rejected else 0


def add_parser(sub: Any) -> None:
    e = sub.add_parser("events", help="event ingestion")
    esub = e.add_subparsers(dest="events_command", required=True)
    ei = esub.add_parser("ingest", help="stream a JSON-lines file of EventEnvelopes (backfill)")
    ei.add_argument("file")
    ei.add_argument("--batch", type=int, default=500, help="events per stream message")
    ei.add_argument("--show", type=int, default=50, help="rejected lines to list")
    ei.add_argument("--quiet", action="store_true", help="no progress bar")
    add_server_args(ei, timeout=3600.0)
    ei.set_defaults(func=ingest)
