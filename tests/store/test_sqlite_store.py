"""The SQLite verdict log: append-only, migrated, durable under concurrency."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
import uuid_utils

from server.store.base import SchemaMismatch, VerdictRecord
from server.store.migrations import LATEST_VERSION
from server.store.sqlite import SqliteStore


def record(
    customer: str = "c", device: str = "d", subject_us: int = 1_700_000_000_000_000
) -> VerdictRecord:
    return VerdictRecord(
        id=str(uuid_utils.uuid7()),
        kind="login_posture",
        customer_id=customer,
        device_id=device,
        subject_us=subject_us,
        recorded_us=subject_us + 1,
        rules_digest="abc",
        rules=b"{}",
        outcome="COMPLIANT",
        clause_ids=("HNB-P1",),
        inputs=b'{"x":1}',
        result=b'{"verdict":1}',
        request_id="r",
        caller="test",
    )


async def test_concurrent_appends_are_all_committed_with_unique_sequence(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    records = [record(device=f"d{i}") for i in range(300)]
    seqs = await asyncio.gather(*(store.append_verdict(r) for r in records))
    assert len(set(seqs)) == 300
    await store.close()
    reopened = SqliteStore(tmp_path / "s.db")
    assert await reopened.count_verdicts() == 300
    got = await reopened.get_verdict(records[123].id)
    assert got is not None and got.inputs == b'{"x":1}' and got.clause_ids == ("HNB-P1",)
    await reopened.close()


async def test_a_failing_write_fails_alone(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    dup = record()
    await store.append_verdict(dup)
    results = await asyncio.gather(
        store.append_verdict(dup), store.append_verdict(record()), return_exceptions=True
    )
    assert isinstance(results[0], sqlite3.IntegrityError)
    assert isinstance(results[1], int)
    assert await store.count_verdicts() == 2
    await store.close()


@pytest.mark.parametrize("sql", ["UPDATE verdicts SET outcome = 'X'", "DELETE FROM verdicts"])
async def test_log_is_append_only(tmp_path: Path, sql: str) -> None:
    store = SqliteStore(tmp_path / "s.db")
    await store.append_verdict(record())
    await store.close()
    with (
        sqlite3.connect(tmp_path / "s.db") as conn,
        pytest.raises(sqlite3.IntegrityError, match="append-only"),
    ):
        conn.execute(sql)


def test_refuses_unmigrated_database_without_auto_migrate(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "empty.db").close()
    with pytest.raises(SchemaMismatch, match="anshin db migrate"):
        SqliteStore(tmp_path / "empty.db", auto_migrate=False)


def test_refuses_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    asyncio.run(SqliteStore(path).close())
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO schema_migrations VALUES (?, 'from the future', 0)", (LATEST_VERSION + 1,)
        )
    with pytest.raises(SchemaMismatch, match="newer"):
        SqliteStore(path)


async def test_latest_posture_per_device_uses_event_time(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    late_arrival = record(device="a", subject_us=100)
    newest = record(device="a", subject_us=300)
    await store.append_verdict(newest)
    await store.append_verdict(late_arrival)
    await store.append_verdict(record(device="b", subject_us=200))
    await store.append_verdict(record(customer="other", device="a", subject_us=400))
    got = await store.latest_posture_by_device("c", 0, 1000)
    assert [(r.device_id, r.subject_us) for r in got] == [("a", 300), ("b", 200)]
    assert [r.device_id for r in await store.latest_posture_by_device("c", 0, 250)] == ["a", "b"]
    assert (await store.latest_posture_by_device("c", 0, 250))[0].subject_us == 100
    await store.close()
