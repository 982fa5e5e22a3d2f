"""Event rows and the SQL that stores them, shared by the backends.

Idempotency is decided inside the writer's transaction: a row whose
``client_event_id`` is already stored is not inserted, and the caller gets
back the row that was there first, so it can tell a retry (same fingerprint)
from a conflicting reuse of the id (different fingerprint).

A reply is stored as its head (event id, recorded-at) plus a reference to
its judgements in wire form, shared by every event judged the same way:
protobuf fields concatenate, so head + judgements is the whole EventAck.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class EventRow:
    client_event_id: str
    kind: str
    customer_id: str
    subject: str
    event_us: int
    recorded_us: int
    fingerprint: str
    payload: bytes  # canonical JSON of the redacted event
    reply_head: bytes  # EventAck fields 1 and 3 (event id, recorded_at) in wire form
    judgements: bytes  # EventAck field 4 (judgements) in wire form
    request_id: str
    caller: str

    @property
    def reply(self) -> bytes:
        """The serialized EventAck given the first time."""
        return self.reply_head + self.judgements


def judgements_ref(wire: bytes) -> str:
    return hashlib.sha256(wire).hexdigest()[:32]


class Connection(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...

    def executemany(self, sql: str, params: Any) -> Any: ...


COLUMNS = (
    "e.client_event_id, e.kind, e.customer_id, e.subject, e.event_us, e.recorded_us, "
    "e.fingerprint, e.payload, e.reply_head, j.wire, e.request_id, e.caller"
)
FROM = "FROM events e JOIN judgement_sets j ON j.ref = e.judgements_ref"
INSERT = (
    "INSERT INTO events (client_event_id, kind, customer_id, subject, event_us, recorded_us, "
    "fingerprint, payload, reply_head, judgements_ref, request_id, caller) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (client_event_id) DO NOTHING"
)
INSERT_SET = "INSERT INTO judgement_sets (ref, wire) VALUES (?, ?) ON CONFLICT (ref) DO NOTHING"


def row_from(t: Sequence[Any]) -> EventRow:
    return EventRow(
        t[0],
        t[1],
        t[2],
        t[3],
        int(t[4]),
        int(t[5]),
        t[6],
        t[7].encode(),
        bytes(t[8]),
        bytes(t[9]),
        t[10],
        t[11],
    )


def existing(conn: Connection, ids: Sequence[str]) -> dict[str, EventRow]:
    found: dict[str, EventRow] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT {COLUMNS} {FROM} WHERE e.client_event_id IN ({marks})", chunk
        ).fetchall()
        found.update({r[0]: row_from(r) for r in rows})
    return found


def insert_rows(
    conn: Connection, rows: Sequence[EventRow], known_sets: set[str]
) -> list[tuple[bool, EventRow]]:
    """Insert what is new; for each row, (inserted?, the row now stored under its id).

    ``known_sets`` are judgement-set refs this store already wrote; it is
    updated only by the caller after the transaction commits.
    """
    before = existing(conn, [r.client_event_id for r in rows])
    fresh: dict[str, EventRow] = {}
    for r in rows:
        if r.client_event_id not in before and r.client_event_id not in fresh:
            fresh[r.client_event_id] = r
    if fresh:
        sets: dict[str, bytes] = {}
        params = []
        for r in fresh.values():
            ref = judgements_ref(r.judgements)
            if ref not in known_sets:
                sets[ref] = r.judgements
            params.append(
                (
                    r.client_event_id,
                    r.kind,
                    r.customer_id,
                    r.subject,
                    r.event_us,
                    r.recorded_us,
                    r.fingerprint,
                    r.payload.decode(),
                    r.reply_head,
                    ref,
                    r.request_id,
                    r.caller,
                )
            )
        if sets:
            conn.executemany(INSERT_SET, list(sets.items()))
        conn.executemany(INSERT, params)
    out = []
    for r in rows:
        first = before.get(r.client_event_id) or fresh[r.client_event_id]
        out.append((first is r, first))
    return out


def new_sets(rows: Sequence[EventRow]) -> set[str]:
    return {judgements_ref(r.judgements) for r in rows}


def events_of(
    conn: Connection, customer_id: str, kinds: Sequence[str], until_us: int
) -> list[tuple[str, bytes]]:
    marks = ",".join("?" * len(kinds))
    rows = conn.execute(
        f"SELECT kind, payload FROM events WHERE customer_id = ? AND kind IN ({marks}) "
        "AND event_us <= ? ORDER BY event_us, client_event_id",
        (customer_id, *kinds, until_us),
    ).fetchall()
    return [(r[0], r[1].encode()) for r in rows]


def replies_of(
    conn: Connection, customer_id: str, kind: str, subject_prefix: str, before_us: int
) -> list[bytes]:
    rows = conn.execute(
        f"SELECT e.reply_head, j.wire {FROM} WHERE e.customer_id = ? AND e.kind = ? "
        "AND substr(e.subject, 1, length(?)) = ? AND e.event_us < ? "
        "ORDER BY e.event_us, e.client_event_id",
        (customer_id, kind, subject_prefix, subject_prefix, before_us),
    ).fetchall()
    return [bytes(r[0]) + bytes(r[1]) for r in rows]
