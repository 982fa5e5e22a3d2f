"""Token buckets per caller identity, sized per role.

Each identity has one bucket holding up to ``burst`` tokens, refilled at
``per_second``; a call takes one token. Without a token the call is refused
with RESOURCE_EXHAUSTED and the time until the next token (``RetryInfo``).
The buckets live in the serving process: under ``serve --workers N`` each
worker limits on its own, so the effective limit is up to N times the
configured one (docs/security.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from server.security.config import RateLimit

# Buckets idle this long are full again anyway: forget them (bounded memory).
_IDLE_FORGET_SECONDS = 600.0
_SWEEP_EVERY = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    def __init__(
        self,
        limit_of: Callable[[str], RateLimit | None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit_of = limit_of
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._calls = 0

    def take(self, identity: str, role: str) -> float | None:
        """Take one token: None if admitted, else the seconds until one is available."""
        limit = self._limit_of(role)
        if limit is None:
            return None
        now = self._clock()
        self._calls += 1
        if self._calls % _SWEEP_EVERY == 0:
            self._sweep(now)
        bucket = self._buckets.get(identity)
        if bucket is None:
            bucket = self._buckets[identity] = _Bucket(limit.burst, now)
        else:
            bucket.tokens = min(limit.burst, bucket.tokens + (now - bucket.at) * limit.per_second)
            bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return (1.0 - bucket.tokens) / limit.per_second

    def _sweep(self, now: float) -> None:
        stale = [k for k, b in self._buckets.items() if now - b.at > _IDLE_FORGET_SECONDS]
        for k in stale:
            del self._buckets[k]
