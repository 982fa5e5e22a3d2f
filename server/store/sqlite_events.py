"""Event storage for the SQLite backend (mixed into SqliteStore)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from server.store import events_sql
from server.store.events_sql import EventRow

T = TypeVar("T")


class SqliteEventsMixin:
    # Provided by SqliteStore.
    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    _known_sets: set[str]

    async def record_events(self, rows: Sequence[EventRow]) -> list[tuple[bool, EventRow]]:
        """Store new events in one transaction; for each row, (inserted?, row stored first)."""
        known = getattr(self, "_known_sets", None)
        if known is None:
            known = self._known_sets = set()
        result = await self.write(lambda conn: events_sql.insert_rows(conn, rows, known))
        # Committed: the sets of inserted rows are stored; never write them again.
        known |= events_sql.new_sets([row for inserted, row in result if inserted])
        return result

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

    async def count_events(self) -> int:
        def q(conn: Any) -> int:
            return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])

        return await self.read(q)
