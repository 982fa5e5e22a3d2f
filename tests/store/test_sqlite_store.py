"""The verdict log on each backend: append-only, migrated, durable under concurrency."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
import uuid_utils

from server.store.errors import SchemaMismatch
from server.store.ports import Store
from server.store.records import VerdictRecord
from server.store.sql.migrations import LATEST_VERSION
from server.store.url import open_store
from tests.conftest import db_rows, key_files


@pytest.fixture
def make_store(db_url: str, tmp_path: Path) -> Callable[..., Store]:
    """Opens (and reopens) the test's database on its backend."""
    key = key_files(db_url, tmp_path).get("log_key_file")
    return lambda **kw: open_store(db_url, log_key_file=key, **kw)


def integrity_error(db_url: str) -> type[Exception]:
    if db_url.startswith("sqlite:"):
        return sqlite3.IntegrityError
    import psycopg

    return psycopg.IntegrityError


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


async def test_concurrent_appends_are_all_committed_with_unique_sequence(
    make_store: Callable[..., Store],
) -> None:
    store = make_store()
    records = [record(device=f"d{i}") for i in range(300)]
    seqs = await asyncio.gather(*(store.append_verdict(r) for r in records))
    assert len(set(seqs)) == 300
    await store.close()
    reopened = make_store()
    assert await reopened.count_verdicts() == 300
    got = await reopened.get_verdict(records[123].id)
    assert got is not None and got.inputs == b'{"x":1}' and got.clause_ids == ("HNB-P1",)
    await reopened.close()


async def test_a_failing_write_fails_alone(make_store: Callable[..., Store], db_url: str) -> None:
    store = make_store()
    dup = record()
    await store.append_verdict(dup)
    results = await asyncio.gather(
        store.append_verdict(dup), store.append_verdict(record()), return_exceptions=True
    )
    assert isinstance(results[0], integrity_error(db_url))
    assert isinstance(results[1], int)
    assert await store.count_verdicts() == 2
    await store.close()


@pytest.mark.parametrize("sql", ["UPDATE verdicts SET outcome = 'X'", "DELETE FROM verdicts"])
async def test_log_is_append_only(make_store: Callable[..., Store], db_url: str, sql: str) -> None:
    store = make_store()
    await store.append_verdict(record())
    await store.close()
    with pytest.raises(integrity_error(db_url), match="append-only"):
        db_rows(db_url, sql)


def test_refuses_unmigrated_database_without_auto_migrate(
    make_store: Callable[..., Store],
) -> None:
    with pytest.raises(SchemaMismatch, match="anshin db migrate"):
        make_store(auto_migrate=False)


def test_refuses_newer_schema(make_store: Callable[..., Store], db_url: str) -> None:
    asyncio.run(make_store().close())
    db_rows(
        db_url,
        "INSERT INTO schema_migrations VALUES (?, 'from the future', 0)",
        (LATEST_VERSION + 1,),
    )
    with pytest.raises(SchemaMismatch, match="newer"):
        make_store()


async def test_latest_posture_per_device_uses_event_time(make_store: Callable[..., Store]) -> None:
    store = make_store()
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
