"""A signed log stripped back to look like one from before the signed chain
(found by the outside attack on issue 17): someone with write access to the
database, not to the key, rewrites a REVIEW into a payout, drops the chain's
columns and tables and the schema versions that made them, and waits for the
operator's routine `anshin db migrate` to "upgrade" it. The migration must
not sign it with the operator's key: a log from before the chain never had
one. Only a key created for the adoption may sign such a log (the documented
limit: then only exported checkpoints, a witness or receipts catch it)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import orjson
import pytest

from server.store.chain import LogSigner
from server.store.errors import StateError
from server.store.url import migrate_url, open_store, sqlite_path
from tests.store.test_log_forgery import _record

_BEFORE_THE_CHAIN = {"verdicts", "events", "judgement_sets", "claims", "ledger"}


def _signed_log(db_url: str, key: Path) -> None:
    store = open_store(db_url, log_key_file=key)

    async def write() -> None:
        for i in range(1, 13):
            await store.append_verdict(_record(i))
        await store.close()

    asyncio.run(write())


def _strip_back_to_schema_3(path: Path, rewrite_seq: int) -> None:
    """What the attacker did, on SQLite: triggers off, a REVIEW made a payout,
    the chain's columns, tables and schema versions gone."""
    with contextlib.closing(sqlite3.connect(path)) as con, con:
        triggers = con.execute(
            "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'"
        ).fetchall()
        for name, _, _ in triggers:
            con.execute(f'DROP TRIGGER "{name}"')
        result = orjson.dumps({"outcome": "APPROVE", "payableYen": "9999999"}).decode()
        con.execute(
            "UPDATE verdicts SET outcome = 'APPROVE', result = ? WHERE seq = ?",
            (result, rewrite_seq),
        )
        for name, table in con.execute(
            "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        ).fetchall():
            if table in ("verdicts", "events"):
                con.execute(f'DROP INDEX "{name}"')
        columns = {r[1] for r in con.execute("PRAGMA table_info(verdicts)")}
        for column in ("policy_id", "refers_to", "prev_hash", "entry_hash", "entry_mac"):
            if column in columns:
                con.execute(f"ALTER TABLE verdicts DROP COLUMN {column}")
        if "log_seq" in {r[1] for r in con.execute("PRAGMA table_info(events)")}:
            con.execute("ALTER TABLE events DROP COLUMN log_seq")
        tables = [
            r[0]
            for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if r[0] not in _BEFORE_THE_CHAIN and r[0] != "schema_migrations"
        ]
        for table in tables:
            con.execute(f'DROP TABLE "{table}"')
        con.execute("DELETE FROM schema_migrations WHERE version >= 4")
        # The append-only triggers back on, as a schema-3 database has them.
        for _, table, sql in triggers:
            if table in _BEFORE_THE_CHAIN and "log_seq" not in sql:
                con.execute(sql)


def test_migrate_never_signs_a_log_stripped_back_with_the_key_it_had(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path}/anshin.db"
    key = tmp_path / "state" / "log-signing.key"
    _signed_log(db_url, key)
    _strip_back_to_schema_3(sqlite_path(db_url), rewrite_seq=10)
    with pytest.raises(StateError, match="already exists"):
        migrate_url(db_url, log_key_file=key)
    # Nothing was signed: a server on it still refuses to serve writes.
    store = open_store(db_url, log_key_file=key)
    try:
        assert store.log_problem() is not None
    finally:
        asyncio.run(store.close())


def test_a_genuine_pre_chain_log_is_adopted_only_with_a_key_created_for_it(
    tmp_path: Path,
) -> None:
    db_url = f"sqlite:///{tmp_path}/anshin.db"
    old_key = tmp_path / "old" / "log-signing.key"
    _signed_log(db_url, old_key)
    _strip_back_to_schema_3(sqlite_path(db_url), rewrite_seq=10)
    new_key = tmp_path / "new" / "log-signing.key"
    LogSigner.from_file(new_key)  # exists already: refused as well
    with pytest.raises(StateError, match="already exists"):
        migrate_url(db_url, log_key_file=new_key)
    created = tmp_path / "created" / "log-signing.key"
    summary = migrate_url(db_url, log_key_file=created)
    assert created.exists() and "log bound to the key" in summary


def test_verify_on_an_older_schema_says_to_migrate(tmp_path: Path) -> None:
    """`anshin log verify` on a schema-3 file said `internal error: no such
    table: log_head`; the reader now names the schema and what to run."""
    from server.store import open_log_reader

    db_url = f"sqlite:///{tmp_path}/anshin.db"
    _signed_log(db_url, tmp_path / "state" / "log-signing.key")
    _strip_back_to_schema_3(sqlite_path(db_url), rewrite_seq=10)
    with pytest.raises(StateError, match=r"schema 3.*anshin db migrate"):
        open_log_reader(db_url)
    # The other side: a database at the current schema opens.
    fresh = f"sqlite:///{tmp_path}/fresh.db"
    _signed_log(fresh, tmp_path / "fresh" / "log-signing.key")
    open_log_reader(fresh).close()


def test_a_table_stripped_of_its_binding_is_named_not_a_crash(tmp_path: Path) -> None:
    """Second outside attack: events.log_seq dropped (and its schema version
    deleted) to hide an edited event made `anshin log verify` crash with
    `no such column`; it is a change to the schema, and verify says so."""
    from server.store import open_log_reader
    from server.usecases import verify_log

    db_url = f"sqlite:///{tmp_path}/anshin.db"
    key = tmp_path / "state" / "log-signing.key"
    _signed_log(db_url, key)
    reader = open_log_reader(db_url)
    try:
        assert verify_log.verify(reader, LogSigner.from_file(key, create=False), workers=1).ok
    finally:
        reader.close()
    with contextlib.closing(sqlite3.connect(sqlite_path(db_url))) as con, con:
        for (name,) in con.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('trigger', 'index') "
            "AND tbl_name = 'events' AND sql IS NOT NULL"
        ).fetchall():
            kind = con.execute("SELECT type FROM sqlite_master WHERE name = ?", (name,)).fetchone()[
                0
            ]
            con.execute(f'DROP {kind.upper()} "{name}"')
        con.execute("ALTER TABLE events DROP COLUMN log_seq")
        con.execute("DELETE FROM schema_migrations WHERE version = 8")
    reader = open_log_reader(db_url)
    try:
        report = verify_log.verify(reader, LogSigner.from_file(key, create=False), workers=1)
    finally:
        reader.close()
    assert not report.ok and report.problem is not None
    assert "schema was altered" in report.problem.reason
