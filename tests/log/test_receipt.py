"""Receipts verify offline with only the public key; any tampering fails,
and names what failed."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.log import note
from server.log.receipt import ReceiptError, make_receipt, verify_receipt
from server.store.chain import CHAIN_COLUMNS
from server.usecases.prove_entry import Pending, prove_sync
from tests.log.fakelog import ORIGIN, FakeLog, claim_values


def _log(n: int = 21) -> FakeLog:
    log = FakeLog()
    for i in range(1, n + 1):
        log.append(claim_values(i, "REVIEW" if i == 5 else "APPROVE"))
        if i % 8 == 0:
            log.checkpoint()
    log.checkpoint()
    return log


def _receipt(log: FakeLog, seq: int) -> dict[str, Any]:
    row = log.rows[seq - 1]
    proof = prove_sync(log, seq)  # type: ignore[arg-type]
    assert not isinstance(proof, Pending)
    return make_receipt(
        seq, row[1 : 1 + len(CHAIN_COLUMNS)], row[-2], proof, origin=ORIGIN, key_name=ORIGIN
    )


def test_a_receipt_verifies_for_every_entry() -> None:
    log = _log()
    for seq in range(1, 22):
        proven = verify_receipt(_receipt(log, seq), log.public_raw)
        assert proven.seq == seq
        assert proven.columns["id"] == f"entry-{seq}"
        assert proven.origin == ORIGIN
        # The oldest checkpoint covering it: a stable receipt.
        assert proven.tree_size == min(s for s in (8, 16, 21) if s >= seq)


def test_a_receipt_survives_json() -> None:
    import orjson

    log = _log()
    doc = orjson.loads(orjson.dumps(_receipt(log, 5)))
    assert verify_receipt(doc, log.public_raw).columns["outcome"] == "REVIEW"


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(doc: dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return apply


def _flip_proof(doc: dict[str, Any]) -> None:
    h = bytearray(base64.b64decode(doc["inclusion_proof"][0]))
    h[0] ^= 1
    doc["inclusion_proof"][0] = base64.b64encode(bytes(h)).decode()


def _resign_with(key: Ed25519PrivateKey) -> Callable[[dict[str, Any]], None]:
    """A checkpoint signed by another key under the log's name."""

    def apply(doc: dict[str, Any]) -> None:
        from cryptography.hazmat.primitives import serialization

        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        body = doc["checkpoint"].split("\n\n")[0] + "\n"
        doc["checkpoint"] = note.sign_note(body, ORIGIN, key.sign, raw)

    return apply


def _bad_signature(doc: dict[str, Any]) -> None:
    body, sig = doc["checkpoint"].split("\n\n")
    name, blob = sig.rstrip("\n").split(" ")[1:]
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1
    doc["checkpoint"] = f"{body}\n\n\u2014 {name} {base64.b64encode(bytes(raw)).decode()}\n"


TAMPERINGS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "outcome REVIEW → APPROVE": (_set(("entry", "columns", "outcome"), "APPROVE"), "altered"),
    "amount": (
        _set(("entry", "columns", "result"), '{"payableYen":9999999}'),
        "altered",
    ),
    "customer": (_set(("entry", "columns", "customer_id"), "C999"), "altered"),
    "prev hash": (_set(("entry", "prev_hash"), "0" * 64), "altered"),
    "entry hash and outcome together": (
        lambda d: (
            _set(("entry", "columns", "outcome"), "APPROVE")(d),
            _set(("entry", "entry_hash"), "ab" * 32)(d),
        ),
        "altered",
    ),
    "seq": (_set(("entry", "seq"), 6), "altered"),
    "a missing column": (lambda d: d["entry"]["columns"].pop("refers_to"), "missing refers_to"),
    "an extra column": (_set(("entry", "columns", "amount"), 1), "unknown amount"),
    "a float amount": (_set(("entry", "columns", "subject_us"), 1.5), "not a stored value"),
    "leaf index": (_set(("leaf_index",), 3), "leaf index"),
    "proof hash": (_flip_proof, "inclusion proof"),
    "proof dropped": (lambda d: d["inclusion_proof"].pop(), "inclusion proof"),
    "tree size": (_set(("tree_size",), 7), "tree size"),
    "checkpoint size": (
        lambda d: _set(("checkpoint",), d["checkpoint"].replace("\n8\n", "\n9\n", 1))(d),
        "checkpoint: .*does not verify",
    ),
    "checkpoint signature": (_bad_signature, "does not verify"),
    "checkpoint of another key": (_resign_with(Ed25519PrivateKey.generate()), "not signed"),
    "another log's origin": (_set(("origin",), "other/log"), "not 'other/log'"),
    "another key name": (_set(("key_name",), "other/log"), "not signed by key other/log"),
    "format": (_set(("receipt",), "x"), "not an"),
    "canonical version": (_set(("canonical_version",), 1), "canonical form version"),
}


@pytest.mark.parametrize("what", sorted(TAMPERINGS))
def test_tampering_fails_naming_what(what: str) -> None:
    log = _log()
    good = _receipt(log, 5)
    assert good["tree_size"] == 8
    bad = copy.deepcopy(good)
    mangle, reason = TAMPERINGS[what]
    mangle(bad)
    with pytest.raises(ReceiptError, match=reason):
        verify_receipt(bad, log.public_raw)


def test_a_receipt_does_not_verify_with_another_public_key() -> None:
    log = _log()
    with pytest.raises(ReceiptError, match="not signed"):
        verify_receipt(_receipt(log, 3), FakeLog().public_raw)


def test_a_pinned_origin_is_insisted_on() -> None:
    log = _log()
    verify_receipt(_receipt(log, 3), log.public_raw, origin=ORIGIN)
    with pytest.raises(ReceiptError, match="not 'bank/log'"):
        verify_receipt(_receipt(log, 3), log.public_raw, origin="bank/log")


def test_an_entry_after_the_latest_checkpoint_is_pending() -> None:
    log = _log()
    log.append(claim_values(22))
    found = prove_sync(log, 22)  # type: ignore[arg-type]
    assert found == Pending(22, 21)
    log.checkpoint()
    assert not isinstance(prove_sync(log, 22), Pending)  # type: ignore[arg-type]


def test_checkpoints_without_a_note_are_passed_over() -> None:
    """Checkpoints from before the Merkle tree carry no note: the proof uses
    the latest signed note instead."""
    log = _log()
    log.cps[0].note = ""  # size 8, legacy
    proof = prove_sync(log, 3)  # type: ignore[arg-type]
    assert not isinstance(proof, Pending)
    assert proof.tree_size == 21
