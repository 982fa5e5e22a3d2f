"""The read-only log reader on PostgreSQL (``ports.LogReader``): its session's
transactions are read-only, so it works on a streaming replica too."""

from __future__ import annotations

from collections.abc import Sequence

from server.store.postgres.connection import PgConn, connect_readonly
from server.store.records import ClaimRow
from server.store.sql.blobs import expand_claim_rows
from server.store.sql.connection import marks
from server.store.sql.log_reader import CLAIM_ROW_SQL, SqlLogReader


class PostgresLogReader(SqlLogReader):
    def _open(self) -> PgConn:
        return connect_readonly(self.url)

    def _close(self, conn: PgConn) -> None:
        conn.raw.close()

    def claim_rows(self, seqs: Sequence[int]) -> list[ClaimRow]:
        sql = CLAIM_ROW_SQL.format("result::json ->> 'payableYen'", marks(len(seqs)))
        rows = [tuple(r) for r in self.conn.execute(sql, list(seqs)).fetchall()]
        rows.sort(key=lambda r: r[0])
        return expand_claim_rows(self.conn, rows)  # compacted entries' inputs and amounts
