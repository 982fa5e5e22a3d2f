"""Verify the verdict log: chain, entry MACs, Merkle roots, signed head, checkpoints.

``verify(reader, verifier)`` walks the log (read through
``server.store.open_log_reader``) in sequence order and stops at the first
entry that is not what the log says it must be, naming it:

* an entry changed in place (any byte of any column) → its hash does not match;
* an entry changed and the chain re-hashed from there on (what someone with
  the database but not the key can do) → with the private key, its MAC does
  not match: that entry is named, even when every later checkpoint and the
  head were replaced or deleted. With the public key only, MACs cannot be
  checked (the report says so) and such a rewrite is caught by the signed
  head and checkpoints instead, blamed on the first checkpoint after it;
* an entry deleted → a gap in the sequence (or a broken link if renumbered);
* entries reordered → the links break where the order changed;
* entries cut off at the end → the signed head (and any later checkpoint)
  names entries that are no longer there;
* entries appended behind the service's back → they lie beyond the signed
  head, which only the holder of the key can move.

Every checkpoint's signature is checked, and its Merkle root (RFC 9162, over
entries 1..seq) against the root recomputed from the entries; checkpoints
from before schema 7 (a signature over the entry hash) by their own rule.
Checkpoints exported earlier (``anshin log checkpoints``) or held by a
witness can be given too: they also catch the whole database being swapped
for an older copy. Large logs are checked in parallel chunks of a power of
two entries (one process per core); each chunk checks its own links, hashes
and MACs and returns its Merkle frontier at the checkpoints inside it, and
the chunks are joined in order (their roots combine into the whole tree's).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from server.log import merkle
from server.store.chain import (
    GENESIS_HASH,
    TREE_NODE_STRIDE,
    LogVerifier,
    checkpoint_problem,
    head_signature_valid,
    hmac_sha256,
    kept_node,
)
from server.store.ports import ChainReader, CoverageReader
from server.store.records import ChainRow, Checkpoint
from server.usecases.log_problem import Problem
from server.usecases.verify_coverage import CoverageReport, verify_coverage

__all__ = ["Checkpoint", "Problem", "Report", "load_external", "read_checkpoints", "verify"]

_LINK_BROKEN = (
    "prev_hash does not link to the entry before it "
    "(an entry before it was removed, inserted or reordered)"
)
_CONTENT_CHANGED = (
    "content does not match its entry_hash (the entry was changed after it was written)"
)
_MAC_WRONG = (
    "its entry_mac is not the MAC of its hash under the log key: the entry was "
    "changed and the chain re-hashed without the key (the first rewritten entry)"
)
_PARALLEL_MIN_ENTRIES = 100_000
# The smallest chunk a worker checks: a power of two, so chunks start at
# multiples of their size and each complete one is one subtree of the tree.
_MIN_CHUNK = 1 << 12


@dataclass
class Report:
    entries: int = 0
    head_seq: int = 0
    checkpoints: int = 0
    external_checkpoints: int = 0
    macs_checked: bool = False
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
            "macs_checked": self.macs_checked,
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
    # The chunk's own Merkle frontier (over its leaves only) after each wanted
    # seq, and at its end.
    frontiers_at: dict[int, list[bytes]]
    frontier: list[bytes]
    # The kept subtrees (levels 8, 16, …) inside the chunk: (level, idx) → hash.
    nodes: dict[tuple[int, int], bytes]
    problem: Problem | None


def _check_rows(
    rows: Iterable[ChainRow],
    expect_seq: int,
    prev: str | None,
    wanted: frozenset[int],
    mac_key: bytes | None,
) -> _ChunkResult:
    """Check consecutive rows. ``prev`` None: take the first row's prev_hash
    on trust (a chunk's start; joined to the previous chunk afterwards).
    ``mac_key``: also check each entry's MAC."""
    first_prev = prev
    count = 0
    hashes_at: dict[int, str] = {}
    frontiers_at: dict[int, list[bytes]] = {}
    last_seq = expect_seq - 1
    last_hash = prev or ""
    problem: Problem | None = None
    leaves: list[bytes] = []
    append = leaves.append
    sha256 = hashlib.sha256
    fromhex = bytes.fromhex
    mac_of = hmac_sha256(mac_key) if mac_key is not None else None
    for seq, entry_id, stored_prev, stored_hash, computed, mac in rows:
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
        raw = fromhex(computed)
        if mac_of is not None and mac_of(raw).hex() != mac:
            problem = Problem(seq, entry_id, _MAC_WRONG)
            break
        append(sha256(b"\x00" + raw).digest())
        if seq in wanted:
            hashes_at[seq] = computed
        prev = computed
        last_seq, last_hash = seq, computed
        expect_seq += 1
        count += 1
    # The chunk's tree level by level, each level one comprehension: cheaper
    # than a frontier updated per leaf, and any prefix's frontier is then
    # log2(n) lookups (the subtree of each set bit of the prefix's size).
    levels = _levels(leaves)
    first_seq = expect_seq - count
    for seq in hashes_at:
        frontiers_at[seq] = _frontier_of(levels, seq - first_seq + 1)
    first_leaf = first_seq - 1
    nodes = {
        (level, (first_leaf >> level) + i): h
        for level in range(TREE_NODE_STRIDE, len(levels), TREE_NODE_STRIDE)
        if first_leaf % (1 << level) == 0  # a chunk starts at a multiple of its size
        for i, h in enumerate(levels[level])
    }
    return _ChunkResult(
        first_seq,
        first_prev or "",
        last_seq,
        last_hash,
        count,
        hashes_at,
        frontiers_at,
        _frontier_of(levels, count),
        nodes,
        problem,
    )


def _levels(leaves: list[bytes]) -> list[list[bytes]]:
    """Every complete subtree's hash, level by level (level 0: the leaves)."""
    sha256 = hashlib.sha256
    levels = [leaves]
    level = leaves
    while len(level) > 1:
        level = [
            sha256(b"\x01" + a + b).digest() for a, b in zip(level[::2], level[1::2], strict=False)
        ]
        levels.append(level)
    return levels


def _frontier_of(levels: list[list[bytes]], size: int) -> list[bytes]:
    """The frontier (largest subtree first) of the first ``size`` leaves."""
    return [levels[b][(size >> b) - 1] for b in reversed(range(size.bit_length())) if size >> b & 1]


# A process-pool worker reads through its own copy of the reader (which
# opens its own connection there).
_worker_reader: ChainReader | None = None
_worker_mac_key: bytes | None = None


def _init_worker(reader: ChainReader, mac_key: bytes | None) -> None:
    global _worker_reader, _worker_mac_key
    _worker_reader = reader
    _worker_mac_key = mac_key


def _coverage_task() -> CoverageReport:
    """``verify_coverage`` in a worker: it needs none of the walk's results,
    so it runs beside the chunks instead of after them."""
    assert isinstance(_worker_reader, CoverageReader)
    return verify_coverage(_worker_reader)


def _check_range(lo: int, hi: int, wanted: frozenset[int]) -> _ChunkResult:
    assert _worker_reader is not None
    res = _check_rows(_worker_reader.chain_rows(lo, hi), lo, None, wanted, _worker_mac_key)
    return _blobs_checked(_worker_reader, res, lo, hi)


def _blobs_checked(reader: ChainReader, res: _ChunkResult, lo: int, hi: int | None) -> _ChunkResult:
    """``res`` with the first compacted entry of [lo, hi) whose blob is missing
    or is not its digest's content (server/log/compact.py) as its problem, if
    that comes before the chain's: the hash covers the reference, the blob
    must hold what the reference names."""
    found = reader.blob_problems(lo, hi)
    if not found or (res.problem is not None and res.problem.seq <= found[0][0]):
        return res
    seq, entry_id, reason = found[0]
    return replace(res, problem=Problem(seq, entry_id, f"entry {seq}: {reason}"))


@dataclass
class _Walked:
    """The whole walk: how far the log is intact, and the tree's roots."""

    count: int
    last_seq: int
    last_hash: str
    hashes_at: dict[int, str]
    roots_at: dict[int, bytes]  # Merkle root of entries 1..seq, at each wanted seq
    problem: Problem | None
    # Every kept subtree (levels 8, 16, …) of the entries walked: (level, idx) → hash.
    nodes: dict[tuple[int, int], bytes] = field(default_factory=dict)
    # The tables beside the log, checked in a worker while the others walk.
    coverage: CoverageReport | None = None


def _empty(problem: Problem | None = None) -> _Walked:
    return _Walked(0, 0, GENESIS_HASH, {}, {}, problem)


def _chunk_size(hi: int, workers: int) -> int:
    target = max(_MIN_CHUNK, hi // (workers * 4))
    return 1 << (target - 1).bit_length()


def _walk(
    reader: ChainReader, wanted: frozenset[int], workers: int, mac_key: bytes | None
) -> _Walked:
    count, lo, hi = reader.log_bounds()
    if count == 0:
        return _empty()
    if lo != 1:
        first = reader.entry_id(lo)
        return _empty(
            Problem(
                1,
                None,
                f"entries 1..{lo - 1} are missing (log starts at seq {lo}; "
                f"first present entry {first or '?'})",
            )
        )
    if workers <= 1 or count < _PARALLEL_MIN_ENTRIES:
        res = _check_rows(reader.chain_rows(1, None), 1, GENESIS_HASH, wanted, mac_key)
        res = _blobs_checked(reader, res, 1, None)
        whole = {s: merkle.root_from_frontier(f) for s, f in res.frontiers_at.items()}
        return _Walked(
            res.count, res.last_seq, res.last_hash, res.hashes_at, whole, res.problem, res.nodes
        )
    # Split [1, hi] into aligned power-of-two ranges by seq; each worker checks one.
    step = _chunk_size(hi, workers)
    ranges = [(a, min(a + step, hi + 1)) for a in range(1, hi + 1, step)]
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(reader, mac_key)) as pool:
        # Submitted first, so a worker starts on it while the other takes chunks.
        beside = pool.submit(_coverage_task) if isinstance(reader, CoverageReader) else None
        results = list(pool.map(_check_range, *zip(*ranges, strict=True), [wanted] * len(ranges)))
        coverage = beside.result() if beside is not None else None
    merged_hashes: dict[int, str] = {}
    roots: dict[int, bytes] = {}
    nodes: dict[tuple[int, int], bytes] = {}
    # The roots of the complete chunks so far, as a frontier whose "leaves"
    # are chunks: prefixed to a chunk's own frontier it gives the whole tree's.
    chunks = merkle.Frontier()
    chunk_level = step.bit_length() - 1

    def joined(level: int, idx: int, node: bytes) -> None:
        """A subtree of whole chunks completed: kept ones are checked too."""
        if kept_node(level + chunk_level):
            nodes[(level + chunk_level, idx)] = node

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
        nodes.update(res.nodes)
        for s, local in res.frontiers_at.items():
            roots[s] = merkle.root_from_frontier([*chunks.hashes, *local])
        total += res.count
        prev_hash, prev_seq = res.last_hash, res.last_seq
        if res.problem is not None:
            problem = res.problem
            break
        if res.count == step:
            chunks.append(res.frontier[0], joined)
    return _Walked(total, prev_seq, prev_hash, merged_hashes, roots, problem, nodes, coverage)


def _tree_problem(reader: ChainReader, walked: _Walked) -> Problem | None:
    """The first kept tree node (by the first entry it covers) that is not the
    hash of the entries under it, missing, or beyond the log. The nodes are
    not signed (proofs made of a wrong one fail against the signed roots), so
    a mismatch means the table was altered, not the entries."""
    size = walked.last_seq
    worst: tuple[int, str] | None = None
    level = TREE_NODE_STRIDE
    while True:
        stored = reader.tree_nodes(level, 0, 1 << 62)
        count = size >> level
        if not stored and not count:
            break
        for idx in sorted(set(stored) | set(range(count))):
            have, want = stored.get(idx), walked.nodes.get((level, idx))
            if have == want:
                continue
            first = (idx << level) + 1
            what = (
                "is missing"
                if have is None
                else "lies beyond the log"
                if want is None
                else "is not the hash of the entries under it"
            )
            reason = (
                f"the stored Merkle tree node at level {level}, index {idx} (entries "
                f"{first}..{(idx + 1) << level}) {what}: log_tree_nodes was altered, so "
                "proofs over those entries would not verify"
            )
            if worst is None or first < worst[0]:
                worst = (first, reason)
            break
        level += TREE_NODE_STRIDE
    if worst is None:
        return None
    return Problem(worst[0], reader.entry_id(worst[0]), worst[1])


def verify(
    reader: ChainReader,
    verifier: LogVerifier,
    *,
    external: Sequence[Checkpoint] = (),
    workers: int | None = None,
) -> Report:
    """Check the whole log; large logs in parallel chunks over ``workers``
    processes (default: one per core), each reading through its own copy of
    ``reader``. With the private key (a ``LogSigner``) every entry's MAC is
    checked too."""
    report = Report()
    head = reader.head()
    stored = reader.checkpoints()
    report.checkpoints = len(stored)
    report.external_checkpoints = len(external)
    mac_key: bytes | None = getattr(verifier, "mac_key", None)
    if mac_key is not None and head is not None and head.signature and not head.root_hash:
        # A log from before schema 7, not opened with the key since: no entry
        # has a MAC yet; its v1 head signature covers the whole chain.
        mac_key = None
        report.notes.append(
            "a log from before schema 7 (no entry MACs yet): the store adds them when it "
            "next opens the log with the key; the chain is checked against the signed head"
        )
    report.macs_checked = mac_key is not None
    if mac_key is None and not report.notes:
        report.notes.append(
            "entry MACs not checked (public key only): a rewrite re-hashed to the end is "
            "blamed on the first signed checkpoint or head after it, not on the entry; "
            "verify with the private key to name the entry"
        )
    if (
        head is not None
        and head.signature
        and head.key_id != verifier.key_id
        and not head_signature_valid(verifier, head)
    ):
        # Another log's key: every MAC would differ; say so instead of blaming entry 1.
        report.problem = Problem(
            max(head.seq, 1),
            None,
            f"the log head was signed by key {head.key_id}, not by key {verifier.key_id}: "
            "wrong key? (no valid signature of the given key)",
        )
        return report
    wanted = {c.seq for c in (*stored, *external)}
    if head is not None:
        wanted.add(head.seq)
    result = _walk(reader, frozenset(wanted), workers or (os.cpu_count() or 1), mac_key)
    report.entries = result.count
    if result.problem is not None:
        report.problem = result.problem
        return report
    last_seq, last_hash = result.last_seq, result.last_hash

    def fail(seq: int, reason: str) -> Report:
        seq = max(seq, 1)
        report.problem = Problem(seq, reader.entry_id(seq), reason)
        return report

    # In log order, stored and exported alike: the earliest that disagrees is
    # the answer, and the entries up to the last one that agreed are vouched for.
    labelled = sorted(
        [(cp.seq, "checkpoint", cp) for cp in stored]
        + [(cp.seq, "exported checkpoint", cp) for cp in external],
        key=lambda t: t[0],
    )
    vouched = 0
    for _, label, cp in labelled:
        bad = checkpoint_problem(verifier, cp)
        if bad is not None:
            return fail(cp.seq, f"{label} at seq {cp.seq} is not valid: {bad}")
        if cp.seq > last_seq:
            return fail(
                last_seq + 1,
                f"{label} at seq {cp.seq} is signed but the log "
                f"ends at {last_seq}: entries were removed from the end",
            )
        differs = (
            result.roots_at.get(cp.seq) != cp.root_hash
            if cp.note
            else result.hashes_at.get(cp.seq) != cp.entry_hash
        )
        if differs:
            if mac_key is None:
                report.entries = vouched
            return fail(
                cp.seq,
                f"the entries up to seq {cp.seq} differ from the signed {label}: an "
                f"entry after seq {vouched} and at or before seq {cp.seq} was rewritten"
                + ("" if mac_key else " (verify with the private key to name it)"),
            )
        vouched = cp.seq
    if head is None:
        return fail(last_seq, "log_head is missing")
    report.head_seq = head.seq
    if not head.signature:
        if head.seq == 0 and last_seq == 0:
            return report
        return fail(head.seq, "the log head is not signed")
    if head.key_id != verifier.key_id or not head_signature_valid(verifier, head):
        return fail(head.seq, f"the log head has no valid signature of key {verifier.key_id}")
    if last_seq > head.seq:
        return fail(
            head.seq + 1,
            f"entries {head.seq + 1}..{last_seq} lie beyond the signed "
            "head: appended behind the service's back",
        )
    if last_seq < head.seq:
        return fail(
            last_seq + 1,
            f"the signed head is at seq {head.seq} but the log ends at "
            f"{last_seq}: entries were removed from the end",
        )
    if head.entry_hash != last_hash:
        return fail(head.seq, "the last entry differs from the signed head")
    if head.root_hash and result.roots_at.get(head.seq, merkle.EMPTY_ROOT) != head.root_hash:
        return fail(head.seq, "the Merkle root of the entries differs from the signed head's")
    if head.root_hash and head.checkpoint_seq and all(c.seq != head.checkpoint_seq for c in stored):
        return fail(
            head.checkpoint_seq,
            f"the checkpoint at seq {head.checkpoint_seq} the signed head names was deleted",
        )
    kept = {c.seq for c in stored}
    for cp in external:
        if cp.seq not in kept:
            # Only the service writes checkpoints, never deletes them: one
            # that was exported (signed, and matching the entries, above) and
            # is gone from the database was deleted.
            return fail(
                cp.seq,
                f"the exported checkpoint at seq {cp.seq} is signed and matches the log, "
                "but the database no longer holds it: it was deleted",
            )
    if head.root_hash:  # a log with a tree (schema 7 on): its kept nodes too
        report.problem = _tree_problem(reader, result)
        if report.problem is not None:
            return report
    if isinstance(reader, CoverageReader):  # the tables beside the log that decide money
        covered = result.coverage if result.coverage is not None else verify_coverage(reader)
        report.notes += covered.summary()
        report.problem = covered.problems[0] if covered.problems else None
    return report


def load_external(lines: Iterable[str]) -> list[Checkpoint]:
    return [Checkpoint.from_json(orjson.loads(line)) for line in lines if line.strip()]
