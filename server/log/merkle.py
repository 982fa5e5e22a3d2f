"""RFC 9162 §2.1 Merkle tree hashing over the verdict log's entries.

Leaf ``i`` (0-based) is the entry with log sequence number ``i + 1``; its leaf
input is the entry's 32-byte chain hash (``chain.entry_hash``, which covers
every stored column and the previous entry's hash). A tree of size ``n`` is
the tree over entries 1..n, exactly as Certificate Transparency, Trillian and
Rekor build theirs, so their verifiers' arithmetic applies unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf_input: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d)."""
    return hashlib.sha256(b"\x00" + leaf_input).digest()


def entry_leaf(entry_hash_hex: str) -> bytes:
    """The leaf hash of a log entry, from its hex chain hash."""
    return leaf_hash(bytes.fromhex(entry_hash_hex))


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf *hashes* (RFC 9162 §2.1.1), iteratively."""
    if not leaves:
        return EMPTY_ROOT
    level = list(leaves)
    # Pairing left to right and carrying an odd last node up unchanged gives
    # exactly the RFC's split at the largest power of two.
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


@dataclass
class Frontier:
    """The roots of the maximal complete subtrees of a tree, largest first:
    enough to append leaves and compute the root in O(log n) space.

    ``completed`` is called with ``(level, index, hash)`` for every complete
    subtree an append finishes (level 0 = the leaf itself), so a store can
    keep the ones a proof will need.
    """

    size: int = 0
    hashes: list[bytes] = field(default_factory=list)

    def append(
        self, leaf: bytes, completed: Callable[[int, int, bytes], None] | None = None
    ) -> None:
        index = self.size
        node, level = leaf, 0
        if completed is not None:
            completed(0, index, node)
        # Each trailing 1-bit of the old size is a subtree this leaf completes.
        while index & 1:
            node = node_hash(self.hashes.pop(), node)
            index >>= 1
            level += 1
            if completed is not None:
                completed(level, index, node)
        self.hashes.append(node)
        self.size += 1

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        acc = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            acc = node_hash(h, acc)
        return acc

    def copy(self) -> Frontier:
        return Frontier(self.size, list(self.hashes))

    def encode(self) -> str:
        """``size:hexhash,hexhash,…`` — how the head row stores it."""
        return f"{self.size}:" + ",".join(h.hex() for h in self.hashes)

    @classmethod
    def decode(cls, text: str) -> Frontier:
        size_s, _, rest = text.partition(":")
        size = int(size_s)
        hashes = [bytes.fromhex(h) for h in rest.split(",")] if rest else []
        if len(hashes) != bin(size).count("1") or any(len(h) != HASH_SIZE for h in hashes):
            raise ValueError("frontier does not match its size")
        return cls(size, hashes)


def subtree_sizes(size: int) -> list[int]:
    """Sizes of the frontier's subtrees, largest first (the set bits of ``size``)."""
    return [1 << b for b in reversed(range(size.bit_length())) if size >> b & 1]


def root_from_frontier(hashes: Sequence[bytes]) -> bytes:
    """The root of a tree given its frontier's subtree roots, largest first."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc
