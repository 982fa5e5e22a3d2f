"""At most one log line per key and interval, counting the lines held back.

A condition that holds for every request (release data gone stale, say)
would otherwise write one warning per request: thousands a second of the
same line, which buries everything else an operator needs to see and costs
the request path a JSON line each. The first occurrence is logged at once;
then at most one line per ``interval`` seconds, saying how many it stands for.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable


class LogThrottle:
    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        if interval < 0:
            raise ValueError(f"interval must be >= 0 s, not {interval}")
        self._interval = interval
        self._clock = clock
        self._last: dict[Hashable, float] = {}
        self._held: dict[Hashable, int] = {}

    def admit(self, key: Hashable) -> int | None:
        """None: hold this line back. Otherwise log it, with the returned
        number of lines of ``key`` held back since the previous one."""
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._interval:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        self._last[key] = now
        return self._held.pop(key, 0)
