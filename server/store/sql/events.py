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

from rules.engine.needs import (
    CoverEvents,
    InstrumentRegistrations,
    LastLogins,
    Need,
    judged_registrations,
)
from server.clock import to_us
from server.log import coverage
from server.store.chain import LogChain
from server.store.records import EventRow, VerdictRecord
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


def security_replies(
    conn: Connection, customer_id: str, service: str, token: str, before_us: int
) -> tuple[list[bytes], list[bytes]]:
    """The stored acks of the customer's registrations to ``service`` (of the
    instrument ``token`` only, when given) and of the logins to it, before
    ``before_us``, in (event_us, client_event_id) order.

    Exactly that service and instrument, as a claim reads them
    (rules/engine/needs.py): a subject prefix alone would also take token
    "tok-10" for "tok-1", and service "pay/a" for "pay" (identifiers may
    contain "/"), so registrations are checked on the stored event itself."""
    head = f"SELECT e.reply_head, j.wire, e.payload {FROM} WHERE e.customer_id = ? AND e.kind = ? "
    tail = "AND e.event_us < ? ORDER BY e.event_us, e.client_event_id"
    if token:
        sql = head + "AND e.subject = ? " + tail
        regs = conn.execute(sql, (customer_id, "registration", f"{service}/{token}", before_us))
    else:
        prefix = f"{service}/"
        sql = head + "AND substr(e.subject, 1, length(?)) = ? " + tail
        regs = conn.execute(sql, (customer_id, "registration", prefix, prefix, before_us))
    registrations = []
    for reply_head, wire, payload in regs.fetchall():
        d = orjson.loads(payload)
        if d["payment_service_id"] == service and (not token or d["instrument"]["token"] == token):
            registrations.append(bytes(reply_head) + bytes(wire))
    sql = f"SELECT e.reply_head, j.wire {FROM} WHERE e.customer_id = ? AND e.kind = ? "
    rows = conn.execute(
        sql + "AND e.subject = ? " + tail, (customer_id, "payment_login", f"{service}/", before_us)
    ).fetchall()
    return registrations, [bytes(r[0]) + bytes(r[1]) for r in rows]


def count_events(conn: Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])


# -- what a claim's decision reads ---------------------------------------------

_ROWS = (
    "SELECT kind, payload, event_us, client_event_id FROM events"
    " WHERE customer_id = ? AND kind = ? AND event_us <= ?"
)
_ORDER = " ORDER BY event_us, client_event_id"
# (kind, payload, event_us, client_event_id) as read
_Row = tuple[str, str, int, str]


def claim_events(
    conn: Connection, customer_id: str, needs: Sequence[Need]
) -> list[tuple[str, bytes]]:
    """The events of one customer that answer a claim decision's questions
    (rules/engine/needs.py), by the (customer_id, kind, event_us) index rather
    than every event on record: each question's events in (event_us,
    client_event_id) order, questions in the order asked, an event answering
    several once (where first asked). The store knows no policy: which
    registration and which login answer is decided by the needs module's
    ``judged_registrations`` (applied to the rows read here) and, for the one
    login per service, by the same order in SQL (the greatest (event_us,
    client_event_id)); tests/claims/test_needs.py holds this to ``needs.answer``.
    """
    out: list[tuple[str, bytes]] = []
    seen: set[str] = set()

    def add(rows: Sequence[_Row]) -> None:
        for kind, payload, _, event_id in rows:
            if event_id not in seen:
                seen.add(event_id)
                out.append((kind, payload.encode()))

    for need in needs:
        if isinstance(need, CoverEvents):
            up_to = to_us(need.up_to)
            if need.subject is None:
                add(_rows(conn, _ROWS + _ORDER, customer_id, need.kind, up_to))
            else:
                sql = _ROWS + " AND subject = ?" + _ORDER
                add(_rows(conn, sql, customer_id, need.kind, up_to, need.subject))
        elif isinstance(need, InstrumentRegistrations):
            spans = _judged(conn, customer_id, need.instrument, to_us(need.at), need.service)
            add(sorted((r for f, last in spans.values() for r in {f, last}), key=_event_order))
        elif isinstance(need, LastLogins):
            at_us = to_us(need.at)
            if need.service:
                services: Sequence[str] = (need.service,)
            else:
                services = list(_judged(conn, customer_id, need.instrument, at_us, ""))
            sql = _ROWS + " AND subject = ? ORDER BY event_us DESC, client_event_id DESC LIMIT 1"
            logins = [
                r
                for svc in services
                for r in _rows(conn, sql, customer_id, "payment_login", at_us, f"{svc}/")
            ]
            add(sorted(logins, key=_event_order))
        else:
            sql = _ROWS + " AND subject = ?" + _ORDER
            add(_rows(conn, sql, customer_id, "monitoring", to_us(need.up_to), need.card))
    return out


def _rows(conn: Connection, sql: str, *params: object) -> list[_Row]:
    return [(r[0], r[1], int(r[2]), r[3]) for r in conn.execute(sql, params).fetchall()]


def _event_order(r: _Row) -> tuple[int, str]:
    return r[2], r[3]


def _judged(
    conn: Connection, customer_id: str, instrument: str, at_us: int, service: str
) -> dict[str, tuple[_Row, _Row]]:
    """service → (first, last) registration of ``instrument`` at or before
    ``at_us`` (``needs.judged_registrations`` on the rows read)."""
    if service:
        sql = _ROWS + " AND subject = ?" + _ORDER
        regs = _rows(conn, sql, customer_id, "registration", at_us, f"{service}/{instrument}")
    else:
        # subject is "<service>/<token>"; the exact token is checked on the decoded event.
        # The last n characters, portably (PostgreSQL's substr has no negative start).
        suffix = f"/{instrument}"
        sql = _ROWS + " AND substr(subject, length(subject) - ? + 1) = ?" + _ORDER
        regs = _rows(conn, sql, customer_id, "registration", at_us, len(suffix), suffix)
    decoded = []
    for r in regs:
        d = orjson.loads(r[1])
        decoded.append((d["instrument"]["token"], d["payment_service_id"], r[2], r[3], r))
    return judged_registrations(decoded, instrument, at_us, service)
