"""Open a store from a ``--db`` URL."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from server.store.base import Store


def sqlite_path(url: str) -> Path:
    """``sqlite:///relative.db`` or ``sqlite:////abs/path.db`` → a path."""
    parsed = urlparse(url)
    if parsed.scheme != "sqlite" or not parsed.path:
        raise ValueError(f"not a sqlite URL: {url!r} (expected sqlite:///path.db)")
    # sqlite:///x.db → path "/x.db" is relative "x.db"; sqlite:////abs → "//abs".
    raw = parsed.path[1:] if parsed.path.startswith("/") else parsed.path
    return Path(raw)


def open_store(url: str, *, auto_migrate: bool = True) -> Store:
    scheme = urlparse(url).scheme
    if scheme == "sqlite":
        from server.store.sqlite import SqliteStore

        return SqliteStore(sqlite_path(url), auto_migrate=auto_migrate)
    if scheme in ("postgresql", "postgres"):
        raise ValueError("the PostgreSQL store is not available yet (issue: scale-out)")
    raise ValueError(f"unsupported --db URL scheme {scheme!r}: use sqlite:///path.db")
