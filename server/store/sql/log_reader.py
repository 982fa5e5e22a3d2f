"""The read-only log reader's queries both backends share (``ports.LogReader``).

A reader holds one read-only connection, opened when it is made. It is
picklable (its state is what to open, not the connection) and notices when
it finds itself in another process — a worker forked from, or handed a copy
by, the process that made it — and opens a connection of its own there: so
replay and verify spread over worker processes that each read the database
directly, as fast as one process would per core.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from server.log import compact
from server.store.chain import entry_hash, read_head
from server.store.records import ChainRow, Checkpoint, ClaimRow, LogHead, Usage
from server.store.sql import blobs, log_tree
from server.store.sql.connection import marks
from server.store.sql.coverage_reads import CoverageReads
from server.store.sql.verdicts import VERDICT_COLUMNS

# What verify reads of each entry: the stored columns, then the stored MAC.
CHAIN_COLUMNS_WITH_MAC = f"{VERDICT_COLUMNS}, entry_mac"

# Rows per page when walking the whole log: bounded memory, few round trips.
CHAIN_PAGE_ROWS = 20_000
# The columns replay reads of a claim entry, then the logged payable amount
# (its SQL is the backend's: ``{}``), of the entries at the seqs ``{}``.
CLAIM_ROW_SQL = (
    "SELECT seq, id, customer_id, policy_id, recorded_us, outcome, clause_ids, inputs, {} "
    "FROM verdicts WHERE kind = 'claim' AND seq IN ({})"
)


def text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


class SqlLogReader(CoverageReads):
    """``ports.LogReader`` over qmark SQL; a backend supplies ``_open`` and the
    queries that differ (``claim_rows``, and a faster ``chain_rows``)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: Any = None
        self._pid = 0
        # Connections inherited from the process that forked this one: that
        # process's, never used, closed or even freed here (closing a
        # PostgreSQL connection would end it for the parent too).
        self._inherited: list[Any] = []
        self.conn  # noqa: B018 - connect now: a bad URL or missing file fails here

    # -- the connection --------------------------------------------------------

    def _open(self) -> Any:
        raise NotImplementedError

    def _close(self, conn: Any) -> None:
        conn.close()

    @property
    def conn(self) -> Any:
        """This process's read-only connection (qmark ``execute``)."""
        if self._conn is None or self._pid != os.getpid():
            if self._conn is not None:
                self._inherited.append(self._conn)
            self._conn = self._open()
            self._pid = os.getpid()
        return self._conn

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_conn=None, _pid=0, _inherited=[])
        return state

    def close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._close(self._conn)
        self._conn = None

    def _indexed_by(self, index: str) -> str:
        """SQLite's ``INDEXED BY`` (the plan must not become a scan of the whole log)."""
        return ""

    # -- the chain (verify, checkpoint export) --------------------------------

    def log_bounds(self) -> tuple[int, int, int]:
        row = self.conn.execute("SELECT COUNT(*), MIN(seq), MAX(seq) FROM verdicts").fetchone()
        return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)

    def entry_id(self, seq: int) -> str | None:
        row = self.conn.execute("SELECT id FROM verdicts WHERE seq = ?", (seq,)).fetchone()
        return None if row is None else text(row[0])

    def head(self) -> LogHead | None:
        return read_head(self.conn)

    def checkpoints(self, since_seq: int = 0) -> list[Checkpoint]:
        return log_tree.checkpoints(self.conn, since_seq)

    def checkpoint_covering(self, seq: int) -> Checkpoint | None:
        return log_tree.checkpoint_covering(self.conn, seq)

    def latest_checkpoint(self) -> Checkpoint | None:
        return log_tree.latest_checkpoint(self.conn)

    def subtree_hashes(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        return log_tree.subtree_hashes(self.conn, ranges)

    def verdict_row(self, verdict_id: str) -> tuple[Any, ...] | None:
        """One entry as stored (``VERDICT_COLUMNS``): what ``anshin log prove`` reads."""
        row = self.conn.execute(
            f"SELECT {VERDICT_COLUMNS} FROM verdicts WHERE id = ?", (verdict_id,)
        ).fetchone()
        return None if row is None else tuple(row)

    def blob_problems(self, lo: int, hi: int | None) -> list[tuple[int, str, str]]:
        """Compacted entries of [lo, hi) whose blobs are not what they name
        (``blobs.blob_problems``): the entries with a reference, then their blobs."""
        bound = "" if hi is None else " AND seq < ?"
        head = compact.REF_HEAD[:9].decode()  # '{"$blob":'
        kinds = blobs.COMPACTED_KINDS
        rows = self.conn.execute(
            f"SELECT seq, id, inputs, result "
            f"FROM verdicts{self._indexed_by('verdicts_kind_outcome_seq')} "
            f"WHERE kind IN ({marks(len(kinds))}) AND seq >= ?{bound} "
            "AND (substr(inputs, 1, 9) = ? OR substr(result, 1, 9) = ?)",
            (*kinds, lo, head, head) if hi is None else (*kinds, lo, hi, head, head),
        ).fetchall()
        return blobs.blob_problems(self.conn, rows)

    def blob_contents(self, columns: Sequence[Any]) -> dict[str, bytes]:
        return blobs.blob_contents(self.conn, columns)

    def tree_nodes(self, level: int, lo: int, hi: int) -> dict[int, bytes]:
        """The kept subtree hashes of ``level`` with lo <= idx < hi (verify compares them)."""
        rows = self.conn.execute(
            "SELECT idx, hash FROM log_tree_nodes WHERE level = ? AND idx >= ? AND idx < ?",
            (level, lo, hi),
        ).fetchall()
        return {int(r[0]): bytes(r[1]) for r in rows}

    def _pages(self, columns: str, lo: int, hi: int | None) -> Iterator[list[Any]]:
        """The rows (``columns``) with lo <= seq (< hi), in seq order, page by page."""
        after = lo - 1
        bound = "" if hi is None else " AND seq < ?"
        sql = f"SELECT {columns} FROM verdicts WHERE seq > ?{bound} ORDER BY seq LIMIT ?"
        while True:
            params = (after, CHAIN_PAGE_ROWS) if hi is None else (after, hi, CHAIN_PAGE_ROWS)
            rows = self._fetch_page(sql, params)
            if not rows:
                return
            yield rows
            after = int(rows[-1][0])
            if len(rows) < CHAIN_PAGE_ROWS:
                return

    def _fetch_page(self, sql: str, params: Sequence[Any]) -> list[Any]:
        return list(self.conn.execute(sql, params).fetchall())

    def chain_rows(self, lo: int, hi: int | None) -> Iterable[ChainRow]:
        """Each entry's canonical form assembled in Python (``chain.entry_hash``)."""
        for rows in self._pages(CHAIN_COLUMNS_WITH_MAC, lo, hi):
            for row in rows:
                yield (
                    int(row[0]),
                    text(row[1]),
                    text(row[17]),
                    text(row[18]),
                    entry_hash(int(row[0]), row[1:17], row[17]),
                    text(row[19]),
                )

    # -- claims (replay) -------------------------------------------------------

    def claim_seqs(
        self, *, since_us: int | None = None, until_us: int | None = None, policy: str | None = None
    ) -> list[int]:
        """Index-only: the claim entries by ``(kind, outcome, seq)``; a policy by
        ``(policy_id, seq)``; a window of decision instants narrowed to a seq range
        by ``(recorded_us)`` (the exact instant is checked on each row)."""
        conn = self.conn
        lo, hi = 0, 2**63 - 1
        if since_us is not None or until_us is not None:
            row = conn.execute(
                "SELECT MIN(seq), MAX(seq) FROM verdicts "
                "WHERE recorded_us >= ? AND recorded_us < ?",
                (since_us if since_us is not None else -(2**63), until_us or 2**63 - 1),
            ).fetchone()
            if row[0] is None:
                return []
            lo, hi = int(row[0]), int(row[1])
        seqs = {
            int(r[0])
            for r in conn.execute(
                f"SELECT seq FROM verdicts{self._indexed_by('verdicts_kind_outcome_seq')} "
                "WHERE kind = 'claim' AND seq BETWEEN ? AND ?",
                (lo, hi),
            )
        }
        if policy is not None:
            seqs &= {
                int(r[0])
                for r in conn.execute(
                    f"SELECT seq FROM verdicts{self._indexed_by('verdicts_policy_seq')} "
                    "WHERE policy_id = ? AND seq BETWEEN ? AND ?",
                    (policy, lo, hi),
                )
            }
        return sorted(seqs)

    def claim_rows(self, seqs: Sequence[int]) -> list[ClaimRow]:
        raise NotImplementedError

    def ledger_before(self, seq: int, scopes: Sequence[str]) -> dict[str, Usage]:
        usage: dict[str, list[Any]] = {s: [0, 0, set()] for s in scopes}
        for scope, amount, count, person in self.conn.execute(
            "SELECT l.scope_key, l.amount_yen, l.count, l.insured_person_ref FROM ledger l "
            f"JOIN verdicts v ON v.id = l.decision_id WHERE l.scope_key IN ({marks(len(scopes))}) "
            "AND v.seq < ?",
            (*scopes, seq),
        ):
            u = usage[scope]
            u[0] += int(amount)
            u[1] += int(count)
            if person:
                u[2].add(person)
        return {s: Usage(a, c, frozenset(p)) for s, (a, c, p) in usage.items()}
