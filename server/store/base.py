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


# How long a write (or read) may wait for a lock that another holder has on
# the database before its call fails with StoreError (UNAVAILABLE: nothing
# was recorded, retry): SQLite's busy timeout, PostgreSQL's lock_timeout.
# Five seconds is far above any lock the service takes itself (one commit or
# one claim holds the write lock or the log head for milliseconds), with room
# for processes of `serve --workers N` taking turns on one SQLite file under
# heavy load: SQLite's busy handler polls, backing off to every 100 ms (it is
# not woken when the lock is released), so a much shorter timeout turns
# healthy contention into spurious UNAVAILABLE. Yet it is short
# enough that a caller with the CLI's 10 s deadline learns UNAVAILABLE rather
# than timing out not knowing whether anything was written (the former 30 s
# outlasted every deadline). Callers with shorter deadlines see
# DEADLINE_EXCEEDED first: lower it for them (docs/operations.md). It also
# bounds the queue: every write waiting behind a blocked one waits as long.
DEFAULT_SQLITE_BUSY_TIMEOUT_MS = 5_000
DEFAULT_PG_LOCK_TIMEOUT_MS = 5_000


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """Backend knobs beside the ``--db`` URL (``Config.store_settings()``)."""

    sqlite_busy_timeout_ms: int = DEFAULT_SQLITE_BUSY_TIMEOUT_MS
    # 0: no lock_timeout is set (wait as long as the database lets a lock
    # wait; also for PostgreSQL-compatible databases without the setting).
    pg_lock_timeout_ms: int = DEFAULT_PG_LOCK_TIMEOUT_MS

    def __post_init__(self) -> None:
        for name in ("sqlite_busy_timeout_ms", "pg_lock_timeout_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be whole milliseconds >= 0, not {value!r}")


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
