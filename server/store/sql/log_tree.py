"""Reading the verdict log's Merkle tree and checkpoints (both backends, qmark SQL).

Proofs (``server/log/``) are made of aligned subtree hashes: a range of
``2**k`` leaves starting at a multiple of ``2**k``. The store keeps every
complete subtree of level 8, 16, 24, … (``log_tree_nodes``), so such a hash
is the root of at most 128 leaves (k < 8) or of at most 128 kept nodes of
the level just below k: a bounded read whatever the log's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from server.log import merkle
from server.store.chain import TREE_NODE_STRIDE
from server.store.errors import StateError
from server.store.records import Checkpoint
from server.store.sql.connection import Connection

CHECKPOINT_COLUMNS = "seq, entry_hash, created_us, key_id, signature, root_hash, note"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes | bytearray) else str(value or "")


def checkpoint_from_row(r: Sequence[Any]) -> Checkpoint:
    return Checkpoint(
        int(r[0]),
        _text(r[1]),
        int(r[2]),
        _text(r[3]),
        _text(r[4]),
        bytes.fromhex(_text(r[5])),
        _text(r[6]),
    )


def checkpoints(conn: Connection, since_seq: int = 0) -> list[Checkpoint]:
    rows = conn.execute(
        f"SELECT {CHECKPOINT_COLUMNS} FROM log_checkpoints WHERE seq > ? ORDER BY seq",
        (since_seq,),
    ).fetchall()
    return [checkpoint_from_row(r) for r in rows]


def checkpoint_covering(conn: Connection, seq: int) -> Checkpoint | None:
    """The oldest signed-note checkpoint of at least ``seq`` entries."""
    row = conn.execute(
        f"SELECT {CHECKPOINT_COLUMNS} FROM log_checkpoints WHERE seq >= ? AND note <> '' "
        "ORDER BY seq LIMIT 1",
        (seq,),
    ).fetchone()
    return None if row is None else checkpoint_from_row(row)


def latest_checkpoint(conn: Connection) -> Checkpoint | None:
    """The newest signed-note checkpoint."""
    row = conn.execute(
        f"SELECT {CHECKPOINT_COLUMNS} FROM log_checkpoints WHERE note <> '' "
        "ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    return None if row is None else checkpoint_from_row(row)


def tree_size(conn: Connection) -> int:
    """Entries under the signed head (what the tree holds)."""
    row = conn.execute("SELECT seq FROM log_head WHERE id = 1").fetchone()
    return 0 if row is None else int(row[0])


def subtree_hashes(conn: Connection, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """The RFC 9162 hash of each 0-based leaf range ``[lo, hi)``, aligned: ``hi - lo``
    a power of two and ``lo`` a multiple of it. StateError for a range beyond the log."""
    size = tree_size(conn) if ranges else 0
    out: list[bytes] = []
    for lo, hi in ranges:
        width = hi - lo
        if lo < 0 or width <= 0 or width & (width - 1) or lo % width:
            raise ValueError(f"leaf range [{lo}, {hi}) is not an aligned power-of-two subtree")
        if hi > size:
            raise StateError(f"leaf range [{lo}, {hi}) lies beyond the log's {size} entries")
        k = width.bit_length() - 1
        level = k - k % TREE_NODE_STRIDE
        if level == 0:
            rows = conn.execute(
                "SELECT entry_hash FROM verdicts WHERE seq > ? AND seq <= ? ORDER BY seq",
                (lo, hi),
            ).fetchall()
            hashes = [merkle.entry_leaf(_text(r[0])) for r in rows]
        else:
            rows = conn.execute(
                "SELECT hash FROM log_tree_nodes WHERE level = ? AND idx >= ? AND idx < ? "
                "ORDER BY idx",
                (level, lo >> level, hi >> level),
            ).fetchall()
            hashes = [bytes(r[0]) for r in rows]
        if len(hashes) != width >> level:
            raise StateError(
                f"the log's tree lacks nodes for leaf range [{lo}, {hi}): "
                "the database was altered (run `anshin log verify`)"
            )
        out.append(merkle.root_of(hashes))
    return out
