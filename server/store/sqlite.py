"""SQLite store: WAL, one writer thread doing group commit, readers per thread.

An append resolves only after its transaction committed with
``synchronous=FULL``, so an acknowledged entry survives ``kill -9`` and power
loss. Many concurrent appends share one commit (group commit), which is what
makes thousands of durable acknowledgements per second possible on one disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson

from server.store.base import SchemaMismatch, StoreError, VerdictRecord
from server.store.migrations import LATEST_VERSION, MIGRATIONS

T = TypeVar("T")

_MAX_BATCH = 512
_VERDICT_COLUMNS = (
    "seq, id, kind, customer_id, device_id, subject_us, recorded_us, rules_digest, rules, "
    "outcome, clause_ids, inputs, result, request_id, caller"
)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def current_schema_version(conn: sqlite3.Connection) -> int:
    row = conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name='schema_migrations'"
    ).fetchone()
    if row is None:
        return 0
    (version,) = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    return int(version)


def migrate(conn: sqlite3.Connection) -> list[int]:
    """Apply pending migrations, each in its own transaction; returns those applied."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_us BIGINT NOT NULL)"
    )
    applied = []
    current = current_schema_version(conn)
    if current > LATEST_VERSION:
        raise SchemaMismatch(
            f"database schema version {current} is newer than this build ({LATEST_VERSION})"
        )
    for m in MIGRATIONS:
        if m.version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for stmt in (*m.sql, *m.sqlite_only):
                conn.execute(stmt)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_us) VALUES (?, ?, ?)",
                (m.version, m.name, time.time_ns() // 1000),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(m.version)
    return applied


class _Job:
    __slots__ = ("fn", "future", "loop")

    def __init__(
        self,
        fn: Callable[[sqlite3.Connection], Any],
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[Any],
    ) -> None:
        self.fn = fn
        self.loop = loop
        self.future = future


def _resolve(fut: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if fut.done():  # the caller was cancelled; the write happened anyway
        return
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)


class SqliteStore:
    def __init__(self, path: Path, *, auto_migrate: bool = True) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer_conn = _connect(path)
        if auto_migrate:
            migrate(self._writer_conn)
        version = current_schema_version(self._writer_conn)
        if version != LATEST_VERSION:
            self._writer_conn.close()
            raise SchemaMismatch(
                f"database schema version {version}, this build needs {LATEST_VERSION}: "
                "run `anshin db migrate`"
            )
        self._version = version
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_loop, name="sqlite-writer", daemon=True)
        self._writer.start()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._read_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sqlite-read")
        self._closed = False

    # -- writing ---------------------------------------------------------

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in the next group-commit batch; resolve after COMMIT.

        Each job runs inside its own SAVEPOINT, so a job that raises is rolled
        back alone and its caller gets the exception; the others commit.
        """
        if self._closed:
            raise StoreError("store is closed")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Job(fn, loop, fut))
        return await fut

    def _write_loop(self) -> None:
        conn = self._writer_conn
        while True:
            job = self._queue.get()
            if job is None:
                return
            batch = [job]
            stop = False
            while len(batch) < _MAX_BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            self._run_batch(conn, batch)
            if stop:
                return

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Job]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in batch:
                conn.execute("SAVEPOINT job")
                try:
                    value = job.fn(conn)
                except Exception as exc:
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    outcomes.append((False, exc))
                else:
                    conn.execute("RELEASE job")
                    outcomes.append((True, value))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            # Nothing of this batch is durable: fail every job, commit nothing.
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            err = StoreError(f"sqlite write failed: {exc}")
            outcomes = [(False, err)] * len(batch)
        for job, (ok, value) in zip(batch, outcomes, strict=True):
            job.loop.call_soon_threadsafe(_resolve, job.future, ok, value)

    async def append_verdict(self, record: VerdictRecord) -> int:
        row = (
            record.id,
            record.kind,
            record.customer_id,
            record.device_id,
            record.subject_us,
            record.recorded_us,
            record.rules_digest,
            record.rules.decode(),
            record.outcome,
            orjson.dumps(list(record.clause_ids)).decode(),
            record.inputs.decode(),
            record.result.decode(),
            record.request_id,
            record.caller,
        )

        def insert(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "INSERT INTO verdicts (id, kind, customer_id, device_id, subject_us, "
                "recorded_us, rules_digest, rules, outcome, clause_ids, inputs, result, "
                "request_id, caller) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                row,
            )
            return int(cur.lastrowid or 0)

        return await self.write(insert)

    # -- reading ---------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path)
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._read_pool, lambda: fn(self._reader()))
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite read failed: {exc}") from exc

    @staticmethod
    def _record(row: tuple[Any, ...]) -> VerdictRecord:
        return VerdictRecord(
            seq=row[0],
            id=row[1],
            kind=row[2],
            customer_id=row[3],
            device_id=row[4],
            subject_us=row[5],
            recorded_us=row[6],
            rules_digest=row[7],
            rules=row[8].encode(),
            outcome=row[9],
            clause_ids=tuple(orjson.loads(row[10])),
            inputs=row[11].encode(),
            result=row[12].encode(),
            request_id=row[13],
            caller=row[14],
        )

    async def get_verdict(self, verdict_id: str) -> VerdictRecord | None:
        def q(conn: sqlite3.Connection) -> VerdictRecord | None:
            row = conn.execute(
                f"SELECT {_VERDICT_COLUMNS} FROM verdicts WHERE id = ?", (verdict_id,)
            ).fetchone()
            return None if row is None else self._record(row)

        return await self.read(q)

    async def latest_posture_by_device(
        self, customer_id: str, since_us: int, until_us: int
    ) -> list[VerdictRecord]:
        def q(conn: sqlite3.Connection) -> list[VerdictRecord]:
            # Latest subject instant per device; ties broken by log order.
            rows = conn.execute(
                f"""
                SELECT {_VERDICT_COLUMNS} FROM verdicts v
                WHERE kind = 'login_posture' AND customer_id = ?
                  AND subject_us BETWEEN ? AND ?
                  AND NOT EXISTS (
                    SELECT 1 FROM verdicts w
                    WHERE w.kind = 'login_posture' AND w.customer_id = v.customer_id
                      AND w.device_id = v.device_id AND w.subject_us BETWEEN ? AND ?
                      AND (w.subject_us > v.subject_us
                           OR (w.subject_us = v.subject_us AND w.seq > v.seq)))
                ORDER BY device_id
                """,
                (customer_id, since_us, until_us, since_us, until_us),
            ).fetchall()
            return [self._record(r) for r in rows]

        return await self.read(q)

    async def count_verdicts(self) -> int:
        return await self.read(
            lambda c: int(c.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0])
        )

    def schema_version(self) -> int:
        return self._version

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        await asyncio.get_running_loop().run_in_executor(None, self._writer.join)
        self._read_pool.shutdown(wait=True)
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
        self._writer_conn.close()
