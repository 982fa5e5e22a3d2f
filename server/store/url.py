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
    ``log-signing.key`` next to a SQLite database, ``./log-signing.key`` for
    PostgreSQL). Every process writing one database must use the same key.
    ``settings``: how long calls wait for a locked database (default 5 s)."""
    settings = settings or StoreSettings()
    scheme = urlparse(url).scheme
    if scheme == "sqlite":
        from server.store.chain import LogSigner
        from server.store.sqlite import SqliteStore

        signer = LogSigner.from_file(log_key_file) if log_key_file is not None else None
        return SqliteStore(
            sqlite_path(url),
            auto_migrate=auto_migrate,
            signer=signer,
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


def migrate_url(url: str) -> str:
    """``anshin db migrate``: apply pending migrations; a one-line summary."""
    scheme = urlparse(url).scheme
    if scheme == "sqlite":
        from server.store.sqlite import _connect, current_schema_version, migrate

        path = sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = _connect(path)
        try:
            before = current_schema_version(conn)
            applied = migrate(conn)
            after = current_schema_version(conn)
        finally:
            conn.close()
        where = str(path)
    elif scheme in POSTGRES_SCHEMES:
        from server.store import postgres

        pg = postgres.connect(url)
        try:
            before = postgres.current_schema_version(pg)
            applied = postgres.migrate(pg)
            after = postgres.current_schema_version(pg)
        finally:
            pg.raw.close()
        parsed = urlparse(url)
        where = f"{parsed.hostname or 'localhost'}{parsed.path or ''}"  # no password
    else:
        raise ValueError(f"unsupported --db URL scheme {scheme!r}")
    return f"{where}: schema {before} -> {after}" + (
        f" (applied {', '.join(map(str, applied))})" if applied else " (up to date)"
    )
