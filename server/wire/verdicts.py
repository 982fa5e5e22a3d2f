"""Verdict-log rows (as stored) ⇄ anshin.v1 VerdictLogService messages.

The JSON columns go out as the exact stored text (``inputs_json`` /
``result_json``): the hash chain covers those bytes, and decoding them into
``Struct`` would cost far more than the rest of an export.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import orjson

from anshin.v1 import common_pb2, verdicts_pb2
from server.log.receipt import EntryProof, Pending

KIND_NAMES = {
    verdicts_pb2.VERDICT_KIND_LOGIN_POSTURE: "login_posture",
    verdicts_pb2.VERDICT_KIND_CLAIM: "claim",
    verdicts_pb2.VERDICT_KIND_REVIEW_RESOLUTION: "review_resolution",
    verdicts_pb2.VERDICT_KIND_ANALYST_ACCESS: "analyst_access",
}
OUTCOMES = frozenset({"APPROVE", "DENY", "REVIEW", "COMPLIANT", "NON_COMPLIANT", "UNKNOWN"})

_RULES_CACHE: dict[str, common_pb2.RulesVersion] = {}


def rules_pb(text: str) -> common_pb2.RulesVersion:
    """The stored rules JSON as a RulesVersion (a handful of distinct values: cached)."""
    hit = _RULES_CACHE.get(text)
    if hit is not None:
        return hit
    d = orjson.loads(text) if text else {}
    release = d.get("release_data") or {}
    pb = common_pb2.RulesVersion(
        digest=d.get("digest", ""),
        matrix_revision=d.get("matrix_revision") or "",
        release_data=[f"{k}={str(v)[:10]}" for k, v in sorted(release.items())]
        if isinstance(release, dict)
        else [str(x) for x in release],
        policies=d.get("policies") or [],
    )
    if len(_RULES_CACHE) >= 1024:
        _RULES_CACHE.clear()
    _RULES_CACHE[text] = pb
    return pb


# --------------------------------------------------------------------------- wire encoding
#
# An export streams tens of thousands of entries a second. Building each
# VerdictEntry message and then a VerdictPage costs far more than the entry
# is worth (the page copies every entry), so entries are encoded straight to
# the protobuf wire format here; the SQLite store even hands over the JSON
# columns as the stored UTF-8 bytes, so they are never decoded at all.
# ``entry_pb`` parses the same bytes: one encoder for every RPC.


def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64
    if n < 0x80:
        return bytes((n,))
    if n < 0x4000:
        return bytes((n & 0x7F | 0x80, n >> 7))
    if 0x10000000 <= n < 0x800000000:  # 5 bytes: Timestamp seconds of 1978..3058
        return bytes(
            (
                n & 0x7F | 0x80,
                n >> 7 & 0x7F | 0x80,
                n >> 14 & 0x7F | 0x80,
                n >> 21 & 0x7F | 0x80,
                n >> 28,
            )
        )
    return _varint_loop(n)


def _varint_loop(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL = [bytes((i,)) for i in range(0x80)]


def _len_field(tag: bytes, value: str | bytes) -> bytes:
    b = value.encode() if isinstance(value, str) else value
    n = len(b)
    return tag + (_SMALL[n] if n < 0x80 else _varint(n)) + b


def _tag(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


_T_ID, _T_KIND, _T_CUSTOMER, _T_DEVICE, _T_POLICY = (_tag(f, 2) for f in (1, 3, 4, 5, 6))
_T_SEQ = _tag(2, 0)
_T_SUBJECT, _T_RECORDED, _T_OUTCOME, _T_CLAUSE, _T_RULES = (_tag(f, 2) for f in (7, 8, 9, 10, 11))
_T_INPUTS, _T_RESULT, _T_CALLER, _T_REQUEST, _T_REFERS = (_tag(f, 2) for f in (12, 13, 14, 15, 16))
_T_HASH, _T_PREV = _tag(17, 2), _tag(18, 2)
_T_PAYABLE = _tag(19, 0)
_T_RULES_JSON, _T_RULES_DIGEST = _tag(20, 2), _tag(21, 2)
_T_STORED_INPUTS, _T_STORED_RESULT = _tag(23, 2), _tag(24, 2)
_T_ENTRIES, _T_TOKEN = _tag(1, 2), _tag(2, 2)
_T_IDENTITY = _tag(1, 2)

_RULES_FIELD: dict[str | bytes, bytes] = {}
_CLAUSES_FIELD: dict[str | bytes, bytes] = {}
_CALLER_FIELD: dict[str | bytes, bytes] = {}
_Entry = verdicts_pb2.VerdictEntry
_PAYABLE = re.compile(rb'"payable(?:Yen|_yen)":"?(\d+)')


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _cached(cache: dict[str | bytes, bytes], key: str | bytes, build: Any) -> bytes:
    hit = cache.get(key)
    if hit is None:
        if len(cache) >= 4096:
            cache.clear()
        hit = cache[key] = build(key)
    return hit


def _rules_field(text: str | bytes) -> bytes:
    return _len_field(_T_RULES, rules_pb(_text(text)).SerializeToString())


def _clauses_field(text: str | bytes) -> bytes:
    return b"".join(_len_field(_T_CLAUSE, c) for c in orjson.loads(text))


def _caller_field(caller: str | bytes) -> bytes:
    return _len_field(_T_CALLER, _len_field(_T_IDENTITY, caller))


def payable_of(outcome: str | bytes, result: str | bytes) -> int:
    """The amount an APPROVE decision or resolution pays (0 otherwise)."""
    if outcome not in ("APPROVE", b"APPROVE"):
        return 0
    m = _PAYABLE.search(result.encode() if isinstance(result, str) else result)
    return int(m.group(1)) if m else 0


def entry_parts(row: Sequence[Any]) -> tuple[list[bytes], int]:
    """A ``SELECT {VERDICT_COLUMNS}`` row as VerdictEntry wire bytes (text columns
    as ``str`` or as the stored UTF-8 ``bytes``): the pieces, in order, and
    their total length. A row whose JSON columns the store expanded from blobs
    (server/store/sql/blobs.py) carries the stored texts after ``entry_hash``
    (None for a column stored inline): they go out as ``stored_inputs`` /
    ``stored_result``, what the chain hash covers. The pieces are concatenated
    once, by whoever holds the whole page: an entry is mostly its JSON
    columns, and every intermediate join would copy them again.

    The small scalar fields and the two timestamps go through one upb
    message (C is faster than Python at a dozen fields and their varints);
    the JSON columns and the cached repeated/sub-message fields are appended
    as wire bytes (fields of a message may come in any order)."""
    (
        seq,
        id_,
        kind,
        customer_id,
        device_id,
        policy_id,
        subject_us,
        recorded_us,
        rules_digest,
        rules,
        outcome,
        clause_ids,
        inputs,
        result,
        request_id,
        caller,
        refers_to,
        prev_hash,
        entry_hash,
        *stored,
    ) = row
    subject_s, subject_u = divmod(subject_us, 1_000_000)
    recorded_s, recorded_u = divmod(recorded_us, 1_000_000)
    head = _Entry(
        id=id_,
        seq=seq,
        kind=kind,
        customer_id=customer_id,
        device_id=device_id,
        policy_id=policy_id,
        outcome=outcome,
        request_id=request_id,
        refers_to=refers_to,
        entry_hash=entry_hash,
        prev_hash=prev_hash,
        rules_digest=rules_digest,
        payable_yen=payable_of(outcome, result),
        subject_time={"seconds": subject_s, "nanos": subject_u * 1000},
        recorded_at={"seconds": recorded_s, "nanos": recorded_u * 1000},
    ).SerializeToString()
    clauses = _CLAUSES_FIELD.get(clause_ids)
    if clauses is None:
        clauses = _cached(_CLAUSES_FIELD, clause_ids, _clauses_field)
    rules_field = _RULES_FIELD.get(rules)
    if rules_field is None:
        rules_field = _cached(_RULES_FIELD, rules, _rules_field)
    caller_field = _CALLER_FIELD.get(caller)
    if caller_field is None:
        caller_field = _cached(_CALLER_FIELD, caller, _caller_field)
    parts = [
        head,
        clauses,
        rules_field,
        caller_field,
    ]
    size = sum(map(len, parts))
    columns = [(_T_INPUTS, inputs), (_T_RESULT, result), (_T_RULES_JSON, rules)]
    columns += [
        (t, v) for t, v in zip((_T_STORED_INPUTS, _T_STORED_RESULT), stored, strict=False) if v
    ]
    for tag, value in columns:
        b = value.encode() if isinstance(value, str) else value
        n = len(b)
        prefix = tag + (_SMALL[n] if n < 0x80 else _varint(n))
        parts += (prefix, b)
        size += len(prefix) + n
    return parts, size


def encode_entry(row: Sequence[Any]) -> bytes:
    """A ``SELECT {VERDICT_COLUMNS}`` row as VerdictEntry wire bytes."""
    return b"".join(entry_parts(row)[0])


def entry_pb(row: Sequence[Any]) -> verdicts_pb2.VerdictEntry:
    """A ``SELECT {VERDICT_COLUMNS}`` row as a VerdictEntry."""
    return verdicts_pb2.VerdictEntry.FromString(encode_entry(row))


def inclusion_proof_pb(found: EntryProof | Pending) -> verdicts_pb2.InclusionProof:
    """GetVerdict's proof: the audit path and signed checkpoint, or pending."""
    if isinstance(found, Pending):
        return verdicts_pb2.InclusionProof(pending=True)
    return verdicts_pb2.InclusionProof(
        leaf_index=found.leaf_index,
        tree_size=found.tree_size,
        hashes=found.proof,
        checkpoint=found.checkpoint,
    )


def encode_page(entries: Sequence[bytes], next_token: str) -> bytes:
    """VerdictPage wire bytes from encoded entries."""
    parts = [page_entry_prefix(len(e)) + e for e in entries]
    parts.append(page_token_field(next_token))
    return b"".join(parts)


def page_entry_prefix(size: int) -> bytes:
    """What precedes an encoded entry of ``size`` bytes inside a VerdictPage."""
    return _T_ENTRIES + _varint(size)


def page_token_field(next_token: str) -> bytes:
    """A VerdictPage's ``next_page_token`` field (empty for no token)."""
    return _len_field(_T_TOKEN, next_token) if next_token else b""


def page_pb(rows: Sequence[Sequence[Any]], next_token: str) -> verdicts_pb2.VerdictPage:
    return verdicts_pb2.VerdictPage.FromString(
        encode_page([encode_entry(r) for r in rows], next_token)
    )


def review_facts(result: str) -> tuple[list[str], list[str], int]:
    """(missing facts, clause ids with a REVIEW effect, computed amount) of a claim result."""
    try:
        d = orjson.loads(result)
    except orjson.JSONDecodeError:
        return [], [], 0
    missing: dict[str, None] = {}
    review: dict[str, None] = {}
    for c in d.get("clauses", []):
        for m in c.get("missingFacts", c.get("missing_facts", [])):
            missing.setdefault(m)
        if c.get("effect") in ("OUTCOME_REVIEW", "REVIEW"):
            review.setdefault(c.get("clauseId", c.get("clause_id", "")))
    steps = d.get("computation") or []
    computed = 0
    if steps:
        last = steps[-1]
        computed = int(last.get("outputYen", last.get("output_yen", 0)) or 0)
    return list(missing), [c for c in review if c], computed


def claim_request(inputs: str | bytes) -> dict[str, Any]:
    """The claim request of a claim entry's inputs: ``{"request": …}`` or the request itself."""
    d = orjson.loads(inputs)
    if not isinstance(d, dict):
        return {}
    req = d.get("request", d)
    return req if isinstance(req, dict) else {}
