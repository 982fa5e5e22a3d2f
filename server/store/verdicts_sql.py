"""Verdict-log rows: the one INSERT every backend and every writer uses.

Each row is chained as it is appended (``server/store/chain.py``): a verdict
is only ever written through ``append_verdict`` / ``chained_row`` inside a
write transaction whose ``LogChain`` seals the head before COMMIT.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from server.store.base import VerdictRecord
from server.store.chain import CHAIN_COLUMNS, Connection, LogChain

# Selected in this order by every read (see ``record_from_row``).
VERDICT_COLUMNS = ", ".join(("seq", *CHAIN_COLUMNS, "prev_hash", "entry_hash"))
# The column list alone: the SQLite writer appends several VALUES groups to it
# to insert a batch of verdicts in one statement.
INSERT_VERDICT_COLUMNS = f"INSERT INTO verdicts ({VERDICT_COLUMNS})"
INSERT_VERDICT = f"{INSERT_VERDICT_COLUMNS} VALUES ({','.join('?' * (len(CHAIN_COLUMNS) + 3))})"


def chain_values(record: VerdictRecord) -> tuple[Any, ...]:
    """The record's column values as stored, in ``CHAIN_COLUMNS`` order."""
    return (
        record.id,
        record.kind,
        record.customer_id,
        record.device_id,
        record.policy_id,
        record.subject_us,
        record.recorded_us,
        record.rules_digest,
        record.rules.decode(),
        record.outcome,
        orjson.dumps(list(record.clause_ids)).decode(),
        record.inputs.decode(),
        record.result.decode(),
        record.request_id,
        record.caller,
        record.refers_to,
    )


def chained_row(conn: Connection, chain: LogChain, values: tuple[Any, ...]) -> tuple[Any, ...]:
    """INSERT parameters for the next entry: seq, the values, prev and entry hash."""
    seq, prev, h = chain.next(conn, values)
    return (seq, *values, prev, h)


def append_verdict(conn: Connection, chain: LogChain, record: VerdictRecord) -> int:
    """Append one entry inside the open write transaction; returns its seq."""
    row = chained_row(conn, chain, chain_values(record))
    conn.execute(INSERT_VERDICT, row)
    return int(row[0])


def record_from_row(row: Sequence[Any]) -> VerdictRecord:
    """A ``SELECT {VERDICT_COLUMNS}`` row as a record."""
    return VerdictRecord(
        seq=int(row[0]),
        id=row[1],
        kind=row[2],
        customer_id=row[3],
        device_id=row[4],
        policy_id=row[5],
        subject_us=int(row[6]),
        recorded_us=int(row[7]),
        rules_digest=row[8],
        rules=row[9].encode(),
        outcome=row[10],
        clause_ids=tuple(orjson.loads(row[11])),
        inputs=row[12].encode(),
        result=row[13].encode(),
        request_id=row[14],
        caller=row[15],
        refers_to=row[16],
        prev_hash=row[17],
        entry_hash=row[18],
    )
