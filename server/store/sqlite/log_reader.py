"""The read-only log reader on a SQLite file (``ports.LogReader``): opened
``mode=ro``, so it never writes, not even a WAL checkpoint."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from server.store.chain import CANONICAL_TAG, CHAIN_COLUMNS
from server.store.records import ChainRow, ClaimRow
from server.store.sql.blobs import expand_claim_rows
from server.store.sql.connection import marks
from server.store.sql.log_reader import CLAIM_ROW_SQL, SqlLogReader, text
from server.store.sqlite.connection import connect_readonly

_INT_COLUMNS = frozenset({"subject_us", "recorded_us"})


def _canonical_sql() -> str:
    """``chain.canonical`` (without its tag) built by SQLite itself, in C: the
    verifier then hashes one blob per entry instead of assembling 19 fields in
    Python. Any stored value that is not what the service writes (a NULL in
    an integer column, a number where text belongs) encodes differently, so
    it is reported, never passed."""

    def text_of(col: str) -> str:
        return (
            f"CASE WHEN {col} IS NULL THEN '~' ELSE length(CAST({col} AS BLOB)) || ':' || {col} END"
        )

    parts = ["'#' || seq || ';'"]
    for col in CHAIN_COLUMNS:
        parts.append(f"'#' || {col} || ';'" if col in _INT_COLUMNS else text_of(col))
    parts.append(text_of("prev_hash"))
    return " || ".join(parts)


_CHAIN_ROW = f"seq, id, prev_hash, entry_hash, {_canonical_sql()}, entry_mac"
_sha256 = hashlib.sha256
# The head of a result as the service writes it (MessageToDict: fields in number
# order, decision_id, outcome, payable_yen first). Anchored at the start, so the
# key it finds is the top-level one; any other head is read by json_extract.
_HEAD = 160
_PAYABLE_HEAD = re.compile(r'\{"decisionId":"[^"\\]*","outcome":"[A-Z_]*","payableYen":"(\d+)"')


class SqliteLogReader(SqlLogReader):
    def __init__(self, url: str, path: Path, *, hash_in_sql: bool = True) -> None:
        self.path = path
        # False: assemble the canonical form in Python, as on PostgreSQL (the
        # test that both forms agree).
        self.hash_in_sql = hash_in_sql
        super().__init__(url)

    def _open(self) -> sqlite3.Connection:
        return connect_readonly(self.path)

    def _indexed_by(self, index: str) -> str:
        return f" INDEXED BY {index}"

    def _fetch_page(self, sql: str, params: Sequence[Any]) -> list[Any]:
        # Text as bytes: the hash is over the bytes, so they need no decoding.
        conn = self.conn
        conn.text_factory = bytes
        try:
            return list(conn.execute(sql, params).fetchall())
        finally:
            conn.text_factory = str

    def chain_rows(self, lo: int, hi: int | None) -> Iterable[ChainRow]:
        if not self.hash_in_sql:
            yield from super().chain_rows(lo, hi)
            return
        tagged = _sha256(CANONICAL_TAG)
        for rows in self._pages(_CHAIN_ROW, lo, hi):
            for seq, id_, prev, stored, blob, mac in rows:
                if blob is None:
                    computed = ""
                else:
                    h = tagged.copy()  # the tag hashed once, not copied into each row
                    h.update(blob)
                    computed = h.hexdigest()
                yield int(seq), text(id_), text(prev), text(stored), computed, text(mac)

    def claim_rows(self, seqs: Sequence[int]) -> list[ClaimRow]:
        """The payable amount is read from the head of the result when it has
        the service's shape (``_PAYABLE_HEAD``), which spares parsing the whole
        result (some 10 kB) with ``json_extract``; the other rows (no amount at
        the head, e.g. a DENY, whose zero amount is omitted) are read with it."""
        conn = self.conn
        sql = CLAIM_ROW_SQL.format(f"substr(result, 1, {_HEAD})", marks(len(seqs)))
        rows: list[ClaimRow] = []
        rest: list[int] = []  # positions in ``rows`` whose amount the head does not show
        match = _PAYABLE_HEAD.match
        for r in conn.execute(sql, list(seqs)).fetchall():
            m = match(r[8]) if isinstance(r[8], str) else None
            if m is None:
                rest.append(len(rows))
                rows.append(r)
            else:
                rows.append((*r[:8], m.group(1)))
        if rest:
            payable = dict(
                conn.execute(
                    "SELECT seq, json_extract(result, '$.payableYen') FROM verdicts "
                    f"WHERE seq IN ({marks(len(rest))})",
                    [rows[i][0] for i in rest],
                ).fetchall()
            )
            for i in rest:
                r = rows[i]
                rows[i] = (*r[:8], payable.get(r[0]))
        rows.sort(key=lambda r: r[0])
        return expand_claim_rows(conn, rows)  # compacted entries' inputs and amounts
