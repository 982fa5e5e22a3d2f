"""RFC 9162 inclusion and consistency proofs against a reference recursive
implementation written straight from the RFC's definitions."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence

import pytest

from server.log import merkle, proofs
from server.log.proofs import ProofError

LEAVES = [merkle.leaf_hash(b"entry %d" % i) for i in range(300)]


def mth(leaves: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.1, recursively (over leaf hashes)."""
    if not leaves:
        return merkle.EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = merkle.split_point(len(leaves))
    return merkle.node_hash(mth(leaves[:k]), mth(leaves[k:]))


def ref_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]), §2.1.3.1."""
    n = len(leaves)
    if n == 1:
        return []
    k = merkle.split_point(n)
    if m < k:
        return [*ref_path(m, leaves[:k]), mth(leaves[k:])]
    return [*ref_path(m - k, leaves[k:]), mth(leaves[:k])]


def ref_subproof(m: int, leaves: Sequence[bytes], whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b), §2.1.4.1."""
    n = len(leaves)
    if m == n:
        return [] if whole else [mth(leaves)]
    k = merkle.split_point(n)
    if m <= k:
        return [*ref_subproof(m, leaves[:k], whole), mth(leaves[k:])]
    return [*ref_subproof(m - k, leaves[k:], False), mth(leaves[:k])]


def fetch(ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """A store that only answers aligned power-of-two subtrees, as the real one."""
    out = []
    for lo, hi in ranges:
        width = hi - lo
        assert width > 0 and width & (width - 1) == 0 and lo % width == 0, (lo, hi)
        out.append(mth(LEAVES[lo:hi]))
    return out


SMALL = range(1, 65)


def test_inclusion_proofs_match_the_rfc_and_verify_for_every_small_tree() -> None:
    for size in SMALL:
        root = mth(LEAVES[:size])
        for index in range(size):
            proof = proofs.inclusion_proof(index, size, fetch)
            assert proof == ref_path(index, LEAVES[:size]), (index, size)
            proofs.verify_inclusion(LEAVES[index], index, size, proof, root)


def test_consistency_proofs_match_the_rfc_and_verify_for_every_small_pair() -> None:
    for n in SMALL:
        new_root = mth(LEAVES[:n])
        for m in range(1, n + 1):
            proof = proofs.consistency_proof(m, n, fetch)
            assert proof == (ref_subproof(m, LEAVES[:n], True) if m < n else []), (m, n)
            proofs.verify_consistency(m, n, proof, mth(LEAVES[:m]), new_root)


def test_random_larger_trees() -> None:
    rng = random.Random(17)
    big = [merkle.leaf_hash(b"big %d" % i) for i in range(5000)]

    def fetch_big(ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        return [merkle.root_of(big[lo:hi]) for lo, hi in ranges]

    for _ in range(40):
        n = rng.randint(65, len(big))
        m = rng.randint(1, n)
        index = rng.randrange(n)
        root = merkle.root_of(big[:n])
        proofs.verify_inclusion(
            big[index], index, n, proofs.inclusion_proof(index, n, fetch_big), root
        )
        proof = proofs.consistency_proof(m, n, fetch_big)
        proofs.verify_consistency(m, n, proof, merkle.root_of(big[:m]), root)


def _flip(h: bytes) -> bytes:
    return bytes([h[0] ^ 1]) + h[1:]


def test_every_tampered_inclusion_proof_fails() -> None:
    for size in (1, 2, 3, 7, 8, 13, 64):
        root = mth(LEAVES[:size])
        for index in range(size):
            proof = proofs.inclusion_proof(index, size, fetch)
            for i in range(len(proof)):
                bad = [*proof[:i], _flip(proof[i]), *proof[i + 1 :]]
                with pytest.raises(ProofError):
                    proofs.verify_inclusion(LEAVES[index], index, size, bad, root)
            with pytest.raises(ProofError):
                proofs.verify_inclusion(_flip(LEAVES[index]), index, size, proof, root)
            with pytest.raises(ProofError):
                proofs.verify_inclusion(LEAVES[index], index, size, proof, _flip(root))
            with pytest.raises(ProofError):
                proofs.verify_inclusion(LEAVES[index], index, size, [*proof, root], root)
            if proof:
                with pytest.raises(ProofError):
                    proofs.verify_inclusion(LEAVES[index], index, size, proof[:-1], root)
            # The same proof for another position proves nothing.
            for other in {index ^ 1, index + 1}:
                if other < size and LEAVES[other] != LEAVES[index]:
                    with pytest.raises(ProofError):
                        proofs.verify_inclusion(LEAVES[index], other, size, proof, root)
            # (The size itself is bound to the root by the signed checkpoint:
            # a proof for leaf 0 of 3 leaves also checks as one of 4 against
            # the same root, which is why receipts compare the note's size.)


def test_every_tampered_consistency_proof_fails() -> None:
    for n in (2, 3, 5, 8, 13, 33):
        new_root = mth(LEAVES[:n])
        for m in range(1, n):
            old_root = mth(LEAVES[:m])
            proof = proofs.consistency_proof(m, n, fetch)
            for i in range(len(proof)):
                bad = [*proof[:i], _flip(proof[i]), *proof[i + 1 :]]
                with pytest.raises(ProofError):
                    proofs.verify_consistency(m, n, bad, old_root, new_root)
            with pytest.raises(ProofError):
                proofs.verify_consistency(m, n, proof, _flip(old_root), new_root)
            with pytest.raises(ProofError):
                proofs.verify_consistency(m, n, proof, old_root, _flip(new_root))
            with pytest.raises(ProofError):
                proofs.verify_consistency(m, n, proof[:-1], old_root, new_root)
            with pytest.raises(ProofError):
                proofs.verify_consistency(m, n, [*proof, new_root], old_root, new_root)


def test_a_rewritten_old_leaf_breaks_consistency() -> None:
    """The attack a witness exists for: the log keeps its size but rewrites an
    early entry, so the new tree no longer extends the witnessed one."""
    rewritten = list(LEAVES[:40])
    rewritten[3] = merkle.leaf_hash(b"APPROVE 9999999")

    def fetch_rewritten(ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        return [mth(rewritten[lo:hi]) for lo, hi in ranges]

    for m in (4, 5, 8, 20):
        proof = proofs.consistency_proof(m, 40, fetch_rewritten)
        with pytest.raises(ProofError, match="does not lead"):
            proofs.verify_consistency(m, 40, proof, mth(LEAVES[:m]), mth(rewritten))


def test_edge_sizes() -> None:
    root = mth(LEAVES[:5])
    proofs.verify_consistency(5, 5, [], root, root)
    proofs.verify_consistency(0, 5, [], merkle.EMPTY_ROOT, root)
    with pytest.raises(ProofError, match="different roots"):
        proofs.verify_consistency(5, 5, [], root, _flip(root))
    with pytest.raises(ProofError, match="must be empty"):
        proofs.verify_consistency(5, 5, [root], root, root)
    with pytest.raises(ProofError, match="empty tree"):
        proofs.verify_consistency(0, 5, [], root, root)
    with pytest.raises(ProofError, match="cannot extend"):
        proofs.verify_consistency(6, 5, [], root, root)
    with pytest.raises(ProofError, match="empty"):
        proofs.verify_consistency(3, 5, [], mth(LEAVES[:3]), root)
    with pytest.raises(ProofError, match="not below"):
        proofs.verify_inclusion(LEAVES[5], 5, 5, [], root)
    with pytest.raises(ProofError, match="bytes"):
        proofs.verify_inclusion(LEAVES[0][:31], 0, 1, [], LEAVES[0][:31])
    proofs.verify_inclusion(LEAVES[0], 0, 1, [], LEAVES[0])
    with pytest.raises(ValueError):
        proofs.inclusion_ranges(5, 5)
    with pytest.raises(ValueError):
        proofs.consistency_ranges(6, 5)


def test_ranges_are_aligned_and_ragged_edges_fold_right_to_left() -> None:
    assert proofs.aligned(8, 15) == [(8, 12), (12, 14), (14, 15)]
    with pytest.raises(ValueError):
        proofs.aligned(2, 6)  # not a node: [2,4) and [4,6) belong to different parents
    assert proofs.inclusion_ranges(0, 7) == [[(1, 2)], [(2, 4)], [(4, 6), (6, 7)]]
    leaves = LEAVES[:7]
    hashes = fetch(proofs.flatten(proofs.inclusion_ranges(0, 7)))
    assert proofs.assemble(proofs.inclusion_ranges(0, 7), hashes)[-1] == mth(leaves[4:7])
    assert hashlib.sha256(b"").digest() == merkle.EMPTY_ROOT
