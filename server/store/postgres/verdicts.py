"""Verdict-log queries and the review queue for the PostgreSQL backend
(mixed into PostgresStore): thin wrappers over the shared SQL.

Resolving a review reads ledger usage and appends to the log, so, like a
claim, its transaction locks the log head first (see ``claims.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from server.store.chain import LogChain
from server.store.postgres.connection import LOCK_HEAD, PgConn
from server.store.records import ResolutionWrite, Row, Usage, VerdictFilter, VerdictRecord
from server.store.sql import reviews, verdict_queries

T = TypeVar("T")


class PostgresVerdictsMixin:
    # Provided by PostgresStore.
    async def write(self, fn: Callable[[PgConn, LogChain], T]) -> T:
        raise NotImplementedError

    async def read(self, fn: Callable[[PgConn], T]) -> T:
        raise NotImplementedError

    async def query_verdicts(
        self, f: VerdictFilter, after_seq: int | None, limit: int
    ) -> list[Row]:
        return await self.read(lambda conn: verdict_queries.query_page(conn, f, after_seq, limit))

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
        def run(conn: PgConn, chain: LogChain) -> Row:
            conn.execute(LOCK_HEAD)
            return reviews.resolve_and_record(conn, chain, verdict_id, scopes, resolve)

        return await self.write(run)
