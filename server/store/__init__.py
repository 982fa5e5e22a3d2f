"""The store: the verdict log, events, claims and ledger, reviews, behind ports.

* ``ports``: what may be asked of a store, one protocol per concern, and the
  read-only log reader; ``records``: what passes through them; ``errors``.
* ``sql/``: the SQL both backends share, and the migrations.
* ``sqlite/``, ``postgres/``: the backends; ``open_store`` / ``open_log_reader``
  (``url``) choose one from a ``--db`` URL. Nothing else in server/ imports a
  backend or holds SQL (tests/store/test_sql_only_in_store.py).
"""

from __future__ import annotations

from server.store.errors import SchemaMismatch, StoreError
from server.store.ports import LogReader, Store
from server.store.records import VerdictRecord
from server.store.settings import StoreSettings
from server.store.url import open_log_reader, open_store

__all__ = [
    "LogReader",
    "SchemaMismatch",
    "Store",
    "StoreError",
    "StoreSettings",
    "VerdictRecord",
    "open_log_reader",
    "open_store",
]
