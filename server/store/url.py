"""Open a store, or a read-only reader of its log, from a ``--db`` URL; and
the administration of the database behind one (its schema, migrating it)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

from server.store.chain import SecretFile
from server.store.errors import StateError
from server.store.files import make_private_dir
from server.store.ports import LogReader, Store
from server.store.settings import StoreSettings

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


def _unsupported(url: str) -> ValueError:
    return ValueError(
        f"unsupported --db URL scheme {urlparse(url).scheme!r}: "
        "use sqlite:///path.db or postgresql://…"
    )


def open_store(
    url: str,
    *,
    auto_migrate: bool = True,
    log_key_file: Path | None = None,
    settings: StoreSettings | None = None,
    adopt_unsigned_head: bool = False,
    secrets: Sequence[SecretFile] = (),
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
            adopt_unsigned_head=adopt_unsigned_head,
            secrets=secrets,
            checkpoint_every=settings.checkpoint_every,
            checkpoint_interval_us=settings.checkpoint_interval_ms * 1000,
            log_origin=settings.log_origin,
        )
    if scheme in POSTGRES_SCHEMES:
        from server.store.postgres import PostgresStore

        return PostgresStore(
            url,
            auto_migrate=auto_migrate,
            log_key_file=log_key_file,
            lock_timeout_ms=settings.pg_lock_timeout_ms,
            adopt_unsigned_head=adopt_unsigned_head,
            secrets=secrets,
            checkpoint_every=settings.checkpoint_every,
            checkpoint_interval_us=settings.checkpoint_interval_ms * 1000,
            log_origin=settings.log_origin,
        )
    raise _unsupported(url)


def open_log_reader(url: str, *, check_schema: bool = True) -> LogReader:
    """A read-only reader of the log at ``url`` (replay, verify, checkpoint
    export): it never writes, and a picklable copy of it in another process
    reads through a connection of its own. A missing SQLite file is a
    ``FileNotFoundError``; a database at an older schema is a ``StateError``
    saying to migrate it (the reader never migrates: it only reads);
    ``check_schema=False`` skips that (a unit test's hand-made table)."""
    scheme = urlparse(url).scheme
    if check_schema and scheme in ("sqlite", *POSTGRES_SCHEMES):
        from server.store.sql.migrations import LATEST_VERSION

        version = schema_version(url)
        if version is not None and version < LATEST_VERSION:
            raise StateError(
                f"{where(url)} is at schema {version}, this build reads schema "
                f"{LATEST_VERSION}: run `anshin db migrate --db URL` (with the state "
                "directory or --log-key-file) first"
                + ("" if version else "; it holds no Anshin database at all")
            )
    if scheme == "sqlite":
        from server.store.sqlite import SqliteLogReader

        return SqliteLogReader(url, sqlite_path(url))
    if scheme in POSTGRES_SCHEMES:
        from server.store.postgres import PostgresLogReader

        return PostgresLogReader(url)
    raise _unsupported(url)


def schema_version(url: str) -> int | None:
    """The schema version of the database at ``url`` (0: no Anshin schema yet), or
    None for a SQLite file that does not exist. Creates nothing."""
    scheme = urlparse(url).scheme
    if scheme == "sqlite":
        from server.store.sqlite.connection import schema_version_of

        return schema_version_of(sqlite_path(url))
    if scheme in POSTGRES_SCHEMES:
        from server.store import postgres

        pg = postgres.connect(url)
        try:
            return postgres.current_schema_version(pg)
        finally:
            pg.raw.close()
    raise ValueError(f"unsupported --db URL scheme {scheme!r}")


def migrate_url(url: str, *, create: bool = False, log_key_file: Path | None = None) -> str:
    """``anshin db migrate``: apply pending migrations; a one-line summary.

    Without ``create``, a database that does not exist yet (a missing SQLite
    file, a PostgreSQL schema with no Anshin tables) is refused rather than
    created: a typo in ``--db`` must not start a new, empty log.

    With ``log_key_file``, the log is then opened with that key, which binds
    it to a new log and signs a head that a migration left unsigned (an
    upgrade from a log without a chain): the one place a head with entries is
    signed without having been signed before, on the operator's explicit
    command (``chain.bind_log_key``). Opening it also upgrades a log from
    before schema 7 (entry MACs, Merkle tree, signed-note checkpoints:
    ``log_open``); a log that fails the start-up check is an error here.
    """
    if not create and not schema_version(url):
        raise StateError(
            f"{where(url)} holds no Anshin database; to create one there, "
            "run `anshin db migrate --create` with the same --db"
        )
    scheme = urlparse(url).scheme
    if scheme == "sqlite":
        from server.store import sqlite

        path = sqlite_path(url)
        make_private_dir(path.parent)
        conn = sqlite.connect(path)  # created 0600 when missing
        try:
            before = sqlite.current_schema_version(conn)
            applied = sqlite.migrate(conn)
            after = sqlite.current_schema_version(conn)
        finally:
            conn.close()
    elif scheme in POSTGRES_SCHEMES:
        from server.store import postgres

        pg = postgres.connect(url)
        try:
            shadowed = postgres.shadowed_schema(pg)
            if shadowed is not None and not postgres.current_schema_version(pg):
                raise StateError(
                    f"{where(url)}: search_path reaches an Anshin database in schema "
                    f"{shadowed!r}, but tables would be created in the first schema of "
                    "search_path, which has none: refusing to start a second, empty log "
                    "there (fix search_path or drop the empty schema)"
                )
            before = postgres.current_schema_version(pg)
            applied = postgres.migrate(pg)
            after = postgres.current_schema_version(pg)
        finally:
            pg.raw.close()
    else:
        raise ValueError(f"unsupported --db URL scheme {scheme!r}")
    summary = f"{where(url)}: schema {before} -> {after}" + (
        f" (applied {', '.join(map(str, applied))})" if applied else " (up to date)"
    )
    if log_key_file is not None:
        import asyncio

        store = open_store(url, log_key_file=log_key_file, adopt_unsigned_head=True)
        problem = store.log_problem()
        asyncio.run(store.close())
        if problem is not None:
            raise StateError(
                f"{where(url)}: the verdict log failed its check at seq {problem.seq}: "
                f"{problem.reason}; a server would serve it read-only (run `anshin log verify`)"
            )
        summary += f"; log bound to the key in {log_key_file}"
    return summary


def where(url: str) -> str:
    """The database a URL names, for messages (never a password)."""
    if urlparse(url).scheme == "sqlite":
        return str(sqlite_path(url))
    from server.store import postgres

    return postgres.where(url)
