"""Forgeries by someone with write access to the database but not the log key
(issue 17), on both backends: each is refused at start-up (the store opens
read-only) and `anshin log verify` names the first changed entry.

The attacker drops the append-only triggers first, as the owner of the file
or of the tables can, and knows everything the code does: how entries are
hashed, how the Merkle frontier and root are computed. What they do not
have is the key, so they cannot make entry MACs, head signatures or
checkpoint notes.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from server.errors import FailedPrecondition, lift
from server.log import merkle
from server.store import open_log_reader
from server.store.chain import CHAIN_COLUMNS, GENESIS_HASH, LogSigner, LogVerifier, entry_hash
from server.store.errors import LogIntegrityError
from server.store.ports import Store
from server.store.records import VerdictFilter, VerdictRecord
from server.store.url import sqlite_path
from server.usecases import verify_log as logverify

N = 200
EVERY = 10  # a checkpoint every 10 entries
REVIEWED = 50  # the REVIEW decision the attacker turns into a payout
_COLUMNS = ", ".join(("seq", *CHAIN_COLUMNS, "prev_hash", "entry_hash"))


def _record(i: int) -> VerdictRecord:
    claim = i % 5 == 0
    outcome = ("REVIEW" if i == REVIEWED else "APPROVE") if claim else "COMPLIANT"
    payable = 0 if outcome == "REVIEW" else 100_000
    return VerdictRecord(
        id=f"00000000-0000-7000-8000-{i:012d}",
        kind="claim" if claim else "login_posture",
        customer_id=f"c{i % 7}",
        device_id=None if claim else f"d{i}",
        policy_id="HNB" if claim else None,
        subject_us=1_700_000_000_000_000 + i,
        recorded_us=1_700_000_000_000_000 + i * 10,
        rules_digest="r" * 16,
        rules=b'{"digest":"rrrr"}',
        outcome=outcome,
        clause_ids=("HNB-X5",) if claim else ("HNB-P1",),
        inputs=orjson.dumps({"n": i}),
        result=orjson.dumps({"outcome": outcome, "payableYen": str(payable)}),
        request_id=f"req-{i}",
        caller="test",
    )


def _open(db_url: str, key: Path) -> Store:
    if db_url.startswith("sqlite:"):
        from server.store.sqlite import SqliteStore

        return SqliteStore(sqlite_path(db_url), log_key_file=key, checkpoint_every=EVERY)
    from server.store.postgres import PostgresStore

    return PostgresStore(db_url, log_key_file=key, checkpoint_every=EVERY)


@pytest.fixture
def key(tmp_path: Path) -> Path:
    return tmp_path / "log-signing.key"


@pytest.fixture
def log_url(db_url: str, key: Path) -> str:
    """A log of N entries written by the service, with a checkpoint every EVERY."""

    async def write() -> None:
        store = _open(db_url, key)
        for i in range(1, N + 1):
            await store.append_verdict(_record(i))
        await store.close()

    asyncio.run(write())
    return db_url


@contextlib.contextmanager
def _attacker(db_url: str) -> Iterator[Any]:
    """A qmark connection to the database with the append-only guards gone."""
    if db_url.startswith("sqlite:"):
        conn = sqlite3.connect(sqlite_path(db_url), isolation_level=None)
        try:
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'"):
                conn.execute(f"DROP TRIGGER {name}")
            yield conn
        finally:
            conn.close()
        return
    from server.store.postgres import connect

    pg = connect(db_url)
    try:
        for table in ("verdicts", "log_checkpoints", "log_tree_nodes"):
            pg.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        yield pg
    finally:
        pg.raw.close()


def _rows(conn: Any) -> list[list[Any]]:
    return [list(r) for r in conn.execute(f"SELECT {_COLUMNS} FROM verdicts ORDER BY seq")]


def _rehash_from(conn: Any, rows: list[list[Any]], first: int) -> None:
    """Re-chain every entry from ``first`` on, as the attacker can (no key needed)."""
    prev = GENESIS_HASH if first == 1 else str(rows[first - 2][-1])
    for row in rows[first - 1 :]:
        h = entry_hash(int(row[0]), row[1:-2], prev)
        row[-2], row[-1] = prev, h
        conn.execute(
            "UPDATE verdicts SET outcome = ?, result = ?, prev_hash = ?, entry_hash = ? "
            "WHERE seq = ?",
            (row[10], row[13], prev, h, row[0]),
        )
        prev = h


def _move_head(conn: Any, rows: list[list[Any]], *, blank: bool) -> None:
    """Point the head at the (re-hashed) last entry, with the matching frontier
    and root: all the attacker can compute. ``blank``: also blank its signature
    (the old one no longer matches anyway)."""
    frontier = merkle.Frontier()
    for row in rows:
        frontier.append(merkle.entry_leaf(str(row[-1])))
    conn.execute(
        "UPDATE log_head SET seq = ?, entry_hash = ?, frontier = ?, root_hash = ? WHERE id = 1",
        (len(rows), str(rows[-1][-1]), frontier.encode(), frontier.root().hex()),
    )
    if blank:
        conn.execute("UPDATE log_head SET key_id = '', signature = '' WHERE id = 1")


def _approve_review(rows: list[list[Any]]) -> None:
    row = rows[REVIEWED - 1]
    assert row[10] == "REVIEW"
    row[10] = "APPROVE"
    row[13] = orjson.dumps({"outcome": "APPROVE", "payableYen": "9999999"}).decode()


def _verify(db_url: str, key: Path, **kw: Any) -> logverify.Report:
    return logverify.verify(
        open_log_reader(db_url), LogSigner.from_file(key, create=False), workers=1, **kw
    )


def _verify_public(db_url: str, key: Path, **kw: Any) -> logverify.Report:
    public = LogVerifier.from_pem(LogSigner.from_file(key, create=False).public_pem())
    return logverify.verify(open_log_reader(db_url), public, workers=1, **kw)


async def _assert_read_only(db_url: str, key: Path, reason: str) -> None:
    """The restarted store: it opens, says why, refuses writes, serves reads.

    (The start-up check reads at most one checkpoint interval of the log: it
    names where it noticed; `log verify` names the first changed entry.)"""
    store = _open(db_url, key)
    try:
        problem = store.log_problem()
        assert problem is not None, "the forgery was not noticed at start-up"
        assert reason in problem.reason
        with pytest.raises(LogIntegrityError) as refused:
            await store.append_verdict(_record(N + 1))
        lifted = lift(refused.value)
        assert isinstance(lifted, FailedPrecondition) and "read-only" in str(lifted)
        # Reads keep working for the auditor; an analyst's read is not appended.
        assert (await store.get_verdict(_record(1).id)) is not None
        rows = await store.query_verdicts(VerdictFilter(oldest_first=True), None, 5)
        assert len(rows) == 5
        access = VerdictRecord(**{**_fields(_record(N + 2)), "kind": "analyst_access"})
        assert await store.append_verdict(access) == 0
        assert await store.verdict_row(access.id) is None
    finally:
        await store.close()


def _fields(r: VerdictRecord) -> dict[str, Any]:
    return {name: getattr(r, name) for name in r.__slots__}  # type: ignore[attr-defined]


# -- the forgeries -------------------------------------------------------------


async def test_review_turned_into_payout_rehashed_and_head_blanked(log_url: str, key: Path) -> None:
    with _attacker(log_url) as conn:
        rows = _rows(conn)
        _approve_review(rows)
        _rehash_from(conn, rows, REVIEWED)
        _move_head(conn, rows, blank=True)
    await _assert_read_only(log_url, key, "carries no signature")
    report = _verify(log_url, key)
    assert report.problem is not None
    assert report.problem.seq == REVIEWED and report.problem.entry_id == _record(REVIEWED).id
    assert "entry_mac" in report.problem.reason


async def test_review_turned_into_payout_keeping_the_old_head_signature(
    log_url: str, key: Path
) -> None:
    with _attacker(log_url) as conn:
        rows = _rows(conn)
        _approve_review(rows)
        _rehash_from(conn, rows, REVIEWED)
        _move_head(conn, rows, blank=False)
    await _assert_read_only(log_url, key, "no valid signature")
    report = _verify(log_url, key)
    assert report.problem is not None and report.problem.seq == REVIEWED
    # Only the public key: blamed on the first signed checkpoint after it.
    public = _verify_public(log_url, key)
    assert public.problem is not None
    assert public.problem.seq == (REVIEWED // EVERY) * EVERY
    assert not public.macs_checked


async def test_last_entries_cut_off_and_head_moved_back(log_url: str, key: Path) -> None:
    exported = logverify.read_checkpoints(open_log_reader(log_url))
    keep = N - 99
    with _attacker(log_url) as conn:
        conn.execute("DELETE FROM verdicts WHERE seq > ?", (keep,))
        _move_head(conn, _rows(conn), blank=True)
    await _assert_read_only(log_url, key, "carries no signature")
    report = _verify(log_url, key)
    assert report.problem is not None and report.problem.seq == keep + 1
    assert "removed from the end" in report.problem.reason
    # Deleting the later checkpoints too leaves the exported ones to catch it.
    with _attacker(log_url) as conn:
        conn.execute("DELETE FROM log_checkpoints WHERE seq > ?", (keep,))
    report = _verify(log_url, key)
    assert report.problem is not None and "not signed" in report.problem.reason
    report = _verify(log_url, key, external=exported)
    assert report.problem is not None and report.problem.seq == keep + 1
    assert "removed from the end" in report.problem.reason


async def test_early_entry_rewritten_and_stored_checkpoints_deleted(
    log_url: str, key: Path
) -> None:
    early = 5
    with _attacker(log_url) as conn:
        rows = _rows(conn)
        rows[early - 1][10] = "DENY"
        _rehash_from(conn, rows, early)
        conn.execute("DELETE FROM log_checkpoints")
        _move_head(conn, rows, blank=False)
    await _assert_read_only(log_url, key, "no valid signature")
    report = _verify(log_url, key)
    assert report.problem is not None
    assert report.problem.seq == early, report.problem  # the entry, not a checkpoint
    assert report.problem.entry_id == _record(early).id


async def test_untouched_log_with_many_checkpoints_serves_and_verifies(
    log_url: str, key: Path
) -> None:
    store = _open(log_url, key)
    try:
        assert store.log_problem() is None
        assert await store.append_verdict(_record(N + 1)) == N + 1
        latest = await store.latest_checkpoint()
        assert latest is not None and latest.seq >= N
        covering = await store.checkpoint_covering(REVIEWED + 1)
        assert covering is not None and covering.seq == (REVIEWED // EVERY + 1) * EVERY
        # The store's subtree hashes are the RFC 9162 hashes of those leaves.
        leaves = [merkle.entry_leaf(str(r[-1])) for r in _rows_of(log_url)]
        got = await store.subtree_hashes([(0, 128), (128, 192), (0, 1), (192, 200)])
        assert got == [
            merkle.root_of(leaves[0:128]),
            merkle.root_of(leaves[128:192]),
            leaves[0],
            merkle.root_of(leaves[192:200]),
        ]
        assert covering.root_hash == merkle.root_of(leaves[: covering.seq])
    finally:
        await store.close()
    report = _verify(log_url, key)
    assert report.ok, report.problem
    assert report.checkpoints >= N // EVERY and report.macs_checked
    assert _verify_public(log_url, key).ok


def _rows_of(db_url: str) -> list[list[Any]]:
    with _attacker_free(db_url) as conn:
        return _rows(conn)


@contextlib.contextmanager
def _attacker_free(db_url: str) -> Iterator[Any]:
    """A plain connection (reading only)."""
    reader = open_log_reader(db_url)
    try:
        yield reader.conn  # type: ignore[attr-defined]
    finally:
        reader.close()


async def test_entry_appended_behind_the_services_back_is_refused_at_start(
    log_url: str, key: Path
) -> None:
    # Correctly chained after the last entry: only its missing MAC and the
    # signed head (which ends before it) give it away.
    with _attacker(log_url) as conn:
        rows = _rows(conn)
        forged = list(rows[-1])
        forged[0], forged[1] = N + 1, "forged-but-chained"
        forged[-2] = rows[-1][-1]
        forged[-1] = entry_hash(N + 1, forged[1:-2], str(forged[-2]))
        marks = ",".join("?" * len(forged))
        conn.execute(f"INSERT INTO verdicts ({_COLUMNS}) VALUES ({marks})", forged)
    await _assert_read_only(log_url, key, "beyond the signed head")
    report = _verify(log_url, key)
    assert report.problem is not None and report.problem.seq == N + 1


async def test_deleting_the_checkpoint_the_head_names_is_refused_at_start(
    log_url: str, key: Path
) -> None:
    with _attacker(log_url) as conn:
        (cp_seq,) = conn.execute("SELECT checkpoint_seq FROM log_head").fetchone()
        conn.execute("DELETE FROM log_checkpoints WHERE seq = ?", (cp_seq,))
    await _assert_read_only(log_url, key, f"checkpoint at seq {cp_seq}")
    report = _verify(log_url, key)
    assert report.problem is not None and "was deleted" in report.problem.reason


async def test_a_quiet_log_gets_its_last_entries_checkpointed(db_url: str, key: Path) -> None:
    if db_url.startswith("sqlite:"):
        from server.store.sqlite import SqliteStore

        store: Store = SqliteStore(
            sqlite_path(db_url), log_key_file=key, checkpoint_interval_us=100_000
        )
    else:
        from server.store.postgres import PostgresStore

        store = PostgresStore(db_url, log_key_file=key, checkpoint_interval_us=100_000)
    try:
        await store.append_verdict(_record(1))  # the first is checkpointed at once
        await store.append_verdict(_record(2))  # within the interval: not yet
        first = await store.latest_checkpoint()
        assert first is not None and first.seq == 1
        for _ in range(50):  # no write comes: the store checkpoints by itself
            await asyncio.sleep(0.05)
            latest = await store.latest_checkpoint()
            if latest is not None and latest.seq == 2:
                break
        else:
            pytest.fail("entry 2 was never checkpointed")
        assert (await store.checkpoint_covering(2)) == latest
    finally:
        await store.close()
    assert _verify(db_url, key).ok


def _to_old_format(conn: Any, signer: LogSigner, *, macs: bool) -> int:
    """What a schema-6 log looked like: a v1 head signature, v1 checkpoints, no
    tree, no MACs (``macs``: leave the MACs, as a rollback of the head would)."""
    from server.store.chain import checkpoint_message, head_message

    seq, head = conn.execute("SELECT seq, entry_hash FROM log_head").fetchone()
    cps = conn.execute("SELECT seq, entry_hash, created_us FROM log_checkpoints").fetchall()
    conn.execute("DELETE FROM log_checkpoints")
    for cp_seq, cp_hash, at in cps[:3]:
        signature = signer.sign(checkpoint_message(int(cp_seq), str(cp_hash), int(at)))
        conn.execute(
            "INSERT INTO log_checkpoints (seq, entry_hash, created_us, key_id, signature) "
            "VALUES (?,?,?,?,?)",
            (cp_seq, cp_hash, at, signer.key_id, signature),
        )
    conn.execute("DELETE FROM log_tree_nodes")
    if not macs:
        conn.execute("UPDATE verdicts SET entry_mac = ''")
    conn.execute(
        "UPDATE log_head SET frontier = '', root_hash = '', checkpoint_seq = ?, "
        "signed_us = 7, signature = ? WHERE id = 1",
        (cps[2][0], signer.sign(head_message(int(seq), str(head), 7))),
    )
    return int(seq)


async def test_a_log_from_before_schema_7_is_upgraded_with_the_key(log_url: str, key: Path) -> None:
    signer = LogSigner.from_file(key, create=False)
    with _attacker(log_url) as conn:
        _to_old_format(conn, signer, macs=False)
        leaves = [merkle.entry_leaf(str(r[-1])) for r in _rows(conn)]
    # Exported before the upgrade, as JSON lines in the old format.
    old_lines = [
        orjson.dumps(cp.to_json()).decode()
        for cp in logverify.read_checkpoints(open_log_reader(log_url))
    ]
    assert old_lines and all('"note"' not in line for line in old_lines)
    # Before any store opened it, verify checks it by the old rule (no MACs yet).
    before = _verify(log_url, key)
    assert before.ok, before.problem
    assert not before.macs_checked and "before schema 7" in before.notes[0]
    store = _open(log_url, key)  # the store holding the key upgrades it
    try:
        assert store.log_problem() is None
        assert await store.subtree_hashes([(0, 128)]) == [merkle.root_of(leaves[:128])]
        latest = await store.latest_checkpoint()
        assert latest is not None and latest.seq == N and latest.root_hash == merkle.root_of(leaves)
        await store.append_verdict(_record(N + 1))
    finally:
        await store.close()
    report = _verify(log_url, key, external=logverify.load_external(old_lines))
    assert report.ok, report.problem
    assert report.macs_checked and report.checkpoints >= 3  # old and new formats
    assert report.external_checkpoints == len(old_lines)
    # Every entry now carries its MAC: rewriting one is named again.
    with _attacker(log_url) as conn:
        rows = _rows(conn)
        _approve_review(rows)
        _rehash_from(conn, rows, REVIEWED)
    report = _verify(log_url, key)
    assert report.problem is not None and report.problem.seq == REVIEWED


async def test_an_old_format_head_put_back_on_a_new_log_is_refused(log_url: str, key: Path) -> None:
    signer = LogSigner.from_file(key, create=False)
    with _attacker(log_url) as conn:
        _to_old_format(conn, signer, macs=True)
    await _assert_read_only(log_url, key, "rollback")


async def test_parallel_chunks_join_the_merkle_roots_of_every_checkpoint(
    log_url: str, key: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Chunks of 16 entries over 2 worker processes: each checkpoint's root is
    # the joined roots of the complete chunks before it and its own chunk's
    # frontier; one wrong join and the signed roots would not match.
    monkeypatch.setattr(logverify, "_PARALLEL_MIN_ENTRIES", 1)
    monkeypatch.setattr(logverify, "_MIN_CHUNK", 16)
    reader, signer = open_log_reader(log_url), LogSigner.from_file(key, create=False)
    report = logverify.verify(reader, signer, workers=2)
    assert report.ok, report.problem
    assert report.checkpoints >= N // EVERY
    with _attacker(log_url) as conn:
        rows = _rows(conn)
        _approve_review(rows)
        _rehash_from(conn, rows, REVIEWED)
    report = logverify.verify(reader, signer, workers=2)
    assert report.problem is not None and report.problem.seq == REVIEWED
    public = LogVerifier.from_pem(signer.public_pem())
    report = logverify.verify(reader, public, workers=2)
    assert report.problem is not None and report.problem.seq == (REVIEWED // EVERY) * EVERY


async def test_altered_tree_nodes_are_named_by_verify(
    log_url: str, key: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The nodes are not signed: a wrong one only makes proofs fail. verify
    # recomputes them (also across parallel chunks) and names the entries.
    monkeypatch.setattr(logverify, "_PARALLEL_MIN_ENTRIES", 1)
    monkeypatch.setattr(logverify, "_MIN_CHUNK", 16)
    with _attacker(log_url) as conn:
        assert conn.execute("SELECT COUNT(*) FROM log_tree_nodes").fetchone()[0] == N // 256
    # N = 200 < 256 leaves: no kept node yet; add entries to get one.
    store = _open(log_url, key)
    for i in range(N + 1, 600):
        await store.append_verdict(_record(i))
    await store.close()
    reader, signer = open_log_reader(log_url), LogSigner.from_file(key, create=False)
    assert logverify.verify(reader, signer, workers=2).ok
    with _attacker(log_url) as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM log_tree_nodes").fetchone()
        assert count == 599 // 256
        conn.execute("DELETE FROM log_tree_nodes WHERE idx = 1")
    report = logverify.verify(reader, signer, workers=2)
    assert report.problem is not None and report.problem.seq == 257
    assert "is missing" in report.problem.reason
    with _attacker(log_url) as conn:
        conn.execute(
            "INSERT INTO log_tree_nodes (level, idx, hash) VALUES (8, 1, ?)", (b"\x00" * 32,)
        )
    report = logverify.verify(reader, signer, workers=1)
    assert report.problem is not None and report.problem.seq == 257
    assert "not the hash" in report.problem.reason


async def test_several_stores_on_one_database_each_check_and_agree(log_url: str, key: Path) -> None:
    # As `serve --workers N` or several hosts on one PostgreSQL: each process
    # checks the log when it opens, under the lock appends take, while the
    # others keep appending; each refuses writes once it was changed.
    first = _open(log_url, key)
    second = _open(log_url, key)
    try:
        assert first.log_problem() is None and second.log_problem() is None
        seqs = await asyncio.gather(
            *(
                s.append_verdict(_record(i))
                for i, s in zip(range(N + 1, N + 41), [first, second] * 20, strict=True)
            )
        )
        assert sorted(seqs) == list(range(N + 1, N + 41))
        third = _open(log_url, key)  # opens while the others hold the log open
        assert third.log_problem() is None
        await third.close()
    finally:
        await first.close()
        await second.close()
    assert _verify(log_url, key).ok
    with _attacker(log_url) as conn:
        rows = _rows(conn)
        _approve_review(rows)
        _rehash_from(conn, rows, REVIEWED)
        _move_head(conn, rows, blank=False)
    stores = [_open(log_url, key), _open(log_url, key)]
    try:
        for store in stores:
            assert store.log_problem() is not None
            with pytest.raises(LogIntegrityError):
                await store.append_verdict(_record(N + 100))
    finally:
        for store in stores:
            await store.close()


async def test_a_damaged_head_frontier_is_rebuilt_not_trusted(log_url: str, key: Path) -> None:
    """The head's stored frontier is derived data (the root it hashes to is
    signed). One copied from another log made the server read-only while
    `log verify` said OK (outside attack); now the store rebuilds it from the
    last signed checkpoint and the entries since, which give the signed root,
    and keeps serving — and appends after it still give verifiable roots."""
    other = merkle.Frontier()
    for i in range(N):
        other.append(merkle.leaf_hash(b"another log %d" % i))
    with _attacker(log_url) as conn:
        conn.execute("UPDATE log_head SET frontier = ? WHERE id = 1", (other.encode(),))
    store = _open(log_url, key)
    try:
        assert store.log_problem() is None
        assert await store.append_verdict(_record(N + 1)) == N + 1
    finally:
        await store.close()
    report = _verify(log_url, key)
    assert report.ok, report.problem
    assert _verify_public(log_url, key).ok


async def test_a_frontier_with_a_rewritten_entry_behind_it_is_still_refused(
    log_url: str, key: Path
) -> None:
    """The other side: the rebuild trusts only entries that give the signed
    root, so a rewritten last entry with a frontier to match is refused."""
    with _attacker(log_url) as conn:
        rows = _rows(conn)
        rows[N - 1][10] = "APPROVE"
        rows[N - 1][13] = orjson.dumps({"outcome": "APPROVE", "payableYen": "9999999"}).decode()
        _rehash_from(conn, rows, N)
        frontier = merkle.Frontier()
        for row in rows:
            frontier.append(merkle.entry_leaf(str(row[-1])))
        conn.execute(
            "UPDATE log_head SET entry_hash = ?, frontier = ? WHERE id = 1",
            (str(rows[-1][-1]), frontier.encode()),
        )
    store = _open(log_url, key)
    try:
        problem = store.log_problem()
        assert problem is not None
    finally:
        await store.close()
    assert not _verify(log_url, key).ok


async def test_a_deleted_checkpoint_that_was_exported_is_named(log_url: str, key: Path) -> None:
    """Outside attack: deleting a middle stored checkpoint was reported
    nowhere, even against an exported file that lists it."""
    reader = open_log_reader(log_url)
    try:
        exported = reader.checkpoints()
    finally:
        reader.close()
    assert any(cp.seq == REVIEWED for cp in exported)
    assert _verify(log_url, key, external=exported).ok  # the other side: all there
    with _attacker(log_url) as conn:
        conn.execute("DELETE FROM log_checkpoints WHERE seq = ?", (REVIEWED,))
    for report in (
        _verify(log_url, key, external=exported),
        _verify_public(log_url, key, external=exported),
    ):
        assert not report.ok and report.problem is not None
        assert report.problem.seq == REVIEWED and "deleted" in report.problem.reason
