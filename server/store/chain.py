"""The verdict log's hash chain and its signed head and checkpoints.

Every entry's hash covers its canonical form — every stored column, as the
exact text stored, and the previous entry's hash — so changing, removing,
reordering or inserting an entry breaks the chain from there on. The head
(last sequence number and hash) is signed with the operator's Ed25519 key in
the same transaction that appends, which catches what a chain alone cannot:
entries appended or cut off at the end behind the service's back. Every
``checkpoint_every`` entries (or ``checkpoint_interval`` of time) a signed
checkpoint is kept as well; operators export those and keep them elsewhere,
so even replacing the whole database with an older copy is caught.

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
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from server.store.errors import KeyMismatch, StateError

GENESIS_HASH = "0" * 64
CANONICAL_TAG = b"anshin.verdict.v2\n"
# Part of the canonical form: bump when it changes (cached benchmark logs key on it).
CANONICAL_VERSION = 2
_HEAD_TAG = b"anshin.log.head.v1"
_CHECKPOINT_TAG = b"anshin.log.checkpoint.v1"

DEFAULT_CHECKPOINT_EVERY = 1000
DEFAULT_CHECKPOINT_INTERVAL_US = 60_000_000

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


def checkpoint_message(seq: int, head_hash: str, at_us: int) -> bytes:
    return b"\n".join((_CHECKPOINT_TAG, str(seq).encode(), head_hash.encode(), str(at_us).encode()))


def key_id_of(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


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

    def valid(self, signature: str, message: bytes) -> bool:
        try:
            self.public.verify(base64.b64decode(signature, validate=True), message)
        except (InvalidSignature, ValueError):
            return False
        return True


class LogSigner(LogVerifier):
    """The operator's Ed25519 key, kept in a file outside the database."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        super().__init__(private.public_key())
        self._private = private

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


class Connection(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...


@dataclass(slots=True)
class _Head:
    seq: int
    hash: str
    checkpoint_seq: int
    checkpoint_us: int


class LogChain:
    """Hands out sequence numbers and hashes inside one write transaction.

    One instance per writing connection; used by one thread at a time. The
    head is read on the first append of a transaction (locked with
    ``lock_suffix`` where the database needs it), advanced in memory by each
    append, and written back, signed, by ``seal`` just before COMMIT.
    ``mark``/``reset`` follow SAVEPOINTs; ``abort`` follows a ROLLBACK.
    """

    def __init__(
        self,
        signer: LogSigner,
        *,
        lock_suffix: str = "",
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        checkpoint_interval_us: int = DEFAULT_CHECKPOINT_INTERVAL_US,
        clock_us: Any = None,
    ) -> None:
        self.signer = signer
        self._lock_suffix = lock_suffix
        self._every = checkpoint_every
        self._interval_us = checkpoint_interval_us
        self._clock_us = clock_us or (lambda: time.time_ns() // 1000)
        self._start: _Head | None = None  # as read at the transaction's first append
        self._seq = 0
        self._hash = GENESIS_HASH

    def _load(self, conn: Connection) -> None:
        row = conn.execute(
            "SELECT seq, entry_hash, checkpoint_seq, checkpoint_us FROM log_head WHERE id = 1"
            + self._lock_suffix
        ).fetchone()
        if row is None:
            raise RuntimeError("log_head row missing: the database is not migrated")
        self._start = _Head(int(row[0]), str(row[1]), int(row[2]), int(row[3]))
        self._seq, self._hash = self._start.seq, self._start.hash

    def next(self, conn: Connection, values: Sequence[Any]) -> tuple[int, str, str]:
        """(seq, prev_hash, entry_hash) for the next entry with these column values."""
        if self._start is None:
            self._load(conn)
        seq = self._seq + 1
        prev = self._hash
        h = entry_hash(seq, values, prev)
        self._seq, self._hash = seq, h
        return seq, prev, h

    def mark(self) -> tuple[int, str] | None:
        return None if self._start is None else (self._seq, self._hash)

    def reset(self, mark: tuple[int, str] | None) -> None:
        """Back to a ``mark`` (after ROLLBACK TO the SAVEPOINT taken with it)."""
        if mark is None:
            self._start = None
        else:
            self._seq, self._hash = mark

    def abort(self) -> None:
        """The transaction rolled back: nothing it appended exists."""
        self._start = None

    @property
    def dirty(self) -> bool:
        return self._start is not None and self._seq != self._start.seq

    def seal(self, conn: Connection) -> None:
        """Sign and store the new head (and a checkpoint when due); call before COMMIT."""
        start = self._start
        self._start = None
        if start is None or self._seq == start.seq:
            return
        seq, head = self._seq, self._hash
        now = self._clock_us()
        cp_seq, cp_us = start.checkpoint_seq, start.checkpoint_us
        if seq // self._every > start.seq // self._every or now - cp_us >= self._interval_us:
            conn.execute(
                "INSERT INTO log_checkpoints (seq, entry_hash, created_us, key_id, signature) "
                "VALUES (?,?,?,?,?)",
                (
                    seq,
                    head,
                    now,
                    self.signer.key_id,
                    self.signer.sign(checkpoint_message(seq, head, now)),
                ),
            )
            cp_seq, cp_us = seq, now
        conn.execute(
            "UPDATE log_head SET seq = ?, entry_hash = ?, signed_us = ?, key_id = ?, "
            "signature = ?, checkpoint_seq = ?, checkpoint_us = ? WHERE id = 1",
            (
                seq,
                head,
                now,
                self.signer.key_id,
                self.signer.sign(head_message(seq, head, now)),
                cp_seq,
                cp_us,
            ),
        )


def bind_log_key(
    conn: Connection,
    where: str,
    *,
    key_file: Path | None,
    signer: LogSigner | None = None,
    adopt_unsigned_head: bool = False,
) -> LogSigner:
    """The signer for the log read through ``conn``, refusing a mislaid key.

    Run inside the write transaction that holds the log head (SQLite's
    ``BEGIN IMMEDIATE``, PostgreSQL's ``LOCK_HEAD``), so that two servers
    starting at once on a new log cannot each bind a key of their own: the
    first signs the head, the second then finds it signed by another key.

    - A new log (no entry, no checkpoint, head never signed): the key file is
      created if missing, and the head is signed with it now, which binds it.
    - A signed head: its signature must verify with the given key — not just
      its stored key id, which anyone with the database can rewrite. Another
      key, a missing key file, or a head altered after it was signed (a
      deleted entry with the head moved back and a junk signature) is refused.
    - A head without a signature while the log has entries or checkpoints:
      either the migration that introduced the chain left it for the operator
      to sign (``anshin db migrate``, ``adopt_unsigned_head``: only with an
      existing key, and only one whose signature every stored checkpoint
      carries), or someone blanked it to make a server sign a rewritten log;
      a server never signs it on its own.
    - No head row at all: the database is damaged; refused.
    """
    row = conn.execute(
        "SELECT seq, entry_hash, key_id, signature, signed_us FROM log_head WHERE id = 1"
    ).fetchone()
    if row is None:
        raise StateError(
            f"the verdict log in {where} has no head row: the database is damaged or "
            "was altered by hand (run `anshin log verify`); refusing to open it"
        )
    seq, head_hash = int(row[0]), str(row[1])
    signed_by, signature, signed_us = str(row[2] or ""), str(row[3] or ""), int(row[4] or 0)
    unsigned = not signed_by and not signature
    # Only an unsigned head needs the log's contents judged (a signed one is
    # judged by its signature): a start never counts a large log's entries.
    entries, checkpoints = 0, []
    if unsigned:
        entries = int(conn.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0])
        checkpoints = conn.execute(
            "SELECT seq, entry_hash, created_us, key_id, signature FROM log_checkpoints "
            "ORDER BY seq"
        ).fetchall()
    fresh = unsigned and not seq and not entries and not checkpoints
    if unsigned and not fresh and not adopt_unsigned_head:
        raise StateError(
            f"the verdict log in {where} has {entries} entries but its head carries no "
            "signature: a server never signs such a head by itself (it may have been "
            "blanked to hide a rewrite). Check it with `anshin log verify`; if it is an "
            "upgrade from a log without a chain, sign it with `anshin db migrate` and "
            "the signing key"
        )
    if signer is None:
        if key_file is None:
            raise StateError(f"no log-signing key given for {where}")
        # A new key only for a new log, or for the legacy upgrade (a log from
        # before the chain, which never had a key or a checkpoint).
        legacy = unsigned and adopt_unsigned_head and not checkpoints
        if not fresh and not legacy and not key_file.exists():
            raise KeyMismatch(
                f"the verdict log in {where} was signed by key {signed_by or '(blanked)'}, "
                f"but there is no key at {key_file}: point --state-dir or --log-key-file at "
                "the key that signed it (a new key would leave a log that no key verifies)"
            )
        signer = LogSigner.from_file(key_file)
    source = key_file if key_file is not None else "the given signer"
    if not unsigned and not signer.valid(signature, head_message(seq, head_hash, signed_us)):
        if signed_by != signer.key_id:
            raise KeyMismatch(
                f"the verdict log in {where} was signed by key {signed_by}, but the key at "
                f"{source} is key {signer.key_id}: refusing to open it; point --state-dir or "
                "--log-key-file at the key that signed it"
            )
        raise StateError(
            f"the head of the verdict log in {where} does not carry a valid signature of "
            f"the key at {source} (key {signer.key_id}): the head was altered after it was "
            "signed; refusing to open it (run `anshin log verify`)"
        )
    if unsigned and not fresh:
        # Adoption on the operator's command: the key must be the one every
        # stored checkpoint was signed with (a legacy log has none).
        for cp in checkpoints:
            message = checkpoint_message(int(cp[0]), str(cp[1]), int(cp[2]))
            if not signer.valid(str(cp[4]), message):
                raise KeyMismatch(
                    f"the verdict log in {where} has a checkpoint at seq {cp[0]} signed by "
                    f"key {cp[3]}, not by the key at {source} (key {signer.key_id}): "
                    "refusing to sign its blanked head with another key"
                )
    if unsigned:
        now = time.time_ns() // 1000
        conn.execute(
            "UPDATE log_head SET signed_us = ?, key_id = ?, signature = ? WHERE id = 1",
            (now, signer.key_id, signer.sign(head_message(seq, head_hash, now))),
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
