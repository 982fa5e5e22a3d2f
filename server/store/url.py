"""Open a store from a ``--db`` URL."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from server.store.base import Store, StoreSettings

POSTGRES_SCHEMES = ("postgresql", "postgres")


def sqlite_path(url: str) -> Path:
    """``sqlite:///relative.db`` or ``sqlite:////abs/path.db`` → a path."""
    parsed = urlparse(url)
    if parsed.scheme != "sqlite" or not parsed.path:
        raise ValueError(f"not a sqlite URL: {url!r} (expected sqlite:///path.db)")
    # sqlite:///x.db → path "/x.db" is relative "x.db"; sqlite:////abs → "//abs".
    raw = parsed.path[1:] if parsed.path.startswith("/") else parsed.path
    return Path(raw)


def is_postgres(url: str) -> bool:
    return urlparse(url).scheme in POSTGRES_SCHEMES


def open_store(
    url: str,
    *,
    auto_migrate: bool = True,
    log_key_file: Path | None = None,
    settings: StoreSettings | None = None,
) -> Store:
    """The store at ``url``; ``log_key_file`` is the log's signing key (default:
    ``log-signing.key`` next to a SQLite database; PostgreSQL has no default,
    server/state.py). Every process writing one database must use the same key.
    ``settings``: how long calls wait for a locked database (default 5 s)."""
    settings = settings or StoreSettings()
    scheme = urlparse(url).scheme
    if scheme == "sqlite":
        from server.store.sqlite import SqliteStore

        return SqliteStore(
            sqlite_path(url),
            auto_migrate=auto_migrate,
            log_key_file=log_key_file,
            busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        )
    if scheme in POSTGRES_SCHEMES:
        from server.store.postgres import PostgresStore

        return PostgresStore(
            url,
            auto_migrate=auto_migrate,
            log_key_file=log_key_file,
            lock_timeout_ms=settings.pg_lock_timeout_ms,
        )
    raise ValueError(
        f"unsupported --db URL scheme {scheme!r}: use sqlite:///path.db or postgresql://…"
    )


def schema_version(url: str) -> int | None:
    """The schema version of the database at ``url`` (0: no Anshin schema yet), or
    None for a SQLite file that does not exist. Creates nothing."""
    scheme = urlparse(url).scheme
    if scheme == "sqlite":
        import contextlib
        import sqlite3

        from server.store.sqlite import current_schema_version

        path = sqlite_path(url)
        if not path.is_file():
            return None
        uri = f"file:{path.resolve()}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
            return current_schema_version(conn)
    if scheme in POSTGRES_SCHEMES:
        from server.store import postgres

        pg = postgres.connect(url)
        try:
            return postgres.current_schema_version(pg)
        finally:
            pg.raw.close()
    raise ValueError(f"unsupported --db URL scheme {scheme!r}")


def migrate_url(url: str, *, create: bool = False) -> str:
    """``anshin db migrate``: apply pending migrations; a one-line summary.

    Without ``create``, a database that does not exist yet (a missing SQLite
    file, a PostgreSQL schema with no Anshin tables) is refused rather than
    created: a typo in ``--db`` must not start a new, empty log.
    """
    from server.state import StateError, make_private_dir

    if not create and not schema_version(url):
        raise StateError(
            f"{_where(url)} holds no Anshin database; to create one there, "
            "run `anshin db migrate --create` with the same --db"
        )
    scheme = urlparse(url).scheme
    if scheme == "sqlite":
        from server.store.sqlite import _connect, current_schema_version, migrate

        path = sqlite_path(url)
        make_private_dir(path.parent)
        conn = _connect(path)  # created 0600 when missing
        try:
            before = current_schema_version(conn)
            applied = migrate(conn)
            after = current_schema_version(conn)
        finally:
            conn.close()
    elif scheme in POSTGRES_SCHEMES:
        from server.store import postgres

        pg = postgres.connect(url)
        try:
            before = postgres.current_schema_version(pg)
            applied = postgres.migrate(pg)
            after = postgres.current_schema_version(pg)
        finally:
            pg.raw.close()
    else:
        raise ValueError(f"unsupported --db URL scheme {scheme!r}")
    return f"{_where(url)}: schema {before} -> {after}" + (
        f" (applied {', '.join(map(str, applied))})" if applied else " (up to date)"
    )


def _where(url: str) -> str:
    """The database a URL names, for messages (never a password)."""
    if urlparse(url).scheme == "sqlite":
        return str(sqlite_path(url))
    from server.store.postgres import _where as pg_where

    return pg_where(url)
