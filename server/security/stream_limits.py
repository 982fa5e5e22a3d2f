"""What a server stream may cost: streams per identity, read-ahead bytes, idle time.

A server stream (QueryVerdicts, ListReviews) holds memory for as long as
its reader lets it: the pages read from the store and not yet taken by the
reader's HTTP/2 flow-control window. Issue 18 measured 100 unread
QueryVerdicts streams taking the server from 272 MB to 8.2 GB. Three guards
bound that, all settings of ``serve`` (docs/operations.md):

* ``max_per_identity`` concurrent server streams per caller identity; one
  more is refused with RESOURCE_EXHAUSTED before it reads anything;
* ``buffer_bytes`` shared by every open stream: a stream reads its next batch
  of entries sized to its share (``batch_bytes``), between ``MIN_BATCH_BYTES``
  and ``MAX_BATCH_BYTES``, so one export still reads large batches while 300
  open streams each hold a small one;
* ``idle_seconds``: a stream whose reader has taken no data for that long
  (its write did not complete) is ended DEADLINE_EXCEEDED, freeing its slot.

The counts live in the serving process (like the rate limiter's buckets):
under ``serve --workers N`` each worker counts on its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from server.errors import AccessDenied

DEFAULT_MAX_PER_IDENTITY = 8
DEFAULT_IDLE_SECONDS = 30.0
DEFAULT_BUFFER_BYTES = 16 << 20
# One batch of a stream is at least this (a few entries: progress at all)
# and at most this (one export alone reads no more per query than the page
# limit, gRPC's default message size, allows).
MIN_BATCH_BYTES = 64 << 10
MAX_BATCH_BYTES = 3 << 20


@dataclass(frozen=True, slots=True)
class StreamSettings:
    max_per_identity: int = DEFAULT_MAX_PER_IDENTITY
    idle_seconds: float = DEFAULT_IDLE_SECONDS
    buffer_bytes: int = DEFAULT_BUFFER_BYTES

    def __post_init__(self) -> None:
        if self.max_per_identity < 1:
            raise ValueError("max streams per identity must be at least 1")
        if self.idle_seconds <= 0:
            raise ValueError("stream idle seconds must be positive")
        if self.buffer_bytes < MIN_BATCH_BYTES:
            raise ValueError(f"stream buffer bytes must be at least {MIN_BATCH_BYTES}")


class StreamLimits:
    """Open server streams per identity, and each one's share of the buffer."""

    def __init__(self, settings: StreamSettings | None = None) -> None:
        self.settings = settings or StreamSettings()
        self._open: dict[str, int] = {}
        self._total = 0

    @property
    def open_streams(self) -> int:
        return self._total

    def open_for(self, identity: str) -> int:
        return self._open.get(identity, 0)

    @contextmanager
    def slot(self, identity: str) -> Iterator[None]:
        """Hold one of ``identity``'s stream slots for the body; refused
        (AccessDenied RESOURCE_EXHAUSTED) when all are taken."""
        limit = self.settings.max_per_identity
        held = self._open.get(identity, 0)
        if held >= limit:
            raise AccessDenied(
                "RESOURCE_EXHAUSTED",
                f"at most {limit} server streams open at once per caller: "
                "finish or cancel one first",
            )
        self._open[identity] = held + 1
        self._total += 1
        try:
            yield
        finally:
            self._total -= 1
            left = self._open[identity] - 1
            if left:
                self._open[identity] = left
            else:
                del self._open[identity]  # bounded: only identities with streams open

    def batch_bytes(self) -> int:
        """The bytes one stream may read ahead now: its share of the buffer."""
        share = self.settings.buffer_bytes // max(1, self._total)
        return max(MIN_BATCH_BYTES, min(MAX_BATCH_BYTES, share))
