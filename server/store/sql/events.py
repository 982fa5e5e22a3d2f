"""Events: the SQL that stores them, and the reads of them decisions make.

Idempotency is decided inside the writer's transaction: a row whose
``client_event_id`` is already stored is not inserted, and the caller gets
back the row that was there first, so it can tell a retry (same fingerprint)
from a conflicting reuse of the id (different fingerprint).

A reply is stored as its head (event id, recorded-at) plus a reference to
its judgements in wire form, shared by every event judged the same way:
protobuf fields concatenate, so head + judgements is the whole EventAck.

Every transaction that stores new events appends one ``events`` entry to the
verdict log listing each of them (client id and row hash) in the order
inserted, and each row records that entry's seq (``log_seq``): an event
edited, deleted or inserted behind the service's back is then named by
``anshin log verify`` (server/log/coverage.py says why this form).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import orjson
import uuid_utils

from server.log import coverage
from server.store.chain import LogChain
from server.store.records import ClaimEventQuery, EventRow, VerdictRecord
from server.store.sql.connection import IN_CHUNK, Connection, marks
from server.store.sql.verdicts import append_verdict

COLUMNS = (
    "e.client_event_id, e.kind, e.customer_id, e.subject, e.event_us, e.recorded_us, "
    "e.fingerprint, e.payload, e.reply_head, j.wire, e.request_id, e.caller"
)
FROM = "FROM events e JOIN judgement_sets j ON j.ref = e.judgements_ref"
# The column list alone: PostgreSQL inserts many rows per statement after it.
INSERT_HEAD = (
    "INSERT INTO events (client_event_id, kind, customer_id, subject, event_us, recorded_us, "
    "fingerprint, payload, reply_head, judgements_ref, request_id, caller, log_seq)"
)
INSERT_WIDTH = 13
INSERT = (
    f"{INSERT_HEAD} VALUES ({','.join('?' * INSERT_WIDTH)}) "
    "ON CONFLICT (client_event_id) DO NOTHING"
)
INSERT_SET = "INSERT INTO judgement_sets (ref, wire) VALUES (?, ?) ON CONFLICT (ref) DO NOTHING"


def judgements_ref(wire: bytes) -> str:
    return hashlib.sha256(wire).hexdigest()[:32]


def insert_params(r: EventRow, log_seq: int) -> tuple[Any, ...]:
    """``r`` as the parameters of ``INSERT`` (in ``INSERT_HEAD`` order), bound to
    the ``events`` entry at ``log_seq``."""
    return (
        r.client_event_id,
        r.kind,
        r.customer_id,
        r.subject,
        r.event_us,
        r.recorded_us,
        r.fingerprint,
        r.payload.decode(),
        r.reply_head,
        judgements_ref(r.judgements),
        r.request_id,
        r.caller,
        log_seq,
    )


def row_hash(r: EventRow) -> str:
    """The row's hash as its ``events`` entry lists it (server/log/coverage.py)."""
    return coverage.event_row_hash(
        r.client_event_id,
        r.kind,
        r.customer_id,
        r.subject,
        r.event_us,
        r.recorded_us,
        r.fingerprint,
        r.payload,
        r.reply_head,
        r.judgements,
        r.request_id,
        r.caller,
    )


def events_entry(rows: Sequence[EventRow]) -> VerdictRecord:
    """The ``events`` log entry listing ``rows`` (new ones, in insert order).

    Rows of several customers and callers can share a transaction: the entry
    names none of them (``customer_id`` empty) and takes the first row's
    request and caller; its instants are the latest of the rows'."""
    listed = [(r.client_event_id, row_hash(r)) for r in rows]
    recorded_us = max(r.recorded_us for r in rows)
    return VerdictRecord(
        id=str(uuid_utils.uuid7()),
        kind=coverage.EVENTS_KIND,
        customer_id="",
        device_id=None,
        subject_us=recorded_us,
        recorded_us=recorded_us,
        rules_digest="",
        rules=b"{}",
        outcome=coverage.EVENTS_OUTCOME,
        clause_ids=(),
        inputs=orjson.dumps(coverage.events_inputs(listed)),
        result=orjson.dumps(coverage.events_result(listed)),
        request_id=rows[0].request_id,
        caller=rows[0].caller,
    )


def bind_events(conn: Connection, chain: LogChain, rows: Sequence[EventRow]) -> int:
    """Append the ``events`` entry listing ``rows`` (about to be inserted); its seq."""
    return append_verdict(conn, chain, events_entry(rows))


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
    for start in range(0, len(ids), IN_CHUNK):
        chunk = ids[start : start + IN_CHUNK]
        rows = conn.execute(
            f"SELECT {COLUMNS} {FROM} WHERE e.client_event_id IN ({marks(len(chunk))})", chunk
        ).fetchall()
        found.update({r[0]: row_from(r) for r in rows})
    return found


def new_sets(rows: Sequence[EventRow], known_sets: set[str]) -> dict[str, bytes]:
    """ref → wire of the judgement sets of ``rows`` not among ``known_sets``."""
    sets: dict[str, bytes] = {}
    for r in rows:
        ref = judgements_ref(r.judgements)
        if ref not in known_sets:
            sets[ref] = r.judgements
    return sets


def insert_rows(
    conn: Connection, chain: LogChain, rows: Sequence[EventRow], known_sets: set[str]
) -> list[tuple[bool, EventRow]]:
    """Insert what is new; for each row, (inserted?, the row now stored under its id).

    ``known_sets`` are judgement-set refs this store already wrote; it is
    updated only by the caller after the transaction commits (``stored_sets``).
    For one writer: PostgreSQL's own (postgres/events.py) is correct against
    other processes inserting the same ids meanwhile.
    """
    before = existing(conn, [r.client_event_id for r in rows])
    fresh: dict[str, EventRow] = {}
    for r in rows:
        if r.client_event_id not in before and r.client_event_id not in fresh:
            fresh[r.client_event_id] = r
    if fresh:
        sets = new_sets(list(fresh.values()), known_sets)
        if sets:
            conn.executemany(INSERT_SET, list(sets.items()))
        log_seq = bind_events(conn, chain, list(fresh.values()))
        conn.executemany(INSERT, [insert_params(r, log_seq) for r in fresh.values()])
    out = []
    for r in rows:
        first = before.get(r.client_event_id) or fresh[r.client_event_id]
        out.append((first is r, first))
    return out


def stored_sets(rows: Sequence[EventRow]) -> set[str]:
    """The judgement-set refs of ``rows``: stored once their transaction committed."""
    return {judgements_ref(r.judgements) for r in rows}


def events_of(
    conn: Connection, customer_id: str, kinds: Sequence[str], until_us: int
) -> list[tuple[str, bytes]]:
    rows = conn.execute(
        f"SELECT kind, payload FROM events WHERE customer_id = ? AND kind IN ({marks(len(kinds))}) "
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


def count_events(conn: Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])


# -- what a claim's decision reads ---------------------------------------------

_ROWS = "SELECT kind, payload FROM events WHERE customer_id = ? AND kind = ? AND event_us <= ?"
_ORDER = " ORDER BY event_us, client_event_id"


def claim_events(conn: Connection, q: ClaimEventQuery) -> list[tuple[str, bytes]]:
    """The events of one customer a claim's decision reads, by the existing
    (customer_id, kind, event_us) index, instead of every event on record.

    * cover: the ``cover_kind`` events (with subject ``cover_subject``, when given);
    * payment registrations of the claim's instrument (DCM-S1/S2, DCM-X4,
      KDN-X1 look at no other instrument): of those at or before the
      incident, the first and the last of each payment service (the engine
      judges the last one and lists services in the order of their first),
      and every one after it up to the claim;
    * for each payment service the instrument was registered to (or the
      claim's own service), the last login at or before the incident —
      the only login DCM-S3 / KDN-X1 judge — chosen as the engine chooses
      (latest instant, then the greatest client event id);
    * the dark-web monitoring events of the claim's card (KDN-C0..C2).

    Each part is in (event_us, client_event_id) order, as ``events_of`` gives
    them. Everything is at or before the claim instant.
    """
    out: list[tuple[str, bytes]] = []
    customer_id, as_of_us, fraud_us = q.customer_id, q.as_of_us, q.incident_us

    def rows(sql: str, *params: object) -> list[tuple[str, bytes]]:
        return [(r[0], r[1].encode()) for r in conn.execute(sql, params).fetchall()]

    if q.cover_subject is None:
        out += rows(_ROWS + _ORDER, customer_id, q.cover_kind, as_of_us)
    else:
        out += rows(
            _ROWS + " AND subject = ?" + _ORDER,
            customer_id,
            q.cover_kind,
            as_of_us,
            q.cover_subject,
        )
    services = {q.service} if q.service else set()
    instrument = q.instrument
    if instrument:
        # subject is "<service>/<token>"; the exact token is checked on the decoded event.
        suffix = f"/{instrument}"
        regs = conn.execute(
            "SELECT kind, payload, event_us, client_event_id FROM events WHERE customer_id = ?"
            " AND kind = ? AND event_us <= ?"
            # The last n characters, portably (PostgreSQL's substr has no negative start).
            " AND substr(subject, length(subject) - ? + 1) = ?" + _ORDER,
            (customer_id, "registration", as_of_us, len(suffix), suffix),
        ).fetchall()
        # service → (event_us, id) of its first and last registration before the incident
        first: dict[str, tuple[int, str]] = {}
        last: dict[str, tuple[int, str]] = {}
        keep: list[tuple[str, str, int, str]] = []
        for kind, payload, event_us, event_id in regs:
            d = orjson.loads(payload)
            if d["instrument"]["token"] != instrument:
                continue
            svc = d["payment_service_id"]
            services.add(svc)
            keep.append((kind, svc, event_us, event_id))
            if event_us <= fraud_us:
                key = (event_us, event_id)
                first[svc] = min(first.get(svc, key), key)
                last[svc] = max(last.get(svc, key), key)
        # Judging a registration is the costly part. Of those at or before the
        # incident the engine reads the last of each service (and lists the
        # services in the order of their first); later ones, up to the claim,
        # are all kept (a clause may look at a later instant of the claim).
        wanted = {(svc, *first[svc]) for svc in first} | {(svc, *last[svc]) for svc in last}
        by_id = {r[3]: r for r in regs}
        out += [
            (kind, by_id[event_id][1].encode())
            for kind, svc, event_us, event_id in keep
            if event_us > fraud_us or (svc, event_us, event_id) in wanted
        ]
    for svc in sorted(services):
        out += rows(
            _ROWS + " AND subject = ? ORDER BY event_us DESC, client_event_id DESC LIMIT 1",
            customer_id,
            "payment_login",
            fraud_us,
            f"{svc}/",
        )
    if q.card:
        out += rows(
            _ROWS + " AND subject = ?" + _ORDER, customer_id, "monitoring", as_of_us, q.card
        )
    return out
