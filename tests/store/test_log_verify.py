"""The verdict log is tamper-evident: every change behind the service's back
is caught by `anshin log verify`, which names the first bad entry."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from server.store.chain import LogSigner, LogVerifier, entry_hash
from server.store.errors import StateError
from server.store.records import VerdictRecord
from server.store.sql.verdicts import VERDICT_COLUMNS
from server.store.sqlite import SqliteLogReader, SqliteStore
from server.usecases import verify_log as logverify

N = 20
EVERY = 5  # a checkpoint every 5 entries: 4 of them for 20 entries


def _record(i: int) -> VerdictRecord:
    return VerdictRecord(
        id=f"00000000-0000-7000-8000-{i:012d}",
        kind="claim" if i % 3 == 0 else "login_posture",
        customer_id=f"c{i % 4}",
        device_id=None if i % 3 == 0 else f"d{i}",
        policy_id="HNB" if i % 3 == 0 else None,
        subject_us=1_700_000_000_000_000 + i,
        recorded_us=1_700_000_000_000_000 + i * 10,
        rules_digest="r" * 16,
        rules=b'{"digest":"rrrr"}',
        outcome="APPROVE" if i % 3 == 0 else "COMPLIANT",
        clause_ids=("HNB-X5",) if i % 3 == 0 else ("HNB-P1",),
        inputs=orjson.dumps({"n": i, "名前": "テスト"}),
        result=orjson.dumps({"payable_yen": i * 1000}),
        request_id=f"req-{i}",
        caller="test",
    )


@pytest.fixture
async def log_db(tmp_path: Path) -> Path:
    path = tmp_path / "anshin.db"
    store = SqliteStore(path, checkpoint_every=EVERY)
    for i in range(1, N + 1):
        await store.append_verdict(_record(i))
    await store.close()
    return path


def _verify(path: Path, **kw: object) -> logverify.Report:
    signer = LogSigner.from_file(path.parent / "log-signing.key", create=False)
    return logverify.verify(_reader(path), signer, **kw)  # type: ignore[arg-type]


def _verify_public(path: Path, **kw: object) -> logverify.Report:
    """As an auditor holding only the public key verifies."""
    signer = LogSigner.from_file(path.parent / "log-signing.key", create=False)
    public = LogVerifier.from_pem(signer.public_pem())
    return logverify.verify(_reader(path), public, **kw)  # type: ignore[arg-type]


def _reader(path: Path, *, hash_in_sql: bool = True) -> SqliteLogReader:
    return SqliteLogReader(f"sqlite:///{path}", path, hash_in_sql=hash_in_sql)


def _tamper(path: Path, *sql: tuple[str, tuple[object, ...]]) -> None:
    """Change the file behind the service's back (dropping the guard triggers first,
    as anyone with write access to the file can)."""
    conn = sqlite3.connect(path)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    for stmt, params in sql:
        conn.execute(stmt, params)
    conn.commit()
    conn.close()


def _row(path: Path, seq: int) -> tuple[object, ...]:
    conn = sqlite3.connect(path)
    row = conn.execute(f"SELECT {VERDICT_COLUMNS} FROM verdicts WHERE seq = ?", (seq,)).fetchone()
    conn.close()
    return tuple(row)


def _bad(report: logverify.Report) -> int:
    assert report.problem is not None, "tampering was not detected"
    return report.problem.seq


async def test_intact_log_verifies_with_checkpoints(log_db: Path) -> None:
    report = _verify(log_db)
    assert report.ok, report.problem
    assert report.entries == N
    assert report.head_seq == N
    # One when the log starts (none was older than the interval), then every EVERY.
    assert report.checkpoints == N // EVERY + 1


async def test_appends_after_reopen_continue_the_chain(log_db: Path) -> None:
    store = SqliteStore(log_db, checkpoint_every=EVERY)
    seq = await store.append_verdict(_record(N + 1))
    await store.close()
    assert seq == N + 1
    report = _verify(log_db)
    assert report.ok and report.entries == N + 1


async def test_flipped_byte_is_caught_at_that_entry(log_db: Path) -> None:
    _tamper(
        log_db,
        ("UPDATE verdicts SET result = replace(result, '7000', '7001') WHERE seq = 7", ()),
    )
    report = _verify(log_db)
    assert _bad(report) == 7
    assert report.problem is not None and "entry_hash" in report.problem.reason


async def test_changed_amount_in_inputs_unicode_is_caught(log_db: Path) -> None:
    _tamper(log_db, ("UPDATE verdicts SET inputs = replace(inputs, 'テ', 'デ') WHERE seq = 12", ()))
    assert _bad(_verify(log_db)) == 12


async def test_deleted_entry_is_caught(log_db: Path) -> None:
    _tamper(log_db, ("DELETE FROM verdicts WHERE seq = 9", ()))
    report = _verify(log_db)
    assert _bad(report) == 9
    assert report.problem is not None and "missing" in report.problem.reason


async def test_deleted_and_renumbered_entries_are_caught(log_db: Path) -> None:
    # Delete entry 9 and shift the later ones down to hide the gap.
    _tamper(
        log_db,
        ("DELETE FROM verdicts WHERE seq = 9", ()),
        ("UPDATE verdicts SET seq = seq - 1 WHERE seq > 9", ()),
    )
    assert _bad(_verify(log_db)) == 9


async def test_reordered_entries_are_caught(log_db: Path) -> None:
    # Swap the positions of entries 4 and 5.
    _tamper(
        log_db,
        ("UPDATE verdicts SET seq = -4 WHERE seq = 4", ()),
        ("UPDATE verdicts SET seq = 4 WHERE seq = 5", ()),
        ("UPDATE verdicts SET seq = 5 WHERE seq = -4", ()),
    )
    assert _bad(_verify(log_db)) == 4


async def test_truncated_end_is_caught(log_db: Path) -> None:
    _tamper(log_db, ("DELETE FROM verdicts WHERE seq > ?", (N - 3,)))
    report = _verify(log_db)
    assert _bad(report) == N - 2
    assert report.problem is not None and "removed from the end" in report.problem.reason


async def test_truncation_with_forged_head_is_caught(log_db: Path) -> None:
    # Cut the tail and move the head row to the new end: the old signature no
    # longer matches and the attacker has no key to make a new one.
    last = _row(log_db, N - 3)
    _tamper(
        log_db,
        ("DELETE FROM verdicts WHERE seq > ?", (N - 3,)),
        ("DELETE FROM log_checkpoints WHERE seq > ?", (N - 3,)),
        ("UPDATE log_head SET seq = ?, entry_hash = ?", (N - 3, last[-1])),
    )
    report = _verify(log_db)
    assert report.problem is not None
    assert "signature" in report.problem.reason


async def test_naive_append_is_caught(log_db: Path) -> None:
    row = list(_row(log_db, N))
    row[0], row[1] = N + 1, "forged"
    marks = ",".join("?" * len(row))
    _tamper(log_db, (f"INSERT INTO verdicts ({VERDICT_COLUMNS}) VALUES ({marks})", tuple(row)))
    assert _bad(_verify(log_db)) == N + 1


async def test_correctly_chained_append_is_caught_by_the_signed_head(log_db: Path) -> None:
    # The attacker computes a valid chain link: only the signed head gives it away.
    prev = _row(log_db, N)
    forged = list(prev)
    forged[0], forged[1] = N + 1, "forged-but-chained"
    forged[17] = prev[18]
    forged[18] = entry_hash(N + 1, forged[1:17], str(prev[18]))
    marks = ",".join("?" * len(forged))
    _tamper(log_db, (f"INSERT INTO verdicts ({VERDICT_COLUMNS}) VALUES ({marks})", tuple(forged)))
    report = _verify(log_db)
    assert _bad(report) == N + 1
    # With the private key: the forged entry carries no MAC of the log key.
    assert report.problem is not None and "entry_mac" in report.problem.reason
    report = _verify_public(log_db)
    assert _bad(report) == N + 1
    assert report.problem is not None and "beyond the signed head" in report.problem.reason


async def test_rewritten_history_with_recomputed_chain_is_caught_by_checkpoints(
    log_db: Path,
) -> None:
    # Rewrite entry 3 and re-chain everything after it: the chain is valid
    # again, but the signed checkpoints (and head) name the old hashes.
    conn = sqlite3.connect(log_db)
    rows = [tuple(r) for r in conn.execute(f"SELECT {VERDICT_COLUMNS} FROM verdicts ORDER BY seq")]
    conn.close()
    stmts: list[tuple[str, tuple[object, ...]]] = []
    prev = str(rows[1][18])
    for r in rows[2:]:
        values = list(r[1:17])
        if r[0] == 3:
            values[12] = values[12].replace("3000", "9000")  # type: ignore[union-attr]
        h = entry_hash(int(r[0]), values, prev)  # type: ignore[call-overload]
        stmts.append(
            (
                "UPDATE verdicts SET result = ?, prev_hash = ?, entry_hash = ? WHERE seq = ?",
                (values[12], prev, h, r[0]),
            )
        )
        prev = h
    _tamper(log_db, *stmts)
    # With the private key, the rewritten entry itself (its MAC is not one of
    # the key's); with the public key only, the first checkpoint after it.
    assert _bad(_verify(log_db)) == 3
    report = _verify_public(log_db)
    assert report.problem is not None
    assert report.problem.seq == EVERY
    assert not report.macs_checked and report.notes


async def test_database_swapped_for_older_copy_is_caught_by_exported_checkpoints(
    log_db: Path, tmp_path: Path
) -> None:
    old = tmp_path / "old"
    old.mkdir()
    shutil.copy(log_db, old / "anshin.db")
    store = SqliteStore(log_db, checkpoint_every=EVERY)
    for i in range(N + 1, N + 11):
        await store.append_verdict(_record(i))
    await store.close()
    exported = logverify.read_checkpoints(_reader(log_db))
    # The older copy is internally consistent…
    shutil.copy(log_db.parent / "log-signing.key", old / "log-signing.key")
    assert _verify(old / "anshin.db").ok
    # …but not with the checkpoints the operator exported and kept elsewhere.
    report = _verify(old / "anshin.db", external=exported)
    assert _bad(report) == N + 1


async def test_parallel_chunks_find_the_same_first_bad_entry(
    log_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logverify, "_PARALLEL_MIN_ENTRIES", 1)
    assert _verify(log_db, workers=2).ok
    _tamper(log_db, ("UPDATE verdicts SET caller = 'x' WHERE seq = 13", ()))
    assert _bad(_verify(log_db, workers=2)) == 13
    _tamper(log_db, ("DELETE FROM verdicts WHERE seq = 6", ()))
    assert _bad(_verify(log_db, workers=2)) == 6


async def test_wrong_key_is_refused(log_db: Path, tmp_path: Path) -> None:
    other = LogSigner.from_file(tmp_path / "other.key")
    report = logverify.verify(_reader(log_db), other)
    assert report.problem is not None and "signature" in report.problem.reason


async def test_cli_verify_names_first_bad_entry(log_db: Path) -> None:
    db = f"sqlite:///{log_db}"
    ok = subprocess.run(
        [sys.executable, "-m", "server.cli", "log", "verify", "--db", db],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert f"OK  {N} entries" in ok.stdout
    pub = subprocess.run(
        [sys.executable, "-m", "server.cli", "log", "public-key", "--db", db],
        capture_output=True,
        text=True,
        check=True,
    )
    (log_db.parent / "pub.pem").write_text(pub.stdout)
    exported = subprocess.run(
        [sys.executable, "-m", "server.cli", "log", "checkpoints", "--db", db],
        capture_output=True,
        text=True,
        check=True,
    )
    assert len(exported.stdout.splitlines()) == N // EVERY + 1
    (log_db.parent / "cps.jsonl").write_text(exported.stdout)
    _tamper(log_db, ("UPDATE verdicts SET outcome = 'DENY' WHERE seq = 11", ()))
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "server.cli",
            "log",
            "verify",
            "--db",
            db,
            "--json",
            "--public-key",
            str(log_db.parent / "pub.pem"),
            "--checkpoints",
            str(log_db.parent / "cps.jsonl"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 4  # Exit.INTEGRITY
    doc = orjson.loads(bad.stdout)
    assert doc["ok"] is False and doc["first_bad"]["seq"] == 11


async def test_log_written_before_the_chain_is_chained_by_the_migration(tmp_path: Path) -> None:
    from server.store.sql import migrations
    from server.store.sqlite import connect

    path = tmp_path / "old.db"
    conn = connect(path)
    conn.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "applied_us BIGINT NOT NULL)"
    )
    for m in migrations.MIGRATIONS[:3]:
        for stmt in (*m.sql, *m.sqlite_only):
            conn.execute(stmt)
        conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 0)", (m.version, m.name))
    for i in range(1, 4):
        r = _record(i)
        conn.execute(
            "INSERT INTO verdicts (id, kind, customer_id, device_id, subject_us, recorded_us, "
            "rules_digest, rules, outcome, clause_ids, inputs, result, request_id, caller) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                r.id,
                r.kind,
                r.customer_id,
                r.device_id,
                r.subject_us,
                r.recorded_us,
                r.rules_digest,
                r.rules.decode(),
                r.outcome,
                orjson.dumps(list(r.clause_ids)).decode(),
                r.inputs.decode(),
                r.result.decode(),
                r.request_id,
                r.caller,
            ),
        )
    conn.commit()
    conn.close()
    # A server alone never signs a head with entries and no signature (it could
    # be a blanked one hiding a rewrite): without a key it refuses to make one;
    # with the key it opens read-only. The operator's `db migrate` with the key
    # signs it (adopt_unsigned_head); the store then upgrades the log (MACs,
    # tree, a v2 head and checkpoint) and serves as usual.
    with pytest.raises(StateError, match="no key at"):
        SqliteStore(path)
    # Such a log never had a key: one that exists already (perhaps the key of
    # a signed log someone stripped back to look like this) never adopts it.
    other = tmp_path / "other" / "log-signing.key"
    LogSigner.from_file(other)
    store = SqliteStore(path, log_key_file=other)
    assert store.log_problem() is not None
    assert "no signature" in store.log_problem().reason  # type: ignore[union-attr]
    await store.close()
    with pytest.raises(StateError, match="already exists"):
        SqliteStore(path, log_key_file=other, adopt_unsigned_head=True)
    await SqliteStore(path, adopt_unsigned_head=True).close()  # creates log-signing.key
    assert (tmp_path / "log-signing.key").exists()
    store = SqliteStore(path)
    assert store.log_problem() is None
    await store.append_verdict(_record(4))
    await store.close()
    report = _verify(path)
    assert report.ok, report.problem
    assert report.entries == 4 and report.macs_checked


def test_canonical_form_is_pinned_and_unambiguous() -> None:
    import hashlib

    from server.store.chain import canonical

    values = ("id-1", "claim", None, 42, "名")
    form = canonical(7, values, "ab")
    # An auditor can re-implement this from the docstring: tag, then each field.
    assert form == b"anshin.verdict.v2\n#7;4:id-15:claim~#42;3:\xe5\x90\x8d2:ab"
    assert entry_hash(7, values, "ab") == hashlib.sha256(form).hexdigest()
    assert entry_hash(7, [v.encode() if isinstance(v, str) else v for v in values], b"ab") == (
        entry_hash(7, values, "ab")
    )
    # Moving bytes from one column to the next changes the hash.
    assert entry_hash(1, ("ab", "c"), "") != entry_hash(1, ("a", "bc"), "")
    assert entry_hash(1, (None,), "") != entry_hash(1, ("~",), "")


def _in_python(path: Path) -> SqliteLogReader:
    """As on PostgreSQL: the reader assembles the canonical form in Python
    instead of in SQL."""
    return _reader(path, hash_in_sql=False)


async def test_python_and_sql_canonical_forms_agree(log_db: Path) -> None:
    signer = LogSigner.from_file(log_db.parent / "log-signing.key", create=False)
    assert logverify.verify(_in_python(log_db), signer).ok
    _tamper(log_db, ("UPDATE verdicts SET subject_us = subject_us + 1 WHERE seq = 8", ()))
    assert _bad(logverify.verify(_in_python(log_db), signer)) == 8
    assert _bad(_verify(log_db)) == 8
    _tamper(log_db, ("UPDATE verdicts SET subject_us = 1.5, device_id = NULL WHERE seq = 3", ()))
    assert _bad(logverify.verify(_in_python(log_db), signer)) == 3
    assert _bad(_verify(log_db)) == 3
