"""RFC 9162 Merkle hashing (server/log/merkle.py) against the published test
vectors of transparency-dev/merkle (testonly/constants.go, the RFC 6962
vectors Trillian and Certificate Transparency test with) and a recursive
reference that follows the RFC's definition word for word."""

from __future__ import annotations

import hashlib

import pytest

from server.log import merkle

LEAF_INPUTS = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
# The root of the tree of the first n leaf inputs, n = 0..8.
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# Level-1 and level-2 complete subtrees of the 8-leaf tree.
LEVEL1 = [
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
]
LEVEL2 = [
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
]


def reference_mth(inputs: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1, recursively, on leaf *inputs*."""
    n = len(inputs)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + inputs[0]).digest()
    k = 1 << ((n - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + reference_mth(inputs[:k]) + reference_mth(inputs[k:])).digest()


@pytest.mark.parametrize("n", range(len(ROOTS)))
def test_roots_match_the_published_vectors(n: int) -> None:
    leaves = [merkle.leaf_hash(d) for d in LEAF_INPUTS[:n]]
    assert merkle.root_of(leaves).hex() == ROOTS[n]
    frontier = merkle.Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    assert frontier.root().hex() == ROOTS[n]
    assert merkle.root_from_frontier(frontier.hashes).hex() == ROOTS[n]
    assert reference_mth(LEAF_INPUTS[:n]).hex() == ROOTS[n]


def test_completed_subtrees_are_the_published_node_hashes() -> None:
    seen: dict[tuple[int, int], str] = {}
    frontier = merkle.Frontier()
    for d in LEAF_INPUTS:
        frontier.append(merkle.leaf_hash(d), lambda lv, i, h: seen.__setitem__((lv, i), h.hex()))
    assert [seen[(1, i)] for i in range(4)] == LEVEL1
    assert [seen[(2, i)] for i in range(2)] == LEVEL2
    assert seen[(3, 0)] == ROOTS[8]
    assert len(seen) == 8 + 4 + 2 + 1  # every complete subtree, each once


def test_frontier_agrees_with_the_reference_for_every_size_to_300() -> None:
    inputs = [i.to_bytes(4, "big") for i in range(300)]
    frontier = merkle.Frontier()
    for n in range(301):
        assert frontier.root() == reference_mth(inputs[:n]), n
        assert frontier.size == n
        assert len(frontier.hashes) == bin(n).count("1")  # one subtree per set bit
        # What the head row stores reads back as the same frontier.
        assert merkle.Frontier.decode(frontier.encode()) == frontier
        if n < 300:
            frontier.append(merkle.leaf_hash(inputs[n]))


def test_a_damaged_frontier_is_refused() -> None:
    frontier = merkle.Frontier()
    for i in range(5):
        frontier.append(merkle.leaf_hash(bytes([i])))
    size, _, hashes = frontier.encode().partition(":")
    with pytest.raises(ValueError):
        merkle.Frontier.decode(f"7:{hashes}")  # 7 needs three subtrees, not two
    with pytest.raises(ValueError):
        merkle.Frontier.decode(f"{size}:{hashes[:-2]}")  # a 31-byte hash
    assert merkle.Frontier.decode(f"{size}:{hashes}") == frontier


def test_leaf_of_an_entry_is_the_hash_of_its_32_byte_chain_hash() -> None:
    h = hashlib.sha256(b"entry").hexdigest()
    assert merkle.entry_leaf(h) == hashlib.sha256(b"\x00" + bytes.fromhex(h)).digest()
    assert merkle.entry_leaf(h) != merkle.leaf_hash(h.encode())  # bytes, not hex text
