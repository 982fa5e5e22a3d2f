"""The verdict log's hash chain, entry MACs, Merkle tree, signed head and checkpoints.

Every entry's hash covers its canonical form — every stored column, as the
exact text stored, and the previous entry's hash — so changing, removing,
reordering or inserting an entry breaks the chain from there on. Anyone with
write access to the database can re-compute such a chain, so each entry also
stores ``entry_mac``, an HMAC of its hash under a key derived from the log
signing key (``LogSigner.entry_mac``): without the key a rewritten entry
cannot carry a valid MAC, and ``anshin log verify`` names it.

The entries are also the leaves of an RFC 9162 Merkle tree
(``server/log/merkle.py``): the head row keeps the tree's frontier and root,
and every complete subtree of 256, 65,536, … leaves is kept in
``log_tree_nodes`` (one row per 256 entries), from which any aligned subtree
hash — what inclusion and consistency proofs are made of — is a few hundred
row reads. The head (last seq, its hash, the root, the latest checkpoint)
is signed with the operator's Ed25519 key in the same transaction that
appends, which catches what a chain alone cannot: entries appended or cut
off at the end behind the service's back. At least every
``checkpoint_interval`` of write activity (default one second) and every
``checkpoint_every`` entries a checkpoint is kept as well: a C2SP
tlog-checkpoint signed note (``server/log/note.py``) that operators export
and witnesses keep elsewhere, so even replacing the whole database with an
older copy is caught.

The chain is global, so appends are serialized: SQLite's single writer does
that by itself; on PostgreSQL the head row is locked (``SELECT … FOR
UPDATE``) by the first append of a transaction and released at its commit.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from server.log import merkle
from server.log.note import NoteError, checkpoint_body, open_note, parse_checkpoint, sign_note
from server.store.errors import KeyMismatch, StateError
from server.store.records import Checkpoint, LogHead

GENESIS_HASH = "0" * 64
CANONICAL_TAG = b"anshin.verdict.v2\n"
# Part of the canonical form: bump when it changes (cached benchmark logs key on it).
CANONICAL_VERSION = 2
_HEAD_TAG = b"anshin.log.head.v1"
# v2 (schema 7): the head also names the Merkle root and its latest checkpoint.
_HEAD_TAG_V2 = b"anshin.log.head.v2"
_CHECKPOINT_TAG = b"anshin.log.checkpoint.v1"
_ENTRY_MAC_INFO = b"anshin.log.entry-mac.v1"

DEFAULT_CHECKPOINT_EVERY = 1000
# A checkpoint at least every second of write activity: a witness or a
# receipt then never waits longer than that for one covering a new entry,
# and the start-up check walks at most that much of the log.
DEFAULT_CHECKPOINT_INTERVAL_US = 1_000_000
# Complete subtrees kept in log_tree_nodes: levels 8, 16, 24, … (256**k leaves).
TREE_NODE_STRIDE = 8
_STRIDE_MASK = (1 << TREE_NODE_STRIDE) - 1

# The stored verdict columns in canonical order (without seq/prev/entry hash).
# The canonical form hashes these values exactly as stored.
CHAIN_COLUMNS = (
    "id",
    "kind",
    "customer_id",
    "device_id",
    "policy_id",
    "subject_us",
    "recorded_us",
    "rules_digest",
    "rules",
    "outcome",
    "clause_ids",
    "inputs",
    "result",
    "request_id",
    "caller",
    "refers_to",
)


def _encode(value: Any) -> bytes:
    if value is None:
        return b"~"
    if isinstance(value, int):
        return b"#%d;" % value
    raw = _raw(value)
    return b"%d:%s" % (len(raw), raw)


def _raw(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode()  # only a tampered row holds anything else (e.g. a float)


def canonical(seq: int, values: Sequence[Any], prev_hash: str | bytes) -> bytes:
    """The bytes an entry's hash covers: a tag, then seq, the columns and the
    previous hash, each as ``~`` (NULL), ``#<decimal>;`` (integer) or
    ``<byte length>:<UTF-8 bytes>`` (text). Length-prefixed, so no column's
    content can pass for another's; the stored JSON texts are hashed as the
    bytes they are, not re-quoted. Easy to re-implement in any language."""
    return b"".join((CANONICAL_TAG, _encode(seq), *map(_encode, values), _encode(prev_hash)))


def entry_hash(seq: int, values: Sequence[Any], prev_hash: str | bytes) -> str:
    """Hex SHA-256 of ``canonical(seq, values, prev_hash)``; text may be str or bytes.

    Fed piece by piece: a verifier reading columns as bytes never decodes,
    re-encodes or copies the large JSON texts.
    """
    h = hashlib.sha256(CANONICAL_TAG)
    update = h.update
    update(b"#%d;" % seq)
    for value in (*values, prev_hash):
        if value is None:
            update(b"~")
        elif isinstance(value, int):
            update(b"#%d;" % value)
        else:
            raw = value.encode() if isinstance(value, str) else _raw(value)
            update(b"%d:" % len(raw))
            update(raw)
    return h.hexdigest()


def head_message(seq: int, head_hash: str, at_us: int) -> bytes:
    return b"\n".join((_HEAD_TAG, str(seq).encode(), head_hash.encode(), str(at_us).encode()))


def head_message_v2(
    seq: int, head_hash: str, root: bytes, checkpoint_seq: int, at_us: int
) -> bytes:
    """What a v2 head signature covers: the entry count, the last entry's hash,
    the Merkle root over all entries, the seq of the latest checkpoint (so the
    start-up check knows where to begin, and deleting checkpoints shows) and
    the signing instant."""
    return b"\n".join(
        (
            _HEAD_TAG_V2,
            str(seq).encode(),
            head_hash.encode(),
            root.hex().encode(),
            str(checkpoint_seq).encode(),
            str(at_us).encode(),
        )
    )


def checkpoint_message(seq: int, head_hash: str, at_us: int) -> bytes:
    """What a v1 checkpoint (before schema 7) signature covers."""
    return b"\n".join((_CHECKPOINT_TAG, str(seq).encode(), head_hash.encode(), str(at_us).encode()))


def default_origin(key_id: str) -> str:
    """The checkpoints' origin line (and note key name) unless one is configured."""
    return f"anshin/{key_id}"


def key_id_of(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def hmac_sha256(key: bytes) -> Callable[[bytes], bytes]:
    """HMAC-SHA256 under ``key`` (RFC 2104) with the keyed inner and outer
    states computed once: each MAC is then two copies of a SHA-256 state,
    about twice as fast as ``hmac.digest`` (which re-keys every call), which
    matters to ``log verify``'s 100,000 entries/s and to every append."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    block = key.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def mac(message: bytes) -> bytes:
        i = inner.copy()
        i.update(message)
        o = outer.copy()
        o.update(i.digest())
        return o.digest()

    return mac


class LogVerifier:
    """Checks signatures with the log's public key."""

    def __init__(self, public: Ed25519PublicKey) -> None:
        self.public = public
        self.key_id = key_id_of(public)

    @classmethod
    def from_pem(cls, pem: bytes) -> LogVerifier:
        key = serialization.load_pem_public_key(pem)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        return cls(key)

    def public_pem(self) -> bytes:
        return self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def public_raw(self) -> bytes:
        return self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def valid(self, signature: str, message: bytes) -> bool:
        try:
            self.public.verify(base64.b64decode(signature, validate=True), message)
        except (InvalidSignature, ValueError):
            return False
        return True

    def open_checkpoint(self, note: str) -> tuple[str, int, bytes]:
        """(origin, size, root) of a checkpoint note this key signed; NoteError if not.

        The note's key name is its origin line (one name per log)."""
        body_end = note.find("\n\n")
        if body_end < 0:
            raise NoteError("no blank line separates the note text from its signatures")
        origin = parse_checkpoint(note[: body_end + 1])[0]
        return open_note(note, origin, self.public_raw)


class LogSigner(LogVerifier):
    """The operator's Ed25519 key, kept in a file outside the database; also
    the key of the entry MACs (``mac_key``), derived from it."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        super().__init__(private.public_key())
        self._private = private
        raw = private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        # A separate key for the MACs, derived (never the signing key itself).
        self.mac_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=_ENTRY_MAC_INFO
        ).derive(raw)
        self._mac = hmac_sha256(self.mac_key)

    @classmethod
    def from_file(cls, path: Path, *, create: bool = True) -> LogSigner:
        """Load the PEM key; create it (mode 0600) when missing and ``create``."""
        if not path.exists():
            if not create:
                raise FileNotFoundError(f"log signing key {path} does not exist")
            path.parent.mkdir(parents=True, exist_ok=True)
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process created it meanwhile: use theirs
            else:
                with os.fdopen(fd, "wb") as f:
                    f.write(pem)
        if not path.is_file():
            raise StateError(f"log signing key {path} is not a regular file")
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError):
            key = None
        if not isinstance(key, Ed25519PrivateKey):
            raise StateError(f"log signing key {path} is not an Ed25519 private key (PEM)")
        return cls(key)

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self._private.sign(message)).decode()

    def sign_raw(self, message: bytes) -> bytes:
        return self._private.sign(message)

    def entry_mac(self, entry_hash_hex: str) -> str:
        """Hex HMAC-SHA256 of the entry's 32-byte hash: only the key holder makes one."""
        return self._mac(bytes.fromhex(entry_hash_hex)).hex()

    def checkpoint_note(self, origin: str, size: int, root: bytes) -> str:
        """The C2SP signed note of a checkpoint of ``size`` entries with ``root``."""
        return sign_note(
            checkpoint_body(origin, size, root), origin, self.sign_raw, self.public_raw
        )


class Connection(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...


@dataclass(slots=True)
class _Head:
    seq: int
    hash: str
    checkpoint_seq: int
    checkpoint_us: int
    frontier: merkle.Frontier


_HEAD_COLUMNS = "seq, entry_hash, checkpoint_seq, checkpoint_us, frontier"
INSERT_TREE_NODE = "INSERT INTO log_tree_nodes (level, idx, hash) VALUES (?,?,?)"


def decode_frontier(text: str, seq: int) -> merkle.Frontier:
    """The head's stored frontier; empty text only for an empty log."""
    frontier = merkle.Frontier.decode(text) if text else merkle.Frontier()
    if frontier.size != seq:
        raise ValueError(f"the stored Merkle frontier has {frontier.size} leaves, not {seq}")
    return frontier


def kept_node(level: int) -> bool:
    """Whether a complete subtree of this level is kept in log_tree_nodes."""
    return level > 0 and level % TREE_NODE_STRIDE == 0


@dataclass(frozen=True, slots=True)
class Mark:
    """Where the chain stood at a SAVEPOINT (``LogChain.mark``)."""

    seq: int
    hash: str
    frontier: merkle.Frontier
    nodes: int


class LogChain:
    """Hands out sequence numbers, hashes and MACs inside one write transaction.

    One instance per writing connection; used by one thread at a time. The
    head (with the Merkle frontier) is read on the first append of a
    transaction (locked with ``lock_suffix`` where the database needs it),
    advanced in memory by each append, and written back, signed, by ``seal``
    just before COMMIT, with the tree nodes the appends completed and, when
    due, a signed checkpoint. ``mark``/``reset`` follow SAVEPOINTs; ``abort``
    follows a ROLLBACK.
    """

    def __init__(
        self,
        signer: LogSigner,
        *,
        lock_suffix: str = "",
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        checkpoint_interval_us: int = DEFAULT_CHECKPOINT_INTERVAL_US,
        clock_us: Any = None,
        origin: str | None = None,
    ) -> None:
        self.signer = signer
        self.origin = origin or default_origin(signer.key_id)
        self._lock_suffix = lock_suffix
        self._every = checkpoint_every
        self._interval_us = checkpoint_interval_us
        self._clock_us = clock_us or (lambda: time.time_ns() // 1000)
        self._start: _Head | None = None  # as read at the transaction's first append
        self._seq = 0
        self._hash = GENESIS_HASH
        self._frontier = merkle.Frontier()
        self._nodes: list[tuple[int, int, bytes]] = []  # kept subtrees completed meanwhile
        self._keep = self._nodes.append
        # This chain sealed entries that no checkpoint covers yet (the store
        # then asks for one when the log goes quiet: ``checkpoint_if_due``).
        self.dirty_since_checkpoint = False

    def _read_head(self, conn: Connection) -> _Head:
        row = conn.execute(
            f"SELECT {_HEAD_COLUMNS} FROM log_head WHERE id = 1" + self._lock_suffix
        ).fetchone()
        if row is None:
            raise RuntimeError("log_head row missing: the database is not migrated")
        seq = int(row[0])
        return _Head(seq, str(row[1]), int(row[2]), int(row[3]), decode_frontier(str(row[4]), seq))

    def _load(self, conn: Connection) -> None:
        self._start = self._read_head(conn)
        self._seq, self._hash = self._start.seq, self._start.hash
        self._frontier = self._start.frontier.copy()
        self._nodes.clear()

    def _completed(self, level: int, index: int, node: bytes) -> None:
        if kept_node(level):
            self._keep((level, index, node))

    def next(self, conn: Connection, values: Sequence[Any]) -> tuple[int, str, str, str]:
        """(seq, prev_hash, entry_hash, entry_mac) for the next entry with these values."""
        if self._start is None:
            self._load(conn)
        seq = self._seq + 1
        prev = self._hash
        h = entry_hash(seq, values, prev)
        self._seq, self._hash = seq, h
        frontier = self._frontier
        # Only every 256th leaf completes a kept subtree: the others skip the callback.
        done = self._completed if frontier.size & _STRIDE_MASK == _STRIDE_MASK else None
        frontier.append(merkle.entry_leaf(h), done)
        return seq, prev, h, self.signer.entry_mac(h)

    def mark(self) -> Mark | None:
        if self._start is None:
            return None
        return Mark(self._seq, self._hash, self._frontier.copy(), len(self._nodes))

    def reset(self, mark: Mark | None) -> None:
        """Back to a ``mark`` (after ROLLBACK TO the SAVEPOINT taken with it)."""
        if mark is None:
            self._start = None
            self._nodes.clear()
        else:
            self._seq, self._hash = mark.seq, mark.hash
            self._frontier = mark.frontier.copy()
            del self._nodes[mark.nodes :]

    def abort(self) -> None:
        """The transaction rolled back: nothing it appended exists."""
        self._start = None
        self._nodes.clear()

    @property
    def dirty(self) -> bool:
        return self._start is not None and self._seq != self._start.seq

    def seal(self, conn: Connection) -> None:
        """Store the tree nodes, a checkpoint when due, and the new signed head;
        call before COMMIT."""
        start = self._start
        self._start = None
        if start is None or self._seq == start.seq:
            self._nodes.clear()
            return
        for node in self._nodes:
            conn.execute(INSERT_TREE_NODE, node)
        self._nodes.clear()
        now = self._clock_us()
        due = (
            self._seq // self._every > start.seq // self._every
            or now - start.checkpoint_us >= self._interval_us
        )
        write_head(
            conn,
            self.signer,
            self.origin,
            self._seq,
            self._hash,
            self._frontier,
            now,
            checkpoint=due,
            checkpoint_seq=start.checkpoint_seq,
            checkpoint_us=start.checkpoint_us,
        )
        self.dirty_since_checkpoint = not due

    def checkpoint_if_due(self, conn: Connection) -> bool:
        """In a write transaction of its own: a checkpoint of the head when
        entries were appended since the last one, ``checkpoint_interval`` ago
        or more (a quiet log still gets its last entries checkpointed).
        Whether entries remain that no checkpoint covers (ask again later)."""
        head = self._read_head(conn)
        now = self._clock_us()
        if head.seq == head.checkpoint_seq:
            self.dirty_since_checkpoint = False
        elif now - head.checkpoint_us < self._interval_us:
            self.dirty_since_checkpoint = True
        else:
            write_head(
                conn,
                self.signer,
                self.origin,
                head.seq,
                head.hash,
                head.frontier,
                now,
                checkpoint=True,
                checkpoint_seq=head.checkpoint_seq,
                checkpoint_us=head.checkpoint_us,
            )
            self.dirty_since_checkpoint = False
        return self.dirty_since_checkpoint


def write_head(
    conn: Connection,
    signer: LogSigner,
    origin: str,
    seq: int,
    head: str,
    frontier: merkle.Frontier,
    now: int,
    *,
    checkpoint: bool,
    checkpoint_seq: int,
    checkpoint_us: int,
) -> None:
    """Sign and store the head at ``seq`` (and, with ``checkpoint``, a signed
    checkpoint of it first, which the head then names)."""
    root = frontier.root()
    encoded = frontier.encode()
    if checkpoint:
        conn.execute(
            "INSERT INTO log_checkpoints (seq, entry_hash, created_us, key_id, signature, "
            "root_hash, note, frontier) VALUES (?,?,?,?,?,?,?,?)",
            (
                seq,
                head,
                now,
                signer.key_id,
                "",
                root.hex(),
                signer.checkpoint_note(origin, seq, root),
                encoded,
            ),
        )
        checkpoint_seq, checkpoint_us = seq, now
    conn.execute(
        "UPDATE log_head SET seq = ?, entry_hash = ?, signed_us = ?, key_id = ?, "
        "signature = ?, checkpoint_seq = ?, checkpoint_us = ?, frontier = ?, root_hash = ? "
        "WHERE id = 1",
        (
            seq,
            head,
            now,
            signer.key_id,
            signer.sign(head_message_v2(seq, head, root, checkpoint_seq, now)),
            checkpoint_seq,
            checkpoint_us,
            encoded,
            root.hex(),
        ),
    )


def checkpoint_problem(verifier: LogVerifier, cp: Checkpoint) -> str | None:
    """Why ``cp`` is not a valid checkpoint of ``verifier``'s key (None: it is).

    A v2 checkpoint (a signed note) must name ``cp.seq`` entries and
    ``cp.root_hash``; a v1 checkpoint is a signature over seq, hash and time."""
    if cp.note:
        try:
            _, size, root = verifier.open_checkpoint(cp.note)
        except NoteError as exc:
            return f"its signed note does not verify with key {verifier.key_id}: {exc}"
        if size != cp.seq or root != cp.root_hash:
            return "its signed note names another tree size or root than the row"
        return None
    if cp.key_id != verifier.key_id or not verifier.valid(
        cp.signature, checkpoint_message(cp.seq, cp.entry_hash, cp.created_us)
    ):
        return f"it has no valid signature of key {verifier.key_id}"
    return None


def head_signature_valid(verifier: LogVerifier, head: LogHead) -> bool:
    """The head's signature under its format (v2 when it names a root)."""
    if head.root_hash:
        message = head_message_v2(
            head.seq, head.entry_hash, head.root_hash, head.checkpoint_seq, head.signed_us
        )
    else:
        message = head_message(head.seq, head.entry_hash, head.signed_us)
    return verifier.valid(head.signature, message)


def read_head(conn: Connection) -> LogHead | None:
    row = conn.execute(
        "SELECT seq, entry_hash, signed_us, key_id, signature, root_hash, checkpoint_seq "
        "FROM log_head WHERE id = 1"
    ).fetchone()
    if row is None:
        return None
    root_hex = str(row[5] or "")
    try:
        root = bytes.fromhex(root_hex)
    except ValueError:
        root = b"\xff"  # not hex: a damaged head; its signature cannot verify
    return LogHead(
        int(row[0]),
        str(row[1]),
        int(row[2] or 0),
        str(row[3] or ""),
        str(row[4] or ""),
        root,
        int(row[6] or 0),
    )


def bind_log_key(
    conn: Connection,
    where: str,
    *,
    key_file: Path | None,
    signer: LogSigner | None = None,
    adopt_unsigned_head: bool = False,
    origin: str | None = None,
) -> LogSigner:
    """The signer for the log read through ``conn``, refusing a mislaid key.

    Run inside the write transaction that holds the log head (SQLite's
    ``BEGIN IMMEDIATE``, PostgreSQL's ``LOCK_HEAD``), so that two servers
    starting at once on a new log cannot each bind a key of their own: the
    first signs the head, the second then finds it signed by another key.

    - A new log (no entry, no checkpoint, head never signed): the key file is
      created if missing, and the head is signed with it now, which binds it.
    - A signed head: a key other than the one that signed it (another key id
      and no valid signature), or a missing key file, is refused. A head with
      the right key id whose signature does not verify was altered after it
      was signed: not refused here, but found by ``log_open.check_at_open``,
      which opens the store read-only.
    - A head without a signature while the log has entries or checkpoints:
      either the migration that introduced the chain left it for the operator
      to sign (``anshin db migrate``, ``adopt_unsigned_head``: only for a log
      from before the signed chain — no entry carries a MAC, no checkpoint
      exists — and only with a key created now, since such a log never had
      one), or someone
      blanked it to make a server sign a rewritten log: a server never signs
      it on its own (the store opens read-only).
    - No head row at all: the database is damaged; refused.
    """
    head = read_head(conn)
    if head is None:
        raise StateError(
            f"the verdict log in {where} has no head row: the database is damaged or "
            "was altered by hand (run `anshin log verify`); refusing to open it"
        )
    seq, signed_by = head.seq, head.key_id
    unsigned = not signed_by and not head.signature
    # Only an unsigned head needs the log's contents judged (a signed one is
    # judged by its signature): a start never counts a large log's entries.
    has_entries, checkpoints = False, []
    if unsigned:
        has_entries = conn.execute("SELECT 1 FROM verdicts LIMIT 1").fetchone() is not None
        checkpoints = conn.execute(
            "SELECT seq, entry_hash, created_us, key_id, signature, root_hash, note "
            "FROM log_checkpoints ORDER BY seq"
        ).fetchall()
    fresh = unsigned and not seq and not has_entries and not checkpoints
    adopt = unsigned and not fresh and adopt_unsigned_head
    if adopt and (
        head.root_hash
        or conn.execute("SELECT 1 FROM verdicts WHERE entry_mac <> '' LIMIT 1").fetchone()
    ):
        raise StateError(
            f"the head of the verdict log in {where} carries no signature, but the log is "
            "not one from before the signed chain (its entries carry MACs): it was blanked, "
            "not left for adoption; refusing to sign it (run `anshin log verify`)"
        )
    if adopt and checkpoints:
        # Only a server writes checkpoints, and it writes them only after the
        # head was signed: an unsigned head beside signed checkpoints was
        # blanked (perhaps with the schema stripped back to look older).
        raise StateError(
            f"the head of the verdict log in {where} carries no signature, but the log has "
            f"{len(checkpoints)} signed checkpoints: it was blanked, not left for adoption; "
            "refusing to sign it (run `anshin log verify`)"
        )
    held = key_file if key_file is not None else "the given signer"
    if adopt and (signer is not None or (key_file is not None and key_file.exists())):
        # A log from before the signed chain never had a key. Anyone with the
        # database can make a signed log look like one (drop the chain's
        # columns and tables, blank the head): adopting it with the key that
        # signed it would sign whatever they rewrote. So the legacy upgrade
        # takes only a key that does not exist yet, created now.
        raise StateError(
            f"the verdict log in {where} looks like one from before the signed chain (entries "
            f"without MACs, an unsigned head, no checkpoint), but the key at {held} already "
            "exists: a log from before the chain never had a key, so this may be a "
            "signed log stripped back to hide a rewrite. Check it against your exported "
            "checkpoints or witness (`anshin log verify --checkpoints FILE` / `--witness FILE`); "
            "to adopt a genuine pre-chain log, give --log-key-file a path where no key exists "
            "yet (Anshin creates the key there)"
        )
    if signer is None:
        if key_file is None:
            raise StateError(f"no log-signing key given for {where}")
        # A new key only for a new log, or for the legacy upgrade (a log from
        # before the chain, which never had a key or a checkpoint).
        legacy = adopt and not checkpoints
        if not fresh and not legacy and not key_file.exists():
            raise KeyMismatch(
                f"the verdict log in {where} was signed by key {signed_by or '(blanked)'}, "
                f"but there is no key at {key_file}: point --state-dir or --log-key-file at "
                "the key that signed it (a new key would leave a log that no key verifies)"
            )
        signer = LogSigner.from_file(key_file)
    source = key_file if key_file is not None else "the given signer"
    if not unsigned and signed_by != signer.key_id and not head_signature_valid(signer, head):
        raise KeyMismatch(
            f"the verdict log in {where} was signed by key {signed_by}, but the key at "
            f"{source} is key {signer.key_id}: refusing to open it; point --state-dir or "
            "--log-key-file at the key that signed it"
        )
    if adopt:
        # A v1 head, as the chain's migration would have had it signed: the
        # store's start-up check then upgrades the log, checking every entry.
        now = time.time_ns() // 1000
        conn.execute(
            "UPDATE log_head SET signed_us = ?, key_id = ?, signature = ? WHERE id = 1",
            (now, signer.key_id, signer.sign(head_message(seq, head.entry_hash, now))),
        )
    elif fresh:
        write_head(
            conn,
            signer,
            origin or default_origin(signer.key_id),
            0,
            GENESIS_HASH,
            merkle.Frontier(),
            time.time_ns() // 1000,
            checkpoint=False,
            checkpoint_seq=0,
            checkpoint_us=0,
        )
    return signer


@dataclass(frozen=True)
class SecretFile:
    """A secret kept outside the database that the database's contents depend
    on (the phone-number hashing key): where it is, how to make a new one, and
    how to read it (raising ValueError for a file that is not such a key)."""

    name: str
    path: Path
    create: Callable[[Path], None]
    load: Callable[[Path], bytes]

    def key_id(self) -> str:
        """A digest naming the key (of its canonical bytes), never revealing it."""
        try:
            raw = self.load(self.path)
        except ValueError as exc:
            raise StateError(f"{self.name} key {self.path}: {exc}") from None
        digest = hashlib.sha256(b"anshin.secret.v1\n" + self.name.encode() + b"\n" + raw)
        return digest.hexdigest()[:16]


def bind_secrets(conn: Connection, where: str, secrets: Sequence[SecretFile]) -> None:
    """Refuse a mislaid secret the way ``bind_log_key`` refuses a mislaid log key.

    Run in the same locked transaction, after ``bind_log_key``. The first
    server to use a new database creates a missing key file and records its
    key id (the file is read and checked first: a file that is not a key is
    refused, never bound). A database that already holds data but no binding
    (one from before bindings existed, or a row deleted by hand) binds only an
    existing key, never a new one. Later servers must hold the bound key: a
    missing file or another key is refused naming both ids (a new phone-hash
    key would make every stored phone hash unmatchable without a sign).
    """
    for secret in secrets:
        row = conn.execute(
            "SELECT key_id FROM key_bindings WHERE name = ?", (secret.name,)
        ).fetchone()
        if row is None:
            if not secret.path.exists():
                has_data = conn.execute(
                    "SELECT EXISTS (SELECT 1 FROM verdicts) OR EXISTS (SELECT 1 FROM events)"
                ).fetchone()[0]
                if has_data:
                    raise KeyMismatch(
                        f"{where} holds data but records no {secret.name} key, and there is "
                        f"no key at {secret.path}: a new key would not match what is stored; "
                        "point --state-dir (or the key-file setting) at the key it was used with"
                    )
                secret.create(secret.path)
            key_id = secret.key_id()  # refuses a file that is not a key, before binding
            conn.execute(
                "INSERT INTO key_bindings (name, key_id, bound_us) VALUES (?, ?, ?)",
                (secret.name, key_id, time.time_ns() // 1000),
            )
            continue
        bound = str(row[0])
        if not secret.path.exists():
            raise KeyMismatch(
                f"{where} was used with the {secret.name} key {bound}, but there is no key "
                f"at {secret.path}: point --state-dir (or the key-file setting) at that key"
            )
        held = secret.key_id()
        if held != bound:
            raise KeyMismatch(
                f"{where} was used with the {secret.name} key {bound}, but the key at "
                f"{secret.path} is key {held}: refusing to start; point "
                "--state-dir (or the key-file setting) at the key it was used with"
            )
