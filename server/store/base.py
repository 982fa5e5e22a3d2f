"""The store interface every backend implements.

Instants are integer microseconds since the Unix epoch (UTC): exact, cheap to
compare, and the same in SQLite and PostgreSQL (BIGINT).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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
    seq: int | None = None


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
