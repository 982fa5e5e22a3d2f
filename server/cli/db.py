"""``anshin db migrate``: apply schema migrations (``--create``: a new database)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from server.cli.args import default_db, nonempty_path


def migrate(ns: argparse.Namespace) -> int:
    from server.config import Config
    from server.state import StateError
    from server.store.url import migrate_url

    os.umask(0o077)
    ns.db = ns.db or default_db(ns.state_dir)
    # The key the server would use, when one is known: the log is bound to it
    # (and a head an upgrade left unsigned is signed) by this explicit command.
    try:
        key: Path | None = Config.from_env(
            db=ns.db, state_dir=ns.state_dir, log_key_file=ns.log_key_file
        ).resolved_log_key_file()
    except StateError:
        key = None  # PostgreSQL without --state-dir: the first serve binds it
    _refuse_unsafe_files(ns.db, key)
    print(migrate_url(ns.db, create=ns.create, log_key_file=key))
    return 0


def _refuse_unsafe_files(db: str, key: Path | None) -> None:
    """What serve refuses, refused before anything is created or bound: a key
    or database others can read or own, or a directory others could swap them
    in (server/state.py)."""
    from server.state import require_private, require_unswappable_dir
    from server.store.url import is_postgres, sqlite_path

    if key is not None:
        require_private(key, "the log-signing key")
        if key.parent.exists():
            require_unswappable_dir(key.resolve().parent, "the log-signing key")
    if not is_postgres(db):
        path = sqlite_path(db)
        require_private(path, "the database")
        if path.parent.exists():
            require_unswappable_dir(path.resolve().parent, "the database")


def add_parser(sub: Any) -> None:
    d = sub.add_parser("db", help="database administration")
    dsub = d.add_subparsers(dest="db_command", required=True)
    m = dsub.add_parser("migrate", help="apply pending schema migrations")
    m.add_argument("--db", help="default: $ANSHIN_DB, else the state directory's anshin.db")
    m.add_argument(
        "--create",
        action="store_true",
        help="create the database if it does not exist (without it, a missing one is refused)",
    )
    m.add_argument(
        "--state-dir",
        type=nonempty_path,
        help="the server's state directory (env ANSHIN_STATE_DIR)",
    )
    m.add_argument(
        "--log-key-file", type=nonempty_path, help="log-signing key (env ANSHIN_LOG_KEY_FILE)"
    )
    m.set_defaults(func=migrate)
