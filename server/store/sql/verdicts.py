"""Verdict-log rows: the one INSERT every backend and every writer uses, and
the reads of the log a decision makes.

Each row is chained as it is appended (``server/store/chain.py``): a verdict
is only ever written through ``append_verdict`` / ``chained_row`` inside a
write transaction whose ``LogChain`` seals the head before COMMIT.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from server.store.chain import CHAIN_COLUMNS, LogChain
from server.store.records import VerdictRecord
from server.store.sql.blobs import expand_record
from server.store.sql.connection import Connection, insert_many

# Selected in this order by every read (see ``record_from_row``).
VERDICT_COLUMNS = ", ".join(("seq", *CHAIN_COLUMNS, "prev_hash", "entry_hash"))
# The column list alone: the writers append several VALUES groups to it to
# insert a batch of verdicts in one statement (``insert_many``). Written with
# the entry's MAC (``chain.LogSigner.entry_mac``), which reads do not need.
INSERT_VERDICT_COLUMNS = f"INSERT INTO verdicts ({VERDICT_COLUMNS}, entry_mac)"
_ROW_MARKS = "(" + ",".join("?" * (len(CHAIN_COLUMNS) + 4)) + ")"
INSERT_VERDICT = f"{INSERT_VERDICT_COLUMNS} VALUES {_ROW_MARKS}"


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
    """INSERT parameters for the next entry: seq, the values, prev and entry hash, MAC."""
    seq, prev, h, mac = chain.next(conn, values)
    return (seq, *values, prev, h, mac)


def append_verdict(conn: Connection, chain: LogChain, record: VerdictRecord) -> int:
    """Append one entry inside the open write transaction; returns its seq."""
    row = chained_row(conn, chain, chain_values(record))
    conn.execute(INSERT_VERDICT, row)
    return int(row[0])


def append_verdicts(
    conn: Connection, chain: LogChain, records: Sequence[VerdictRecord]
) -> list[int]:
    """Append entries in one statement inside the open write transaction; their seqs."""
    rows = [chained_row(conn, chain, chain_values(r)) for r in records]
    conn.execute(
        insert_many(INSERT_VERDICT_COLUMNS, len(rows[0]), len(rows)),
        [value for row in rows for value in row],
    )
    return [int(row[0]) for row in rows]


def record_from_row(row: Sequence[Any]) -> VerdictRecord:
    """A ``VERDICT_COLUMNS`` row as a record."""
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


def get_verdict(conn: Connection, verdict_id: str) -> VerdictRecord | None:
    row = conn.execute(
        f"SELECT {VERDICT_COLUMNS} FROM verdicts WHERE id = ?", (verdict_id,)
    ).fetchone()
    # Compacted columns expanded: the caller sees the JSON as written.
    return None if row is None else expand_record(conn, record_from_row(row))


# The latest subject instant per device; ties broken by log order.
_LATEST_POSTURE = f"""
    SELECT {VERDICT_COLUMNS} FROM verdicts v
    WHERE kind = 'login_posture' AND customer_id = ?
      AND subject_us BETWEEN ? AND ?
      AND NOT EXISTS (
        SELECT 1 FROM verdicts w
        WHERE w.kind = 'login_posture' AND w.customer_id = v.customer_id
          AND w.device_id = v.device_id AND w.subject_us BETWEEN ? AND ?
          AND (w.subject_us > v.subject_us
               OR (w.subject_us = v.subject_us AND w.seq > v.seq)))
    ORDER BY device_id
"""


def latest_posture_by_device(
    conn: Connection, customer_id: str, since_us: int, until_us: int
) -> list[VerdictRecord]:
    rows = conn.execute(
        _LATEST_POSTURE, (customer_id, since_us, until_us, since_us, until_us)
    ).fetchall()
    return [record_from_row(r) for r in rows]


def count_verdicts(conn: Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0])
