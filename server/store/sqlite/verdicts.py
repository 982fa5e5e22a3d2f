"""Verdict-log queries and the review queue for the SQLite backend (mixed into SqliteStore)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import TypeVar

from server.store.chain import LogChain
from server.store.records import ResolutionWrite, Row, Usage, VerdictFilter, VerdictRecord
from server.store.sql import reviews, verdict_queries

T = TypeVar("T")


class SqliteVerdictsMixin:
    _chain: LogChain

    # Provided by SqliteStore.
    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def query_verdicts(
        self, f: VerdictFilter, after_seq: int | None, limit: int
    ) -> list[Row]:
        """Text columns come as the stored UTF-8 bytes: an export encodes them
        onto the wire as they are, never decoding (and re-encoding) them."""

        def q(conn: sqlite3.Connection) -> list[Row]:
            conn.text_factory = bytes
            try:
                return verdict_queries.query_page(conn, f, after_seq, limit)
            finally:
                conn.text_factory = str

        return await self.read(q)

    async def verdict_row(self, verdict_id: str) -> Row | None:
        return await self.read(lambda conn: verdict_queries.verdict_row(conn, verdict_id))

    async def open_reviews(
        self, policy_id: str | None, customer_id: str | None, after_seq: int | None, limit: int
    ) -> list[Row]:
        return await self.read(
            lambda conn: verdict_queries.open_reviews(
                conn, policy_id, customer_id, after_seq, limit
            )
        )

    async def resolutions_of(self, verdict_ids: Sequence[str]) -> dict[str, str]:
        return await self.read(lambda conn: verdict_queries.resolutions_of(conn, verdict_ids))

    async def resolve_review(
        self,
        verdict_id: str,
        scopes: Sequence[str],
        resolve: Callable[[VerdictRecord, dict[str, Usage]], ResolutionWrite],
    ) -> Row:
        return await self.write(
            lambda conn: reviews.resolve_and_record(conn, self._chain, verdict_id, scopes, resolve)
        )
