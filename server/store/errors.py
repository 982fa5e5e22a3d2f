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


class LogIntegrityError(Exception):
    """The store found its verdict log changed behind its back when it opened
    and serves reads only: every write is refused (FAILED_PRECONDITION),
    naming the first entry the start-up check found wrong."""

    def __init__(self, seq: int, entry_id: str | None, reason: str) -> None:
        self.seq = seq
        self.entry_id = entry_id
        self.reason = reason
        named = f"seq {seq}" + (f" (id {entry_id})" if entry_id else "")
        super().__init__(
            f"the verdict log is read-only: it was changed outside the service at {named}: "
            f"{reason}; run `anshin log verify` to name the first changed entry"
        )


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
