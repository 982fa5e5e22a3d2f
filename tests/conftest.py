"""Shared fixtures: a rules directory for tests and a real in-process server.

Every test that stores anything runs twice, once per backend: the
``backend`` fixture is parametrized over SQLite and PostgreSQL, and
``db_url`` gives each test a database of its own — a file in its tmp_path,
or a fresh schema in the PostgreSQL test database (``search_path`` set in
the URL), dropped afterwards. PostgreSQL is the server ``ANSHIN_TEST_PG_URL``
names or, without it, a throwaway cluster the suite starts itself
(tests/pgcluster.py); when neither can be had the PostgreSQL tests fail, they
are never skipped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest

from rules.load import BUILTIN_RULES_DIR, RuleSet, load_rules
from tests.pgcluster import base_url as pg_base_url

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """The built-in rules plus a Phishwall release history for tests.

    The shipped Phishwall file is empty until a bank imports its export
    (see docs/release-data.md); tests use fixture versions instead.
    """
    target = tmp_path / "rules"
    shutil.copytree(BUILTIN_RULES_DIR, target)
    shutil.copy(FIXTURES / "phishwall_releases.json", target / "releases" / "phishwall.json")
    return target


@pytest.fixture
def rules(rules_dir: Path) -> RuleSet:
    return load_rules(rules_dir)


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class RunningServer:
    address: str
    channel: grpc.aio.Channel
    app: object
    clock: FixedClock
    db_url: str


# A wall-clock "now" inside the shipped release data's window.
TEST_NOW = datetime(2025, 4, 10, 3, 0, tzinfo=UTC)


# -- databases: one per test, on each backend -------------------------------------

BACKENDS = ("sqlite", "postgres")
_PG_SCHEMA_PREFIX = "anshin_t_"
_admin: Any = None


def _pg_admin() -> Any:
    """One autocommit connection per test process for creating and dropping
    schemas (a new PostgreSQL connection is a new server process: not per test)."""
    global _admin
    import psycopg

    if _admin is not None and not _admin.closed and not _admin.broken:
        return _admin
    url = pg_base_url()
    try:
        _admin = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise RuntimeError(
            f"PostgreSQL test database {url} (ANSHIN_TEST_PG_URL) unreachable: {exc}"
        ) from exc
    # Creating and dropping throw-away schemas need not wait for the disk.
    _admin.execute("SET synchronous_commit = off")
    _sweep_stale_schemas(_admin)
    return _admin


def _sweep_stale_schemas(conn: Any) -> None:
    """Drop schemas left by test processes that died (never another live run's)."""
    rows = conn.execute(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (_PG_SCHEMA_PREFIX + "%",)
    ).fetchall()
    for (name,) in rows:
        pid = name.removeprefix(_PG_SCHEMA_PREFIX).split("_", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            with contextlib.suppress(Exception):
                conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        except PermissionError:
            pass


def pg_schema_url(schema: str) -> str:
    base = pg_base_url()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@contextlib.contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh, empty schema; yields a URL whose search_path is that schema."""
    name = f"{_PG_SCHEMA_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:12]}"
    _pg_admin().execute(f'CREATE SCHEMA "{name}"')
    try:
        yield pg_schema_url(name)
    finally:
        _pg_admin().execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


_MAIN_PID = os.getpid()


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM (a CI cancel, `timeout`) ends the run as Ctrl-C does: fixtures tear
    down their servers and the throwaway PostgreSQL cluster is stopped."""
    if os.getpid() != _MAIN_PID:  # a forked child: die as it would have
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    raise KeyboardInterrupt("SIGTERM")


def pytest_configure(config: pytest.Config) -> None:
    signal.signal(signal.SIGTERM, _terminated)
    config.addinivalue_line(
        "markers",
        "sqlite_only(reason): runs on the SQLite backend only (says why: files, WAL, …)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses a database (``backend``, ``db_url``, ``server``,
    ``served``, …) runs once per backend, unless marked ``sqlite_only``."""
    if "backend" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("sqlite_only")
    if marker is not None and not (marker.args or marker.kwargs.get("reason")):
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: sqlite_only needs a reason")
    metafunc.parametrize("backend", ["sqlite"] if marker else list(BACKENDS), scope="function")


@pytest.fixture
def backend() -> str:  # parametrized by pytest_generate_tests
    return "sqlite"


@pytest.fixture
def pg_url() -> Iterator[str]:
    with pg_schema() as url:
        yield url


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh database on ``backend``: sqlite:///… in tmp_path or a PostgreSQL schema."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/anshin.db"
    return str(request.getfixturevalue("pg_url"))


def db_rows(db_url: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run one query (qmark parameters) on either backend, outside the server."""
    if db_url.startswith("sqlite:"):
        from server.store.url import sqlite_path

        with contextlib.closing(sqlite3.connect(sqlite_path(db_url))) as conn, conn:
            return [tuple(r) for r in conn.execute(sql, params).fetchall()]
    from server.store.postgres import connect

    pg = connect(db_url)  # autocommit
    try:
        cur = pg.execute(sql, params)
        return [tuple(r) for r in cur.fetchall()] if cur.description is not None else []
    finally:
        pg.raw.close()


def create_database(db_url: str) -> None:
    """What ``anshin db migrate --create`` does: ``serve`` never creates a database."""
    from server.store.url import migrate_url

    migrate_url(db_url, create=True)


def key_files(db_url: str, directory: Path) -> dict[str, Path]:
    """Config overrides keeping a PostgreSQL test's keys in its tmp_path (SQLite
    keeps them next to its file already)."""
    if db_url.startswith("sqlite:"):
        return {}
    return {
        "phone_key_file": directory / "phone-hash.key",
        "log_key_file": directory / "log-signing.key",
    }


@pytest.fixture
async def server(db_url: str, tmp_path: Path, rules: RuleSet) -> AsyncIterator[RunningServer]:
    from server.config import Config
    from server.main import build_app

    clock = FixedClock(TEST_NOW)
    app = await build_app(
        Config(listen="127.0.0.1:0", db=db_url, **key_files(db_url, tmp_path)),
        rules=rules,
        clock=clock,
    )
    await app.server.start()
    address = f"127.0.0.1:{app.port}"
    channel = grpc.aio.insecure_channel(address)
    try:
        yield RunningServer(address, channel, app, clock, db_url)
    finally:
        await channel.close()
        await app.stop(0)


@pytest.fixture
def stub_factory(server: RunningServer) -> Callable[[type], object]:
    return lambda stub_cls: stub_cls(server.channel)
