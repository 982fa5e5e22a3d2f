"""What an IngestEvents reply says about rejected events, in bounded size.

A stream may carry any number of events and every one of them may be
rejected; a reply listing each (about 100 bytes apiece) outgrows the 4 MiB a
default gRPC client accepts at ~40,000 rejections, and the caller then gets
RESOURCE_EXHAUSTED for a stream whose valid events *were* stored. So the
reply lists the first ``FULL_REJECTIONS`` rejections in full and counts the
rest per reason — the status code and the first field named — with the
stream position of the first of each. Reasons are capped too (a field path
can carry a map key or an index): past ``MAX_REASONS`` distinct ones, the
rest are counted under their code with the field ``*``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# (stream position, client event id, status name, message)
Reject = tuple[int, str, str, str]

FULL_REJECTIONS = 100
MAX_REASONS = 32
# A rejection message is one line per violation; a longer one is cut here
# (its field paths come first, so the cut keeps what names the problem).
MAX_MESSAGE_CHARS = 1024
MAX_EVENT_ID_CHARS = 128
_INDEX = re.compile(r"\[[^\]]*\]")
_MAX_FIELD_CHARS = 100


def reason_field(code: str, message: str) -> str:
    """The field a rejection is about, for counting: the first violation's path
    with its indices and map keys dropped (``exclusions[..]`` → ``exclusions[]``)."""
    if code == "ALREADY_EXISTS":
        return "client_event_id"
    head, sep, _ = message.partition(":")
    if not sep:
        return "*"
    return _INDEX.sub("[]", head.strip())[:_MAX_FIELD_CHARS] or "*"


@dataclass(slots=True)
class ReasonCount:
    code: str
    field: str
    count: int
    first_index: int


@dataclass(slots=True)
class RejectionTally:
    """The first rejections in full, counts per reason for the rest."""

    full_limit: int = FULL_REJECTIONS
    reasons_limit: int = MAX_REASONS
    full: list[Reject] = field(default_factory=list)
    total: int = 0
    beyond: dict[tuple[str, str], ReasonCount] = field(default_factory=dict)

    def add(self, reject: Reject) -> None:
        self.total += 1
        index, event_id, code, message = reject
        if len(self.full) < self.full_limit:
            self.full.append(
                (index, event_id[:MAX_EVENT_ID_CHARS], code, message[:MAX_MESSAGE_CHARS])
            )
            return
        key = (code, reason_field(code, message))
        if key not in self.beyond and len(self.beyond) >= self.reasons_limit:
            key = (code, "*")
        counted = self.beyond.get(key)
        if counted is None:
            self.beyond[key] = ReasonCount(key[0], key[1], 1, index)
        else:
            counted.count += 1
            counted.first_index = min(counted.first_index, index)

    def extend(self, rejects: list[Reject]) -> None:
        for reject in rejects:
            self.add(reject)

    def listed(self) -> list[Reject]:
        """The rejections listed in full, in stream order."""
        return sorted(self.full)

    def counted(self) -> list[tuple[str, str, int, int]]:
        """The others per reason as (code, field, count, first stream position),
        most frequent first."""
        ordered = sorted(self.beyond.values(), key=lambda r: (-r.count, r.first_index))
        return [(r.code, r.field, r.count, r.first_index) for r in ordered]
