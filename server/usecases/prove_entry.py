"""Prove a log entry's inclusion, and a checkpoint's consistency with an
older one, from the store's Merkle tree (RFC 9162; server/log/proofs.py).

Two shells over the same steps: the running store's async ports
(``GetVerdict``'s proof) and the synchronous read-only reader
(``anshin log prove``, ``consistency``, ``witness``). Each picks the signed
checkpoint, asks the store for the aligned subtree hashes the proof is made
of, and assembles it; nothing here trusts the store's answer — verifiers
check the result against the signed note.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from server.log import proofs
from server.log.merkle import EMPTY_ROOT
from server.log.receipt import EntryProof, Pending
from server.store.records import Checkpoint


class ProofReader(Protocol):
    """The synchronous reads a proof needs (``ports.ChainReader``)."""

    def subtree_hashes(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]: ...

    def checkpoint_covering(self, seq: int) -> Checkpoint | None: ...

    def latest_checkpoint(self) -> Checkpoint | None: ...


class ProofQueries(Protocol):
    """The same reads on the running store (``ports.LogQueries``)."""

    async def subtree_hashes(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]: ...

    async def checkpoint_covering(self, seq: int) -> Checkpoint | None: ...

    async def latest_checkpoint(self) -> Checkpoint | None: ...


def choose_checkpoint(
    seq: int, covering: Checkpoint | None, latest: Checkpoint | None
) -> Checkpoint | None:
    """The oldest checkpoint covering ``seq`` (a stable, short proof), else the
    latest when the oldest predates signed notes (a checkpoint from before the
    Merkle tree has no root to prove against)."""
    for cp in (covering, latest):
        if cp is not None and cp.seq >= seq and cp.note:
            return cp
    return None


def prove_sync(reader: ProofReader, seq: int) -> EntryProof | Pending:
    covering = reader.checkpoint_covering(seq)
    latest = None if covering is not None and covering.note else reader.latest_checkpoint()
    cp = choose_checkpoint(seq, covering, latest)
    if cp is None:
        return Pending(seq, _size(latest or covering))
    groups = proofs.inclusion_ranges(seq - 1, cp.seq)
    path = proofs.assemble(groups, reader.subtree_hashes(proofs.flatten(groups)))
    return EntryProof(seq, cp.seq, path, cp.note)


async def prove(queries: ProofQueries, seq: int) -> EntryProof | Pending:
    covering = await queries.checkpoint_covering(seq)
    latest = None if covering is not None and covering.note else await queries.latest_checkpoint()
    cp = choose_checkpoint(seq, covering, latest)
    if cp is None:
        return Pending(seq, _size(latest or covering))
    groups = proofs.inclusion_ranges(seq - 1, cp.seq)
    path = proofs.assemble(groups, await queries.subtree_hashes(proofs.flatten(groups)))
    return EntryProof(seq, cp.seq, path, cp.note)


def consistency_sync(reader: ProofReader, old_size: int, new_size: int) -> list[bytes]:
    """RFC 9162 PROOF(old_size, D[new_size]) from the store's tree."""
    groups = proofs.consistency_ranges(old_size, new_size)
    return proofs.assemble(groups, reader.subtree_hashes(proofs.flatten(groups)))


def root_sync(reader: ProofReader, size: int) -> bytes:
    """The root of the tree of the first ``size`` entries as the store holds them now."""
    if size == 0:
        return EMPTY_ROOT
    groups = [proofs.aligned(0, size)]
    return proofs.assemble(groups, reader.subtree_hashes(groups[0]))[0]


def _size(cp: Checkpoint | None) -> int:
    return 0 if cp is None or not cp.note else cp.seq


class ProveEntry:
    """GetVerdict's inclusion proof, on the running store. Who may ask and
    the record of the read are GetVerdict's (the proof is of the entry read)."""

    def __init__(self, queries: ProofQueries) -> None:
        self._queries = queries

    async def __call__(self, seq: int) -> EntryProof | Pending:
        return await prove(self._queries, seq)
