"""How long calls wait for a locked store is configuration (flag, then
environment, then 5 s), reaches each backend, and a bad value is refused at
start-up before anything is opened."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from server.config import Config
from server.store.errors import StoreError
from server.store.postgres import PostgresStore, split_url
from server.store.settings import StoreSettings
from server.store.sqlite import SqliteStore
from server.store.url import open_store
from tests.e2e.conftest import ANSHIN, ROOT, free_port, server_env


def test_settings_come_from_flags_then_environment_with_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Config().store_settings() == StoreSettings(5000, 5000)
    monkeypatch.setenv("ANSHIN_SQLITE_BUSY_TIMEOUT_MS", "250")
    monkeypatch.setenv("ANSHIN_PG_LOCK_TIMEOUT_MS", "0")
    assert Config.from_env().store_settings() == StoreSettings(250, 0)
    assert Config.from_env(sqlite_busy_timeout_ms=40).sqlite_busy_timeout_ms == 40  # flag wins


@pytest.mark.parametrize("value", [-1, 1.5, True])
def test_bad_settings_are_refused_naming_where_they_are_set(value: object) -> None:
    with pytest.raises(ValueError, match="--sqlite-busy-timeout-ms"):
        Config(sqlite_busy_timeout_ms=value)  # type: ignore[arg-type]


async def test_sqlite_store_waits_as_configured(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/a.db"
    store = open_store(url, settings=StoreSettings(sqlite_busy_timeout_ms=300))
    assert isinstance(store, SqliteStore)
    assert await store.read(lambda c: c.execute("PRAGMA busy_timeout").fetchone()[0]) == 300
    # A write waits for another connection's write lock as long as configured.
    other = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    with pytest.raises(StoreError):
        await store.write(lambda c: c.execute("CREATE TABLE t (x)"))
    waited = time.monotonic() - started
    assert 0.3 <= waited < 1.5, waited
    other.execute("ROLLBACK")
    assert await store.write(lambda c: c.execute("CREATE TABLE t (x)").rowcount) == -1
    other.close()
    await store.close()


@pytest.mark.parametrize(("ms", "shown"), [(250, "250ms"), (0, "0")])
async def test_lock_timeout_is_set_on_pooled_connections(
    pg_url: str, tmp_path: Path, ms: int, shown: str
) -> None:
    store = open_store(
        pg_url,
        log_key_file=tmp_path / "log-signing.key",
        settings=StoreSettings(pg_lock_timeout_ms=ms),
    )
    assert isinstance(store, PostgresStore)
    assert await store.read(lambda c: c.execute("SHOW lock_timeout").fetchone()[0]) == shown
    await store.close()


def test_pool_timeout_is_the_stores_own_url_setting() -> None:
    url, pool = split_url("postgresql://u@h/db?pool_timeout=2.5&sslmode=require")
    assert pool == {"pool_timeout": 2.5} and url == "postgresql://u@h/db?sslmode=require"
    for bad in ("0", "-1", "soon"):
        with pytest.raises(ValueError, match="pool_timeout"):
            split_url(f"postgresql://u@h/db?pool_timeout={bad}")


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--sqlite-busy-timeout-ms", "-1"], {}, "sqlite_busy_timeout_ms must be"),
        (["--pg-lock-timeout-ms", "-5"], {}, "pg_lock_timeout_ms must be"),
        ([], {"ANSHIN_SQLITE_BUSY_TIMEOUT_MS": "soon"}, "ANSHIN_SQLITE_BUSY_TIMEOUT_MS='soon'"),
        ([], {"ANSHIN_PG_LOCK_TIMEOUT_MS": "-1"}, "pg_lock_timeout_ms must be"),
    ],
)
def test_bad_timeouts_are_refused_at_start_up(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    url = f"sqlite:///{tmp_path}/anshin.db"
    done = subprocess.run(
        [*ANSHIN, "serve", "--listen", f"127.0.0.1:{free_port()}", "--db", url, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**server_env(url, tmp_path), **env},
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr  # usage (exit_codes)
    assert message in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "anshin.db").exists(), "opened the store before refusing"
