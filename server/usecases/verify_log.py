"""Verify the verdict log: the hash chain, the signed head, every checkpoint.

``verify(reader, verifier)`` walks the log (read through
``server.store.open_log_reader``) in sequence order and stops at the first
entry that is not what the chain says it must be, naming it:

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

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson

from server.store.chain import GENESIS_HASH, LogVerifier, checkpoint_message, head_message
from server.store.ports import ChainReader
from server.store.records import ChainRow, Checkpoint

__all__ = ["Checkpoint", "Problem", "Report", "load_external", "read_checkpoints", "verify"]

_LINK_BROKEN = (
    "prev_hash does not link to the entry before it "
    "(an entry before it was removed, inserted or reordered)"
)
_CONTENT_CHANGED = (
    "content does not match its entry_hash (the entry was changed after it was written)"
)
_PARALLEL_MIN_ENTRIES = 100_000


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


def read_checkpoints(reader: ChainReader, since_seq: int = 0) -> list[Checkpoint]:
    return reader.checkpoints(since_seq)


@dataclass(frozen=True)
class _ChunkResult:
    first_seq: int
    first_prev: str
    last_seq: int
    last_hash: str
    count: int
    hashes_at: dict[int, str]  # entry hash at each wanted seq (checkpoints)
    problem: Problem | None


def _check_rows(
    rows: Iterable[ChainRow],
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


# A process-pool worker reads through its own copy of the reader (which
# opens its own connection there).
_worker_reader: ChainReader | None = None


def _init_worker(reader: ChainReader) -> None:
    global _worker_reader
    _worker_reader = reader


def _check_range(lo: int, hi: int, wanted: frozenset[int]) -> _ChunkResult:
    assert _worker_reader is not None
    return _check_rows(_worker_reader.chain_rows(lo, hi), lo, None, wanted)


def _walk(reader: ChainReader, wanted: frozenset[int], workers: int) -> _ChunkResult:
    count, lo, hi = reader.log_bounds()
    if count == 0:
        return _ChunkResult(1, GENESIS_HASH, 0, GENESIS_HASH, 0, {}, None)
    if lo != 1:
        first = reader.entry_id(lo)
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
                f"first present entry {first or '?'})",
            ),
        )
    if workers <= 1 or count < _PARALLEL_MIN_ENTRIES:
        return _check_rows(reader.chain_rows(1, None), 1, GENESIS_HASH, wanted)
    # Split [1, hi] into ranges by seq; each worker checks its own range.
    parts = workers * 4
    step = max(1, (hi + parts - 1) // parts)
    ranges = [(a, min(a + step, hi + 1)) for a in range(1, hi + 1, step)]
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(reader,)) as pool:
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
            problem = Problem(a, reader.entry_id(a), _LINK_BROKEN)
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


def verify(
    reader: ChainReader,
    verifier: LogVerifier,
    *,
    external: Sequence[Checkpoint] = (),
    workers: int | None = None,
) -> Report:
    """Check the whole log; large logs in parallel chunks over ``workers``
    processes (default: one per core), each reading through its own copy of
    ``reader``."""
    report = Report()
    head = reader.head()
    stored = reader.checkpoints()
    report.checkpoints = len(stored)
    report.external_checkpoints = len(external)
    wanted = frozenset(c.seq for c in (*stored, *external))
    result = _walk(reader, wanted, workers or (os.cpu_count() or 1))
    report.entries = result.count
    if result.problem is not None:
        report.problem = result.problem
        return report
    last_seq, last_hash = result.last_seq, result.last_hash

    def fail(seq: int, reason: str) -> Report:
        report.problem = Problem(seq, reader.entry_id(seq), reason)
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
        head.seq,
        head.entry_hash,
        head.signed_us,
        head.key_id,
        head.signature,
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
