"""The compact-entry codec (server/log/compact.py): a compacted column expands
to exactly the bytes it was, ``bound`` stays readable inline, and a blob that
is not its digest's content is refused."""

from __future__ import annotations

import zlib
from typing import Any

import orjson
import pytest

from server.log import compact, coverage

INPUTS = orjson.dumps(
    {
        "request": {"claimId": "c-1", "policyId": "HNB", "note": "不正利用" * 50},
        "facts": {"v": 1, "events": [["enrolment", {"policy_id": "HNB"}]] * 20},
        "bound": coverage.bound_json(
            [coverage.Reservation("HNB-L1/x/2025", 1000, 1, "")],
            coverage.ClaimBinding("c-1", "f" * 64, "a" * 64),
            {"HNB-L1/x/2025": (0, 0)},
        ),
    }
)
RESULT = orjson.dumps({"decisionId": "d-1", "payableYen": "1000", "clauses": ["説明"] * 200})


def _contents(*blobs: compact.Blob, preset: compact.Dictionary | None = None) -> dict[str, bytes]:
    dictionaries = {} if preset is None else {preset.digest: preset.content}
    return {b.digest: compact.decode(b, dictionaries) for b in blobs}


@pytest.mark.parametrize("with_dictionary", [True, False], ids=["zlib-dict", "zlib"])
def test_columns_expand_to_exactly_what_was_compacted(with_dictionary: bool) -> None:
    preset = compact.dictionary(INPUTS + RESULT) if with_dictionary else None
    stored_inputs, b1 = compact.compact(INPUTS, preset, keep_bound=True)
    stored_result, b2 = compact.compact(RESULT, preset, keep_bound=False)
    assert b2.codec == (f"zlib-dict:{preset.digest}" if preset else "zlib")
    contents = _contents(b1, b2, preset=preset)
    assert compact.expand(stored_inputs, contents) == INPUTS
    assert compact.expand(stored_result.decode(), contents) == RESULT
    assert stored_result == b'{"$blob":"' + compact.digest_of(RESULT).encode() + b'"}'
    # The reference names the content's digest: the chain hash covers the content.
    assert compact.reference_of(stored_result) == compact.digest_of(RESULT)
    assert len(stored_inputs) < len(INPUTS) and len(b1.body) < len(INPUTS) // 2


def test_bound_stays_inline_and_readable_without_the_blob() -> None:
    stored, blob = compact.compact(INPUTS, None, keep_bound=True)
    assert compact.reference_of(stored) == blob.digest
    assert coverage.bound_of(stored) == coverage.bound_of(INPUTS) is not None
    # The blob is the inputs without bound: bound is never stored twice.
    assert b'"bound"' not in compact.decode(blob, {})


def test_inputs_without_a_last_bound_member_are_compacted_whole() -> None:
    raw = orjson.dumps({"bound": {"ledger": []}, "request": {"claimId": "x" * 600}})
    stored, blob = compact.compact(raw, None, keep_bound=True)
    assert stored == b'{"$blob":"' + blob.digest.encode() + b'"}'
    assert compact.expand(stored, _contents(blob)) == raw
    only = orjson.dumps({"bound": {"ledger": []}})
    stored, blob = compact.compact(only, None, keep_bound=True)
    assert compact.decode(blob, {}) == only  # no member before it: stored whole
    assert compact.expand(stored, _contents(blob)) == only


def test_inline_json_is_no_reference() -> None:
    assert compact.reference_of(INPUTS) is None
    assert compact.expand(INPUTS, {}) == INPUTS
    assert compact.reference_of(b'{"$blob":"sha256:' + b"g" * 64 + b'"}') is None
    assert compact.reference_of(b'{"$blob":"sha256:' + b"a" * 63 + b'"}') is None


def test_a_missing_blob_or_dictionary_is_refused() -> None:
    preset = compact.dictionary(RESULT)
    stored, blob = compact.compact(RESULT, preset, keep_bound=False)
    with pytest.raises(compact.BlobError, match="is missing"):
        compact.expand(stored, {})
    with pytest.raises(compact.BlobError, match=f"dictionary {preset.digest} is missing"):
        compact.decode(blob, {})


def test_a_body_that_is_not_its_digest_is_refused() -> None:
    blob = compact.encode(RESULT, None)
    forged = compact.Blob(blob.digest, "zlib", zlib.compress(RESULT.replace(b"1000", b"9999")))
    with pytest.raises(compact.BlobError, match="hashes to"):
        compact.decode(forged, {})
    with pytest.raises(compact.BlobError, match="does not decompress"):
        compact.decode(compact.Blob(blob.digest, "zlib", b"not zlib"), {})
    with pytest.raises(compact.BlobError, match="unknown codec"):
        compact.decode(compact.Blob(blob.digest, "lz4", blob.body), {})


def test_decoding_with_another_dictionary_fails() -> None:
    preset = compact.dictionary(RESULT + INPUTS)
    blob = compact.encode(RESULT, preset)
    other = compact.dictionary(b"x" * 1000)
    with pytest.raises(compact.BlobError):
        compact.decode(blob, {preset.digest: other.content})
    assert compact.decode(blob, {preset.digest: preset.content}) == RESULT


# --------------------------------------------------------------------------- receipts


def _compacted_receipt() -> tuple[dict[str, Any], bytes]:
    from server.log.receipt import make_receipt
    from server.store.chain import CHAIN_COLUMNS
    from server.usecases.prove_entry import Pending, prove_sync
    from tests.log.fakelog import ORIGIN, FakeLog, claim_values

    log = FakeLog()
    values = list(claim_values(1))
    at_inputs, at_result = CHAIN_COLUMNS.index("inputs"), CHAIN_COLUMNS.index("result")
    values[at_inputs], b1 = compact.compact(INPUTS, None, keep_bound=True)
    values[at_result], b2 = compact.compact(RESULT, None, keep_bound=False)
    values[at_inputs], values[at_result] = values[at_inputs].decode(), values[at_result].decode()
    log.append(values)
    log.checkpoint()
    proof = prove_sync(log, 1)  # type: ignore[arg-type]
    assert not isinstance(proof, Pending)
    row = log.rows[0]
    doc = make_receipt(
        1,
        row[1 : 1 + len(CHAIN_COLUMNS)],
        row[-2],
        proof,
        origin=ORIGIN,
        key_name=ORIGIN,
        blobs=_contents(b1, b2),
    )
    return orjson.loads(orjson.dumps(doc)), log.public_raw


def test_a_receipt_carries_and_proves_the_compacted_columns() -> None:
    from server.log.receipt import verify_receipt

    doc, public = _compacted_receipt()
    assert set(doc["blobs"]) == {
        compact.digest_of(RESULT),
        compact.reference_of(doc["entry"]["columns"]["inputs"]),
    }
    proven = verify_receipt(doc, public)
    assert proven.columns["inputs"] == INPUTS.decode()
    assert proven.columns["result"] == RESULT.decode()
    assert compact.reference_of(proven.stored["result"]) == compact.digest_of(RESULT)


@pytest.mark.parametrize("how", ["edited", "dropped"])
def test_a_receipt_with_an_altered_or_missing_blob_fails(how: str) -> None:
    from server.log.receipt import ReceiptError, verify_receipt

    doc, public = _compacted_receipt()
    digest = compact.digest_of(RESULT)
    if how == "edited":
        doc["blobs"][digest] = doc["blobs"][digest].replace('"1000"', '"9999999"')
        match = "hashes to .* the blob was altered"
    else:
        del doc["blobs"][digest]
        match = f"refers to blob {digest}, which the receipt lacks"
    with pytest.raises(ReceiptError, match=match):
        verify_receipt(doc, public)
