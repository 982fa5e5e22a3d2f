"""Compact entries (issue 17, item 5) on SQLite and on PostgreSQL: a claim
decision's ``inputs`` and ``result`` are stored as references to
content-addressed, compressed blobs (server/log/compact.py), and every read
path gives back the JSON the entry was written with — GetVerdict,
QueryVerdicts, ListReviews, the review resolution, a retried claim, replay
and receipts; old inline entries keep working beside them; a damaged or
deleted blob is named by `anshin log verify`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import shutil
import zlib
from pathlib import Path
from typing import Any

import grpc
import orjson
import pytest

from anshin.v1 import common_pb2, verdicts_pb2_grpc
from anshin.v1 import verdicts_pb2 as VK
from rules.load import load_rules
from server import cli
from server.log import compact, coverage
from server.store import open_log_reader
from server.store.chain import LogSigner, entry_hash
from server.store.sql import blobs
from server.store.url import sqlite_path
from server.usecases import verify_log
from server.usecases.replay import replay
from tests.conftest import RunningServer, db_rows, key_files
from tests.service.test_claims_service import hnb_claim, outcome, record_history, stub


def vstub(server: RunningServer) -> verdicts_pb2_grpc.VerdictLogServiceStub:
    return verdicts_pb2_grpc.VerdictLogServiceStub(server.channel)


def _stored(server: RunningServer, entry_id: str) -> tuple[str, str]:
    ((inputs, result),) = db_rows(
        server.db_url, "SELECT inputs, result FROM verdicts WHERE id = ?", (entry_id,)
    )
    return str(inputs), str(result)


def _key(server: RunningServer, tmp_path: Path) -> Path:
    url = server.db_url
    if url.startswith("sqlite:"):
        return sqlite_path(url).parent / "log-signing.key"
    return key_files(url, tmp_path)["log_key_file"]


def _verify(server: RunningServer, tmp_path: Path) -> verify_log.Report:
    reader = open_log_reader(server.db_url)
    try:
        signer = LogSigner.from_file(_key(server, tmp_path), create=False)
        return verify_log.verify(reader, signer, workers=1)
    finally:
        reader.close()


def _tamper(url: str, sql: str, params: tuple[Any, ...]) -> None:
    """Run ``sql`` on log_blobs with its append-only guards out of the way, as
    anyone who owns the tables can."""
    if url.startswith("sqlite:"):
        import sqlite3

        with contextlib.closing(sqlite3.connect(sqlite_path(url))) as conn:
            conn.execute("DROP TRIGGER log_blobs_no_update")
            conn.execute("DROP TRIGGER log_blobs_no_delete")
            conn.execute(sql, params)
            conn.commit()
        return
    db_rows(url, "ALTER TABLE log_blobs DISABLE TRIGGER USER")
    db_rows(url, sql, params)


async def _approved(server: RunningServer, **kw: Any) -> str:
    """An approved HNB claim (``kw``: hnb_claim's; one ``incident`` is paid once)."""
    resp = await stub(server).EvaluateClaim(hnb_claim(**kw))
    assert outcome(resp) == "APPROVE", resp.summary_ja
    return resp.decision_id


# --------------------------------------------------------------------------- read paths


async def test_a_decision_is_stored_by_reference_and_read_back_whole(
    server: RunningServer, tmp_path: Path
) -> None:
    await record_history(server)
    req = hnb_claim()
    resp = await stub(server).EvaluateClaim(req)
    inputs, result = _stored(server, resp.decision_id)
    # Stored: references, with bound inline (coverage reads it without a blob).
    assert compact.reference_of(inputs) and compact.reference_of(result)
    assert result.endswith('"}') and len(result) < 100
    bound = coverage.bound_of(inputs)
    assert bound is not None and bound.claim is not None and bound.claim.claim_id == req.claim_id
    # GetVerdict: the JSON as written, and the stored texts the hash covers.
    e = await vstub(server).GetVerdict(VK.GetVerdictRequest(id=resp.decision_id))
    got = orjson.loads(e.result_json)
    assert got["decisionId"] == resp.decision_id and int(got["payableYen"]) == 1_200_000
    assert e.payable_yen == 1_200_000
    assert orjson.loads(e.inputs_json)["request"]["claimId"] == req.claim_id
    assert orjson.loads(e.inputs_json)["bound"]["claim"]["id"] == req.claim_id
    assert (e.stored_inputs, e.stored_result) == (inputs, result)
    digest = hashlib.sha256(e.result_json.encode()).hexdigest()
    assert compact.reference_of(e.stored_result) == f"sha256:{digest}"
    values = (
        e.id, e.kind, e.customer_id, e.device_id or None, e.policy_id or None,
        e.subject_time.ToMicroseconds(), e.recorded_at.ToMicroseconds(), e.rules_digest,
        e.rules_json, e.outcome, orjson.dumps(list(e.clause_ids)).decode(),
        e.stored_inputs, e.stored_result, e.request_id, e.caller.identity, e.refers_to or None,
    )  # fmt: skip
    assert entry_hash(e.seq, values, e.prev_hash) == e.entry_hash
    # QueryVerdicts: the same entry.
    pages = [
        p
        async for p in vstub(server).QueryVerdicts(
            VK.QueryVerdictsRequest(kind=VK.VERDICT_KIND_CLAIM)
        )
    ]
    (listed,) = [x for p in pages for x in p.entries]
    assert (listed.inputs_json, listed.result_json) == (e.inputs_json, e.result_json)
    assert listed.stored_result == result
    # A retried claim is answered after checking the (expanded) entry's binding.
    again = await stub(server).EvaluateClaim(req)
    assert again.replayed and again.payable_yen == 1_200_000
    report = _verify(server, tmp_path)
    assert report.ok, report.problem


async def test_review_queue_and_resolution_read_compacted_entries(
    server: RunningServer, tmp_path: Path
) -> None:
    await record_history(server)
    # No posture on the fraud day's side: the HNB contract alone → REVIEW (HNB-R1).
    resp = await stub(server).EvaluateClaim(hnb_claim(customer_id="c-review"))
    assert outcome(resp) == "REVIEW"
    assert compact.reference_of(_stored(server, resp.decision_id)[1])
    (item,) = [i async for i in vstub(server).ListReviews(VK.ListReviewsRequest())]
    assert item.decision.id == resp.decision_id
    assert orjson.loads(item.decision.result_json)["decisionId"] == resp.decision_id
    assert item.claimed_yen == 1_500_000
    entry = await vstub(server).ResolveReview(
        VK.ResolveReviewRequest(
            verdict_id=resp.decision_id,
            outcome=common_pb2.OUTCOME_DENY,
            clause_ids=["HNB-X5"],
            note="本人確認できず",
            analyst="analyst-suzuki",
        )
    )
    assert entry.kind == "review_resolution" and entry.refers_to == resp.decision_id
    assert orjson.loads(entry.inputs_json)["request"]["note"] == "本人確認できず"
    # Compacted where it pays: a column of MIN_COMPACT_BYTES or more (this
    # resolution's small inputs stay inline), read back the same either way.
    for stored, text in zip(
        _stored(server, entry.id), (entry.inputs_json, entry.result_json), strict=True
    ):
        compacted = compact.reference_of(stored) is not None
        assert compacted == (len(text.encode()) >= blobs.MIN_COMPACT_BYTES)
        assert stored == text or compacted
    assert [i async for i in vstub(server).ListReviews(VK.ListReviewsRequest())] == []
    report = _verify(server, tmp_path)
    assert report.ok, report.problem


# --------------------------------------------------------------------------- dedup


async def test_decisions_share_one_stored_dictionary_and_identical_blobs_are_stored_once(
    server: RunningServer,
) -> None:
    await record_history(server, incidents=2)
    first = await _approved(server, loss=400_000, recovered=0)
    second = await _approved(server, loss=500_000, recovered=0, incident=1)
    rows = dict(db_rows(server.db_url, "SELECT digest, codec FROM log_blobs"))
    used = {
        rows[str(compact.reference_of(col))]
        for entry in (first, second)
        for col in _stored(server, entry)
    }
    (codec,) = used  # both decisions' blobs name one dictionary ...
    dictionary = compact.dictionary_of(codec)
    assert dictionary in rows and rows[dictionary] == "zlib"
    # ... stored once: 2 blobs a decision, plus that one dictionary.
    assert len(rows) == 2 * 2 + 1
    # The same content again is the same row (content address), not a second one.
    blob = compact.encode(b'{"same":"content"}', None)
    if server.db_url.startswith("sqlite:"):
        import sqlite3

        with contextlib.closing(sqlite3.connect(sqlite_path(server.db_url))) as conn:
            blobs.put_blobs(conn, [blob, blob])
            blobs.put_blobs(conn, [blob])
            conn.commit()
    else:
        for _ in range(2):
            db_rows(
                server.db_url,
                blobs.INSERT_BLOB,
                (blob.digest, blob.codec, blob.body),
            )
    assert db_rows(
        server.db_url, "SELECT COUNT(*) FROM log_blobs WHERE digest = ?", (blob.digest,)
    ) == [(1,)]


# --------------------------------------------------------------------------- verify


@pytest.mark.parametrize("how", ["edited", "deleted", "dictionary-deleted"])
async def test_a_damaged_or_missing_blob_is_named_by_verify(
    server: RunningServer, tmp_path: Path, how: str
) -> None:
    await record_history(server, incidents=2)
    first = await _approved(server, loss=400_000, recovered=0)
    second = await _approved(server, loss=500_000, recovered=0, incident=1)
    digest = str(compact.reference_of(_stored(server, second)[1]))
    if how == "edited":
        # The attacker's ¥9,999,999 result, compressed like the real one: the
        # reference (and so the chain) is untouched, the content is not its digest.
        e = await vstub(server).GetVerdict(VK.GetVerdictRequest(id=second))
        forged = e.result_json.replace('"payableYen":"500000"', '"payableYen":"9999999"')
        assert forged != e.result_json
        _tamper(
            server.db_url,
            "UPDATE log_blobs SET codec = 'zlib', body = ? WHERE digest = ?",
            (zlib.compress(forged.encode()), digest),
        )
        named, why = second, "hashes to"
    elif how == "deleted":
        _tamper(server.db_url, "DELETE FROM log_blobs WHERE digest = ?", (digest,))
        named, why = second, f"blob {digest} is missing"
    else:  # every decision's blobs decode with it: the first one is named
        ((codec,),) = db_rows(
            server.db_url, "SELECT codec FROM log_blobs WHERE digest = ?", (digest,)
        )
        dictionary = compact.dictionary_of(codec)
        _tamper(server.db_url, "DELETE FROM log_blobs WHERE digest = ?", (dictionary,))
        named, why = first, f"its dictionary {dictionary} is missing"
    report = _verify(server, tmp_path)
    assert report.problem is not None, "the damaged blob was not detected"
    assert report.problem.entry_id == named
    assert why in report.problem.reason, report.problem.reason
    if how == "dictionary-deleted":
        return  # this process still holds the dictionary (content-addressed): reads go on
    # The entry itself cannot be shown as written any more: refused, not guessed.
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await vstub(server).GetVerdict(VK.GetVerdictRequest(id=named))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "run `anshin log verify`" in str(info.value.details())


# --------------------------------------------------------------------------- mixed logs


async def test_old_inline_entries_replay_beside_compacted_ones(
    server: RunningServer, tmp_path: Path, rules_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await record_history(server, incidents=2)
    with monkeypatch.context() as m:
        m.setattr(blobs, "MIN_COMPACT_BYTES", 10**9)  # as written before compaction
        old = await _approved(server, loss=400_000, recovered=0)
    new = await _approved(server, loss=500_000, recovered=0, incident=1)
    assert compact.reference_of(_stored(server, old)[1]) is None
    assert orjson.loads(_stored(server, old)[1])["decisionId"] == old
    assert compact.reference_of(_stored(server, new)[1]) is not None
    for entry_id, payable in ((old, 400_000), (new, 500_000)):
        e = await vstub(server).GetVerdict(VK.GetVerdictRequest(id=entry_id))
        assert e.payable_yen == payable
        assert bool(e.stored_result) == (entry_id == new)  # set only when compacted
    same = tmp_path / "same"
    shutil.copytree(rules_dir, same)
    tally = replay(server.db_url, load_rules(same))
    assert tally.replayed == 2 and tally.unchanged == 2, tally.to_json()
    assert not tally.not_replayable
    assert _verify(server, tmp_path).ok


# --------------------------------------------------------------------------- receipts


def _cli(argv: list[str], out: Path | None = None) -> int:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = cli.main(argv)
    if out is not None:
        out.write_text(buf.getvalue())
    return code


async def test_a_receipt_of_a_compacted_decision_verifies_offline(
    server: RunningServer, tmp_path: Path
) -> None:
    await record_history(server, incidents=9)
    decision = await _approved(server)
    key = _key(server, tmp_path)
    pem = tmp_path / "log.pub"
    db = ["--db", server.db_url, "--key", str(key)]
    assert _cli(["log", "public-key", *db], out=pem) == 0
    receipt = tmp_path / "r.json"
    # Signed checkpoints come with writes a second apart (or when the log goes quiet).
    for k in range(1, 9):  # each its own incident (one incident's loss is paid once)
        await asyncio.sleep(0.6)
        await _approved(server, loss=100_000, recovered=0, incident=k)
        if _cli(["log", "prove", decision, "--out", str(receipt), *db]) == 0:
            break
    else:
        pytest.fail("no signed checkpoint came to cover the decision")
    doc = orjson.loads(receipt.read_text())
    stored = doc["entry"]["columns"]["result"]
    assert compact.reference_of(stored) in doc["blobs"]
    out = tmp_path / "v.json"
    args = ["log", "verify-receipt", str(receipt), "--public-key", str(pem), "--json"]
    assert _cli(args, out=out) == 0
    assert orjson.loads(out.read_text())["decision"]["payable_yen"] == 1_200_000
    # The carried result altered to pay more: refused offline.
    digest = str(compact.reference_of(stored))
    doc["blobs"][digest] = doc["blobs"][digest].replace("1200000", "9999999")
    receipt.write_text(orjson.dumps(doc).decode())
    assert _cli(args) != 0
