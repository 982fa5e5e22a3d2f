"""Claim decisions and ledger for the PostgreSQL backend (mixed into PostgresStore).

A claim's transaction locks the log head *first*, before it reads anything:
every transaction that reads ledger usage to spend it, or appends to the
log, takes that one lock, so concurrent claims of every process serialize
and none decides on usage another is about to change. (SQLite's single
writer gives the same order by itself.) The claim then reads its scopes'
usage — under READ COMMITTED each statement sees everything committed
before it, including the claim that held the lock before — decides, and
appends its verdict under the lock it already holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from rules.engine.needs import Need
from server.store.chain import LogChain
from server.store.postgres.connection import LOCK_HEAD, PgConn
from server.store.records import ClaimWrite, StoredClaim, Usage, VerdictRecord
from server.store.sql import claims as claims_sql

T = TypeVar("T")


class PostgresClaimsMixin:
    # Provided by PostgresStore.
    async def write(self, fn: Callable[[PgConn, LogChain], T]) -> T:
        raise NotImplementedError

    async def read(self, fn: Callable[[PgConn], T]) -> T:
        raise NotImplementedError

    async def decide_claim(
        self,
        claim_id: str,
        scopes: Sequence[str],
        decide: Callable[[dict[str, Usage]], ClaimWrite],
    ) -> tuple[bool, StoredClaim]:
        def run(conn: PgConn, chain: LogChain) -> tuple[bool, StoredClaim]:
            conn.execute(LOCK_HEAD)
            return claims_sql.decide_and_record(conn, chain, claim_id, scopes, decide)

        return await self.write(run)

    async def claim_facts(
        self, customer_id: str, since_us: int, until_us: int, needs: Sequence[Need]
    ) -> tuple[list[VerdictRecord], list[tuple[str, bytes]]]:
        return await self.read(
            lambda conn: claims_sql.claim_facts(conn, customer_id, since_us, until_us, needs)
        )

    async def ledger_usage(self, scopes: Sequence[str]) -> dict[str, Usage]:
        return await self.read(lambda conn: claims_sql.ledger_usage(conn, scopes))

    async def stored_claim(self, claim_id: str) -> StoredClaim | None:
        return await self.read(lambda conn: claims_sql.stored_claim(conn, claim_id))
