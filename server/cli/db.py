"""``anshin db migrate``: apply schema migrations (``--create``: a new database)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from server.cli.args import default_db


def migrate(ns: argparse.Namespace) -> int:
    from server.store.url import migrate_url

    os.umask(0o077)
    print(migrate_url(ns.db, create=ns.create))
    return 0


def add_parser(sub: Any) -> None:
    d = sub.add_parser("db", help="database administration")
    dsub = d.add_subparsers(dest="db_command", required=True)
    m = dsub.add_parser("migrate", help="apply pending schema migrations")
    m.add_argument("--db", default=default_db())
    m.add_argument(
        "--create",
        action="store_true",
        help="create the database if it does not exist (without it, a missing one is refused)",
    )
    m.set_defaults(func=migrate)
