"""Resolving a REVIEW decision: one write transaction.

Inside the writer's transaction the original entry is read and checked (a
REVIEW claim decision, not yet resolved), the ledger usage of its cap scopes
is read, the caller's pure ``resolve(original, usage)`` builds the
resolution, and the resolution entry (its reservations bound into its
``inputs``: server/log/coverage.py), its ``review_resolutions`` row and its
ledger reservations are written. ``review_resolutions.verdict_id`` is the
primary key, so of two concurrent resolutions — in this process or another
one — exactly one commits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from server.store.chain import LogChain
from server.store.errors import AlreadyResolved, NotUnderReview, ReviewNotFound
from server.store.records import ResolutionWrite, Row, Usage, VerdictRecord
from server.store.sql.blobs import compact_record
from server.store.sql.claims import bind, ledger_usage, reserve
from server.store.sql.connection import Connection
from server.store.sql.verdict_queries import resolution_of, verdict_row
from server.store.sql.verdicts import append_verdict, record_from_row


def check_reviewable(conn: Connection, verdict_id: str) -> VerdictRecord:
    """The REVIEW claim decision ``verdict_id``, unresolved; raises ``ReviewError``."""
    row = verdict_row(conn, verdict_id)
    if row is None:
        raise ReviewNotFound(f"no verdict {verdict_id}")
    original = record_from_row(row)  # expanded by ``verdict_row``
    if original.kind != "claim" or original.outcome != "REVIEW":
        raise NotUnderReview(
            f"verdict {verdict_id} is a {original.kind} entry with outcome {original.outcome}, "
            "not a REVIEW claim decision"
        )
    done = resolution_of(conn, verdict_id)
    if done is not None:
        raise AlreadyResolved(verdict_id, done)
    return original


def _is_unique_violation(exc: Exception) -> bool:
    name = type(exc).__name__
    return "Integrity" in name or "UniqueViolation" in name


def resolve_and_record(
    conn: Connection,
    chain: LogChain,
    verdict_id: str,
    scopes: Sequence[str],
    resolve: Callable[[VerdictRecord, dict[str, Usage]], ResolutionWrite],
) -> Row:
    """Resolve inside the open write transaction; returns the resolution entry's row."""
    original = check_reviewable(conn, verdict_id)
    usage = ledger_usage(conn, scopes)
    write = resolve(original, usage)
    # Its reservations (and the usage it read) are bound into the entry: verify
    # rebuilds the ledger from the log.
    record = compact_record(conn, bind(write.verdict, write.entries, read=usage))
    try:
        conn.execute(
            "INSERT INTO review_resolutions (verdict_id, resolution_id, recorded_us) "
            "VALUES (?,?,?)",
            (verdict_id, record.id, record.recorded_us),
        )
    except Exception as exc:
        if _is_unique_violation(exc):  # another process resolved it meanwhile
            raise AlreadyResolved(verdict_id, "") from exc
        raise
    seq = append_verdict(conn, chain, record)
    reserve(conn, record, write.entries)
    row = verdict_row(conn, record.id)
    assert row is not None and int(row[0]) == seq
    return row
