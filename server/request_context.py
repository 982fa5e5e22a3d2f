"""Per-request context (request id, caller) carried in a contextvar."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestContext:
    request_id: str
    method: str
    caller: str = "anonymous"


_OUTSIDE = RequestContext(request_id="-", method="-", caller="internal")
_CURRENT: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "anshin_request", default=None
)


def current_request() -> RequestContext:
    return _CURRENT.get() or _OUTSIDE


def set_request(ctx: RequestContext) -> contextvars.Token[RequestContext | None]:
    return _CURRENT.set(ctx)
