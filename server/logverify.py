"""Verify the verdict log: the hash chain, the signed head, every checkpoint.

``verify(conn, verifier)`` walks the log in sequence order and stops at the
first entry that is not what the chain says it must be, naming it:

* an entry changed in place (any byte of any column) → its hash does not match;
* an entry deleted → a gap in the sequence (or a broken link if renumbered);
* entries reordered → the links break where the order changed;
* entries cut off at the end → the signed head (and any later checkpoint)
  names entries that are no longer there;
* entries appended behind the service's back → they lie beyond the signed
  head, which only the holder of the key can move.

Checkpoints exported earlier (``anshin log checkpoints``) and kept elsewhere
can be given too: they also catch the whole database being swapped for an
older copy. Large logs are checked in parallel chunks (one process per core);
each chunk checks its own links and hashes, and the chunks' ends are joined.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson

from server.store.chain import (
    CANONICAL_TAG,
    CHAIN_COLUMNS,
    GENESIS_HASH,
    Connection,
    LogVerifier,
    checkpoint_message,
    entry_hash,
    head_message,
)
from server.store.verdicts_sql import VERDICT_COLUMNS

_CHUNK_ROWS = 20_000
_LINK_BROKEN = (
    "prev_hash does not link to the entry before it "
    "(an entry before it was removed, inserted or reordered)"
)
_CONTENT_CHANGED = (
    "content does not match its entry_hash (the entry was changed after it was written)"
)
_TAG = CANONICAL_TAG
_sha256 = hashlib.sha256
_PARALLEL_MIN_ENTRIES = 100_000


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    entry_hash: str
    created_us: int
    key_id: str
    signature: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "entry_hash": self.entry_hash,
            "created_us": self.created_us,
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Checkpoint:
        return cls(
            int(d["seq"]),
            str(d["entry_hash"]),
            int(d["created_us"]),
            str(d["key_id"]),
            str(d["signature"]),
        )


@dataclass(frozen=True)
class Problem:
    seq: int  # the first bad entry's position (for a missing one: where it should be)
    entry_id: str | None
    reason: str


@dataclass
class Report:
    entries: int = 0
    head_seq: int = 0
    checkpoints: int = 0
    external_checkpoints: int = 0
    problem: Problem | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head_seq": self.head_seq,
            "checkpoints_checked": self.checkpoints,
            "external_checkpoints_checked": self.external_checkpoints,
            "first_bad": None
            if self.problem is None
            else {
                "seq": self.problem.seq,
                "id": self.problem.entry_id,
                "reason": self.problem.reason,
            },
            "notes": self.notes,
        }


def read_checkpoints(conn: Connection, since_seq: int = 0) -> list[Checkpoint]:
    rows = conn.execute(
        "SELECT seq, entry_hash, created_us, key_id, signature FROM log_checkpoints "
        "WHERE seq > ? ORDER BY seq",
        (since_seq,),
    ).fetchall()
    return [Checkpoint(int(r[0]), _text(r[1]), int(r[2]), _text(r[3]), _text(r[4])) for r in rows]


@dataclass(frozen=True)
class _ChunkResult:
    first_seq: int
    first_prev: str
    last_seq: int
    last_hash: str
    count: int
    hashes_at: dict[int, str]  # entry hash at each wanted seq (checkpoints)
    problem: Problem | None


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _check_rows(
    rows: Iterable[Sequence[Any]],
    expect_seq: int,
    prev: str | None,
    wanted: frozenset[int],
) -> _ChunkResult:
    """Check consecutive rows. ``prev`` None: take the first row's prev_hash
    on trust (a chunk's start; joined to the previous chunk afterwards)."""
    first_prev = prev
    count = 0
    hashes_at: dict[int, str] = {}
    last_seq = expect_seq - 1
    last_hash = prev or ""
    problem: Problem | None = None
    for seq, entry_id, stored_prev, stored_hash, computed in rows:
        if seq != expect_seq:
            reason = (
                f"entry {expect_seq} is missing (next entry has seq {seq})"
                if seq > expect_seq
                else f"entry {seq} is out of order (expected {expect_seq})"
            )
            problem = Problem(expect_seq, entry_id, reason)
            break
        if prev is None:
            prev = first_prev = stored_prev
        if stored_prev != prev:
            problem = Problem(seq, entry_id, _LINK_BROKEN)
            break
        # ``computed`` hashes the stored content with the stored prev_hash (== prev here).
        if computed != stored_hash:
            problem = Problem(seq, entry_id, _CONTENT_CHANGED)
            break
        if seq in wanted:
            hashes_at[seq] = computed
        prev = computed
        last_seq, last_hash = seq, computed
        expect_seq += 1
        count += 1
    return _ChunkResult(
        expect_seq - count, first_prev or "", last_seq, last_hash, count, hashes_at, problem
    )


def _sqlite_canonical_sql() -> str:
    """``chain.canonical`` (without its tag) built by SQLite itself, in C: the
    verifier then hashes one blob per entry instead of assembling 19 fields in
    Python. Any stored value that is not what the service writes (a NULL in
    an integer column, a number where text belongs) encodes differently, so
    it is reported, never passed."""

    def text(col: str) -> str:
        return (
            f"CASE WHEN {col} IS NULL THEN '~' ELSE length(CAST({col} AS BLOB)) || ':' || {col} END"
        )

    parts = ["'#' || seq || ';'"]
    for col in CHAIN_COLUMNS:
        parts.append(f"'#' || {col} || ';'" if col in _INT_COLUMNS else text(col))
    parts.append(text("prev_hash"))
    return " || ".join(parts)


_INT_COLUMNS = frozenset({"subject_us", "recorded_us"})
_SQLITE_ROW = f"seq, id, prev_hash, entry_hash, {_sqlite_canonical_sql()}"


def _iter_rows(
    conn: Connection, lo: int, hi: int | None
) -> Iterable[tuple[int, str, str, str, str]]:
    """(seq, id, stored prev_hash, stored entry_hash, hash computed from the
    stored content) for lo <= seq (< hi), in seq order, in bounded pages."""
    native = isinstance(conn, sqlite3.Connection)
    columns = _SQLITE_ROW if native else VERDICT_COLUMNS
    after = lo - 1
    while True:
        bound = "" if hi is None else " AND seq < ?"
        sql = f"SELECT {columns} FROM verdicts WHERE seq > ?{bound} ORDER BY seq LIMIT ?"
        params: tuple[Any, ...] = (after, _CHUNK_ROWS) if hi is None else (after, hi, _CHUNK_ROWS)
        rows = conn.execute(sql, params).fetchall()
        if not rows:
            return
        if native:
            for seq, id_, prev, stored, blob in rows:
                computed = "" if blob is None else _sha256(_TAG + _bytes(blob)).hexdigest()
                yield int(seq), _text(id_), _text(prev), _text(stored), computed
        else:
            for row in rows:
                yield (
                    int(row[0]),
                    _text(row[1]),
                    _text(row[17]),
                    _text(row[18]),
                    entry_hash(int(row[0]), row[1:17], row[17]),
                )
        after = int(rows[-1][0])
        if len(rows) < _CHUNK_ROWS:
            return


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


# A process-pool worker opens its own connection from this factory.
_worker_connect: Callable[[], Connection] | None = None


def _init_worker(connect: Callable[[], Connection]) -> None:
    global _worker_connect
    _worker_connect = connect


def _check_range(lo: int, hi: int, wanted: frozenset[int]) -> _ChunkResult:
    assert _worker_connect is not None
    conn = _worker_connect()
    return _check_rows(_iter_rows(conn, lo, hi), lo, None, wanted)


def _bounds(conn: Connection) -> tuple[int, int, int]:
    row = conn.execute("SELECT COUNT(*), MIN(seq), MAX(seq) FROM verdicts").fetchone()
    return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)


def _walk(
    conn: Connection,
    wanted: frozenset[int],
    connect: Callable[[], Connection] | None,
    workers: int,
) -> _ChunkResult:
    count, lo, hi = _bounds(conn)
    if count == 0:
        return _ChunkResult(1, GENESIS_HASH, 0, GENESIS_HASH, 0, {}, None)
    if lo != 1:
        row = conn.execute("SELECT id FROM verdicts WHERE seq = ?", (lo,)).fetchone()
        return _ChunkResult(
            1,
            GENESIS_HASH,
            0,
            GENESIS_HASH,
            0,
            {},
            Problem(
                1,
                None,
                f"entries 1..{lo - 1} are missing (log starts at seq {lo}; "
                f"first present entry {_text(row[0]) if row else '?'})",
            ),
        )
    if connect is None or workers <= 1 or count < _PARALLEL_MIN_ENTRIES:
        return _check_rows(_iter_rows(conn, 1, None), 1, GENESIS_HASH, wanted)
    # Split [1, hi] into ranges by seq; each worker checks its own range.
    parts = workers * 4
    step = max(1, (hi + parts - 1) // parts)
    ranges = [(a, min(a + step, hi + 1)) for a in range(1, hi + 1, step)]
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(connect,)) as pool:
        results = list(pool.map(_check_range, *zip(*ranges, strict=True), [wanted] * len(ranges)))
    merged_hashes: dict[int, str] = {}
    prev_hash, prev_seq, total = GENESIS_HASH, 0, 0
    # Join the ranges in order: each must start right after the previous one
    # ended and link to its last hash; the first problem found is the answer.
    problem: Problem | None = None
    for (a, _b), res in zip(ranges, results, strict=True):
        if res.count and res.first_seq != prev_seq + 1:
            problem = Problem(prev_seq + 1, None, f"entry {prev_seq + 1} is missing")
        elif res.count and res.first_prev != prev_hash:
            problem = Problem(a, _id_at(conn, a), _LINK_BROKEN)
        elif res.count == 0 and res.problem is None:  # an empty range inside [1, hi]
            problem = Problem(a, None, f"entry {a} is missing")
        if problem is not None:
            break
        merged_hashes.update(res.hashes_at)
        total += res.count
        prev_hash, prev_seq = res.last_hash, res.last_seq
        if res.problem is not None:
            problem = res.problem
            break
    return _ChunkResult(1, GENESIS_HASH, prev_seq, prev_hash, total, merged_hashes, problem)


def _id_at(conn: Connection, seq: int) -> str | None:
    row = conn.execute("SELECT id FROM verdicts WHERE seq = ?", (seq,)).fetchone()
    return None if row is None else _text(row[0])


def verify(
    conn: Connection,
    verifier: LogVerifier,
    *,
    external: Sequence[Checkpoint] = (),
    connect: Callable[[], Connection] | None = None,
    workers: int | None = None,
) -> Report:
    """Check the whole log; ``connect`` (picklable) lets chunks run in parallel."""
    report = Report()
    head = conn.execute(
        "SELECT seq, entry_hash, signed_us, key_id, signature FROM log_head WHERE id = 1"
    ).fetchone()
    stored = read_checkpoints(conn)
    report.checkpoints = len(stored)
    report.external_checkpoints = len(external)
    wanted = frozenset(c.seq for c in (*stored, *external))
    result = _walk(conn, wanted, connect, workers or (os.cpu_count() or 1))
    report.entries = result.count
    if result.problem is not None:
        report.problem = result.problem
        return report
    last_seq, last_hash = result.last_seq, result.last_hash

    def fail(seq: int, reason: str) -> Report:
        report.problem = Problem(seq, _id_at(conn, seq), reason)
        return report

    for label, cps in (("checkpoint", stored), ("exported checkpoint", external)):
        for cp in cps:
            if cp.key_id != verifier.key_id or not verifier.valid(
                cp.signature, checkpoint_message(cp.seq, cp.entry_hash, cp.created_us)
            ):
                return fail(
                    cp.seq,
                    f"{label} at seq {cp.seq} has no valid signature of key {verifier.key_id}",
                )
            if cp.seq > last_seq:
                return fail(
                    last_seq + 1,
                    f"{label} at seq {cp.seq} is signed but the log "
                    f"ends at {last_seq}: entries were removed from the end",
                )
            if result.hashes_at.get(cp.seq) != cp.entry_hash:
                return fail(
                    cp.seq,
                    f"entry {cp.seq} differs from the signed {label} "
                    "(the log was rewritten from here or before)",
                )
    if head is None:
        return fail(max(last_seq, 1), "log_head is missing")
    head_seq, head_hash, signed_us, key_id, signature = (
        int(head[0]),
        _text(head[1]),
        int(head[2]),
        _text(head[3]),
        _text(head[4]),
    )
    report.head_seq = head_seq
    if not signature:
        if head_seq == 0 and last_seq == 0:
            return report
        return fail(max(head_seq, 1), "the log head is not signed")
    if key_id != verifier.key_id or not verifier.valid(
        signature, head_message(head_seq, head_hash, signed_us)
    ):
        return fail(
            max(head_seq, 1), f"the log head has no valid signature of key {verifier.key_id}"
        )
    if last_seq > head_seq:
        return fail(
            head_seq + 1,
            f"entries {head_seq + 1}..{last_seq} lie beyond the signed "
            "head: appended behind the service's back",
        )
    if last_seq < head_seq:
        return fail(
            last_seq + 1,
            f"the signed head is at seq {head_seq} but the log ends at "
            f"{last_seq}: entries were removed from the end",
        )
    if head_hash != last_hash:
        return fail(head_seq, "the last entry differs from the signed head")
    return report


def load_external(lines: Iterable[str]) -> list[Checkpoint]:
    return [Checkpoint.from_json(orjson.loads(line)) for line in lines if line.strip()]
