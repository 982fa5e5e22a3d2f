"""Event storage for the SQLite backend (mixed into SqliteStore).

Concurrent single-event calls are coalesced: the rows submitted during one
event-loop iteration go to the writer as one job (one idempotency lookup, one
multi-row insert) instead of one job each, which is what lets many callers
share a commit cheaply.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from rules.engine.needs import Need
from server.store.chain import LogChain
from server.store.records import EventRow
from server.store.sql import events as events_sql

T = TypeVar("T")
Result = list[tuple[bool, EventRow]]


class SqliteEventsMixin:
    _chain: LogChain  # the writer thread's: new events are listed in an ``events`` entry
    _known_sets: set[str]
    _event_pending: dict[
        asyncio.AbstractEventLoop, list[tuple[Sequence[EventRow], asyncio.Future[Result]]]
    ]

    # Provided by SqliteStore.
    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    def _events_state(self) -> tuple[set[str], dict[Any, Any]]:
        if not hasattr(self, "_known_sets"):
            self._known_sets = set()
            self._event_pending = {}
        return self._known_sets, self._event_pending

    async def record_events(self, rows: Sequence[EventRow]) -> Result:
        """Store new events in one transaction; for each row, (inserted?, row stored first)."""
        _, pending = self._events_state()
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Result] = loop.create_future()
        waiting = pending.get(loop)
        if waiting is None:
            pending[loop] = [(rows, fut)]
            loop.call_soon(lambda: asyncio.ensure_future(self._flush_events(loop)))
        else:
            waiting.append((rows, fut))
        return await fut

    async def _flush_events(self, loop: asyncio.AbstractEventLoop) -> None:
        known, pending = self._events_state()
        callers = pending.pop(loop, [])
        if not callers:
            return
        rows = [row for chunk, _ in callers for row in chunk]
        try:
            result = await self.write(
                lambda conn: events_sql.insert_rows(conn, self._chain, rows, known)
            )
        except BaseException as exc:  # the whole transaction failed: every caller learns it
            for _, fut in callers:
                if not fut.done():
                    fut.set_exception(exc)
            return
        # Committed: the sets of inserted rows are stored; never write them again.
        known |= events_sql.stored_sets([row for inserted, row in result if inserted])
        start = 0
        for chunk, fut in callers:
            if not fut.done():
                fut.set_result(result[start : start + len(chunk)])
            start += len(chunk)

    async def events_of(
        self, customer_id: str, kinds: Sequence[str], until_us: int
    ) -> list[tuple[str, bytes]]:
        return await self.read(
            lambda conn: events_sql.events_of(conn, customer_id, kinds, until_us)
        )

    async def event_replies(
        self, customer_id: str, kind: str, subject_prefix: str, before_us: int
    ) -> list[bytes]:
        return await self.read(
            lambda conn: events_sql.replies_of(conn, customer_id, kind, subject_prefix, before_us)
        )

    async def security_replies(
        self, customer_id: str, service: str, token: str, before_us: int
    ) -> tuple[list[bytes], list[bytes]]:
        return await self.read(
            lambda conn: events_sql.security_replies(conn, customer_id, service, token, before_us)
        )

    async def claim_events(
        self, customer_id: str, needs: Sequence[Need]
    ) -> list[tuple[str, bytes]]:
        return await self.read(lambda conn: events_sql.claim_events(conn, customer_id, needs))

    async def count_events(self) -> int:
        return await self.read(events_sql.count_events)
