"""The entry MAC (server/store/chain.py): RFC 2104 HMAC-SHA256 under a key
derived from the log signing key, computed with precomputed keyed states."""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from server.store.chain import LogSigner, hmac_sha256


def test_hmac_sha256_agrees_with_the_standard_library() -> None:
    for key in (os.urandom(32), os.urandom(64), os.urandom(100), b""):
        mac = hmac_sha256(key)
        for message in (b"", os.urandom(32), os.urandom(200)):
            assert mac(message) == hmac.digest(key, message, "sha256")
    assert hmac_sha256(b"k")(b"a") != hmac_sha256(b"k")(b"b")


def test_entry_mac_key_is_hkdf_of_the_signing_key(tmp_path: Path) -> None:
    signer = LogSigner.from_file(tmp_path / "log-signing.key")
    private = serialization.load_pem_private_key(
        (tmp_path / "log-signing.key").read_bytes(), password=None
    )
    raw = private.private_bytes(  # type: ignore[union-attr]
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"anshin.log.entry-mac.v1"
    ).derive(raw)
    entry = hashlib.sha256(b"an entry").hexdigest()
    assert signer.entry_mac(entry) == hmac.digest(key, bytes.fromhex(entry), "sha256").hex()
    # Another key, another MAC: a database copied to another log's key does not pass.
    other = LogSigner.from_file(tmp_path / "other.key")
    assert other.entry_mac(entry) != signer.entry_mac(entry)
