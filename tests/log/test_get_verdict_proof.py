"""GetVerdict's inclusion proof through a real server (both backends): the
returned entry and proof verify with nothing but the log's public key."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from anshin.v1 import verdicts_pb2
from server.log import merkle, note, proofs
from server.store.chain import entry_hash
from tests.conftest import TEST_NOW, RunningServer
from tests.service.test_verdict_log_service import at, login, us, vstub

VK = verdicts_pb2


def _public_raw(key_file: Path) -> bytes:
    private = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    return private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def _recomputed_hash(e: VK.VerdictEntry) -> str:
    """The entry hash from the returned columns, as a client computes it."""
    values = (
        e.id, e.kind, e.customer_id, e.device_id or None, e.policy_id or None,
        us(e.subject_time), us(e.recorded_at), e.rules_digest, e.rules_json, e.outcome,
        orjson.dumps(list(e.clause_ids)).decode(), e.inputs_json, e.result_json,
        e.request_id, e.caller.identity, e.refers_to or None,
    )  # fmt: skip
    return entry_hash(e.seq, values, e.prev_hash)


async def _postures(server: RunningServer, n: int = 5) -> list[str]:
    """``n`` login-posture verdicts, one a minute (CheckLogin is recorded)."""
    ids = []
    for i in range(n):
        at(server, i + 1)
        ids.append(await login(server, f"c-{i}", f"dev-{i}", TEST_NOW, compliant=i % 2 == 0))
    return ids


async def _with_proof(server: RunningServer, verdict_id: str) -> VK.VerdictEntry:
    """GetVerdict with a proof, asking again while it is pending (checkpoints
    are signed within a second of write activity)."""
    for _ in range(50):
        e = await vstub(server).GetVerdict(VK.GetVerdictRequest(id=verdict_id, include_proof=True))
        if not e.inclusion_proof.pending:
            return e
        await asyncio.sleep(0.1)
    raise AssertionError("no checkpoint covered the entry within 5 s")


async def test_get_verdict_proof_verifies_with_the_public_key_alone(
    server: RunningServer, tmp_path: Path
) -> None:
    ids = await _postures(server)
    public = _public_raw(tmp_path / "log-signing.key")
    for verdict_id in ids:
        e = await _with_proof(server, verdict_id)
        p = e.inclusion_proof
        assert p.leaf_index == e.seq - 1 and p.tree_size >= e.seq and p.checkpoint
        h = _recomputed_hash(e)
        assert h == e.entry_hash
        name = note.key_name_of(p.checkpoint, public)
        _, size, root = note.open_note(p.checkpoint, name, public)
        assert size == p.tree_size
        proofs.verify_inclusion(merkle.entry_leaf(h), p.leaf_index, size, list(p.hashes), root)
        # The same proof does not vouch for a changed outcome.
        forged = VK.VerdictEntry()
        forged.CopyFrom(e)
        forged.outcome = "COMPLIANT" if e.outcome != "COMPLIANT" else "NON_COMPLIANT"
        leaf = merkle.entry_leaf(_recomputed_hash(forged))
        try:
            proofs.verify_inclusion(leaf, p.leaf_index, size, list(p.hashes), root)
        except proofs.ProofError:
            pass
        else:
            raise AssertionError("a changed entry verified")


async def test_get_verdict_without_the_flag_has_no_proof(server: RunningServer) -> None:
    ids = await _postures(server, 1)
    e = await vstub(server).GetVerdict(VK.GetVerdictRequest(id=ids[0]))
    assert not e.HasField("inclusion_proof")


async def test_a_fresh_entry_is_pending_then_proven(server: RunningServer) -> None:
    """Right after it is written no checkpoint covers it (the log's first
    entry is checkpointed at once, the next within the interval, 1 s); then
    the store signs one and the same call returns the proof."""
    await _postures(server, 1)
    started = time.monotonic()
    fresh = (await _postures(server, 1))[0]
    first = await vstub(server).GetVerdict(VK.GetVerdictRequest(id=fresh, include_proof=True))
    if time.monotonic() - started < 0.8:  # else the machine was too slow to tell
        p = first.inclusion_proof
        assert p.pending and not p.hashes and not p.checkpoint and p.tree_size == 0
    proven = await _with_proof(server, fresh)
    assert proven.inclusion_proof.tree_size >= proven.seq
