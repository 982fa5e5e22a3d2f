"""The store's errors: what a caller of the store may have to tell apart.

Defined here, not where they are reported (``server/state.py`` re-exports
``StateError``), so the store depends on nothing of the server around it.
"""

from __future__ import annotations


class StoreError(Exception):
    """The store cannot serve the request (unavailable, locked, full)."""


class SchemaMismatch(StoreError):
    """The database schema is older (unmigrated) or newer than this code."""


class StateError(RuntimeError):
    """Anshin's state is missing, mislaid or exposed; the message says how to fix it."""


class KeyMismatch(StateError):
    """The log was signed by another key than the one this process was given."""


class ReviewError(Exception):
    """The review cannot be resolved; the subclass says why."""


class ReviewNotFound(ReviewError):
    """No entry has this id."""


class NotUnderReview(ReviewError):
    """The entry is not a REVIEW claim decision."""


class AlreadyResolved(ReviewError):
    def __init__(self, verdict_id: str, resolution_id: str) -> None:
        self.verdict_id = verdict_id
        self.resolution_id = resolution_id
        super().__init__(
            f"review {verdict_id} was already resolved by {resolution_id or 'another resolution'}"
        )
