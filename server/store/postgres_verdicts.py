"""Verdict-log queries and the review queue for the PostgreSQL backend
(mixed into PostgresStore): thin wrappers over the shared SQL.

Resolving a review reads ledger usage and appends to the log, so, like a
claim, its transaction locks the log head first (see ``postgres_claims``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from server.store import review_sql, verdicts_query_sql
from server.store.base import VerdictRecord
from server.store.claims_sql import Usage
from server.store.postgres_claims import LOCK_HEAD
from server.store.review_sql import ResolutionWrite
from server.store.verdicts_query_sql import Row, VerdictFilter

if TYPE_CHECKING:
    from server.store.chain import LogChain
    from server.store.postgres import PgConn

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
        return await self.read(
            lambda conn: verdicts_query_sql.query_page(conn, f, after_seq, limit)
        )

    async def verdict_row(self, verdict_id: str) -> Row | None:
        return await self.read(lambda conn: verdicts_query_sql.verdict_row(conn, verdict_id))

    async def open_reviews(
        self, policy_id: str | None, customer_id: str | None, after_seq: int | None, limit: int
    ) -> list[Row]:
        return await self.read(
            lambda conn: verdicts_query_sql.open_reviews(
                conn, policy_id, customer_id, after_seq, limit
            )
        )

    async def resolutions_of(self, verdict_ids: Sequence[str]) -> dict[str, str]:
        return await self.read(lambda conn: verdicts_query_sql.resolutions_of(conn, verdict_ids))

    async def resolve_review(
        self,
        verdict_id: str,
        scopes: Sequence[str],
        resolve: Callable[[VerdictRecord, dict[str, Usage]], ResolutionWrite],
    ) -> Row:
        def run(conn: PgConn, chain: LogChain) -> Row:
            conn.execute(LOCK_HEAD)
            return review_sql.resolve_and_record(conn, chain, verdict_id, scopes, resolve)

        return await self.write(run)
