"""The store interface every backend implements.

Instants are integer microseconds since the Unix epoch (UTC): exact, cheap to
compare, and the same in SQLite and PostgreSQL (BIGINT).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from server.store.claims_sql import ClaimWrite, StoredClaim, Usage
    from server.store.events_sql import EventRow
    from server.store.review_sql import ResolutionWrite
    from server.store.verdicts_query_sql import Row, VerdictFilter


class StoreError(Exception):
    """The store cannot serve the request (unavailable, locked, full)."""


class SchemaMismatch(StoreError):
    """The database schema is older (unmigrated) or newer than this code."""


@dataclass(frozen=True, slots=True)
class VerdictRecord:
    """One verdict-log entry as stored. ``inputs``/``result`` are JSON bytes."""

    id: str
    kind: str
    customer_id: str
    device_id: str | None
    subject_us: int
    recorded_us: int
    rules_digest: str
    rules: bytes
    outcome: str
    clause_ids: tuple[str, ...]
    inputs: bytes
    result: bytes
    request_id: str
    caller: str
    policy_id: str | None = None
    # Resolutions: the id of the entry resolved.
    refers_to: str | None = None
    # Assigned by the store when appended (see server/store/chain.py).
    seq: int | None = None
    prev_hash: str = ""
    entry_hash: str = ""


class Store(Protocol):
    """Append-only verdict log plus the queries the services need."""

    async def append_verdict(self, record: VerdictRecord) -> int:
        """Durably append; returns the log sequence number. Resolves only after commit."""
        ...

    async def get_verdict(self, verdict_id: str) -> VerdictRecord | None: ...

    async def latest_posture_by_device(
        self, customer_id: str, since_us: int, until_us: int
    ) -> list[VerdictRecord]:
        """The last login-posture verdict of each device with subject in [since, until]."""
        ...

    async def count_verdicts(self) -> int: ...

    def schema_version(self) -> int: ...

    async def close(self) -> None: ...

    # -- events (EventService) --------------------------------------------

    async def record_events(self, rows: Sequence[EventRow]) -> list[tuple[bool, EventRow]]:
        """Store new events atomically; per row (inserted?, the row stored first)."""
        ...

    async def events_of(
        self, customer_id: str, kinds: Sequence[str], until_us: int
    ) -> list[tuple[str, bytes]]: ...

    async def event_replies(
        self, customer_id: str, kind: str, subject_prefix: str, before_us: int
    ) -> list[bytes]: ...

    async def count_events(self) -> int: ...

    # -- claims and ledger (ClaimService) ---------------------------------

    async def decide_claim(
        self, claim_id: str, scopes: Sequence[str], decide: Callable[[dict[str, Usage]], ClaimWrite]
    ) -> tuple[bool, StoredClaim]:
        """Read the scopes' ledger usage, decide on it and record, in one transaction."""
        ...

    async def ledger_usage(self, scopes: Sequence[str]) -> dict[str, Usage]: ...

    async def stored_claim(self, claim_id: str) -> StoredClaim | None: ...

    # -- verdict-log queries and the review queue (VerdictLogService) -----

    async def query_verdicts(
        self, f: VerdictFilter, after_seq: int | None, limit: int
    ) -> list[Row]:
        """Up to ``limit`` entries matching ``f`` after ``after_seq``: rows as stored, in
        ``VERDICT_COLUMNS`` order, text columns as ``str`` or UTF-8 ``bytes``."""
        ...

    async def verdict_row(self, verdict_id: str) -> Row | None: ...

    async def open_reviews(
        self, policy_id: str | None, customer_id: str | None, after_seq: int | None, limit: int
    ) -> list[Row]:
        """Unresolved REVIEW claim decisions after ``after_seq``, oldest first."""
        ...

    async def resolutions_of(self, verdict_ids: Sequence[str]) -> dict[str, str]: ...

    async def resolve_review(
        self,
        verdict_id: str,
        scopes: Sequence[str],
        resolve: Callable[[VerdictRecord, dict[str, Usage]], ResolutionWrite],
    ) -> Row:
        """Check, read the scopes' usage, resolve on it and record, in one transaction."""
        ...
