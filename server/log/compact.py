"""Compact entries: a verdict-log column stored as a reference to a
content-addressed, compressed, deduplicated blob (issue 17, item 5). Pure code:
the store writes and reads the blobs (``server/store/sql/blobs.py``).

A claim decision's ``result`` (the reply as JSON) and ``inputs`` (the
request and the facts it was decided on) are 5–20 KB of JSON that repeats
from one decision to the next: the clause texts, the messages, the keys.
Such a column is stored as a reference::

    result: {"$blob":"sha256:<hex>"}
    inputs: {"$blob":"sha256:<hex>","bound":{…}}

where ``<hex>`` is the SHA-256 of the column's text as it was (so the
entry's hash, which covers the stored reference, covers the content through
the digest) and ``bound`` — what ``anshin log verify`` rebuilds the ledger
and claims rows from (server/log/coverage.py) — stays inline and last, so
coverage checks never need a blob. Expanding the reference gives back the
very bytes that were compacted.

A blob's body is zlib, usually with a *preset dictionary*: the text of an
earlier decision of the same kind and policy, which holds everything that
repeats (a decision then compresses to a few hundred bytes). The dictionary
is itself a blob, named in the body's codec (``zlib-dict:sha256:<hex>``),
so decoding depends on the database alone, never on this code's version.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from server.log.coverage import BOUND_KEY

DIGEST_PREFIX = "sha256:"
# The stored column of a compacted entry begins with this, and nothing the
# service writes inline does (inputs begin with {"request": or {"listed":,
# results with {"decisionId": …): it tells a reference from inline JSON.
REF_HEAD = b'{"$blob":"' + DIGEST_PREFIX.encode()
_DIGEST_LEN = len(DIGEST_PREFIX) + 64
_REF_LEN = len(b'{"$blob":"') + _DIGEST_LEN + 1  # through the closing quote
_BOUND_MEMBER = b'"' + BOUND_KEY.encode() + b'":'
_BOUND_TAIL = b"," + _BOUND_MEMBER

CODEC_ZLIB = "zlib"
CODEC_DICT_PREFIX = "zlib-dict:"
# zlib's window: a preset dictionary longer than this contributes only its end.
DICTIONARY_BYTES = 32 * 1024
_LEVEL = 9


class BlobError(ValueError):
    """A blob that is missing, undecodable or not the content its digest names."""


@dataclass(frozen=True, slots=True)
class Blob:
    """One ``log_blobs`` row: the SHA-256 of the content, how the body encodes it."""

    digest: str
    codec: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Dictionary:
    """A preset dictionary and its own blob (plain zlib: dictionaries do not chain)."""

    content: bytes
    blob: Blob

    @property
    def digest(self) -> str:
        return self.blob.digest


def digest_of(content: bytes) -> str:
    return DIGEST_PREFIX + hashlib.sha256(content).hexdigest()


def dictionary(content: bytes) -> Dictionary:
    """A dictionary of (the end of) ``content``."""
    content = content[-DICTIONARY_BYTES:]
    return Dictionary(content, Blob(digest_of(content), CODEC_ZLIB, zlib.compress(content, _LEVEL)))


def encode(content: bytes, preset: Dictionary | None) -> Blob:
    if preset is None:
        return Blob(digest_of(content), CODEC_ZLIB, zlib.compress(content, _LEVEL))
    z = zlib.compressobj(_LEVEL, zdict=preset.content)
    return Blob(
        digest_of(content), CODEC_DICT_PREFIX + preset.digest, z.compress(content) + z.flush()
    )


def dictionary_of(codec: str) -> str | None:
    """The digest of the dictionary a codec names, None for plain zlib;
    BlobError for a codec this code does not know."""
    if codec == CODEC_ZLIB:
        return None
    if codec.startswith(CODEC_DICT_PREFIX):
        digest = codec[len(CODEC_DICT_PREFIX) :]
        if _DIGEST.fullmatch(digest) is not None:
            return digest
    raise BlobError(f"unknown codec {codec!r}")


def decode(blob: Blob, dictionaries: Mapping[str, bytes]) -> bytes:
    """The content of ``blob``, checked against its digest; ``dictionaries``:
    the contents of the dictionaries its codec may name, by digest."""
    named = dictionary_of(blob.codec)
    try:
        if named is None:
            content = zlib.decompress(blob.body)
        else:
            if named not in dictionaries:
                raise BlobError(f"blob {blob.digest}: its dictionary {named} is missing")
            z = zlib.decompressobj(zdict=dictionaries[named])
            content = z.decompress(blob.body) + z.flush()
            if not z.eof:
                raise BlobError(f"blob {blob.digest}: its body is truncated")
    except zlib.error as exc:
        raise BlobError(f"blob {blob.digest}: its body does not decompress ({exc})") from None
    if digest_of(content) != blob.digest:
        raise BlobError(f"blob {blob.digest}: its content hashes to {digest_of(content)}")
    return content


_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def is_digest(text: str) -> bool:
    return _DIGEST.fullmatch(text) is not None


# --------------------------------------------------------------------------- columns


def reference_of(stored: object) -> str | None:
    """The digest a stored column refers to; None for inline JSON (an entry
    from before compaction, or one not worth compacting) and for any value
    that is not text (an integer column, NULL)."""
    if isinstance(stored, str):
        raw = stored.encode()
    elif isinstance(stored, bytes | bytearray | memoryview):
        raw = bytes(stored)
    else:
        return None
    if not raw.startswith(REF_HEAD) or len(raw) < _REF_LEN + 1:
        return None
    digest = raw[len(b'{"$blob":"') : _REF_LEN - 1].decode("ascii", "replace")
    ok = raw[_REF_LEN - 1 : _REF_LEN] == b'"' and _DIGEST.fullmatch(digest) is not None
    return digest if ok else None


def split_bound(raw: bytes) -> tuple[bytes, bytes] | None:
    """(the object without its last member ``bound``, that member's JSON text),
    when ``raw`` is a JSON object ending with it (``sql/claims.bind``) and the
    two join back to exactly ``raw``; else None."""
    i = raw.rfind(_BOUND_TAIL)
    if i < 0 or not raw.endswith(b"}"):
        return None
    body, bound = raw[:i] + b"}", raw[i + len(_BOUND_TAIL) : -1]
    return (body, bound) if join_bound(body, bound) == raw else None


def join_bound(body: bytes, bound: bytes) -> bytes:
    return body[:-1] + (b"," if body != b"{}" else b"") + _BOUND_MEMBER + bound + b"}"


def compact(raw: bytes, preset: Dictionary | None, *, keep_bound: bool) -> tuple[bytes, Blob]:
    """(the stored column, the blob it refers to) for the column text ``raw``;
    ``keep_bound``: leave a last ``bound`` member inline (``inputs``)."""
    split = split_bound(raw) if keep_bound else None
    content = raw if split is None else split[0]
    blob = encode(content, preset)
    ref = b'{"$blob":"' + blob.digest.encode() + b'"'
    stored = ref + b"}" if split is None else ref + b"," + _BOUND_MEMBER + split[1] + b"}"
    return stored, blob


def expand(stored: str | bytes, contents: Mapping[str, bytes]) -> bytes:
    """The column text a stored reference stands for (inline JSON as it is);
    ``contents``: blob contents by digest. BlobError when the blob is absent."""
    raw = stored.encode() if isinstance(stored, str) else bytes(stored)
    digest = reference_of(raw)
    if digest is None:
        return raw
    if digest not in contents:
        raise BlobError(f"blob {digest} is missing")
    content = contents[digest]
    rest = raw[_REF_LEN:]
    if rest == b"}":
        return content
    if rest.startswith(_BOUND_TAIL) and rest.endswith(b"}"):
        return join_bound(content, rest[len(_BOUND_TAIL) : -1])
    raise BlobError(f"a malformed reference to blob {digest}")
