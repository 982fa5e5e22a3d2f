"""Event storage for the PostgreSQL backend (mixed into PostgresStore).

Idempotency holds across processes: an event transaction locks the log head
first (it appends the ``events`` entry listing its new rows), so two
processes storing the same id run one after the other, and the second finds
the first one's row (READ COMMITTED: each statement sees what was committed
before it) and returns it. The insert stays ``ON CONFLICT (client_event_id)
DO NOTHING`` as a guard.

Concurrent calls share transactions (see ``group_commit.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from rules.engine.needs import Need
from server.store.chain import LogChain
from server.store.postgres.connection import LOCK_HEAD, PgConn
from server.store.postgres.group_commit import GroupCommit
from server.store.records import EventRow
from server.store.sql import events as events_sql
from server.store.sql.connection import insert_many

T = TypeVar("T")
Result = list[tuple[bool, EventRow]]

_CONFLICT = " ON CONFLICT (client_event_id) DO NOTHING RETURNING client_event_id"
_ROWS_PER_INSERT = 1000  # 13 parameters each
# Rows of all callers' events written in one transaction at most.
_EVENT_ROWS_PER_TXN = 5000


def insert_rows(
    conn: PgConn, chain: LogChain, rows: Sequence[EventRow], known_sets: set[str]
) -> Result:
    """``sql.events.insert_rows`` for PostgreSQL: correct against other processes.

    The log head is locked first: the new rows are listed in an ``events``
    entry appended in this transaction, so event transactions of every
    process serialize on it (as claims and verdicts do), and the ids found
    stored under the lock are exactly the ones another transaction committed.
    """
    conn.execute(LOCK_HEAD)
    fresh: dict[str, EventRow] = {}
    for r in rows:
        fresh.setdefault(r.client_event_id, r)
    first = events_sql.existing(conn, list(fresh))
    new = [fresh[i] for i in sorted(fresh) if i not in first]
    if new:
        sets = events_sql.new_sets(new, known_sets)
        if sets:
            conn.executemany(events_sql.INSERT_SET, sorted(sets.items()))
        log_seq = events_sql.bind_events(conn, chain, new)
        inserted = 0
        for start in range(0, len(new), _ROWS_PER_INSERT):
            chunk = new[start : start + _ROWS_PER_INSERT]
            params = [value for r in chunk for value in events_sql.insert_params(r, log_seq)]
            sql = insert_many(events_sql.INSERT_HEAD, events_sql.INSERT_WIDTH, len(chunk))
            inserted += len(conn.execute(sql + _CONFLICT, params).fetchall())
        if inserted != len(new):  # pragma: no cover - the head lock excludes it
            raise RuntimeError("events were stored meanwhile by a writer not holding the log head")
        first.update({r.client_event_id: r for r in new})
    return [(first[r.client_event_id] is r, first[r.client_event_id]) for r in rows]


class PostgresEventsMixin:
    _known_sets: set[str]
    _events: GroupCommit[Sequence[EventRow]]

    # Provided by PostgresStore.
    def transact(self, fn: Callable[[PgConn, LogChain], T]) -> T:
        raise NotImplementedError

    async def read(self, fn: Callable[[PgConn], T]) -> T:
        raise NotImplementedError

    def _init_events(self, executor: ThreadPoolExecutor) -> None:
        self._known_sets = set()
        self._events = GroupCommit(
            self._write_events, executor, max_batch=_EVENT_ROWS_PER_TXN, size=len
        )

    def _write_events(self, chunks: list[Sequence[EventRow]]) -> list[tuple[bool, Any]]:
        """One transaction for every caller's rows (on a worker thread)."""
        rows = [row for chunk in chunks for row in chunk]
        known = self._known_sets
        result = self.transact(lambda conn, chain: insert_rows(conn, chain, rows, known))
        # Committed: these judgement sets are stored; never write them again.
        known |= events_sql.stored_sets([row for inserted, row in result if inserted])
        out: list[tuple[bool, Any]] = []
        start = 0
        for chunk in chunks:
            out.append((True, result[start : start + len(chunk)]))
            start += len(chunk)
        return out

    async def record_events(self, rows: Sequence[EventRow]) -> Result:
        """Store new events in one transaction; for each row, (inserted?, row stored first)."""
        if not rows:
            return []
        result: Result = await self._events.submit(rows)
        return result

    async def _drain_events(self) -> None:
        await self._events.drain()

    async def events_of(
        self, customer_id: str, kinds: Sequence[str], until_us: int
    ) -> list[tuple[str, bytes]]:
        return await self.read(
            lambda conn: events_sql.events_of(conn, customer_id, kinds, until_us)
        )

    async def event_replies(
        self, customer_id: str, kind: str, subject_prefix: str, before_us: int
    ) -> list[bytes]:
        return await self.read(
            lambda conn: events_sql.replies_of(conn, customer_id, kind, subject_prefix, before_us)
        )

    async def security_replies(
        self, customer_id: str, service: str, token: str, before_us: int
    ) -> tuple[list[bytes], list[bytes]]:
        return await self.read(
            lambda conn: events_sql.security_replies(conn, customer_id, service, token, before_us)
        )

    async def claim_events(
        self, customer_id: str, needs: Sequence[Need]
    ) -> list[tuple[str, bytes]]:
        return await self.read(lambda conn: events_sql.claim_events(conn, customer_id, needs))

    async def count_events(self) -> int:
        return await self.read(events_sql.count_events)
