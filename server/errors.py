"""Anshin's errors: one root, a few families, and the table that lifts the
errors of the layers that cannot know this tree (the store, the rules loader).

Use cases, wire conversion and start-up raise a family; nobody below the edge
knows about gRPC. Two places read the families, each once:

* ``server/api/status.py`` turns one into a gRPC status with its
  ``google.rpc`` details (BadRequest field violations, PreconditionFailure,
  RetryInfo);
* the command line's ``main`` (``server/cli/__init__.py``) prints one as a
  single line.

::

    AnshinError
    ├── InvalidArgument      the request is wrong; every field violation at once
    ├── NotFound             the named thing does not exist
    ├── AlreadyExists        an id reused for something else (idempotency)
    ├── FailedPrecondition   valid, but the state of things refuses it
    ├── Unavailable          the store cannot serve now; retry
    │   └── WorkersUnavailable   the bulk worker processes failed on a batch; retry
    ├── AccessDenied         the gate refused the caller (server/security/auth.Denied)
    └── ConfigError          what the process was given (flags, rules, keys, database)
                             cannot be used: a start-up refusal (also a ValueError)

The store's errors (``server/store/errors.py``) and the rules loader's
``RulesError`` stay where they are, since those layers import nothing of
``server/``; ``lift`` maps them onto the tree in one table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from server.store.errors import (
    AlreadyResolved,
    LogIntegrityError,
    NotUnderReview,
    ReviewNotFound,
    StateError,
    StoreError,
)


class AnshinError(Exception):
    """The root: a failure Anshin expects and can explain in one line."""

    # What a remote caller is told instead of the message, when the message
    # may name internals (None: the message itself).
    wire_message: ClassVar[str | None] = None

    def __reduce__(self) -> tuple[object, ...]:
        # Picklable as it was raised (bulk worker processes send these back).
        return (type(self), self.args)


@dataclass(frozen=True, slots=True)
class Violation:
    """One bad field of a request, named by its path (``amounts.loss_yen``)."""

    field: str
    description: str


class InvalidArgument(AnshinError):
    """Bad input: every violation found, so the caller can fix all at once (AIP-193)."""

    def __init__(self, violations: Iterable[Violation]) -> None:
        self.violations = list(violations)
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in self.violations))

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.violations,))

    @classmethod
    def of(cls, field: str, description: str) -> InvalidArgument:
        return cls([Violation(field, description)])


class NotFound(AnshinError):
    """The named entity does not exist."""


class AlreadyExists(AnshinError):
    """An id was used before for something else (a client event id, a claim id,
    a review already resolved)."""


@dataclass(frozen=True, slots=True)
class PreconditionViolation:
    type: str
    subject: str
    description: str


class FailedPrecondition(AnshinError):
    """The request is well formed, but the state of things refuses it."""

    def __init__(self, message: str, violations: Iterable[PreconditionViolation] = ()) -> None:
        self.violations = tuple(violations)
        super().__init__(message)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (str(self), self.violations))


class Unavailable(AnshinError):
    """The store cannot serve the request now (locked, full, unreachable): retry."""

    wire_message = "store unavailable, retry later"


class WorkersUnavailable(Unavailable):
    """Bulk ingestion's worker processes broke twice on one batch (server/bulk.py):
    nothing of it was stored, and retrying the same events is idempotent."""

    wire_message = "bulk ingestion workers unavailable, retry later"


class AccessDenied(AnshinError):
    """The call may not run: not authenticated, not permitted, or over its rate.

    ``status_name`` is the gRPC status name (``UNAUTHENTICATED``,
    ``PERMISSION_DENIED``, ``RESOURCE_EXHAUSTED``); ``retry_after`` the seconds
    a rate-limited caller should wait."""

    def __init__(self, status_name: str, message: str, *, retry_after: float | None = None) -> None:
        self.status_name = status_name
        self.message = message
        self.retry_after = retry_after
        super().__init__(message)

    def __reduce__(self) -> tuple[object, ...]:
        return (_access_denied, (self.status_name, self.message, self.retry_after))


def _access_denied(status_name: str, message: str, retry_after: float | None) -> AccessDenied:
    # Unpickling: the keyword-only ``retry_after`` cannot travel in ``args``.
    return AccessDenied(status_name, message, retry_after=retry_after)


class ConfigError(AnshinError, ValueError):
    """What the process was given cannot be used: flags, environment, rules,
    keys, the database. Refused at start-up with the message saying how to fix it."""


class Violations:
    """Collects violations while converting a request."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[Violation] = []

    def add(self, field: str, description: str) -> None:
        self.items.append(Violation(field, description))

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidArgument(self.items)


def lift(exc: BaseException) -> AnshinError | None:
    """``exc`` as a family of the tree: itself, the family a lower layer's
    error belongs to, or None for an error nobody expected (a bug)."""
    if isinstance(exc, AnshinError):
        return exc
    # Here, not at the top: loading the rules package costs a command-line
    # start ~0.3 s, and only a failure needs its error class.
    from rules.load import RulesError
    from server.log.compact import BlobError

    lifted: AnshinError
    if isinstance(exc, LogIntegrityError):  # read-only until the log is dealt with
        lifted = FailedPrecondition(str(exc))
    elif isinstance(exc, BlobError):  # a compacted entry whose blob was damaged or deleted
        lifted = FailedPrecondition(
            f"a log entry cannot be read as it was written ({exc}): run `anshin log verify`"
        )
    elif isinstance(exc, StoreError):
        lifted = Unavailable(str(exc))
    elif isinstance(exc, ReviewNotFound):
        lifted = NotFound(str(exc))
    elif isinstance(exc, AlreadyResolved):
        lifted = AlreadyExists(str(exc))
    elif isinstance(exc, NotUnderReview):
        lifted = FailedPrecondition(str(exc))
    elif isinstance(exc, StateError | RulesError):
        lifted = ConfigError(str(exc))
    else:
        return None
    lifted.__cause__ = exc
    return lifted
