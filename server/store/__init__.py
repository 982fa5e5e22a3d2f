"""Storage backends behind one interface (:class:`server.store.base.Store`)."""

from __future__ import annotations

from server.store.base import Store, StoreError, VerdictRecord
from server.store.url import open_store

__all__ = ["Store", "StoreError", "VerdictRecord", "open_store"]
