"""A witness: an append-only record, kept off the database's machine, of the
log's signed checkpoints and the entry hashes between them.

Each line of a witness file is JSON::

    {"note": "<signed C2SP checkpoint>", "leaves": "<base64>"}

``leaves`` is the concatenation of the 32-byte entry hashes (the Merkle leaf
inputs) of the entries after the previous line's tree size up to this one's,
in log order. A checkpoint is added only after a consistency proof from the
previous witnessed checkpoint verifies and those entry hashes fold, onto the
previous tree, into the note's signed root: a log rewritten or truncated
since is refused. Keeping the entry hashes (32 bytes an entry) is what lets
``anshin log verify --witness`` name the *first changed entry* of a rewritten
log rather than only the checkpoint it falls under.

Pure: reading the log and writing the file are the CLI's
(``server/cli/log_proofs.py``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from server.log import merkle, note, proofs

HASH_SIZE = merkle.HASH_SIZE


class WitnessError(ValueError):
    """The log is not consistent with what the witness holds, or the witness
    file itself is damaged; the message says which and where."""


@dataclass(frozen=True)
class Witnessed:
    size: int
    root: bytes
    note: str


@dataclass
class WitnessState:
    """Everything a witness file holds, checked: the last checkpoint, the
    tree's frontier at its size, and every witnessed entry hash."""

    origin: str | None = None
    last: Witnessed | None = None
    frontier: merkle.Frontier = field(default_factory=merkle.Frontier)
    leaves: list[bytes] = field(default_factory=list)

    @property
    def size(self) -> int:
        return 0 if self.last is None else self.last.size


@dataclass(frozen=True)
class Difference:
    """Where the log stops matching its witness: ``seq`` is the first entry
    that differs (or the first missing one when ``truncated``)."""

    seq: int
    reason: str
    truncated: bool = False


def witness_line(note_text: str, leaves: Sequence[bytes]) -> str:
    """One JSON line of a witness file (no newline)."""
    return orjson.dumps(
        {"note": note_text, "leaves": base64.b64encode(b"".join(leaves)).decode()}
    ).decode()


def load(lines: Iterable[str], key_name: str, public_raw: bytes) -> WitnessState:
    """Check a witness file line by line and return what it holds.

    Every note must verify with the key, sizes must grow, and each line's
    entry hashes must extend the tree to its note's root; a file failing any
    of that was not written by a witness (or was edited) and is refused.
    """
    state = WitnessState()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise WitnessError(f"witness line {number} is not JSON") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("note"), str):
            raise WitnessError(f'witness line {number} has no "note"')
        leaves = _leaves(doc.get("leaves"), number)
        try:
            extend(state, doc["note"], leaves, key_name, public_raw)
        except WitnessError as exc:
            raise WitnessError(f"witness line {number}: {exc}") from None
    return state


def extend(
    state: WitnessState,
    note_text: str,
    leaves: Sequence[bytes],
    key_name: str,
    public_raw: bytes,
    consistency: Sequence[bytes] | None = None,
) -> Witnessed:
    """Add a checkpoint to ``state`` if the log it comes from is consistent
    with everything witnessed before; else WitnessError, ``state`` unchanged.

    ``leaves`` are the entry hashes after ``state.size`` up to the note's
    size; ``consistency``, when given, is the log's RFC 9162 proof from the
    last witnessed tree, checked as well (an external witness without the
    entry hashes would check only that).
    """
    try:
        origin, size, root = note.open_note(note_text, key_name, public_raw, origin=state.origin)
    except note.NoteError as exc:
        raise WitnessError(f"checkpoint note: {exc}") from None
    last = state.last
    if last is not None and size < last.size:
        raise WitnessError(
            f"the checkpoint is of size {size}, smaller than the witnessed {last.size}: "
            "the log was truncated or rolled back"
        )
    if last is not None and size == last.size and root != last.root:
        raise WitnessError(
            f"two different signed roots for tree size {size}: the log was rewritten"
        )
    if consistency is not None and last is not None:
        try:
            proofs.verify_consistency(last.size, size, consistency, last.root, root)
        except proofs.ProofError as exc:
            raise WitnessError(
                f"the log at size {size} is not consistent with the witnessed size "
                f"{last.size}: {exc}"
            ) from None
    if len(leaves) != size - state.size:
        raise WitnessError(
            f"{len(leaves)} entry hashes for the {size - state.size} entries after "
            f"size {state.size}"
        )
    frontier = state.frontier.copy()
    for leaf in leaves:
        frontier.append(merkle.leaf_hash(leaf))
    if frontier.root() != root:
        raise WitnessError(
            f"the entries {state.size + 1}..{size} do not extend the witnessed tree to the "
            f"signed root of size {size}"
        )
    witnessed = Witnessed(size, root, note_text)
    state.origin, state.last, state.frontier = origin, witnessed, frontier
    state.leaves.extend(leaves)
    return witnessed


def first_difference(
    state: WitnessState, log_hashes: Iterable[tuple[int, bytes]]
) -> Difference | None:
    """The first witnessed entry the log no longer holds as witnessed.

    ``log_hashes`` yields (seq, entry hash recomputed from the stored
    columns) in seq order from seq 1. An entry whose content changed shows
    here even when its stored hashes were rewritten to match.
    """
    expected = 1
    for seq, h in log_hashes:
        if seq > state.size:
            return None
        if seq != expected:
            return Difference(expected, f"entry {expected} is missing from the log")
        if h != state.leaves[seq - 1]:
            return Difference(
                seq,
                f"entry {seq} hashes to {h.hex()}, the witness holds "
                f"{state.leaves[seq - 1].hex()}: it was changed after it was witnessed",
            )
        expected += 1
    if expected <= state.size:
        return Difference(
            expected,
            f"the log ends at entry {expected - 1}, the witness holds {state.size} entries: "
            "it was truncated",
            truncated=True,
        )
    return None


def _leaves(value: Any, number: int) -> list[bytes]:
    if not isinstance(value, str):
        raise WitnessError(f'witness line {number} has no "leaves"')
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise WitnessError(f"witness line {number}: leaves are not base64") from None
    if len(raw) % HASH_SIZE:
        raise WitnessError(f"witness line {number}: leaves are not 32-byte hashes")
    return [raw[i : i + HASH_SIZE] for i in range(0, len(raw), HASH_SIZE)]
