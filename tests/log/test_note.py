"""C2SP signed notes and tlog checkpoints: interop with Go's sumdb/note
vector, round trips, and hostile notes refused."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.log import note
from server.log.note import NoteError

# golang.org/x/mod/sumdb/note's documented example (note.go, note_test.go):
# Ed25519 is deterministic, so signing the same text with the same seed must
# give this exact note, byte for byte, if our format is the Go ecosystem's.
GO_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
GO_PUBLIC = base64.b64decode("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")[1:]
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT
    + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSN"
    + "XgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)

ORIGIN = "anshin.example/log"
ROOT = hashlib.sha256(b"root").digest()


def _key(seed: bytes | None = None) -> tuple[Ed25519PrivateKey, bytes]:
    private = Ed25519PrivateKey.from_private_bytes(seed) if seed else Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return private, raw


def _checkpoint(
    size: int = 7, name: str = ORIGIN, key: Ed25519PrivateKey | None = None
) -> tuple[str, bytes]:
    private, raw = (key, _key_raw(key)) if key else _key()
    return note.sign_note(note.checkpoint_body(ORIGIN, size, ROOT), name, private.sign, raw), raw


def _key_raw(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def test_signing_matches_the_go_sumdb_vector() -> None:
    private, raw = _key(GO_SEED)
    assert raw == GO_PUBLIC
    assert note.key_hash("PeterNeumann", raw).hex() == "c74f20a3"
    assert note.sign_note(GO_TEXT, "PeterNeumann", private.sign, raw) == GO_NOTE
    assert note.verify_note(GO_NOTE, "PeterNeumann", raw) == GO_TEXT


def test_the_go_vector_with_one_changed_letter_is_refused() -> None:
    with pytest.raises(NoteError, match="does not verify"):
        note.verify_note(GO_NOTE.replace("cryptography", "cryptographY"), "PeterNeumann", GO_PUBLIC)


def test_checkpoint_round_trip() -> None:
    text, raw = _checkpoint(size=12345)
    assert text.startswith(
        f"{ORIGIN}\n12345\n{base64.b64encode(ROOT).decode()}\n\n\u2014 {ORIGIN} "
    )
    assert note.open_note(text, ORIGIN, raw) == (ORIGIN, 12345, ROOT)
    assert note.open_note(text, ORIGIN, raw, origin=ORIGIN)[1] == 12345
    with pytest.raises(NoteError, match="not 'other'"):
        note.open_note(text, ORIGIN, raw, origin="other")


def test_an_empty_tree_is_size_zero() -> None:
    private, raw = _key()
    text = note.sign_note(note.checkpoint_body(ORIGIN, 0, ROOT), ORIGIN, private.sign, raw)
    assert note.open_note(text, ORIGIN, raw)[1] == 0


def test_another_key_with_the_same_name_is_ignored_then_refused() -> None:
    text, _ = _checkpoint()
    _, other = _key()
    with pytest.raises(NoteError, match="not signed by key"):
        note.open_note(text, ORIGIN, other)
    with pytest.raises(NoteError, match="not signed by key"):
        note.open_note(text, "someone.else/log", _checkpoint()[1])


def test_cosignatures_of_unknown_keys_are_ignored() -> None:
    private, raw = _key()
    witness, witness_raw = _key()
    body = note.checkpoint_body(ORIGIN, 3, ROOT)
    signed = note.sign_note(body, ORIGIN, private.sign, raw)
    cosig = note.sign_note(body, "witness.example", witness.sign, witness_raw).split("\n\n")[1]
    both = signed + cosig
    assert note.open_note(both, ORIGIN, raw) == (ORIGIN, 3, ROOT)
    assert note.open_note(both, "witness.example", witness_raw) == (ORIGIN, 3, ROOT)


def test_a_bad_signature_of_the_known_key_rejects_even_beside_a_good_one() -> None:
    text, raw = _checkpoint()
    body, sig_line = text.split("\n\n")
    blob = base64.b64decode(sig_line.rstrip("\n").split(" ")[2])
    forged = blob[:4] + bytes(64)
    bad_line = f"\u2014 {ORIGIN} {base64.b64encode(forged).decode()}\n"
    with pytest.raises(NoteError, match="does not verify"):
        note.open_note(body + "\n\n" + bad_line + sig_line, ORIGIN, raw)
    with pytest.raises(NoteError, match="two signatures"):
        note.open_note(body + "\n\n" + sig_line + sig_line, ORIGIN, raw)


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda t: t.replace("\n7\n", "\n8\n", 1), "does not verify"),
        (lambda t: t.replace("\n7\n", "\n07\n", 1), "does not verify"),
        (lambda t: t.rstrip("\n"), "newline"),
        (lambda t: t.replace("\n\n", "\n", 1), "blank line"),
        (lambda t: t.split("\n\n")[0] + "\n\n", "no signature"),
        (lambda t: t.replace("\u2014 ", "- ", 1), "em dash"),
        (
            lambda t: t.replace(f"\u2014 {ORIGIN} ", f"\u2014 {ORIGIN}", 1),
            "not valid base64|no signature",
        ),
        (lambda t: t.replace(f"{ORIGIN}\n", f"{ORIGIN}\r\n", 1), "control character"),
        (lambda t: t[:-3] + "\t" + t[-2:], "control character|base64"),
        (lambda t: t.replace("\n\n", "\n\n\n", 1), "does not verify"),
    ],
)
def test_hostile_notes_are_refused(mangle: object, reason: str) -> None:
    text, raw = _checkpoint(size=7)
    assert callable(mangle)
    with pytest.raises(NoteError, match=reason):
        note.open_note(mangle(text), ORIGIN, raw)


def test_malformed_checkpoint_bodies_are_refused_even_when_signed() -> None:
    private, raw = _key()
    root = base64.b64encode(ROOT).decode()
    for body, reason in [
        (f"{ORIGIN}\n7\n", "three lines"),
        (f"{ORIGIN}\n7\n{root}\n\nextra\n", "empty"),
        (f"\n7\n{root}\n", "empty"),
        (f"{ORIGIN}\n7\n{root[:-2]}\n", "base64"),
        (f"{ORIGIN}\n7\n{base64.b64encode(ROOT[:31]).decode()}\n", "31 bytes"),
        (f"{ORIGIN}\n-7\n{root}\n", "leading zeros"),
        (f"{ORIGIN}\n07\n{root}\n", "leading zeros"),
        (f"{ORIGIN}\n+7\n{root}\n", "leading zeros"),
        (f"{ORIGIN}\n\u0667\n{root}\n", "leading zeros"),  # an Arabic-Indic 7
    ]:
        signed = note.sign_note(body, ORIGIN, private.sign, raw)
        with pytest.raises(NoteError, match=reason):
            note.open_note(signed, ORIGIN, raw)


def test_extension_lines_are_allowed() -> None:
    private, raw = _key()
    body = note.checkpoint_body(ORIGIN, 9, ROOT) + "time 1733556000\n"
    signed = note.sign_note(body, ORIGIN, private.sign, raw)
    assert note.open_note(signed, ORIGIN, raw) == (ORIGIN, 9, ROOT)


def test_non_canonical_base64_is_refused() -> None:
    private, raw = _key()
    root = base64.b64encode(ROOT).decode()
    # The last digit of a 32-byte value's base64 carries two unused bits:
    # setting one decodes to the same bytes, but it is another text.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    odd = root[:-2] + alphabet[alphabet.index(root[-2]) + 1] + "="
    assert base64.b64decode(odd) == ROOT
    signed = note.sign_note(f"{ORIGIN}\n7\n{odd}\n", ORIGIN, private.sign, raw)
    with pytest.raises(NoteError, match="canonical"):
        note.open_note(signed, ORIGIN, raw)


def test_key_names_with_spaces_or_plus_cannot_sign() -> None:
    private, raw = _key()
    body = note.checkpoint_body(ORIGIN, 1, ROOT)
    for name in ("", "a b", "a+b", "a\u3000b"):
        with pytest.raises(NoteError, match="key name"):
            note.sign_note(body, name, private.sign, raw)


def test_bodies_that_are_not_one_checkpoint_cannot_be_built() -> None:
    with pytest.raises(NoteError):
        note.checkpoint_body("two\nlines", 1, ROOT)
    with pytest.raises(NoteError):
        note.checkpoint_body(ORIGIN, -1, ROOT)
    with pytest.raises(NoteError):
        note.checkpoint_body(ORIGIN, 1, ROOT[:16])


def test_too_many_signatures_are_refused() -> None:
    text, raw = _checkpoint()
    body, sig_line = text.split("\n\n")
    with pytest.raises(NoteError, match="signatures"):
        note.open_note(body + "\n\n" + sig_line * (note.MAX_SIGNATURES + 1), ORIGIN, raw)
