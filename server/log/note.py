"""C2SP signed notes (c2sp.org/signed-note) carrying tlog checkpoints
(c2sp.org/tlog-checkpoint), with Ed25519 signatures.

A checkpoint is the note text ``<origin>\\n<size>\\n<base64 root>\\n`` followed
by a blank line and one signature line per key,
``— <key name> <base64(key id || signature)>``. It is the format Go's sumdb,
Trillian, Rekor and the transparency-dev witnesses exchange, so any of their
tools can check an Anshin checkpoint with only the public key.

Parsing is strict: a verifier is handed notes by whoever holds the database,
so anything the specifications do not allow is refused rather than guessed
at.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ED25519_TYPE = b"\x01"
_DASH = "\u2014 "  # em dash, space: how every signature line starts
HASH_SIZE = 32
ED25519_SIG_SIZE = 64
# The spec asks verifiers to accept at least 16 signatures and to cap them;
# a note with more is not one this log (one key, perhaps a few cosigners) wrote.
MAX_SIGNATURES = 100
_SIZE_RE = re.compile(r"0|[1-9][0-9]*")


class NoteError(ValueError):
    """A note that is malformed, not signed by the expected key, or whose
    signature does not verify; the message says which."""


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    """The tlog-checkpoint note text for a tree of ``size`` leaves with ``root``."""
    if not origin or "\n" in origin:
        raise NoteError("a checkpoint origin must be one non-empty line")
    if size < 0:
        raise NoteError("a tree size cannot be negative")
    if len(root) != HASH_SIZE:
        raise NoteError(f"a root hash has {HASH_SIZE} bytes, not {len(root)}")
    body = f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"
    _check_text(body)
    return body


def key_hash(name: str, public_raw: bytes) -> bytes:
    """The 4-byte key id of an Ed25519 note key: SHA-256(name || LF || 0x01 || key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + ED25519_TYPE + public_raw).digest()[:4]


def sign_note(body: str, name: str, sign: Callable[[bytes], bytes], public_raw: bytes) -> str:
    """``body`` followed by a blank line and the signature line of key ``name``.

    ``sign`` returns the raw 64-byte Ed25519 signature of its argument (the
    UTF-8 body, final newline included)."""
    _check_text(body)
    _check_name(name)
    signature = sign(body.encode())
    if len(signature) != ED25519_SIG_SIZE:
        raise NoteError(f"an Ed25519 signature has {ED25519_SIG_SIZE} bytes, not {len(signature)}")
    blob = base64.b64encode(key_hash(name, public_raw) + signature).decode()
    return f"{body}\n{_DASH}{name} {blob}\n"


def verify_note(text: str, name: str, public_raw: bytes) -> str:
    """The note text of a signed note that key ``name`` signed, else NoteError.

    Per the spec: signatures of other keys (another name or key id) are
    ignored; a signature of this key that does not verify, or two of them,
    rejects the note; so does a note this key did not sign at all.
    """
    try:
        public = Ed25519PublicKey.from_public_bytes(public_raw)
    except ValueError as exc:
        raise NoteError(f"not an Ed25519 public key: {exc}") from None
    _check_text(text, what="signed note")
    split = text.rfind("\n\n")
    if split < 0:
        raise NoteError("no blank line separates the note text from its signatures")
    body, sigs = text[: split + 1], text[split + 2 :]
    if not sigs:
        raise NoteError("the note carries no signature")
    lines = sigs[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"the note carries {len(lines)} signatures (at most {MAX_SIGNATURES})")
    want = key_hash(name, public_raw)
    verified = False
    for line in lines:
        sig_name, blob = _parse_signature_line(line)
        if sig_name != name or blob[:4] != want:
            continue  # another key's signature (a cosigner, a rotated key): ignored
        if verified:
            raise NoteError(f"the note carries two signatures of key {name}")
        try:
            public.verify(blob[4:], body.encode())
        except InvalidSignature:
            raise NoteError(f"the signature of key {name} does not verify") from None
        verified = True
    if not verified:
        raise NoteError(f"the note is not signed by key {name} (with this public key)")
    return body


def signer_names(text: str) -> list[str]:
    """The key names on a signed note's signature lines (unverified: to pick
    which name to check a known public key under)."""
    split = text.rfind("\n\n")
    if split < 0 or not text.endswith("\n"):
        raise NoteError("not a signed note")
    return [_parse_signature_line(line)[0] for line in text[split + 2 : -1].split("\n")]


def key_name_of(text: str, public_raw: bytes) -> str:
    """The name under which ``public_raw`` signed this note (the signature
    line whose key id matches it), for a verifier that holds only the key."""
    split = text.rfind("\n\n")
    if split < 0 or not text.endswith("\n"):
        raise NoteError("not a signed note")
    for line in text[split + 2 : -1].split("\n"):
        name, blob = _parse_signature_line(line)
        if blob[:4] == key_hash(name, public_raw):
            return name
    raise NoteError("no signature line of the note is by this public key")


def parse_checkpoint(body: str) -> tuple[str, int, bytes]:
    """(origin, size, root) of a tlog-checkpoint note text; extension lines allowed."""
    _check_text(body)
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("a checkpoint has at least three lines: origin, size, root hash")
    if any(not line for line in lines):
        raise NoteError("a checkpoint line is empty")
    origin, size_s, root_s = lines[0], lines[1], lines[2]
    if not _SIZE_RE.fullmatch(size_s):
        raise NoteError(f"checkpoint size {size_s!r} is not a decimal without leading zeros")
    root = _b64(root_s, "root hash")
    if len(root) != HASH_SIZE:
        raise NoteError(f"the checkpoint root hash has {len(root)} bytes, not {HASH_SIZE}")
    return origin, int(size_s), root


def peek_checkpoint(text: str) -> tuple[str, int, bytes]:
    """(origin, size, root) of a signed checkpoint WITHOUT checking its
    signature: to find which checkpoint a file holds, never to trust it."""
    split = text.rfind("\n\n")
    if split < 0:
        raise NoteError("no blank line separates the note text from its signatures")
    return parse_checkpoint(text[: split + 1])


def open_note(
    text: str, name: str, public_raw: bytes, *, origin: str | None = None
) -> tuple[str, int, bytes]:
    """(origin, size, root) of a checkpoint signed by key ``name``, else NoteError.

    With ``origin`` given, a checkpoint of another log is refused too.
    """
    got_origin, size, root = parse_checkpoint(verify_note(text, name, public_raw))
    if origin is not None and got_origin != origin:
        raise NoteError(f"the checkpoint is of log {got_origin!r}, not {origin!r}")
    return got_origin, size, root


def _check_text(text: str, *, what: str = "note text") -> None:
    if not text.endswith("\n"):
        raise NoteError(f"the {what} does not end in a newline")
    try:
        text.encode()
    except UnicodeEncodeError:
        raise NoteError(f"the {what} is not valid UTF-8") from None
    for ch in text:
        if ch < " " and ch != "\n":
            raise NoteError(f"the {what} holds control character U+{ord(ch):04X}")


def _check_name(name: str) -> None:
    if not name:
        raise NoteError("a key name cannot be empty")
    if "+" in name or any(ch.isspace() for ch in name):
        raise NoteError(f"key name {name!r} holds a space or '+'")


def _parse_signature_line(line: str) -> tuple[str, bytes]:
    if not line.startswith(_DASH):
        raise NoteError(f"signature line {line[:40]!r} does not start with an em dash and space")
    name, sep, b64 = line[len(_DASH) :].partition(" ")
    if not sep:
        raise NoteError(f"signature line {line[:40]!r} has no signature after the key name")
    _check_name(name)
    blob = _b64(b64, "signature")
    if len(blob) < 5:
        raise NoteError(f"the signature of key {name} is too short")
    return name, blob


def _b64(text: str, what: str) -> bytes:
    """Strict standard base64: padded, no stray characters, canonical."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise NoteError(f"the {what} is not valid base64") from None
    if base64.b64encode(raw).decode() != text:
        raise NoteError(f"the {what} is not canonical base64")
    return raw
