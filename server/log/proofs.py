"""RFC 9162 §2.1.3 inclusion and §2.1.4 consistency proofs, pure.

Proofs are built in two steps so the store does the reading and this module
the arithmetic: ``inclusion_ranges``/``consistency_ranges`` say which leaf
ranges' tree hashes a proof is made of (each a group of aligned power-of-two
subtrees, the only hashes the store keeps or computes cheaply), the caller
fetches those hashes (``subtree_hashes``), and ``assemble`` folds each group
into one proof element. A ragged right-hand range — the right edge of a tree
whose size is not a power of two — is the fold, right to left, of the
aligned subtrees it decomposes into, exactly as ``merkle.Frontier.root``.

Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 step by step, so the
proofs are the ones Certificate Transparency, Trillian and Rekor clients
check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from server.log.merkle import EMPTY_ROOT, HASH_SIZE, node_hash, split_point

Range = tuple[int, int]
"""Leaves ``[lo, hi)``, 0-based (leaf i is the log entry with seq i + 1)."""


class ProofError(ValueError):
    """A proof that does not prove what it claims; the message says why."""


def aligned(lo: int, hi: int) -> list[Range]:
    """``[lo, hi)`` as aligned power-of-two subtrees, largest first.

    Holds for every node of a Merkle tree (``lo`` is a multiple of the
    largest power of two not above ``hi - lo``); anything else is refused.
    """
    if not 0 <= lo < hi:
        raise ValueError(f"empty or negative leaf range [{lo}, {hi})")
    out: list[Range] = []
    width = hi - lo
    for bit in reversed(range(width.bit_length())):
        size = 1 << bit
        if width & size:
            if lo % size:
                raise ValueError(f"[{lo}, {hi}) is not a node of a Merkle tree")
            out.append((lo, lo + size))
            lo += size
    return out


def inclusion_ranges(index: int, size: int) -> list[list[Range]]:
    """The subtrees of the audit path PATH(index, D[0:size]), leaf end first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    path: list[list[Range]] = []
    lo, hi, m = 0, size, index
    # Walk down from the root; the sibling of each step is a path element.
    while hi - lo > 1:
        k = split_point(hi - lo)
        if m < k:
            path.append(aligned(lo + k, hi))
            hi = lo + k
        else:
            path.append(aligned(lo, lo + k))
            lo, m = lo + k, m - k
    path.reverse()
    return path


def consistency_ranges(m: int, n: int) -> list[list[Range]]:
    """The subtrees of PROOF(m, D[0:n]) (RFC 9162 §2.1.4.1), in proof order.

    Empty for ``m == n`` and for ``m == 0`` (every tree extends the empty one).
    """
    if not 0 <= m <= n:
        raise ValueError(f"no consistency proof from size {m} to size {n}")
    if m in (0, n):
        return []
    out: list[list[Range]] = []
    lo, hi, whole = 0, n, True
    # SUBPROOF(m, D[lo:hi], whole), unrolled; elements are appended after the
    # recursive part, so collect them in reverse and flip at the end.
    while True:
        if m == hi - lo:
            if not whole:
                out.append(aligned(lo, hi))
            break
        k = split_point(hi - lo)
        if m <= k:
            out.append(aligned(lo + k, hi))
            hi = lo + k
        else:
            out.append(aligned(lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    out.reverse()
    return out


def flatten(groups: Sequence[Sequence[Range]]) -> list[Range]:
    """Every range of ``groups`` in order: what to ask the store for."""
    return [r for group in groups for r in group]


def assemble(groups: Sequence[Sequence[Range]], hashes: Sequence[bytes]) -> list[bytes]:
    """One proof hash per group from the fetched hashes of ``flatten(groups)``."""
    if len(hashes) != sum(len(g) for g in groups):
        raise ValueError("one hash per range of the groups is needed")
    proof: list[bytes] = []
    at = 0
    for group in groups:
        part = hashes[at : at + len(group)]
        at += len(group)
        acc = part[-1]
        for h in reversed(part[:-1]):
            acc = node_hash(h, acc)
        proof.append(acc)
    return proof


Fetch = Callable[[Sequence[Range]], list[bytes]]


def inclusion_proof(index: int, size: int, fetch: Fetch) -> list[bytes]:
    groups = inclusion_ranges(index, size)
    return assemble(groups, fetch(flatten(groups)))


def consistency_proof(m: int, n: int, fetch: Fetch) -> list[bytes]:
    groups = consistency_ranges(m, n)
    return assemble(groups, fetch(flatten(groups)))


def root_from_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to (RFC 9162 §2.1.3.2 steps 1–4)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not below tree size {size}")
    _check_hashes([leaf_hash, *proof])
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise ProofError unless ``proof`` shows leaf ``index`` in the tree ``root``."""
    if root_from_inclusion(leaf_hash, index, size, proof) != root:
        raise ProofError(
            f"the inclusion proof of leaf {index} does not lead to the root of size {size}"
        )


def verify_consistency(
    m: int, n: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Raise ProofError unless the tree ``new_root`` of size ``n`` extends the
    tree ``old_root`` of size ``m`` (RFC 9162 §2.1.4.2)."""
    if not 0 <= m <= n:
        raise ProofError(f"a tree of size {n} cannot extend one of size {m}")
    _check_hashes([old_root, new_root, *proof])
    if m == n:
        if proof:
            raise ProofError("a proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError(f"two different roots for the same size {m}")
        return
    if m == 0:
        if proof:
            raise ProofError("a proof from the empty tree must be empty")
        if old_root != EMPTY_ROOT:
            raise ProofError("the old root is not the empty tree's")
        return
    # Step 1: otherwise a proof is never empty.
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    # Step 2: a power-of-two old tree is itself a node of the new one.
    if m & (m - 1) == 0:
        path.insert(0, old_root)
    # Steps 3–4.
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Step 5.
    fr = sr = path[0]
    # Step 6.
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # Step 7.
    if sn != 0:
        raise ProofError("the consistency proof is shorter than the tree is deep")
    if fr != old_root:
        raise ProofError(f"the proof does not lead to the old root of size {m}")
    if sr != new_root:
        raise ProofError(f"the proof does not lead to the new root of size {n}")


def _check_hashes(hashes: Sequence[bytes]) -> None:
    for h in hashes:
        if len(h) != HASH_SIZE:
            raise ProofError(f"a hash has {len(h)} bytes, not {HASH_SIZE}")
