"""The store's ports: what the services (and the offline tools) may ask of a
store, one protocol per concern. Every backend implements all of them.

Imports records only: never a backend, never SQL. The async ports are served
by a running store (``open_store``); the read-only log reader, synchronous
and picklable, is what replay, verify and the checkpoint export read
(``open_log_reader``), in worker processes of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from rules.engine.needs import Need
from server.store.records import (
    ChainRow,
    Checkpoint,
    ClaimRow,
    ClaimWrite,
    EventRow,
    LogHead,
    LogProblem,
    ResolutionWrite,
    Row,
    StoredClaim,
    Usage,
    VerdictFilter,
    VerdictRecord,
)


class VerdictLog(Protocol):
    """Appending to the verdict log, and the reads of it a decision makes."""

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


class EventLog(Protocol):
    """The events payment apps and vendors report (EventService), and the reads
    of them a decision makes."""

    async def record_events(self, rows: Sequence[EventRow]) -> list[tuple[bool, EventRow]]:
        """Store new events atomically; per row (inserted?, the row stored first)."""
        ...

    async def events_of(
        self, customer_id: str, kinds: Sequence[str], until_us: int
    ) -> list[tuple[str, bytes]]:
        """(kind, payload) of the customer's events of ``kinds`` at or before
        ``until_us``, in (event_us, client_event_id) order."""
        ...

    async def claim_events(
        self, customer_id: str, needs: Sequence[Need]
    ) -> list[tuple[str, bytes]]:
        """(kind, payload) of the customer's events that answer ``needs``, the
        questions a claim's decision asks (``rules.engine.claim_needs``; which
        events answer each is defined in ``rules.engine.needs``): each
        question's in (event_us, client_event_id) order, an event once."""
        ...

    async def event_replies(
        self, customer_id: str, kind: str, subject_prefix: str, before_us: int
    ) -> list[bytes]: ...

    async def security_replies(
        self, customer_id: str, service: str, token: str, before_us: int
    ) -> tuple[list[bytes], list[bytes]]:
        """The stored acks of the registrations to ``service`` (of instrument
        ``token`` only, when not empty) and of the logins to it, before
        ``before_us``, each in (event_us, client_event_id) order: exactly that
        service and instrument, as a claim reads them."""
        ...

    async def count_events(self) -> int: ...


class ClaimFactsLog(Protocol):
    """What a claim's decision reads before its transaction (ClaimService, reviews)."""

    async def claim_facts(
        self, customer_id: str, since_us: int, until_us: int, needs: Sequence[Need]
    ) -> tuple[list[VerdictRecord], list[tuple[str, bytes]]]:
        """``latest_posture_by_device(customer_id, since_us, until_us)`` and
        ``claim_events(customer_id, needs)`` in one visit: each read waits for a
        thread of the store, and on a busy machine that wait is the tail of a call."""
        ...


class ClaimLedger(Protocol):
    """Claim decisions and the ledger of what they reserved (ClaimService)."""

    async def decide_claim(
        self, claim_id: str, scopes: Sequence[str], decide: Callable[[dict[str, Usage]], ClaimWrite]
    ) -> tuple[bool, StoredClaim]:
        """Read the scopes' ledger usage, decide on it and record, in one transaction.
        (decided now?, the stored claim): a claim id seen before is not re-decided."""
        ...

    async def ledger_usage(self, scopes: Sequence[str]) -> dict[str, Usage]: ...

    async def stored_claim(self, claim_id: str) -> StoredClaim | None: ...


class ReviewQueue(Protocol):
    """REVIEW decisions waiting for an analyst, and their resolution."""

    async def open_reviews(
        self, policy_id: str | None, customer_id: str | None, after_seq: int | None, limit: int
    ) -> list[Row]:
        """Unresolved REVIEW claim decisions after ``after_seq``, oldest first."""
        ...

    async def resolutions_of(self, verdict_ids: Sequence[str]) -> dict[str, str]:
        """verdict id → the id of the entry that resolved it, for those resolved."""
        ...

    async def resolve_review(
        self,
        verdict_id: str,
        scopes: Sequence[str],
        resolve: Callable[[VerdictRecord, dict[str, Usage]], ResolutionWrite],
    ) -> Row:
        """Check, read the scopes' usage, resolve on it and record, in one transaction;
        raises ``ReviewError`` (server/store/errors.py) when it cannot be resolved."""
        ...


class LogQueries(Protocol):
    """Finding and reading verdict-log entries (VerdictLogService, exports)."""

    async def query_verdicts(
        self, f: VerdictFilter, after_seq: int | None, limit: int
    ) -> list[Row]:
        """Up to ``limit`` entries matching ``f`` after ``after_seq``: rows as stored, in
        ``VERDICT_COLUMNS`` order, text columns as ``str`` or UTF-8 ``bytes``."""
        ...

    async def verdict_row(self, verdict_id: str) -> Row | None: ...

    async def subtree_hashes(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """The RFC 9162 hash of each aligned 0-based leaf range ``[lo, hi)``
        (``hi - lo`` a power of two, ``lo`` a multiple of it); leaf i is entry
        seq i+1. ``StateError`` for a range beyond the log."""
        ...

    async def checkpoint_covering(self, seq: int) -> Checkpoint | None:
        """The oldest signed-note checkpoint whose tree size is >= ``seq``."""
        ...

    async def latest_checkpoint(self) -> Checkpoint | None: ...


class Store(VerdictLog, EventLog, ClaimFactsLog, ClaimLedger, ReviewQueue, LogQueries, Protocol):
    """A running store: every port, on one database."""

    def schema_version(self) -> int: ...

    def log_problem(self) -> LogProblem | None:
        """What the start-up check found wrong with the log (then every write is
        refused with ``LogIntegrityError``), or None: the log is writable."""
        ...

    async def close(self) -> None: ...


# --------------------------------------------------------------------------- read-only


class ChainReader(Protocol):
    """What ``anshin log verify`` and ``anshin log checkpoints`` read."""

    def log_bounds(self) -> tuple[int, int, int]:
        """(entries, lowest seq, highest seq); zeros for an empty log."""
        ...

    def entry_id(self, seq: int) -> str | None: ...

    def chain_rows(self, lo: int, hi: int | None) -> Iterable[ChainRow]:
        """The entries with lo <= seq (< hi) in seq order, each with the hash
        computed from its stored content (``chain.entry_hash``)."""
        ...

    def blob_problems(self, lo: int, hi: int | None) -> list[tuple[int, str, str]]:
        """(seq, entry id, what is wrong) for each entry with lo <= seq (< hi)
        whose compacted column's blob is missing or does not decode to the
        content its digest names (server/log/compact.py), in seq order."""
        ...

    def blob_contents(self, columns: Sequence[Any]) -> dict[str, bytes]:
        """The contents of the blobs stored columns refer to, by digest (receipts)."""
        ...

    def head(self) -> LogHead | None: ...

    def checkpoints(self, since_seq: int = 0) -> list[Checkpoint]: ...

    def checkpoint_covering(self, seq: int) -> Checkpoint | None:
        """The oldest signed-note checkpoint whose tree size is >= ``seq``."""
        ...

    def latest_checkpoint(self) -> Checkpoint | None: ...

    def subtree_hashes(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """As ``LogQueries.subtree_hashes``."""
        ...

    def verdict_row(self, verdict_id: str) -> Row | None:
        """One entry as stored, in ``VERDICT_COLUMNS`` order (``anshin log prove``)."""
        ...

    def tree_nodes(self, level: int, lo: int, hi: int) -> dict[int, bytes]:
        """The kept subtree hashes of ``level`` (8, 16, …) with lo <= idx < hi."""
        ...


class ClaimHistory(Protocol):
    """What ``anshin replay`` reads: the logged claim decisions and the ledger."""

    def claim_seqs(
        self, *, since_us: int | None = None, until_us: int | None = None, policy: str | None = None
    ) -> list[int]:
        """Log positions of the claim entries recorded in [since, until) (the seq
        range of that window: callers check each row's instant), of one policy."""
        ...

    def claim_rows(self, seqs: Sequence[int]) -> list[ClaimRow]:
        """The rows of these claim entries, in log order."""
        ...

    def ledger_before(self, seq: int, scopes: Sequence[str]) -> dict[str, Usage]:
        """Usage of ``scopes`` from the ledger entries of decisions logged before ``seq``."""
        ...


@runtime_checkable
class CoverageReader(Protocol):
    """What ``anshin log verify`` reads to check the tables the log covers:
    the entries that bind them and the rows as stored (server/log/coverage.py)."""

    def binding_entries(self) -> Iterable[tuple[int, str, str, str]]:
        """(seq, id, kind, inputs) of every claim and review-resolution entry, in seq order."""
        ...

    def events_entries(self) -> Iterable[tuple[int, str, str]]:
        """(seq, id, inputs) of every ``events`` entry, in seq order."""
        ...

    def ledger_rows(self) -> Iterable[tuple[str, str, int, int, str]]:
        """(scope_key, decision_id, amount_yen, count, insured_person_ref) of every row."""
        ...

    def claims_rows(self) -> Iterable[tuple[str, str, str, bytes]]:
        """(claim_id, fingerprint, decision_id, reply) of every claims row."""
        ...

    def bound_event_rows(self) -> Iterable[tuple[int | None, int, EventRow]]:
        """(log_seq, events.seq, row) of every event: unbound ones first, then by log_seq."""
        ...


class LogReader(ChainReader, ClaimHistory, CoverageReader, Protocol):
    """A read-only view of one database's log (SQLite ``mode=ro``, PostgreSQL
    read-only sessions): synchronous, and picklable, so worker processes each
    open their own connection from it."""

    def close(self) -> None: ...
