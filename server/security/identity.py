"""The caller as recorded: ``"identity (role)"`` in every log entry.

The verdict log and the event store keep the caller as one string (it is
part of the hash-chained canonical form). :func:`format_caller` writes it,
:func:`parse_caller` reads it back into the proto ``Caller`` fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from server.request_context import current_request

# The caller of plaintext loopback serving without an auth config: every
# role is admitted (the start-up warning says so).
LOCAL_ROLE = "local"
ANONYMOUS = "anonymous"
_FORMAT = re.compile(r"^(?P<identity>.*) \((?P<role>[a-z_]+)\)$")


@dataclass(frozen=True, slots=True)
class Caller:
    identity: str
    role: str

    def __str__(self) -> str:
        return format_caller(self.identity, self.role)


LOCAL_CALLER = Caller(ANONYMOUS, LOCAL_ROLE)


def format_caller(identity: str, role: str) -> str:
    return f"{identity} ({role})"


def parse_caller(text: str) -> Caller:
    """``"hnb-ib-1 (ib_server)"`` -> Caller("hnb-ib-1", "ib_server"); role "" if none."""
    m = _FORMAT.match(text)
    if m is None:
        return Caller(text, "")
    return Caller(m["identity"], m["role"])


def current_caller() -> Caller:
    """The authenticated caller of the request being served."""
    return parse_caller(current_request().caller)
