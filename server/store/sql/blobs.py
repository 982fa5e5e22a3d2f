"""The ``log_blobs`` table: compacted verdict-entry columns (server/log/compact.py).

Writers compact a claim or resolution entry's ``inputs`` and ``result``
before it is chained (``compact_record``), inside the same transaction, so
an entry and its blobs commit together. Every read of entries expands the
references back (``expand_rows``/``expand_record``): callers see the JSON
the entry was written with, whether it is stored inline (entries from
before compaction) or by reference. ``anshin log verify`` checks each
referenced blob (``blob_problems``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

import orjson

from server.log import compact
from server.store.records import VerdictRecord
from server.store.sql.connection import IN_CHUNK, Connection, marks

INSERT_BLOB = (
    "INSERT INTO log_blobs (digest, codec, body) VALUES (?,?,?) ON CONFLICT (digest) DO NOTHING"
)
# Positions of the compactable columns in a ``VERDICT_COLUMNS`` row.
INPUTS_AT, RESULT_AT = 12, 13
# Columns shorter than this stay inline: a reference and a blob row would not be smaller.
MIN_COMPACT_BYTES = 512
# The kinds whose entries are compacted: the decisions, 5–20 KB of JSON each.
# Verify looks for references in these kinds only (an index range, not a
# second read of every entry); login entries (~2.6 KB) are written in
# CheckLogin's batches and stay inline.
COMPACTED_KINDS = ("claim", "review_resolution")

# The preset dictionary of each (kind, policy) in this process: the first
# such entry's own content, the text every later one shares most with. A
# dictionary is a blob like any other, (re)inserted with every entry that
# uses it — idempotent, and right in whichever database the entry goes to.
_presets: dict[tuple[str, str | None], compact.Dictionary] = {}
# Decoded dictionaries by digest: content-addressed, so a cached one is the
# right one; ``anshin log verify`` never uses the cache.
_dictionary_contents: dict[str, bytes] = {}


def put_blobs(conn: Connection, blobs: Iterable[compact.Blob]) -> None:
    rows = {b.digest: (b.digest, b.codec, b.body) for b in blobs}
    if rows:
        conn.executemany(INSERT_BLOB, list(rows.values()))


def compact_record(conn: Connection, record: VerdictRecord) -> VerdictRecord:
    """``record`` with its large ``inputs`` and ``result`` stored by reference,
    their blobs written in the open transaction (``bound`` stays inline)."""
    inputs, result = compact_columns(
        conn, record.kind, record.policy_id, bytes(record.inputs), bytes(record.result)
    )
    return replace(record, inputs=inputs, result=result)


def compact_columns(
    conn: Connection, kind: str, policy_id: str | None, inputs: bytes, result: bytes
) -> tuple[bytes, bytes]:
    """(inputs, result) as stored: each of ``MIN_COMPACT_BYTES`` or more by
    reference to its blob, written here with the dictionary it is coded with."""
    big_inputs, big_result = len(inputs) >= MIN_COMPACT_BYTES, len(result) >= MIN_COMPACT_BYTES
    if kind not in COMPACTED_KINDS or not (big_inputs or big_result):
        return inputs, result
    key = (kind, policy_id)
    preset = _presets.get(key)
    if preset is None:
        split = compact.split_bound(inputs)
        preset = compact.dictionary((inputs if split is None else split[0]) + result)
        _presets[key] = preset
    blobs = [preset.blob]
    if big_inputs:
        inputs, blob = compact.compact(inputs, preset, keep_bound=True)
        blobs.append(blob)
    if big_result:
        result, blob = compact.compact(result, preset, keep_bound=False)
        blobs.append(blob)
    put_blobs(conn, blobs)
    return inputs, result


def blob_rows(conn: Connection, digests: Iterable[str]) -> dict[str, compact.Blob]:
    """The stored blobs of ``digests`` (those present)."""
    wanted = sorted(set(digests))
    out: dict[str, compact.Blob] = {}
    for start in range(0, len(wanted), IN_CHUNK):
        chunk = wanted[start : start + IN_CHUNK]
        for digest, codec, body in conn.execute(
            f"SELECT digest, codec, body FROM log_blobs WHERE digest IN ({marks(len(chunk))})",
            chunk,
        ).fetchall():
            d = _text(digest)
            out[d] = compact.Blob(d, _text(codec), bytes(body))
    return out


def decoded(
    conn: Connection, digests: Iterable[str], *, cached: bool = True
) -> tuple[dict[str, bytes], dict[str, str]]:
    """(content by digest, problem by digest) of the blobs ``digests``: a
    missing blob, a missing dictionary, a body that does not decode to its digest."""
    wanted = set(digests)
    rows = blob_rows(conn, wanted)
    problems = {d: f"blob {d} is missing" for d in wanted - set(rows)}
    needed: set[str] = set()
    for d, blob in rows.items():
        try:
            named = compact.dictionary_of(blob.codec)
        except compact.BlobError as exc:
            problems[d] = str(exc)
            continue
        if named is not None and not (cached and named in _dictionary_contents):
            needed.add(named)
    dictionaries = {k: v for k, v in _dictionary_contents.items() if cached}
    for d, blob in blob_rows(conn, needed).items():
        try:
            if compact.dictionary_of(blob.codec) is not None:
                raise compact.BlobError(f"dictionary {d} names a dictionary of its own")
            dictionaries[d] = compact.decode(blob, {})
        except compact.BlobError as exc:
            problems.setdefault(d, str(exc))
            continue
        if cached:
            _dictionary_contents[d] = dictionaries[d]
    contents: dict[str, bytes] = {}
    for d, blob in rows.items():
        if d in problems:
            continue
        named = compact.dictionary_of(blob.codec)
        if named is not None and named in problems:
            problems[d] = f"blob {d}: its dictionary: {problems[named]}"
            continue
        try:
            contents[d] = compact.decode(blob, dictionaries)
        except compact.BlobError as exc:
            problems[d] = str(exc)
    return contents, problems


def _text(value: Any) -> str:
    return bytes(value).decode() if isinstance(value, bytes | memoryview) else str(value)


def _same_type(original: Any, raw: bytes) -> Any:
    return raw.decode() if isinstance(original, str) else raw


def expand_rows(conn: Connection, rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """``VERDICT_COLUMNS`` rows with their referenced columns expanded (text
    stays text, bytes bytes) and, after them, the two columns as stored
    (None: inline) on rows that had a reference. ``compact.BlobError`` when a blob is absent or
    damaged: the entry cannot be shown as it was written."""
    refs = {
        d
        for row in rows
        for at in (INPUTS_AT, RESULT_AT)
        if (d := compact.reference_of(row[at])) is not None
    }
    if not refs:
        return [tuple(r) for r in rows]
    contents, problems = decoded(conn, refs)
    if problems:
        raise compact.BlobError("; ".join(sorted(problems.values())))
    out = []
    for row in rows:
        r = list(row)
        stored: list[Any] = [None, None]
        for i, at in enumerate((INPUTS_AT, RESULT_AT)):
            if compact.reference_of(r[at]) is not None:
                stored[i] = r[at]
                r[at] = _same_type(r[at], compact.expand(r[at], contents))
        # The stored texts after the row's columns: what the chain hash covers
        # (``stored_inputs``/``stored_result`` on the wire, server/wire/verdicts.py).
        out.append((*r, *stored) if stored != [None, None] else tuple(r))
    return out


def expand_row(conn: Connection, row: Sequence[Any] | None) -> tuple[Any, ...] | None:
    return None if row is None else expand_rows(conn, [row])[0]


def expand_record(conn: Connection, record: VerdictRecord | None) -> VerdictRecord | None:
    if record is None:
        return None
    refs = {
        d for col in (record.inputs, record.result) if (d := compact.reference_of(col)) is not None
    }
    if not refs:
        return record
    contents, problems = decoded(conn, refs)
    if problems:
        raise compact.BlobError("; ".join(sorted(problems.values())))
    return replace(
        record,
        inputs=compact.expand(record.inputs, contents),
        result=compact.expand(record.result, contents),
    )


def blob_contents(conn: Connection, columns: Iterable[Any]) -> dict[str, bytes]:
    """The contents of the blobs the stored ``columns`` refer to, by digest
    (what a receipt carries so it is checked offline)."""
    refs = {d for c in columns if c is not None and (d := compact.reference_of(c)) is not None}
    if not refs:
        return {}
    contents, problems = decoded(conn, refs)
    if problems:
        raise compact.BlobError("; ".join(sorted(problems.values())))
    return contents


def blob_problems(
    conn: Connection, entries: Iterable[tuple[int, str, Any, Any]]
) -> list[tuple[int, str, str]]:
    """(seq, entry id, problem) for each entry (seq, id, stored inputs, stored
    result) whose referenced blob is missing or does not decode to its digest:
    read afresh from the database, no cache (``anshin log verify``)."""
    wanted: dict[str, list[tuple[int, str]]] = {}
    for seq, entry_id, *columns in entries:
        for column in columns:
            d = compact.reference_of(column)
            if d is not None:
                wanted.setdefault(d, []).append((int(seq), _text(entry_id)))
    if not wanted:
        return []
    _, problems = decoded(conn, wanted, cached=False)
    out = [
        (seq, entry_id, problem)
        for d, problem in problems.items()
        for seq, entry_id in wanted.get(d, [])
    ]
    # A damaged dictionary is named by every entry whose blobs use it.
    return sorted(set(out))


# Replay's claim rows (``ports.ClaimHistory.claim_rows``): seq first, inputs
# at 7, the logged payable amount at 8 — which the backends read out of an
# inline result only; a referenced result gives none.
_CLAIM_INPUTS_AT, _CLAIM_PAYABLE_AT = 7, 8


def expand_claim_rows(
    conn: Connection, claim_rows: Sequence[Sequence[Any]]
) -> list[tuple[Any, ...]]:
    """Replay's claim rows with referenced inputs expanded and the payable
    amount read from referenced results."""
    rows = [tuple(r) for r in claim_rows]
    no_amount = [r[0] for r in rows if r[_CLAIM_PAYABLE_AT] is None]
    results: dict[int, Any] = {}
    for start in range(0, len(no_amount), IN_CHUNK):
        chunk = no_amount[start : start + IN_CHUNK]
        results.update(
            (int(seq), result)
            for seq, result in conn.execute(
                f"SELECT seq, result FROM verdicts WHERE seq IN ({marks(len(chunk))}) "
                "AND substr(result, 1, 9) = ?",
                [*chunk, compact.REF_HEAD[:9].decode()],
            ).fetchall()
        )
    refs = {
        d
        for c in (*(r[_CLAIM_INPUTS_AT] for r in rows), *results.values())
        if (d := compact.reference_of(c)) is not None
    }
    if not refs:
        return rows
    contents, problems = decoded(conn, refs)
    if problems:
        raise compact.BlobError("; ".join(sorted(problems.values())))
    out = []
    for r in rows:
        inputs = r[_CLAIM_INPUTS_AT]
        if compact.reference_of(inputs) is not None:
            inputs = _same_type(inputs, compact.expand(inputs, contents))
        payable = r[_CLAIM_PAYABLE_AT]
        if int(r[0]) in results:
            amount = orjson.loads(compact.expand(results[int(r[0])], contents)).get("payableYen")
            payable = None if amount is None else str(amount)
        out.append((*r[:_CLAIM_INPUTS_AT], inputs, payable, *r[_CLAIM_PAYABLE_AT + 1 :]))
    return out
