"""Claim decisions and the ledger, decided inside one write transaction.

The caller hands over a pure ``decide(ledger_usage) -> ClaimWrite`` function.
Inside the writer's transaction the ledger usage of the claim's cap scopes
is read, the decision is made on it, and the decision, its verdict-log
entry and its reservations are written — so two concurrent claims can never
both spend the same remaining cap, whatever process they run in.

The entry binds what the tables beside the log hold (``bind``): its
reservations and its claims row (claim id, fingerprint, SHA-256 of the
reply) go into its hashed ``inputs``, so ``anshin log verify`` rebuilds the
expected ledger and claims rows from the log and names every difference
(server/log/coverage.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import orjson

from rules.engine.needs import Need
from server.log import coverage
from server.store.chain import LogChain
from server.store.records import ClaimWrite, LedgerEntry, StoredClaim, Usage, VerdictRecord
from server.store.sql.blobs import compact_record
from server.store.sql.connection import IN_CHUNK, Connection, marks
from server.store.sql.events import claim_events
from server.store.sql.verdicts import append_verdict, latest_posture_by_device


def claim_facts(
    conn: Connection, customer_id: str, since_us: int, until_us: int, needs: Sequence[Need]
) -> tuple[list[VerdictRecord], list[tuple[str, bytes]]]:
    """What a claim decision reads before its transaction, on one connection: the
    last posture verdict of each device with subject in [since, until]
    (``latest_posture_by_device``) and the events that answer ``needs``
    (``claim_events``) — one visit to the store instead of two."""
    return (
        latest_posture_by_device(conn, customer_id, since_us, until_us),
        claim_events(conn, customer_id, needs),
    )


def ledger_usage(conn: Connection, scopes: Sequence[str]) -> dict[str, Usage]:
    usage = {s: Usage(0, 0, frozenset()) for s in scopes}
    for start in range(0, len(scopes), IN_CHUNK):
        chunk = list(scopes[start : start + IN_CHUNK])
        rows = conn.execute(
            f"SELECT scope_key, amount_yen, count, insured_person_ref FROM ledger "
            f"WHERE scope_key IN ({marks(len(chunk))})",
            chunk,
        ).fetchall()
        for scope, amount, count, person in rows:
            u = usage[scope]
            usage[scope] = Usage(
                u.amount_yen + int(amount),
                u.count + int(count),
                u.persons | ({person} if person else set()),
            )
    return usage


def bind(
    record: VerdictRecord,
    entries: Sequence[LedgerEntry],
    claim: coverage.ClaimBinding | None = None,
    read: Mapping[str, Usage] | None = None,
) -> VerdictRecord:
    """``record`` with its reservations (its claims row, the ledger usage it
    read) bound into its ``inputs``, a JSON object, under ``coverage.BOUND_KEY``
    — as its last member, which is what lets verify parse only that
    (``coverage.bound_of``)."""
    inputs = orjson.loads(record.inputs)
    if not isinstance(inputs, dict):
        raise ValueError(f"entry {record.id}: inputs must be a JSON object")
    # The store's binding is the one that counts: whatever the caller put there is replaced.
    reservations = [
        coverage.Reservation(e.scope_key, e.amount_yen, e.count, e.insured_person_ref)
        for e in entries
    ]
    inputs.pop(coverage.BOUND_KEY, None)
    usage = None if read is None else {k: (u.amount_yen, u.count) for k, u in read.items()}
    inputs[coverage.BOUND_KEY] = coverage.bound_json(reservations, claim, usage)
    return replace(record, inputs=orjson.dumps(inputs))


def reserve(conn: Connection, decision: VerdictRecord, entries: Sequence[LedgerEntry]) -> None:
    """Write ``decision``'s reservations (nothing for none)."""
    if not entries:
        return
    conn.executemany(
        "INSERT INTO ledger (scope_key, decision_id, amount_yen, count, insured_person_ref, "
        "recorded_us) VALUES (?,?,?,?,?,?)",
        [
            (
                e.scope_key,
                decision.id,
                e.amount_yen,
                e.count,
                e.insured_person_ref,
                decision.recorded_us,
            )
            for e in entries
        ],
    )


def stored_claim(conn: Connection, claim_id: str) -> StoredClaim | None:
    row = conn.execute(
        "SELECT fingerprint, decision_id, reply FROM claims WHERE claim_id = ?", (claim_id,)
    ).fetchone()
    return None if row is None else StoredClaim(row[0], row[1], bytes(row[2]))


def decide_and_record(
    conn: Connection,
    chain: LogChain,
    claim_id: str,
    scopes: Sequence[str],
    decide: Callable[[dict[str, Usage]], ClaimWrite],
) -> tuple[bool, StoredClaim]:
    """(decided now?, the stored claim). A claim id seen before is not re-decided."""
    existing = stored_claim(conn, claim_id)
    if existing is not None:
        return False, existing
    usage = ledger_usage(conn, scopes)
    write = decide(usage)
    binding = coverage.ClaimBinding(claim_id, write.fingerprint, coverage.reply_digest(write.reply))
    # Bound first (the binding hashes the reply as sent), then compacted: the
    # chain covers the references, the blobs hold the JSON (server/log/compact.py).
    append_verdict(
        conn, chain, compact_record(conn, bind(write.verdict, write.entries, binding, usage))
    )
    kept = write.reply if write.stored_reply is None else write.stored_reply
    conn.execute(
        "INSERT INTO claims (claim_id, fingerprint, decision_id, reply, recorded_us) "
        "VALUES (?,?,?,?,?)",
        (claim_id, write.fingerprint, write.verdict.id, kept, write.verdict.recorded_us),
    )
    reserve(conn, write.verdict, write.entries)
    return True, StoredClaim(write.fingerprint, write.verdict.id, write.reply)
