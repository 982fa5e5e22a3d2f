"""Claim decisions and ledger for the SQLite backend (mixed into SqliteStore).

The single writer thread orders every transaction: a claim reads the
ledger usage and records its decision with no other write in between.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import TypeVar

from rules.engine.needs import Need
from server.store.chain import LogChain
from server.store.records import ClaimWrite, StoredClaim, Usage, VerdictRecord
from server.store.sql import claims as claims_sql

T = TypeVar("T")


class SqliteClaimsMixin:
    _chain: LogChain

    # Provided by SqliteStore.
    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def decide_claim(
        self,
        claim_id: str,
        scopes: Sequence[str],
        decide: Callable[[dict[str, Usage]], ClaimWrite],
    ) -> tuple[bool, StoredClaim]:
        return await self.write(
            lambda conn: claims_sql.decide_and_record(conn, self._chain, claim_id, scopes, decide)
        )

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
