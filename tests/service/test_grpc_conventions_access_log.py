"""A listing of the access log never shows its own record (A21 break 8): the
record is appended while the first page is read, so whether the query saw it
used to depend on which finished first (with auth it did not, without it
did). Now it is left out always — both orders, pages of one entry, both
backends — and shows in the next listing."""

from __future__ import annotations

import grpc

from anshin.v1 import verdicts_pb2, verdicts_pb2_grpc
from tests.conftest import RunningServer

ACCESS = verdicts_pb2.VERDICT_KIND_ANALYST_ACCESS


async def _listing(
    channel: grpc.aio.Channel, *, oldest_first: bool, page_size: int = 0
) -> list[verdicts_pb2.VerdictEntry]:
    stub = verdicts_pb2_grpc.VerdictLogServiceStub(channel)
    req = verdicts_pb2.QueryVerdictsRequest(
        kind=ACCESS, oldest_first=oldest_first, page_size=page_size
    )
    return [e async for page in stub.QueryVerdicts(req) for e in page.entries]


async def test_a_listing_leaves_out_its_own_record(server: RunningServer) -> None:
    seen: list[int] = []
    for n in range(4):
        # Alternate the order and the page size: a page of one entry is the
        # batch in which its own record takes the place of the one that says
        # whether more follow.
        entries = await _listing(server.channel, oldest_first=n % 2 == 0, page_size=1 + n % 2)
        seen.append(len(entries))
        assert all(e.kind == "analyst_access" for e in entries)
        assert len({e.id for e in entries}) == len(entries)
    # Each listing shows the records of those before it, never its own.
    assert seen == [0, 1, 2, 3]
    ids = [e.id for e in await _listing(server.channel, oldest_first=True, page_size=1)]
    newest_first = [e.id for e in await _listing(server.channel, oldest_first=False)]
    assert len(ids) == 4 and len(newest_first) == 5
    assert newest_first[1:] == ids[::-1]  # the previous listing's record is the newest
