"""What a store checks of the verdict log when it opens, before it writes.

Run inside the transaction that holds the log head (``bind_log_key`` first),
so no other process appends meanwhile:

* the head's signature (v2: seq, last hash, Merkle root, latest checkpoint);
* the checkpoint the head names: its signed note, and the frontier kept
  beside it, which must hash to the note's root;
* every entry since that checkpoint (at most one checkpoint interval of
  them: bounded, whatever the log's size): seq, link, hash, MAC, and the
  frontier extended by them must give the signed head's root;
* nothing lies beyond the signed head.

A mismatch is returned as a ``LogProblem`` naming the first entry it
concerns; the store then opens read-only (``LogIntegrityError`` on every
write) instead of signing anything on top of a log someone else changed.
``anshin log verify`` walks the whole log to name the first changed entry.

A log from before schema 7 (a v1 head: no root, no MACs) is upgraded here,
once, with the operator's key: the whole chain is checked against its v1
signature, then every entry gets its MAC, the tree its nodes, and the head
a v2 signature and a first signed checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from server.log import merkle
from server.log.note import NoteError
from server.store.chain import (
    CHAIN_COLUMNS,
    GENESIS_HASH,
    INSERT_TREE_NODE,
    Connection,
    LogSigner,
    decode_frontier,
    entry_hash,
    head_message,
    head_message_v2,
    kept_node,
    write_head,
)
from server.store.records import LogProblem

log = structlog.get_logger("anshin.store")

_WALK_COLUMNS = ", ".join(("seq", "id", *CHAIN_COLUMNS, "prev_hash", "entry_hash", "entry_mac"))
_WALK_PAGE = 5_000


@dataclass(frozen=True)
class UpdateGuard:
    """The backend's statements lifting and restoring the verdicts table's
    append-only trigger for the one-time MAC backfill of a pre-7 log."""

    lift: tuple[str, ...]
    restore: tuple[str, ...]


def _entry_id(conn: Connection, seq: int) -> str | None:
    row = conn.execute("SELECT id FROM verdicts WHERE seq = ?", (seq,)).fetchone()
    return None if row is None else str(row[0])


def _problem(conn: Connection, seq: int, reason: str) -> LogProblem:
    seq = max(seq, 1)
    return LogProblem(seq, _entry_id(conn, seq), reason)


def _rows(conn: Connection, lo: int, hi: int) -> Iterable[Sequence[Any]]:
    """Entries lo <= seq <= hi in seq order, page by page."""
    after = lo - 1
    while after < hi:
        rows = conn.execute(
            f"SELECT {_WALK_COLUMNS} FROM verdicts WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
            (after, hi, _WALK_PAGE),
        ).fetchall()
        if not rows:
            return
        yield from rows
        after = int(rows[-1][0])


@dataclass
class _Walk:
    """The state of a walk along the chain: where it is and what it found."""

    seq: int
    prev: str
    frontier: merkle.Frontier
    problem: LogProblem | None = None


def _walk(
    conn: Connection,
    signer: LogSigner,
    walk: _Walk,
    hi: int,
    *,
    check_macs: bool,
    first_in_frontier: bool = True,
    macs_out: list[tuple[str, int]] | None = None,
    nodes_out: list[tuple[int, int, bytes]] | None = None,
) -> _Walk:
    """Check entries walk.seq+1 .. hi (or from walk.seq itself when
    ``first_in_frontier`` is False: the checkpoint's own last entry, already
    in its frontier, checked for hash and MAC only)."""
    n_cols = len(CHAIN_COLUMNS)
    done: Any = None
    if nodes_out is not None:
        keep = nodes_out.append

        def done(level: int, idx: int, node: bytes) -> None:
            if kept_node(level):
                keep((level, idx, node))

    start = walk.seq + 1 if first_in_frontier else max(walk.seq, 1)
    expect = start
    for row in _rows(conn, start, hi):
        seq = int(row[0])
        if seq != expect:
            walk.problem = LogProblem(expect, None, f"entry {expect} is missing")
            return walk
        values = row[2 : 2 + n_cols]
        prev, stored, mac = str(row[2 + n_cols]), str(row[3 + n_cols]), str(row[4 + n_cols])
        computed = entry_hash(seq, values, prev)
        if computed != stored:
            walk.problem = LogProblem(seq, str(row[1]), "content does not match its entry_hash")
            return walk
        in_frontier = first_in_frontier or seq > walk.seq
        if in_frontier and prev != walk.prev:
            walk.problem = LogProblem(
                seq, str(row[1]), "prev_hash does not link to the entry before it"
            )
            return walk
        if check_macs and mac != signer.entry_mac(stored):
            walk.problem = LogProblem(
                seq,
                str(row[1]),
                "its entry_mac is not the MAC of its hash under the log key "
                "(the entry was written or re-hashed without the key)",
            )
            return walk
        if macs_out is not None:
            macs_out.append((signer.entry_mac(stored), seq))
        if in_frontier:
            walk.frontier.append(merkle.entry_leaf(stored), done)
            walk.seq = seq
        walk.prev = stored
        expect = seq + 1
    if expect <= hi:
        walk.problem = LogProblem(
            expect, None, f"entry {expect} is missing: the log ends before the signed head ({hi})"
        )
    return walk


def check_at_open(
    conn: Connection, signer: LogSigner, origin: str, guard: UpdateGuard
) -> LogProblem | None:
    """The problem found with the log since its last signed checkpoint, or None.

    Upgrades a pre-7 log (v1 head) on the way; signs nothing else."""
    row = conn.execute(
        "SELECT seq, entry_hash, signed_us, key_id, signature, checkpoint_seq, frontier, "
        "root_hash FROM log_head WHERE id = 1"
    ).fetchone()
    seq, head_hash, signed_us = int(row[0]), str(row[1]), int(row[2])
    signature, cp_seq, frontier_text, root_hex = str(row[4]), int(row[5]), str(row[6]), str(row[7])
    if not signature:
        return _problem(
            conn,
            seq,
            "the log head carries no signature: a server never signs a head it did not "
            "produce (it may have been blanked to hide a rewrite)",
        )
    if not root_hex:  # a v1 head: a log from before schema 7, or a downgrade
        return _upgrade_v1(conn, signer, origin, guard, seq, head_hash, signed_us, signature)
    try:
        root = bytes.fromhex(root_hex)
    except ValueError:
        root = b""
    if not signer.valid(signature, head_message_v2(seq, head_hash, root, cp_seq, signed_us)):
        return _problem(
            conn,
            seq,
            f"the log head has no valid signature of key {signer.key_id} "
            "(it was altered after it was signed)",
        )
    # The stored frontier is derived data, not signed (the root it hashes to
    # is): one that does not hash to the signed root is rebuilt below from
    # the checkpoint's and the entries since, once they give that root —
    # never trusted, and never a reason to stop serving a log that verifies.
    try:
        frontier_ok = decode_frontier(frontier_text, seq).root() == root
    except ValueError:
        frontier_ok = False
    top = conn.execute("SELECT MAX(seq) FROM verdicts").fetchone()[0]
    if top is not None and int(top) > seq:
        return _problem(
            conn,
            seq + 1,
            f"entries {seq + 1}..{int(top)} lie beyond the signed head: "
            "appended behind the service's back",
        )
    walk = _Walk(0, GENESIS_HASH, merkle.Frontier())
    if cp_seq:
        cp = conn.execute(
            "SELECT note, frontier, entry_hash FROM log_checkpoints WHERE seq = ?", (cp_seq,)
        ).fetchone()
        if cp is None:
            return _problem(
                conn, cp_seq, f"the checkpoint at seq {cp_seq} the signed head names is missing"
            )
        try:
            _, size, cp_root = signer.open_checkpoint(str(cp[0]))
            cp_frontier = decode_frontier(str(cp[1]), cp_seq)
        except (NoteError, ValueError) as exc:
            return _problem(conn, cp_seq, f"the checkpoint at seq {cp_seq} is not valid: {exc}")
        if size != cp_seq or cp_frontier.root() != cp_root:
            return _problem(
                conn, cp_seq, f"the checkpoint at seq {cp_seq} does not match its signed note"
            )
        walk = _Walk(cp_seq, str(cp[2]), cp_frontier)
        # The checkpoint's last entry: its hash and MAC (its link was checked
        # when the checkpoint was made; it is the prev of the next one).
        walk = _walk(conn, signer, walk, cp_seq, check_macs=True, first_in_frontier=False)
        if walk.problem is not None:
            return walk.problem
    walk = _walk(conn, signer, walk, seq, check_macs=True)
    if walk.problem is not None:
        return walk.problem
    if walk.prev != head_hash or walk.frontier.root() != root:
        return _problem(
            conn, seq, "the entries since the last checkpoint differ from the signed head"
        )
    if not frontier_ok:
        conn.execute("UPDATE log_head SET frontier = ? WHERE id = 1", (walk.frontier.encode(),))
        log.warning(
            "log_head_frontier_rebuilt",
            seq=seq,
            reason="the stored Merkle frontier did not hash to the signed root; rebuilt from "
            "the last signed checkpoint and the entries since, which do",
        )
    return None


def _upgrade_v1(
    conn: Connection,
    signer: LogSigner,
    origin: str,
    guard: UpdateGuard,
    seq: int,
    head_hash: str,
    signed_us: int,
    signature: str,
) -> LogProblem | None:
    """A v1 head: check the whole chain against it, then give every entry its
    MAC, the tree its nodes, and the log a v2 head and a first checkpoint."""
    if not signer.valid(signature, head_message(seq, head_hash, signed_us)):
        return _problem(conn, seq, f"the log head has no valid signature of key {signer.key_id}")
    has_mac = conn.execute("SELECT 1 FROM verdicts WHERE entry_mac <> '' LIMIT 1").fetchone()
    if has_mac is not None:
        return _problem(
            conn,
            seq,
            "the log head is in the pre-7 format but entries carry MACs: an old head "
            "was put back (a rollback)",
        )
    macs: list[tuple[str, int]] = []
    nodes: list[tuple[int, int, bytes]] = []
    walk = _walk(
        conn,
        signer,
        _Walk(0, GENESIS_HASH, merkle.Frontier()),
        seq,
        check_macs=False,
        macs_out=macs,
        nodes_out=nodes,
    )
    if walk.problem is not None:
        return walk.problem
    if walk.prev != head_hash:
        return _problem(conn, seq, "the last entry differs from the signed head")
    for stmt in guard.lift:
        conn.execute(stmt)
    for start in range(0, len(macs), _WALK_PAGE):
        conn.executemany(  # type: ignore[attr-defined]
            "UPDATE verdicts SET entry_mac = ? WHERE seq = ?", macs[start : start + _WALK_PAGE]
        )
    for stmt in guard.restore:
        conn.execute(stmt)
    for node in nodes:
        conn.execute(INSERT_TREE_NODE, node)
    # A first signed checkpoint, unless a v1 one already holds this seq: then
    # the head names none, and the next append makes one (its interval is over).
    taken = conn.execute("SELECT 1 FROM log_checkpoints WHERE seq = ?", (seq,)).fetchone()
    write_head(
        conn,
        signer,
        origin,
        seq,
        head_hash,
        walk.frontier,
        time.time_ns() // 1000,
        checkpoint=seq > 0 and taken is None,
        checkpoint_seq=0,
        checkpoint_us=0,
    )
    return None
