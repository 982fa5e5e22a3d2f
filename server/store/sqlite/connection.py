"""SQLite connections: how the store opens a database file, migrates it, and
tells "the database cannot serve this now" from a bug."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path

from server.store.errors import SchemaMismatch, StoreError
from server.store.files import LOG_KEY_NAME, create_private_file
from server.store.settings import DEFAULT_SQLITE_BUSY_TIMEOUT_MS
from server.store.sql.migrations import LATEST_VERSION, MIGRATIONS

# Primary result codes meaning "the database cannot serve this now" (locked,
# full, I/O trouble), as opposed to a bug in the SQL or a constraint the data
# violates: these become StoreError (UNAVAILABLE, the caller may retry), the
# others reach the caller unchanged (a duplicate id stays an IntegrityError).
_UNAVAILABLE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
    }
)


def default_log_key_file(db_path: Path) -> Path:
    return db_path.parent / LOG_KEY_NAME


def connect(
    path: Path, busy_timeout_ms: int = DEFAULT_SQLITE_BUSY_TIMEOUT_MS
) -> sqlite3.Connection:
    """A read-write connection as the store uses it (WAL, ``synchronous=FULL``);
    the file is created (0600) when missing."""
    if busy_timeout_ms < 0:
        raise ValueError(f"busy timeout must be >= 0 ms, not {busy_timeout_ms}")
    # Created 0600 by us, not 0644 by SQLite: it holds customers' data, and
    # SQLite gives the -wal and -shm files the database file's mode.
    with contextlib.suppress(FileExistsError):
        create_private_file(path)
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
    )
    try:
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        conn.execute("PRAGMA journal_mode=WAL")  # may wait for a lock, or fail
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
    except BaseException:
        conn.close()  # a reader opened while the file is locked is retried next call
        raise
    return conn


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A connection that cannot write, not even a WAL checkpoint (``mode=ro``);
    the file must exist."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such database")
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
    conn.execute("PRAGMA query_only=ON")
    return conn


def unavailable(exc: BaseException, what: str = "write") -> BaseException:
    """``exc`` as the caller should see it: a locked, full or failing database
    is a StoreError (UNAVAILABLE); anything else unchanged."""
    # Errors sqlite3 raises without a result code (a closed connection) or
    # that this module raises itself have no ``sqlite_errorcode``.
    code = getattr(exc, "sqlite_errorcode", None) if isinstance(exc, sqlite3.Error) else None
    if code is not None and (code & 0xFF) in _UNAVAILABLE_CODES:
        err = StoreError(f"sqlite {what} failed: {exc}")
        err.__cause__ = exc
        return err
    return exc


def current_schema_version(conn: sqlite3.Connection) -> int:
    row = conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name='schema_migrations'"
    ).fetchone()
    if row is None:
        return 0
    (version,) = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    return int(version)


def schema_version_of(path: Path) -> int | None:
    """The schema version of the file at ``path`` (0: no Anshin schema yet), or
    None when there is no such file. Creates nothing."""
    if not path.is_file():
        return None
    uri = f"file:{path.resolve()}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
        return current_schema_version(conn)


def migrate(conn: sqlite3.Connection) -> list[int]:
    """Apply pending migrations, each in its own transaction; returns those applied."""
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
        conn.execute("BEGIN IMMEDIATE")
        try:
            for stmt in (*m.sql, *m.sqlite_only):
                conn.execute(stmt)
            if m.python is not None:
                m.python(conn)
            for stmt in m.sqlite_after:
                conn.execute(stmt)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_us) VALUES (?, ?, ?)",
                (m.version, m.name, time.time_ns() // 1000),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(m.version)
    return applied
