"""What only the PostgreSQL store has to prove: one schema for both backends,
correctness between stores (as between processes) on one database, retries,
concurrent migrations, and its URL handling.

The store behaviour both backends share is tested on both in
``test_sqlite_store.py`` (and by every service and end-to-end test).
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from server.store import open_log_reader
from server.store.chain import CHAIN_COLUMNS, GENESIS_HASH, LogChain, LogSigner, entry_hash
from server.store.errors import StoreError
from server.store.postgres import PgConn, PostgresStore, connect, migrate, split_url
from server.store.records import ClaimWrite, EventRow, LedgerEntry, Usage
from server.store.sql.migrations import LATEST_VERSION, MIGRATIONS
from server.store.sql.verdicts import append_verdict
from server.store.sqlite import SqliteStore
from tests.conftest import db_rows, pg_schema
from tests.e2e.conftest import ROOT
from tests.store.test_sqlite_store import record

CAP = 10_000_000


@pytest.fixture
def key(tmp_path: Path) -> Path:
    return tmp_path / "log-signing.key"


@pytest.fixture
def stores(pg_url: str, key: Path) -> Iterator[Callable[[], PostgresStore]]:
    """Opens stores on one schema (as separate processes would); closes them after."""
    opened: list[PostgresStore] = []

    def open_one() -> PostgresStore:
        store = PostgresStore(pg_url, log_key_file=key)
        opened.append(store)
        return store

    yield open_one
    for store in opened:  # those a failing test left open
        asyncio.run(store.close())


# -- one schema, two dialects -------------------------------------------------


def _pg_columns(url: str) -> dict[str, list[tuple[str, bool]]]:
    rows = db_rows(
        url,
        "SELECT table_name, column_name, is_nullable FROM information_schema.columns "
        "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
    )
    out: dict[str, list[tuple[str, bool]]] = {}
    for table, column, nullable in rows:
        out.setdefault(table, []).append((column, nullable == "YES"))
    return out


def _sqlite_columns(path: Path) -> dict[str, list[tuple[str, bool]]]:
    out: dict[str, list[tuple[str, bool]]] = {}
    with sqlite3.connect(path) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        for table in tables:
            # (cid, name, type, notnull, default, pk): an INTEGER PRIMARY KEY may be NULL
            # in SQLite's eyes (it is the rowid); PostgreSQL's primary keys are NOT NULL.
            out[table] = [
                (r[1], not r[3] and not r[5]) for r in conn.execute(f"PRAGMA table_info({table})")
            ]
    return out


async def test_both_backends_have_the_same_tables_and_columns(
    pg_url: str, key: Path, tmp_path: Path
) -> None:
    await PostgresStore(pg_url, log_key_file=key).close()
    await SqliteStore(tmp_path / "s.db").close()
    assert _pg_columns(pg_url) == _sqlite_columns(tmp_path / "s.db")


def test_every_migration_applies_on_postgresql_from_one_list(pg_url: str) -> None:
    conn = connect(pg_url)
    try:
        assert migrate(conn) == [m.version for m in MIGRATIONS]
        assert migrate(conn) == []
    finally:
        conn.raw.close()
    assert db_rows(pg_url, "SELECT MAX(version) FROM schema_migrations") == [(LATEST_VERSION,)]


@pytest.mark.parametrize(
    "table", ["verdicts", "events", "ledger", "log_checkpoints", "review_resolutions"]
)
async def test_append_only_tables_refuse_truncate(pg_url: str, key: Path, table: str) -> None:
    await PostgresStore(pg_url, log_key_file=key).close()
    with pytest.raises(psycopg.IntegrityError, match="append-only"):
        db_rows(pg_url, f"TRUNCATE {table}")


def test_concurrent_migrations_apply_each_once() -> None:
    with pg_schema() as url:
        results: list[list[int]] = []
        errors: list[BaseException] = []

        def run() -> None:
            conn = connect(url)
            try:
                results.append(migrate(conn))
            except BaseException as exc:
                errors.append(exc)
            finally:
                conn.raw.close()

        threads = [threading.Thread(target=run) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert sorted(v for applied in results for v in applied) == [m.version for m in MIGRATIONS]
        assert db_rows(url, "SELECT COUNT(*) FROM schema_migrations") == [(len(MIGRATIONS),)]


def test_db_migrate_cli_then_serving_without_auto_migrate(pg_url: str, key: Path) -> None:
    def migrate(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "server.cli", "db", "migrate", "--db", pg_url, *extra],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )

    refused = migrate()  # an empty schema is not a database: only --create makes one
    assert refused.returncode != 0 and "--create" in refused.stderr
    out = migrate("--create")
    assert out.returncode == 0, out.stderr
    assert f"schema 0 -> {LATEST_VERSION}" in out.stdout
    store = PostgresStore(pg_url, auto_migrate=False, log_key_file=key)
    assert store.schema_version() == LATEST_VERSION
    asyncio.run(store.close())


# -- between stores, as between processes --------------------------------------


def _claim(amount: int) -> Callable[[dict[str, Usage]], ClaimWrite]:
    """A pure decision: grant what is left of the cap in scope S, up to ``amount``."""

    def decide(usage: dict[str, Usage]) -> ClaimWrite:
        grant = max(0, min(amount, CAP - usage["S"].amount_yen))
        verdict = replace(record(), kind="claim", outcome="APPROVE" if grant else "DENY")
        entries = (LedgerEntry("S", grant, 1, "p"),) if grant else ()
        return ClaimWrite(verdict, str(grant).encode(), "fp", entries)

    return decide


async def test_claims_through_two_stores_never_exceed_the_cap(
    stores: Callable[[], PostgresStore], pg_url: str
) -> None:
    a, b = stores(), stores()
    results = await asyncio.gather(
        *(
            (a if i % 2 else b).decide_claim(f"claim-{i}", ["S"], _claim(3_000_000))
            for i in range(12)
        )
    )
    granted = sorted(int(stored.reply) for _, stored in results)
    assert sum(granted) == CAP
    assert granted[-4:] == [1_000_000, 3_000_000, 3_000_000, 3_000_000]
    assert db_rows(pg_url, "SELECT SUM(amount_yen) FROM ledger") == [(CAP,)]
    # A claim id decided once: the other store replays it, never re-decides.
    again = await b.decide_claim("claim-1", ["S"], _claim(3_000_000))
    assert again[0] is False and again[1] == results[1][1]
    await a.close()
    await b.close()


def _event(event_id: str, fingerprint: str) -> EventRow:
    return EventRow(
        event_id,
        "monitoring",
        "c",
        "card/tok",
        1,
        2,
        fingerprint,
        b"{}",
        b"head-" + fingerprint.encode(),
        b"judgements",
        "r",
        "t",
    )


async def test_events_through_two_stores_are_stored_once(
    stores: Callable[[], PostgresStore], pg_url: str
) -> None:
    a, b = stores(), stores()
    ids = [f"ev-{i}" for i in range(50)]
    calls = [
        store.record_events([_event(i, name) for i in ids[k::3]])
        for k in range(3)
        for store, name in ((a, "a"), (b, "b"))
    ]
    results = [row for chunk in await asyncio.gather(*calls) for row in chunk]
    firsts: dict[str, set[str]] = {}
    inserted: dict[str, int] = {}
    for ok, row in results:
        firsts.setdefault(row.client_event_id, set()).add(row.fingerprint)
        inserted[row.client_event_id] = inserted.get(row.client_event_id, 0) + ok
    # Every id was stored by exactly one store, and both callers got that row back.
    assert all(n == 1 for n in inserted.values()) and len(inserted) == 50
    assert all(len(f) == 1 for f in firsts.values())
    assert db_rows(pg_url, "SELECT COUNT(*), COUNT(DISTINCT client_event_id) FROM events") == [
        (50, 50)
    ]
    await a.close()
    await b.close()


async def test_chain_intact_after_concurrent_appends_through_three_stores(
    stores: Callable[[], PostgresStore], pg_url: str, key: Path
) -> None:
    from server.usecases.verify_log import verify

    many = [stores() for _ in range(3)]
    await asyncio.gather(
        *(many[i % 3].append_verdict(record(device=f"d{i}")) for i in range(300)),
        *(many[i % 3].decide_claim(f"claim-{i}", ["S"], _claim(1_000_000)) for i in range(12)),
    )
    cols = ", ".join(CHAIN_COLUMNS)
    rows = db_rows(pg_url, f"SELECT seq, {cols}, prev_hash, entry_hash FROM verdicts ORDER BY seq")
    prev = GENESIS_HASH
    for n, row in enumerate(rows, start=1):
        seq, values, prev_hash, h = row[0], row[1:-2], row[-2], row[-1]
        assert seq == n and prev_hash == prev and h == entry_hash(seq, values, prev)
        prev = h
    assert len(rows) == 312
    assert db_rows(pg_url, "SELECT seq, entry_hash FROM log_head") == [(312, prev)]
    reader = open_log_reader(pg_url)
    try:
        report = verify(reader, LogSigner.from_file(key, create=False))
    finally:
        reader.close()
    assert report.ok, report.problem
    for store in many:
        await store.close()


# -- retries --------------------------------------------------------------------


@pytest.mark.parametrize("sqlstate", ["40001", "40P01"])
async def test_serialization_failures_and_deadlocks_rerun_the_transaction(
    stores: Callable[[], PostgresStore], pg_url: str, sqlstate: str
) -> None:
    store = stores()
    calls = 0
    rec = record()

    def fn(conn: PgConn, chain: LogChain) -> int:
        nonlocal calls
        calls += 1
        seq = append_verdict(conn, chain, rec)  # undone by the failure
        if calls < 3:
            conn.execute(
                f"DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '{sqlstate}'; END $$"
            )
        return seq

    assert await store.write(fn) == 1
    assert calls == 3
    assert db_rows(pg_url, "SELECT COUNT(*) FROM verdicts") == [(1,)]
    await store.close()


async def test_other_errors_are_not_retried(stores: Callable[[], PostgresStore]) -> None:
    store = stores()
    calls = 0

    def fn(conn: PgConn, chain: LogChain) -> None:
        nonlocal calls
        calls += 1
        conn.execute("SELECT 1/0")

    with pytest.raises(psycopg.errors.DivisionByZero):
        await store.write(fn)
    assert calls == 1
    await store.close()


# -- connection settings ----------------------------------------------------------


def test_pool_settings_are_taken_out_of_the_url() -> None:
    url, pool = split_url(
        "postgres://u@h:5432/db?pool_max=4&options=-csearch_path%3Dx%20-cstatement_timeout%3D5s"
        "&pool_min=2"
    )
    assert pool == {"pool_max": 4, "pool_min": 2}
    assert url == "postgresql://u@h:5432/db?options=-csearch_path%3Dx%20-cstatement_timeout%3D5s"


def test_unreachable_database_is_a_store_error(key: Path) -> None:
    with pytest.raises(StoreError, match="cannot connect"):
        PostgresStore("postgresql://postgres@127.0.0.1:1/test?connect_timeout=2", log_key_file=key)
