"""Verdict-log queries and the review queue.

Pages are keyset pages on ``seq``, the log sequence: it is assigned in
commit order without gaps, so a page that resumes "after seq N" neither
repeats nor skips an entry while others are appended — newest-first never
sees entries newer than its first page, oldest-first reaches them at the end.

Rows are returned as stored, in ``VERDICT_COLUMNS`` order (see
``server/store/sql/verdicts.py``): the service maps them to the wire without
decoding the JSON columns. Compacted columns come expanded, the stored
texts after the row's columns (``server/store/sql/blobs.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from server.store.records import CLAUSE_ID, Row, VerdictFilter
from server.store.sql.blobs import expand_row, expand_rows
from server.store.sql.connection import IN_CHUNK, Connection, marks
from server.store.sql.verdicts import VERDICT_COLUMNS


def _where(f: VerdictFilter) -> tuple[list[str], list[Any]]:
    conds: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("customer_id", f.customer_id),
        ("policy_id", f.policy_id),
        ("kind", f.kind),
        ("outcome", f.outcome),
    ):
        if value is not None:
            conds.append(f"{column} = ?")
            params.append(value)
    if f.kind is None:
        # Analysts' reads are logged too, and so are the ``events`` entries binding
        # stored events to the log (server/log/coverage.py): listed only when asked for.
        conds.append("kind NOT IN ('analyst_access', 'events')")
    if f.clause_id is not None:
        if not CLAUSE_ID.match(f.clause_id):
            raise ValueError(f"not a clause id: {f.clause_id!r}")
        # clause_ids is the JSON text of a list of strings: '["HNB-R1","HNB-X5"]'.
        conds.append("clause_ids LIKE ?")
        params.append(f'%"{f.clause_id}"%')
    for column, op, bound in (
        ("subject_us", ">=", f.subject_from_us),
        ("subject_us", "<", f.subject_until_us),
        ("recorded_us", ">=", f.recorded_from_us),
        ("recorded_us", "<", f.recorded_until_us),
    ):
        if bound is not None:
            conds.append(f"{column} {op} ?")
            params.append(bound)
    return conds, params


def query_page(conn: Connection, f: VerdictFilter, after_seq: int | None, limit: int) -> list[Row]:
    """Up to ``limit`` entries matching ``f`` after ``after_seq`` in the filter's order.

    "After" follows the order: newest-first pages continue with smaller seqs.
    """
    conds, params = _where(f)
    if after_seq is not None:
        conds.append("seq > ?" if f.oldest_first else "seq < ?")
        params.append(after_seq)
    where = f"WHERE {' AND '.join(conds)}" if conds else ""
    order = "ASC" if f.oldest_first else "DESC"
    params.append(limit)
    # The page's seqs first, then its rows: when an index other than the
    # primary key serves the filters (customer + subject range), the matches
    # are sorted by seq as bare seqs, not as whole rows with their JSON.
    sql = (
        f"SELECT {VERDICT_COLUMNS} FROM verdicts WHERE seq IN "
        f"(SELECT seq FROM verdicts {where} ORDER BY seq {order} LIMIT ?) "
        f"ORDER BY seq {order}"
    )
    return expand_rows(conn, conn.execute(sql, params).fetchall())


def verdict_row(conn: Connection, verdict_id: str) -> Row | None:
    row = conn.execute(
        f"SELECT {VERDICT_COLUMNS} FROM verdicts WHERE id = ?", (verdict_id,)
    ).fetchone()
    return expand_row(conn, row)


def open_reviews(
    conn: Connection,
    policy_id: str | None,
    customer_id: str | None,
    after_seq: int | None,
    limit: int,
) -> list[Row]:
    """REVIEW claim decisions not yet resolved, oldest first (by seq)."""
    conds = ["kind = 'claim'", "outcome = 'REVIEW'"]
    params: list[Any] = []
    if policy_id is not None:
        conds.append("policy_id = ?")
        params.append(policy_id)
    if customer_id is not None:
        conds.append("customer_id = ?")
        params.append(customer_id)
    if after_seq is not None:
        conds.append("seq > ?")
        params.append(after_seq)
    params.append(limit)
    sql = (
        f"SELECT {VERDICT_COLUMNS} FROM verdicts v WHERE {' AND '.join(conds)} "
        "AND NOT EXISTS (SELECT 1 FROM review_resolutions r WHERE r.verdict_id = v.id) "
        "ORDER BY seq ASC LIMIT ?"
    )
    return expand_rows(conn, conn.execute(sql, params).fetchall())


def resolution_of(conn: Connection, verdict_id: str) -> str | None:
    """The id of the entry that resolved ``verdict_id``, if any."""
    row = conn.execute(
        "SELECT resolution_id FROM review_resolutions WHERE verdict_id = ?", (verdict_id,)
    ).fetchone()
    return None if row is None else str(row[0])


def resolutions_of(conn: Connection, verdict_ids: Sequence[str]) -> dict[str, str]:
    """verdict id → resolution id, for those resolved."""
    out: dict[str, str] = {}
    ids = list(verdict_ids)
    for start in range(0, len(ids), IN_CHUNK):
        chunk = ids[start : start + IN_CHUNK]
        for verdict_id, resolution_id in conn.execute(
            f"SELECT verdict_id, resolution_id FROM review_resolutions "
            f"WHERE verdict_id IN ({marks(len(chunk))})",
            chunk,
        ).fetchall():
            out[str(verdict_id)] = str(resolution_id)
    return out
