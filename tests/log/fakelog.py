"""An in-memory verdict log with the Merkle reads of ``ports.ChainReader``:
for the pure proof, receipt and witness tests (the store-backed tests run the
same code against SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.log import merkle, note
from server.store.chain import CHAIN_COLUMNS, GENESIS_HASH, entry_hash

ORIGIN = "anshin/test-log"


@dataclass
class FakeCheckpoint:
    seq: int
    root_hash: bytes
    note: str


def claim_values(i: int, outcome: str = "APPROVE", payable: int = 150_000) -> tuple[Any, ...]:
    by_name: dict[str, Any] = {
        "id": f"entry-{i}",
        "kind": "claim",
        "customer_id": f"C{i % 7}",
        "device_id": None,
        "policy_id": "HNB",
        "subject_us": 1_744_250_000_000_000 + i,
        "recorded_us": 1_744_254_000_000_000 + i,
        "rules_digest": "d" * 16,
        "rules": '{"v":1}',
        "outcome": outcome,
        "clause_ids": '["HNB-1"]',
        "inputs": f'{{"lossYen":{payable},"note":"テスト"}}',
        "result": f'{{"payableYen":{payable if outcome == "APPROVE" else 0}}}',
        "request_id": f"req-{i}",
        "caller": "analyst@bank",
        "refers_to": None,
    }
    return tuple(by_name[c] for c in CHAIN_COLUMNS)


@dataclass
class FakeLog:
    private: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    rows: list[tuple[Any, ...]] = field(default_factory=list)  # VERDICT_COLUMNS order
    cps: list[FakeCheckpoint] = field(default_factory=list)

    @property
    def public_raw(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    def append(self, values: Sequence[Any]) -> int:
        seq = len(self.rows) + 1
        prev = self.rows[-1][-1] if self.rows else GENESIS_HASH
        self.rows.append((seq, *values, prev, entry_hash(seq, values, prev)))
        return seq

    def leaves(self) -> list[bytes]:
        return [merkle.entry_leaf(r[-1]) for r in self.rows]

    def checkpoint(self) -> FakeCheckpoint:
        size = len(self.rows)
        root = merkle.root_of(self.leaves())
        text = note.sign_note(
            note.checkpoint_body(ORIGIN, size, root), ORIGIN, self.private.sign, self.public_raw
        )
        cp = FakeCheckpoint(size, root, text)
        self.cps.append(cp)
        return cp

    # -- ChainReader -------------------------------------------------------------------

    def subtree_hashes(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        leaves = self.leaves()
        out = []
        for lo, hi in ranges:
            width = hi - lo
            assert width & (width - 1) == 0 and lo % width == 0 and hi <= len(leaves)
            out.append(merkle.root_of(leaves[lo:hi]))
        return out

    def checkpoint_covering(self, seq: int) -> FakeCheckpoint | None:
        return next((cp for cp in self.cps if cp.seq >= seq), None)

    def latest_checkpoint(self) -> FakeCheckpoint | None:
        return self.cps[-1] if self.cps else None

    def checkpoints(self, since_seq: int = 0) -> list[FakeCheckpoint]:
        return [cp for cp in self.cps if cp.seq > since_seq]

    def verdict_row(self, verdict_id: str) -> tuple[Any, ...] | None:
        return next((r for r in self.rows if r[1] == verdict_id), None)

    def chain_rows(self, lo: int, hi: int | None) -> Iterable[tuple[int, str, str, str, str]]:
        for r in self.rows:
            if r[0] >= lo and (hi is None or r[0] < hi):
                values = r[1 : 1 + len(CHAIN_COLUMNS)]
                yield (r[0], r[1], r[-2], r[-1], entry_hash(r[0], values, r[-2]))

    def log_bounds(self) -> tuple[int, int, int]:
        n = len(self.rows)
        return n, (1 if n else 0), n

    def close(self) -> None:
        pass

    # -- an attacker with the database -------------------------------------------------

    def rewrite(self, seq: int, column: str, value: Any) -> None:
        """Change one column of entry ``seq`` and re-hash the chain from there
        (what someone with write access but no key can do)."""
        at = CHAIN_COLUMNS.index(column)
        old = self.rows
        self.rows = old[: seq - 1]
        for r in old[seq - 1 :]:
            values = list(r[1 : 1 + len(CHAIN_COLUMNS)])
            if r[0] == seq:
                values[at] = value
            self.append(values)

    def truncate(self, size: int) -> None:
        self.rows = self.rows[:size]
