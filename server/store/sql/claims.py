"""Claim decisions and the ledger, decided inside one write transaction.

The caller hands over a pure ``decide(ledger_usage) -> ClaimWrite`` function.
Inside the writer's transaction the ledger usage of the claim's cap scopes
is read, the decision is made on it, and the decision, its verdict-log
entry and its reservations are written — so two concurrent claims can never
both spend the same remaining cap, whatever process they run in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from server.store.chain import LogChain
from server.store.records import ClaimWrite, LedgerEntry, StoredClaim, Usage, VerdictRecord
from server.store.sql.connection import IN_CHUNK, Connection, marks
from server.store.sql.verdicts import append_verdict


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
    write = decide(ledger_usage(conn, scopes))
    append_verdict(conn, chain, write.verdict)
    conn.execute(
        "INSERT INTO claims (claim_id, fingerprint, decision_id, reply, recorded_us) "
        "VALUES (?,?,?,?,?)",
        (claim_id, write.fingerprint, write.verdict.id, write.reply, write.verdict.recorded_us),
    )
    reserve(conn, write.verdict, write.entries)
    return True, StoredClaim(write.fingerprint, write.verdict.id, write.reply)
