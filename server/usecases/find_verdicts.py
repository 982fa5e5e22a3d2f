"""Find and read verdict-log entries; every read is itself recorded.

Queries are keyset pages on the log sequence (``server/store/sql/
verdict_queries.py``). Who read what is appended to the log, durably, before
any of it is sent (issue 7: analysts' queries are themselves recorded); only
accepted requests are recorded, since a refused one reads nothing.

A listing never shows its own record: the record is appended while the
first page is read (its commit wait overlaps the query), so whether the query
would see it depends on which finishes first; it is left out, always, and the
listing shows the log as it was before the read (the next listing shows it).

Those records (kind ``analyst_access``) are read by auditors only
(``server/security/roles.py`` ``READERS_OF_KIND``): the readers they record
may neither list them nor open one by id. The check is here, not in one
servicer, so every way in (gRPC, the console) refuses alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from typing import Protocol

import orjson
import uuid_utils

from server.clock import Clock, to_us
from server.errors import AccessDenied, NotFound
from server.request_context import current_request
from server.security.identity import current_caller
from server.security.roles import kind_refusal
from server.store.ports import LogQueries, VerdictLog
from server.store.records import Row, VerdictRecord
from server.wire.pages import PAGE_BYTES, page_batch
from server.wire.verdict_requests import VerdictQuery

# What an encoded entry is taken to weigh before a stream has read any: a
# login-posture entry with its inputs is ~1-3 KiB, a claim with its facts more.
ENTRY_BYTES_GUESS = 4 << 10


class LogReads(VerdictLog, LogQueries, Protocol):
    """The ports reading the log uses."""


async def record_access(
    store: VerdictLog,
    clock: Clock,
    rpc: str,
    logged_request: bytes,
    customer_id: str,
    *,
    refers_to: str | None = None,
    entry_id: str | None = None,
) -> None:
    """Append who read what (``logged_request``: the request as JSON) as the
    entry ``entry_id`` (default: a new id)."""
    ctx = current_request()
    now_us = to_us(clock())
    await store.append_verdict(
        VerdictRecord(
            id=entry_id or str(uuid_utils.uuid7()),
            kind="analyst_access",
            customer_id=customer_id,
            device_id=None,
            subject_us=now_us,
            recorded_us=now_us,
            rules_digest="",
            rules=b"{}",
            outcome="RECORDED",
            clause_ids=(),
            inputs=logged_request,
            result=orjson.dumps({"rpc": rpc}),
            request_id=ctx.request_id,
            caller=ctx.caller,
            refers_to=refers_to,
        )
    )


def require_readable(kind: str | None) -> None:
    """Refuse (PERMISSION_DENIED, naming why) a read of ``kind`` entries the
    caller's role may not read; return when it may."""
    caller = current_caller()
    reason = kind_refusal(caller.role, kind)
    if reason is not None:
        raise AccessDenied("PERMISSION_DENIED", f"{caller} may not read {kind} entries: {reason}")


class FindVerdicts:
    def __init__(self, store: LogReads, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        # One batch encoded at a time, whatever the number of streams: a
        # thread encoding pages holds the GIL for most of its run, and many at
        # once starve the event loop (300 open streams: health checks waited
        # 300 ms). One stream never encodes two batches at once anyway.
        self._encoding = asyncio.Semaphore(1)

    async def pages(
        self,
        query: VerdictQuery,
        logged_request: bytes,
        batch_bytes: Callable[[], int] = lambda: PAGE_BYTES,
    ) -> AsyncGenerator[bytes, None]:
        """The matching entries as encoded VerdictPage messages. The record of
        this read is made durable while the first page is read (its commit
        wait overlaps the query); nothing is sent before both. The next batch
        is read while the current one is being sent, and no further: a reader
        that stops reading stops the reads.

        A batch holds at most ``page_size`` entries and about ``batch_bytes()``
        bytes (the stream's share of the read-ahead budget, asked at each
        read; server/security/stream_limits.py), estimated from the entries
        read so far: a page may then hold fewer entries than ``page_size``,
        with a token to resume after it, as AIP-158 allows."""
        f, size, max_pages = query.filter, query.page_size, query.max_pages
        require_readable(f.kind)  # before anything is read or recorded
        own_id = str(uuid_utils.uuid7())  # this read's record, left out of its pages
        own = (own_id, own_id.encode())  # ids come back as text or bytes, by backend
        recorded = asyncio.ensure_future(
            record_access(
                self._store,
                self._clock,
                "QueryVerdicts",
                logged_request,
                f.customer_id or "",
                entry_id=own_id,
            )
        )
        loop = asyncio.get_running_loop()
        store, encoding = self._store, self._encoding
        key = f.key()
        entry_bytes = ENTRY_BYTES_GUESS  # running estimate of an encoded entry

        async def batch(after_seq: int | None) -> tuple[list[bytes], int | None]:
            """(pages, the seq the next batch starts after, None at the end)."""
            nonlocal entry_bytes
            limit = max(1, min(size, batch_bytes() // entry_bytes))
            rows = await store.query_verdicts(f, after_seq, limit + 1)
            kept = [r for r in rows if r[1] not in own]
            if len(kept) < len(rows) and len(rows) > limit:
                # Its own record was one of a full batch: read one more, so
                # that the batch still knows whether more entries follow.
                rows = await store.query_verdicts(f, after_seq, limit + 2)
                kept = [r for r in rows if r[1] not in own]
            rows = kept
            async with encoding:
                pages, resume = await loop.run_in_executor(None, page_batch, rows, limit, key)
            if resume is not None:  # a full batch of ``limit`` entries
                entry_bytes = max(1, sum(map(len, pages)) // limit)
            return pages, resume

        pending = asyncio.ensure_future(batch(query.after_seq))
        sent = 0
        try:
            await recorded
            while True:
                pages, resume = await pending
                more = resume is not None
                if more and (not max_pages or sent + len(pages) < max_pages):
                    pending = asyncio.ensure_future(batch(resume))
                for page in pages:
                    yield page
                    sent += 1
                    if max_pages and sent >= max_pages:
                        return
                if not more:
                    return
        finally:
            if not pending.done():
                pending.cancel()
            if not recorded.done():
                recorded.cancel()

    async def get(self, verdict_id: str, logged_request: bytes) -> Row:
        row = await self._store.verdict_row(verdict_id)
        if row is None:
            raise NotFound(f"no verdict {verdict_id}")
        require_readable(str(row[2]))  # its kind; refused before the read is recorded
        await record_access(
            self._store,
            self._clock,
            "GetVerdict",
            logged_request,
            str(row[3]),
            refers_to=verdict_id,
        )
        return row
