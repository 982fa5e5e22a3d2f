"""Receipts: one log entry with everything needed to check, offline and with
only the log's public key, that the log holds exactly that entry.

A receipt is a JSON object (``docs/analysts.md``, "Receipts, consistency and
witnesses")::

    {"receipt": "anshin.receipt.v1",
     "canonical_version": 2,               # chain.CANONICAL_VERSION
     "origin": "anshin/…",                 # the log (checkpoint origin line)
     "key_name": "anshin/…",               # the checkpoint's signing key name
     "entry": {"seq": 42,
               "columns": {"id": …, "kind": …, …},   # every chain column, as stored
               "prev_hash": "<hex>", "entry_hash": "<hex>"},
     "leaf_index": 41, "tree_size": 1000,
     "inclusion_proof": ["<base64 hash>", …],
     "checkpoint": "<the signed C2SP checkpoint note>",
     "blobs": {"sha256:<hex>": "<text>", …}}   # only for compacted columns

Column values are JSON strings, integers or null exactly as stored (bytes,
if a column ever holds them, as ``{"base64": …}``). A compacted column
(server/log/compact.py) is stored, and hashed, as a reference to the
SHA-256 of its text; the receipt carries that text under ``blobs`` and
verification checks each one hashes to its digest before expanding the
column — so the receipt proves the decision's full JSON, with nothing but
the public key. Verification recomputes
the entry hash from the columns (``chain.entry_hash``: the columns in the
canonical order this code knows, not in an order the receipt could pick),
the leaf from it, the root from the inclusion proof, and checks that the
checkpoint note is signed by the key and names that root and tree size.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from server.log import compact, merkle, note, proofs
from server.store.chain import CANONICAL_VERSION, CHAIN_COLUMNS, entry_hash

FORMAT = "anshin.receipt.v1"


class ReceiptError(ValueError):
    """A receipt that does not prove its entry; the message names what failed."""


@dataclass(frozen=True)
class EntryProof:
    """An entry's inclusion in a signed checkpoint: what a receipt and
    GetVerdict's proof carry besides the entry itself."""

    seq: int
    tree_size: int
    proof: list[bytes]
    checkpoint: str  # the signed note

    @property
    def leaf_index(self) -> int:
        return self.seq - 1


@dataclass(frozen=True)
class Pending:
    """No signed checkpoint covers the entry yet (they come every second of
    write activity): ask again shortly."""

    seq: int
    checkpointed: int  # the size of the latest signed checkpoint (0: none)


@dataclass(frozen=True)
class ProvenEntry:
    """What a verified receipt proves: the entry's columns (compacted ones
    expanded: ``stored`` has them as stored), its place and the checkpoint
    that covers it."""

    seq: int
    columns: dict[str, Any]
    entry_hash: str
    origin: str
    tree_size: int
    root: bytes
    stored: dict[str, Any]


def make_receipt(
    seq: int,
    values: Sequence[Any],
    prev_hash: str,
    proof: EntryProof,
    *,
    origin: str,
    key_name: str,
    blobs: Mapping[str, bytes] | None = None,
) -> dict[str, Any]:
    """The receipt of entry ``seq`` with its ``values`` in ``CHAIN_COLUMNS``
    order; ``blobs``: the contents of the blobs its columns refer to, by digest."""
    if len(values) != len(CHAIN_COLUMNS):
        raise ValueError(f"{len(CHAIN_COLUMNS)} column values are needed, not {len(values)}")
    if proof.seq != seq:
        raise ValueError(f"the proof is of entry {proof.seq}, not {seq}")
    return {
        "receipt": FORMAT,
        "canonical_version": CANONICAL_VERSION,
        "origin": origin,
        "key_name": key_name,
        "entry": {
            "seq": seq,
            "columns": {
                name: _json_value(v) for name, v in zip(CHAIN_COLUMNS, values, strict=True)
            },
            "prev_hash": _text(prev_hash),
            "entry_hash": entry_hash(seq, values, prev_hash),
        },
        "leaf_index": proof.leaf_index,
        "tree_size": proof.tree_size,
        "inclusion_proof": [base64.b64encode(h).decode() for h in proof.proof],
        "checkpoint": proof.checkpoint,
        **({"blobs": {d: c.decode() for d, c in sorted(blobs.items())}} if blobs else {}),
    }


def verify_receipt(
    doc: Any, public_raw: bytes, *, key_name: str | None = None, origin: str | None = None
) -> ProvenEntry:
    """The entry a receipt proves, else ReceiptError naming the first failure.

    ``key_name``/``origin``, when given, pin the log (else the receipt's own
    are used: they are bound to the public key by the note's key hash, so a
    receipt cannot borrow another log's name to pass)."""
    if not isinstance(doc, dict):
        raise ReceiptError("a receipt is a JSON object")
    if doc.get("receipt") != FORMAT:
        raise ReceiptError(f'not an {FORMAT} receipt ("receipt": {doc.get("receipt")!r})')
    if doc.get("canonical_version") != CANONICAL_VERSION:
        raise ReceiptError(
            f"the receipt's entry is in canonical form version {doc.get('canonical_version')!r}; "
            f"this verifier knows version {CANONICAL_VERSION}"
        )
    name = key_name or _str(doc, "key_name")
    want_origin = origin or _str(doc, "origin")
    entry = doc.get("entry")
    if not isinstance(entry, dict):
        raise ReceiptError('the receipt has no "entry" object')
    seq = _int(entry, "seq", low=1)
    columns = entry.get("columns")
    if not isinstance(columns, dict):
        raise ReceiptError('the entry has no "columns" object')
    missing = [c for c in CHAIN_COLUMNS if c not in columns]
    extra = sorted(set(columns) - set(CHAIN_COLUMNS))
    if missing or extra:
        raise ReceiptError(
            "the entry's columns are not the log's: "
            + (f"missing {', '.join(missing)} " if missing else "")
            + (f"unknown {', '.join(extra)}" if extra else "")
        )
    values = [_stored_value(c, columns[c]) for c in CHAIN_COLUMNS]
    prev_hash = _str(entry, "prev_hash")
    computed = entry_hash(seq, values, prev_hash)
    if entry.get("entry_hash") != computed:
        raise ReceiptError(
            f"entry {seq}: its columns and prev_hash hash to {computed}, not to the receipt's "
            f"entry_hash {entry.get('entry_hash')!r}: the entry was altered"
        )
    index = _int(doc, "leaf_index", low=0)
    if index != seq - 1:
        raise ReceiptError(f"leaf index {index} is not entry {seq}'s (leaf {seq - 1})")
    size = _int(doc, "tree_size", low=1)
    raw_proof = doc.get("inclusion_proof")
    if not isinstance(raw_proof, list) or not all(isinstance(h, str) for h in raw_proof):
        raise ReceiptError('"inclusion_proof" is not a list of base64 hashes')
    path = [_b64(h, f"inclusion_proof[{i}]") for i, h in enumerate(raw_proof)]
    checkpoint = doc.get("checkpoint")
    if not isinstance(checkpoint, str):
        raise ReceiptError('the receipt has no "checkpoint" note')
    try:
        note_origin, note_size, root = note.open_note(
            checkpoint, name, public_raw, origin=want_origin
        )
    except note.NoteError as exc:
        raise ReceiptError(f"checkpoint: {exc}") from None
    if note_size != size:
        raise ReceiptError(
            f"the receipt claims tree size {size}, its signed checkpoint is of size {note_size}"
        )
    try:
        proofs.verify_inclusion(merkle.entry_leaf(computed), index, size, path, root)
    except proofs.ProofError as exc:
        raise ReceiptError(f"inclusion proof: {exc}") from None
    stored = dict(zip(CHAIN_COLUMNS, values, strict=True))
    return ProvenEntry(
        seq, _expanded(stored, doc.get("blobs")), computed, note_origin, size, root, stored
    )


def _expanded(stored: dict[str, Any], carried: Any) -> dict[str, Any]:
    """The columns with each compacted one expanded from the receipt's
    ``blobs``, each checked against the digest the hashed column names."""
    if carried is not None and not (
        isinstance(carried, dict) and all(isinstance(v, str) for v in carried.values())
    ):
        raise ReceiptError('"blobs" is not an object of texts')
    out = dict(stored)
    for column, value in stored.items():
        digest = compact.reference_of(value) if isinstance(value, str | bytes) else None
        if digest is None:
            continue
        text = (carried or {}).get(digest)
        if text is None:
            raise ReceiptError(f"column {column} refers to blob {digest}, which the receipt lacks")
        content = text.encode()
        if compact.digest_of(content) != digest:
            raise ReceiptError(
                f"column {column}: the receipt's blob {digest} hashes to "
                f"{compact.digest_of(content)}: the blob was altered"
            )
        try:
            out[column] = compact.expand(value, {digest: content}).decode()
        except compact.BlobError as exc:
            raise ReceiptError(f"column {column}: {exc}") from None
    return out


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):  # never stored; refuse rather than hash it as an int
        raise TypeError("a boolean column value")
    if isinstance(value, int):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        # Text columns read as bytes: the hash covers the same UTF-8 bytes
        # either way, so give them as text when they are text.
        try:
            return bytes(value).decode()
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(bytes(value)).decode()}
    raise TypeError(f"a {type(value).__name__} column value")


def _stored_value(column: str, value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, dict) and set(value) == {"base64"} and isinstance(value["base64"], str):
        return _b64(value["base64"], f"column {column}")
    raise ReceiptError(f"column {column} holds a {type(value).__name__}, not a stored value")


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _str(d: dict[str, Any], key: str) -> str:
    value = d.get(key)
    if not isinstance(value, str) or not value:
        raise ReceiptError(f'"{key}" is missing or not a string')
    return value


def _int(d: dict[str, Any], key: str, *, low: int) -> int:
    value = d.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ReceiptError(f'"{key}" is missing or not an integer ≥ {low}')
    return value


def _b64(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ReceiptError(f"{what} is not base64") from None
    return raw
