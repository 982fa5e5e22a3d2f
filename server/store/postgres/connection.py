"""PostgreSQL connections: the URL, the qmark wrapper the shared SQL runs
on, the schema, and telling "the database cannot serve this now" from a bug."""

from __future__ import annotations

import contextlib
import functools
import select
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlparse, urlunparse

import psycopg
import psycopg.errors
from psycopg_pool import PoolTimeout

from server.store.errors import SchemaMismatch, StoreError
from server.store.sql.migrations import LATEST_VERSION, MIGRATIONS, postgres_statements

# Taken first by every transaction that appends to the log or reads ledger
# usage to spend it: they all serialize on this one row (store.py).
LOCK_HEAD = "SELECT seq FROM log_head WHERE id = 1 FOR UPDATE"
# Query parameters of the --db URL that configure the pool, not libpq.
_POOL_PARAMS = ("pool_min", "pool_max", "pool_timeout")
DEFAULT_POOL_MIN = 1
DEFAULT_POOL_MAX = 8
# Seconds a call waits for a pooled connection before it is UNAVAILABLE: all
# of them busy, or PostgreSQL unreachable (then no connection can be made).
# Shorter than callers' deadlines for the reasons the lock timeouts are (see
# server/store/settings.py); psycopg_pool's own default is 30 s.
DEFAULT_POOL_TIMEOUT = 5.0
# SQLSTATEs besides psycopg's OperationalError family that mean "the database
# cannot serve this now", not "this request is wrong": a read-only
# transaction (the URL reaches a standby, e.g. after a failover).
_UNAVAILABLE_SQLSTATES = frozenset({"25006"})
# Collations whose order of text is the order of code points, as SQLite's
# BINARY: the rules break ties by client event id.
_CODEPOINT_COLLATIONS = frozenset({"C", "POSIX", "C.UTF-8", "C.utf8", "ucs_basic"})


@functools.lru_cache(maxsize=4096)
def _pyformat(sql: str) -> str:
    """qmark → psycopg's format style (the shared SQL has no literal ``?``)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgConn:
    """A psycopg connection behind the sqlite3-style interface of the shared SQL."""

    __slots__ = ("raw",)

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        if not params:
            return self.raw.execute(sql)  # no parameters: no placeholder parsing
        return self.raw.execute(_pyformat(sql), params)

    def executemany(self, sql: str, params: Any) -> psycopg.Cursor[Any]:
        cur = self.raw.cursor()
        cur.executemany(_pyformat(sql), params)
        return cur


def split_url(url: str) -> tuple[str, dict[str, float]]:
    """(libpq URL, pool settings): ``pool_min`` / ``pool_max`` / ``pool_timeout``
    (seconds) are the store's own."""
    parsed = urlparse(url)
    query = parse_qsl(parsed.query, keep_blank_values=True)
    try:
        pool = {
            k: float(v) if k == "pool_timeout" else int(v) for k, v in query if k in _POOL_PARAMS
        }
    except ValueError as exc:
        raise ValueError(f"--db URL: pool_min, pool_max, pool_timeout are numbers: {exc}") from None
    if pool.get("pool_timeout", 1.0) <= 0:
        raise ValueError("--db URL: pool_timeout must be > 0 seconds")
    rest = [(k, v) for k, v in query if k not in _POOL_PARAMS]
    scheme = "postgresql" if parsed.scheme == "postgres" else parsed.scheme
    # libpq decodes %XX but not "+": encode spaces as %20.
    query_text = urlencode(rest, quote_via=quote)
    return urlunparse(parsed._replace(scheme=scheme, query=query_text)), pool


def where(url: str, conn: PgConn | None = None) -> str:
    """The database a URL names, for messages: host, port and database, never a
    password; with a connection, also the schema its tables are made in (two
    schemas of one database are two logs)."""
    parsed = urlparse(url)
    port = f":{parsed.port}" if parsed.port else ""
    text = f"{parsed.hostname or 'localhost'}{port}{parsed.path or ''}"
    if conn is not None:
        text += f" (schema {_scalar(conn, 'SELECT current_schema()')})"
    return text


def connect(url: str) -> PgConn:
    """One autocommit connection (administration, migrations, tests)."""
    conninfo, _ = split_url(url)
    try:
        return PgConn(psycopg.connect(conninfo, autocommit=True))
    except psycopg.OperationalError as exc:
        raise StoreError(f"cannot connect to PostgreSQL: {exc}") from exc


def connect_readonly(url: str) -> PgConn:
    """A connection whose transactions are read-only (the log reader)."""
    conn = connect(url)
    conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    return conn


def unavailable(exc: BaseException, what: str) -> BaseException:
    """``exc`` as the caller should see it: the database unreachable, gone
    away, shutting down, out of disk or connections, a lock not granted in
    time (lock_timeout) or read-only is a StoreError (UNAVAILABLE); anything
    else (a bug, a constraint) unchanged."""
    if isinstance(exc, PoolTimeout):
        err: BaseException = StoreError(f"no PostgreSQL connection available: {exc}")
    elif isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError) or (
        isinstance(exc, psycopg.Error) and exc.sqlstate in _UNAVAILABLE_SQLSTATES
    ):
        err = StoreError(f"postgresql {what} failed: {exc}")
    else:
        return exc
    err.__cause__ = exc
    return err


def stale(conn: psycopg.Connection[Any]) -> bool:
    """Whether an idle pooled connection is dead: the server ended it (a
    restart, a failover, ``pg_terminate_backend``, an idle timeout) while it
    sat in the pool. Such a server first sends its reason (FATAL 57P01 …) or
    at least closes the socket, so an idle connection's socket is readable
    only then (or for a stray notice): one poll(2), no round trip for a
    healthy connection; a readable one gets a round trip to tell which."""
    if conn.closed or conn.broken:
        return True
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    if not poller.poll(0):
        return False
    try:
        conn.execute("")  # an empty query: one round trip, raises if dead
    except psycopg.Error:
        return True
    return False


# -- schema -----------------------------------------------------------------


def _scalar(conn: PgConn, sql: str) -> Any:
    row = conn.execute(sql).fetchone()
    assert row is not None, sql
    return row[0]


def current_schema_version(conn: PgConn) -> int:
    """The version in the schema that ``CREATE`` writes to (the first existing
    schema of ``search_path``), not wherever ``search_path`` happens to find a
    ``schema_migrations`` table: with an empty schema first in the path, the
    tables would be created anew there, and a new, empty log served."""
    if not _scalar(
        conn,
        "SELECT current_schema() IS NOT NULL AND "
        "to_regclass(format('%I.schema_migrations', current_schema())) IS NOT NULL",
    ):
        return 0
    return int(_scalar(conn, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))


def migrate(conn: PgConn) -> list[int]:
    """Apply pending migrations, each in its own transaction; returns those applied.

    Safe to run from several processes at once: each migration's transaction
    locks ``schema_migrations`` and re-reads the version under that lock.
    """
    with contextlib.suppress(
        psycopg.errors.UniqueViolation,
        psycopg.errors.DuplicateTable,
        psycopg.errors.DuplicateObject,  # the table's row type, created by the other one
    ):
        # Two processes creating it at once: one of them finds it there.
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_us BIGINT NOT NULL)"
        )
    applied = []
    current = current_schema_version(conn)
    if current > LATEST_VERSION:
        raise SchemaMismatch(
            f"database schema version {current} is newer than this build ({LATEST_VERSION})"
        )
    for m in MIGRATIONS:
        if m.version <= current:
            continue
        with conn.raw.transaction():
            conn.execute("LOCK TABLE schema_migrations IN EXCLUSIVE MODE")
            current = current_schema_version(conn)
            if m.version <= current:
                continue  # another process applied it meanwhile
            before, after = postgres_statements(m)
            for stmt in before:
                conn.execute(stmt)
            if m.python is not None:
                m.python(conn)
            for stmt in after:
                conn.execute(stmt)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_us) VALUES (?, ?, ?)",
                (m.version, m.name, time.time_ns() // 1000),
            )
        current = m.version
        applied.append(m.version)
    return applied


def check_collation(conn: PgConn) -> None:
    try:
        row = conn.execute(
            "SELECT datcollate FROM pg_database WHERE datname = current_database()"
        ).fetchone()
    except psycopg.Error:  # not PostgreSQL's catalog (a compatible database): trust it
        return
    if row is not None and row[0] not in _CODEPOINT_COLLATIONS:
        raise StoreError(
            f"database collation {row[0]!r} does not order text by code point as the "
            "decisions need (ties broken by event id): create the database with "
            "LC_COLLATE 'C.UTF-8' (e.g. CREATE DATABASE anshin TEMPLATE template0 "
            "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8')"
        )


def shadowed_schema(conn: PgConn) -> str | None:
    """The schema where ``search_path`` finds Anshin's tables when that is not
    the schema ``CREATE`` writes to (an empty schema placed before the real
    one): creating there would start a second, empty log beside the first."""
    found = _scalar(
        conn,
        "SELECT (SELECT n.nspname FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE c.oid = to_regclass('schema_migrations'))",
    )
    current = _scalar(conn, "SELECT current_schema()")
    return str(found) if found is not None and found != current else None
