"""``anshin log prove | verify-receipt | consistency | verify-consistency |
witness`` and ``log verify --witness`` against a real store, on SQLite and
PostgreSQL, including an attacker with database access but no key."""

from __future__ import annotations

import asyncio
import base64
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
import uuid_utils

from server import cli
from server.store.chain import CHAIN_COLUMNS, GENESIS_HASH, entry_hash
from server.store.records import VerdictRecord
from server.store.sql.verdicts import VERDICT_COLUMNS
from tests.conftest import db_rows

N = 23
EVERY = 5


def _claim(i: int) -> VerdictRecord:
    outcome = "REVIEW" if i == 4 else "APPROVE"
    return VerdictRecord(
        id=str(uuid_utils.uuid7()),
        kind="claim",
        customer_id=f"C{i % 3}",
        device_id=None,
        policy_id="HNB",
        subject_us=1_744_250_000_000_000 + i * 1_000_000,
        recorded_us=1_744_254_000_000_000 + i * 1_000_000,
        rules_digest="abc",
        rules=b"{}",
        outcome=outcome,
        clause_ids=("HNB-R1",) if outcome == "REVIEW" else ("HNB-1",),
        inputs=b'{"lossYen":1500000,"note":"\xe3\x83\x86"}',
        result=b'{"payableYen":%d}' % (1_200_000 if outcome == "APPROVE" else 0),
        request_id=f"r{i}",
        caller="test",
    )


def _open(db_url: str, key: Path, **kw: Any) -> Any:
    if db_url.startswith("sqlite:"):
        from server.store.sqlite import SqliteStore
        from server.store.url import sqlite_path

        return SqliteStore(sqlite_path(db_url), log_key_file=key, **kw)
    from server.store.postgres import PostgresStore

    return PostgresStore(db_url, log_key_file=key, **kw)


async def _append(db_url: str, key: Path, records: list[VerdictRecord], **kw: Any) -> None:
    store = _open(db_url, key, checkpoint_every=EVERY, **kw)
    try:
        for r in records:
            await store.append_verdict(r)
    finally:
        await store.close()


@pytest.fixture
def logged(db_url: str, tmp_path: Path) -> tuple[str, Path, list[VerdictRecord], Path]:
    """N claim entries, signed checkpoints every EVERY; the public key exported."""
    key = tmp_path / "log-signing.key"
    records = [_claim(i) for i in range(1, N + 1)]
    # A checkpoint interval of an hour: only every EVERY entries (and the
    # log's first), so the entries after the last multiple stay pending.
    asyncio.run(_append(db_url, key, records, checkpoint_interval_us=3_600_000_000))
    pem = tmp_path / "log.pub"
    assert _cli(["log", "public-key", "--db", db_url, "--key", str(key)], out=pem) == 0
    return db_url, key, records, pem


def _cli(argv: list[str], out: Path | None = None) -> int:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = cli.main(argv)
    if out is not None:
        out.write_text(buf.getvalue())
    else:
        print(buf.getvalue(), end="")
    return code


def _db(db_url: str, key: Path) -> list[str]:
    return ["--db", db_url, "--key", str(key)]


# -- receipts -----------------------------------------------------------------------------


def test_a_receipt_verifies_offline_and_tampering_fails(
    logged: tuple[str, Path, list[VerdictRecord], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db_url, key, records, pem = logged
    receipt = tmp_path / "r.json"
    review = records[3]
    assert _cli(["log", "prove", review.id, "--out", str(receipt), *_db(db_url, key)]) == 0
    doc = orjson.loads(receipt.read_text())
    assert doc["entry"]["seq"] == 4 and doc["tree_size"] == 5 and doc["leaf_index"] == 3
    capsys.readouterr()
    # Offline: the receipt and the public key, nothing else.
    assert _cli(["log", "verify-receipt", str(receipt), "--public-key", str(pem)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK  entry 4 is in log ")
    assert "outcome   REVIEW" in out and "customer  C1" in out and "kind      claim" in out
    approve = tmp_path / "a.json"
    assert _cli(["log", "prove", records[9].id, "--out", str(approve), *_db(db_url, key)]) == 0
    capsys.readouterr()
    assert _cli(["log", "verify-receipt", str(approve), "--public-key", str(pem)]) == 0
    assert "amount    ¥1,200,000" in capsys.readouterr().out

    def tampered(change: Any) -> str:
        bad = orjson.loads(receipt.read_text())
        change(bad)
        path = tmp_path / "bad.json"
        path.write_bytes(orjson.dumps(bad))
        assert _cli(["log", "verify-receipt", str(path), "--public-key", str(pem)]) == 4
        return capsys.readouterr().out

    assert "altered" in tampered(lambda d: d["entry"]["columns"].update(outcome="APPROVE"))
    # A repeated key (outside attack): one parser reads the first value, another
    # the last; the receipt is refused rather than shown either way.
    text = receipt.read_text()
    twice = re.sub(r'"outcome":\s*"REVIEW"', '"outcome": "APPROVE", "outcome": "REVIEW"', text)
    assert twice != text
    dup = tmp_path / "dup.json"
    dup.write_text(twice)
    capsys.readouterr()
    code = _cli(["log", "verify-receipt", str(dup), "--public-key", str(pem)])
    captured = capsys.readouterr()
    assert code != 0 and "twice" in captured.out + captured.err
    assert "altered" in tampered(
        lambda d: d["entry"]["columns"].update(result='{"payableYen":9999999}')
    )
    assert "inclusion proof" in tampered(
        lambda d: d["inclusion_proof"].__setitem__(0, base64.b64encode(bytes(32)).decode())
    )
    assert "tree size" in tampered(lambda d: d.update(tree_size=6))
    assert "does not verify" in tampered(
        lambda d: d.update(checkpoint=d["checkpoint"].replace("\n5\n", "\n6\n", 1))
    )
    # Another key: the receipt proves nothing to someone holding this log's key.
    other = tmp_path / "other.key"
    from server.store.chain import LogSigner

    other_pem = tmp_path / "other.pub"
    other_pem.write_bytes(LogSigner.from_file(other).public_pem())
    assert _cli(["log", "verify-receipt", str(receipt), "--public-key", str(other_pem)]) == 4
    assert "not signed by key" in capsys.readouterr().out


def test_an_entry_newer_than_the_last_checkpoint_is_pending(
    logged: tuple[str, Path, list[VerdictRecord], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    db_url, key, records, _ = logged
    assert _cli(["log", "prove", records[-1].id, *_db(db_url, key)]) == 5
    err = capsys.readouterr().err
    assert "entry 23 is newer than the latest signed checkpoint (tree size 20)" in err
    assert "try again in a second" in err
    assert _cli(["log", "prove", "no-such-id", *_db(db_url, key)]) == 2
    assert "no log entry has id no-such-id" in capsys.readouterr().err


# -- consistency --------------------------------------------------------------------------


def test_consistency_between_checkpoints(
    logged: tuple[str, Path, list[VerdictRecord], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db_url, key, _, pem = logged
    proof = tmp_path / "c.json"
    assert _cli(["log", "consistency", "5", "15", "--out", str(proof), *_db(db_url, key)]) == 0
    doc = orjson.loads(proof.read_text())
    assert (doc["old_size"], doc["new_size"]) == (5, 15) and doc["proof"]
    assert _cli(["log", "verify-consistency", str(proof), "--public-key", str(pem)]) == 0
    assert "extends its signed tree of size 5" in capsys.readouterr().out
    # Latest by default; an older note held elsewhere as the start.
    old = tmp_path / "old.note"
    old.write_text(doc["old_checkpoint"])
    assert (
        _cli(["log", "consistency", "--old-note", str(old), "--out", str(proof), *_db(db_url, key)])
        == 0
    )
    assert orjson.loads(proof.read_text())["new_size"] == 20
    # Between two notes held elsewhere.
    new = tmp_path / "new.note"
    new.write_text(orjson.loads(proof.read_text())["new_checkpoint"])
    both = ["--old-note", str(old), "--new-note", str(new), "--out", str(proof)]
    assert _cli(["log", "consistency", *both, *_db(db_url, key)]) == 0
    assert (
        orjson.loads(proof.read_text())["old_size"],
        orjson.loads(proof.read_text())["new_size"],
    ) == (5, 20)
    assert _cli(["log", "verify-consistency", str(proof), "--public-key", str(pem)]) == 0
    bad = orjson.loads(proof.read_text())
    bad["proof"][0] = base64.b64encode(bytes(32)).decode()
    proof.write_bytes(orjson.dumps(bad))
    capsys.readouterr()
    assert _cli(["log", "verify-consistency", str(proof), "--public-key", str(pem)]) == 4
    assert capsys.readouterr().out.startswith("FAILED")
    assert _cli(["log", "consistency", "7", *_db(db_url, key)]) == 2
    assert "no signed checkpoint of tree size 7" in capsys.readouterr().err


# -- the witness, and an attacker with the database -------------------------------------


def _disable_guards(db_url: str) -> None:
    """What someone with database write access does first."""
    if db_url.startswith("sqlite:"):
        for (name,) in db_rows(db_url, "SELECT name FROM sqlite_master WHERE type = 'trigger'"):
            db_rows(db_url, f"DROP TRIGGER {name}")
    else:
        for table in ("verdicts", "log_head", "log_checkpoints"):
            db_rows(db_url, f"ALTER TABLE {table} DISABLE TRIGGER USER")


def _rewrite(db_url: str, seq: int, column: str, value: Any) -> None:
    """Change one column of entry ``seq`` and re-hash the chain from there to
    the head (the head moved along; its signature cannot be forged)."""
    _disable_guards(db_url)
    cols = VERDICT_COLUMNS.split(", ")
    rows = db_rows(
        db_url, f"SELECT {VERDICT_COLUMNS} FROM verdicts WHERE seq >= ? ORDER BY seq", (seq,)
    )
    prev = (
        GENESIS_HASH
        if seq == 1
        else db_rows(db_url, "SELECT entry_hash FROM verdicts WHERE seq = ?", (seq - 1,))[0][0]
    )
    for row in rows:
        values = list(row[1 : 1 + len(CHAIN_COLUMNS)])
        if row[0] == seq:
            values[cols.index(column) - 1] = value
        h = entry_hash(int(row[0]), values, prev)
        db_rows(
            db_url,
            f"UPDATE verdicts SET {column} = ?, prev_hash = ?, entry_hash = ? WHERE seq = ?"
            if row[0] == seq
            else "UPDATE verdicts SET prev_hash = ?, entry_hash = ? WHERE seq = ?",
            (value, prev, h, row[0]) if row[0] == seq else (prev, h, row[0]),
        )
        prev = h
    db_rows(db_url, "UPDATE log_head SET entry_hash = ? WHERE id = 1", (prev,))


def _truncate(db_url: str, size: int) -> None:
    _disable_guards(db_url)
    last = db_rows(db_url, "SELECT entry_hash FROM verdicts WHERE seq = ?", (size,))[0][0]
    db_rows(db_url, "DELETE FROM verdicts WHERE seq > ?", (size,))
    db_rows(db_url, "DELETE FROM log_checkpoints WHERE seq > ?", (size,))
    db_rows(db_url, "UPDATE log_head SET seq = ?, entry_hash = ? WHERE id = 1", (size, last))


def test_witness_then_an_early_rewrite_is_refused_and_named(
    logged: tuple[str, Path, list[VerdictRecord], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db_url, key, records, pem = logged
    w = tmp_path / "witness.jsonl"
    args = ["log", "witness", "--to", str(w), "--public-key", str(pem), *_db(db_url, key)]
    assert _cli(args) == 0
    # The first entry's checkpoint (none was older than the interval), then every EVERY.
    assert len(w.read_text().splitlines()) == 5  # sizes 1, 5, 10, 15, 20
    assert "holds tree size 20" in capsys.readouterr().err
    assert _cli(args) == 0  # nothing new, nothing appended
    assert len(w.read_text().splitlines()) == 5
    asyncio.run(_append(db_url, key, [_claim(i) for i in range(N + 1, N + 3)]))  # 25: a checkpoint
    assert _cli(args) == 0
    assert len(w.read_text().splitlines()) == 6
    capsys.readouterr()
    # The REVIEW at seq 4 becomes an APPROVE; the chain is re-hashed after it.
    _rewrite(db_url, 4, "outcome", "APPROVE")
    before = w.read_text()
    assert _cli(args) == 4
    err = capsys.readouterr().err
    assert err.startswith("REFUSED") and "rewritten" in err
    assert w.read_text() == before
    verify = ["log", "verify", "--witness", str(w), "--public-key", str(pem), "--workers", "1"]
    assert _cli([*verify, "--db", db_url]) == 4
    out = capsys.readouterr().out
    assert f"TAMPERED  against the witness: first changed entry: seq 4 (id {records[3].id})" in out
    # Nor can the rewritten log hand out a receipt for its forged APPROVE.
    prove = ["log", "prove", records[3].id, "--public-key", str(pem), *_db(db_url, key)]
    assert _cli(prove) == 4
    assert "TAMPERED  the log cannot prove entry 4: inclusion proof" in capsys.readouterr().err


def test_witness_catches_truncation(
    logged: tuple[str, Path, list[VerdictRecord], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db_url, key, _, pem = logged
    w = tmp_path / "witness.jsonl"
    args = ["log", "witness", "--to", str(w), "--public-key", str(pem), *_db(db_url, key)]
    assert _cli(args) == 0
    _truncate(db_url, 12)
    capsys.readouterr()
    assert _cli(args) == 4
    assert "truncated" in capsys.readouterr().err
    verify = ["log", "verify", "--witness", str(w), "--public-key", str(pem), "--workers", "1"]
    assert _cli([*verify, "--db", db_url]) == 4
    out = capsys.readouterr().out
    assert "first changed entry: seq 13" in out and "truncated" in out


def test_verify_with_an_intact_witness_is_ok(
    logged: tuple[str, Path, list[VerdictRecord], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db_url, key, _, pem = logged
    w = tmp_path / "witness.jsonl"
    assert (
        _cli(["log", "witness", "--to", str(w), "--public-key", str(pem), *_db(db_url, key)]) == 0
    )
    capsys.readouterr()
    verify = ["log", "verify", "--witness", str(w), "--public-key", str(pem), "--workers", "1"]
    assert _cli([*verify, "--db", db_url]) == 0
    assert "first 20 entries are as witnessed" in capsys.readouterr().out


def test_verify_witness_json_names_the_entry(
    logged: tuple[str, Path, list[VerdictRecord], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db_url, key, records, pem = logged
    w = tmp_path / "witness.jsonl"
    assert (
        _cli(["log", "witness", "--to", str(w), "--public-key", str(pem), *_db(db_url, key)]) == 0
    )
    _rewrite(db_url, 7, "customer_id", "C-someone-else")
    capsys.readouterr()
    verify = ["log", "verify", "--witness", str(w), "--public-key", str(pem), "--workers", "1"]
    assert _cli([*verify, "--json", "--db", db_url]) == 4
    last = orjson.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["ok"] is False and last["seq"] == 7 and last["id"] == records[6].id
    assert last["witnessed_entries"] == 20


def test_witness_follow_keeps_witnessing(
    logged: tuple[str, Path, list[VerdictRecord], Path], tmp_path: Path
) -> None:
    import subprocess
    import sys
    import time

    db_url, key, _, pem = logged
    w = tmp_path / "witness.jsonl"
    cmd = [sys.executable, "-m", "server.cli", "log", "witness", "--to", str(w),
           "--public-key", str(pem), "--follow", "0.2", *_db(db_url, key)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:

        def lines_within(n: int, seconds: float) -> bool:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                if w.exists() and len(w.read_text().splitlines()) >= n:
                    return True
                time.sleep(0.05)
            return False

        assert lines_within(5, 30)
        # The fixture's hour-long interval again: only the multiples of EVERY
        # are checkpointed, however slowly the machine appends.
        more = [_claim(i) for i in range(N + 1, N + 8)]  # to 30
        asyncio.run(_append(db_url, key, more, checkpoint_interval_us=3_600_000_000))
        assert lines_within(6, 30)
        assert proc.poll() is None  # still following
        assert orjson.loads(w.read_text().splitlines()[-1])["note"].split("\n")[1] in {"25", "30"}
    finally:
        proc.terminate()
        proc.wait(10)
