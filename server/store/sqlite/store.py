"""SQLite store: WAL, one writer thread doing group commit, readers per thread.

An append resolves only after its transaction committed with
``synchronous=FULL``, so an acknowledged entry survives ``kill -9`` and power
loss. Many concurrent appends share one commit (group commit), which is what
makes thousands of durable acknowledgements per second possible on one disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import queue
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import structlog

from server.store.chain import (
    DEFAULT_CHECKPOINT_EVERY,
    DEFAULT_CHECKPOINT_INTERVAL_US,
    LogChain,
    LogSigner,
    SecretFile,
    bind_log_key,
    bind_secrets,
)
from server.store.errors import LogIntegrityError, SchemaMismatch, StoreError
from server.store.files import make_private_dir
from server.store.log_open import UpdateGuard, check_at_open
from server.store.read_only import log_unrecorded_access, report_problem
from server.store.records import Checkpoint, LogProblem, VerdictRecord
from server.store.settings import DEFAULT_SQLITE_BUSY_TIMEOUT_MS
from server.store.sql import log_tree
from server.store.sql import verdicts as verdicts_sql
from server.store.sql.connection import insert_many
from server.store.sql.migrations import LATEST_VERSION, SQLITE_VERDICTS_UPDATE_GUARD
from server.store.sql.verdicts import (
    INSERT_VERDICT_COLUMNS,
    append_verdict,
    chain_values,
    chained_row,
)
from server.store.sqlite.claims import SqliteClaimsMixin
from server.store.sqlite.connection import (
    connect,
    current_schema_version,
    default_log_key_file,
    migrate,
    unavailable,
)
from server.store.sqlite.events import SqliteEventsMixin
from server.store.sqlite.verdicts import SqliteVerdictsMixin

T = TypeVar("T")

log = structlog.get_logger("anshin.store")

_MAX_BATCH = 512
# Group commit under load. A commit (its fsync, the WAL pages of every index
# it touched, the signed log head) costs far more CPU than the rows it
# commits, so under load a COMMIT starts at most once per
# _BUSY_COMMIT_INTERVAL and the jobs arriving meanwhile share it. "Under
# load" is either of: appends arriving faster than _BUSY_RATE per second, or
# commits using more than _BUSY_DUTY of a core (the writer thread's CPU time,
# not its wall time: waiting for fsync takes nothing from the requests; both
# measured over about _RATE_WINDOW seconds). The second is what a slower
# machine hits first: there a few hundred single-row commits a second
# already take a large share of the core the requests need. Otherwise every
# batch commits at once: a server with CPU to spare adds no delay. A held
# commit also goes ahead as soon as the event loops it waits for are idle
# (see ``_gather``): then no other write is coming to share it.
_BUSY_RATE = 1000.0
_BUSY_DUTY = 0.25
_BUSY_COMMIT_INTERVAL = 0.008
_RATE_WINDOW = 0.05
# While holding a commit, the writer looks every _IDLE_POLL seconds at the CPU
# time of the event loops waiting for it: one that used less than _IDLE_SHARE
# of that time, and is not waiting for a CPU either, is idle, and the commit
# goes ahead.
_IDLE_POLL = 0.0005
_IDLE_SHARE = 0.2
# A background PASSIVE checkpoint after this many appended jobs (a verdict
# dirties ~6-8 pages), or at least this often: small, frequent checkpoints, so
# commits' fsyncs do not queue behind megabytes of checkpoint writes. Once the
# WAL holds this many frames the writer restarts it (see _checkpoint_loop).
_CHECKPOINT_EVERY_JOBS = 50
_CHECKPOINT_INTERVAL = 1.0
_WAL_RESTART_FRAMES = 1000
_CHECKPOINT_NICE = 10
# Rows per multi-row INSERT (19 columns: far below SQLite's bound-variable limit).
_ROWS_PER_INSERT = 256
_MAX_SEQUENTIAL_ROWID = 2**62


def _thread_cpu_clock() -> tuple[int, int] | None:
    """The calling thread's CPU-time clock id (readable from other threads)
    and native id, or None where the platform has no such clock."""
    try:
        return time.pthread_getcpuclockid(threading.get_ident()), threading.get_native_id()
    except (AttributeError, OSError):
        return None


def _cpu_seconds(clocks: dict[int, int]) -> float:
    total = 0.0
    for clock in clocks:
        with contextlib.suppress(OSError):  # that thread has ended: it uses nothing
            total += time.clock_gettime(clock)
    return total


def _any_runnable(threads: Iterable[int]) -> bool:
    """Whether any of these threads (native ids) is running or waiting for a CPU.

    A loop thread whose clock stood still may only have been preempted (the
    machine is short of CPU: just when sharing commits matters most); one
    that is asleep (in epoll_wait: nothing to do) is idle. Where /proc is
    missing, the clock alone decides.
    """
    for tid in threads:
        try:
            with open(f"/proc/self/task/{tid}/stat", "rb") as f:
                state = f.read().rpartition(b")")[2][1:2]
        except OSError:  # no /proc, or the thread has ended
            continue
        if state == b"R":
            return True
    return False


class _Job:
    """One write. ``insert``/``row``: the job is the one-row ``insert + VALUES (row)``
    (``fn`` does exactly that), so consecutive such jobs can share one statement.
    ``chained``: ``row`` holds a verdict's column values; the writer adds its
    seq and hashes (``chained_row``) when it writes it."""

    __slots__ = ("chained", "fn", "future", "insert", "loop", "row", "single_statement")

    def __init__(
        self,
        fn: Callable[[sqlite3.Connection], Any],
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[Any],
        single_statement: bool,
        insert: str | None = None,
        row: tuple[Any, ...] = (),
        chained: bool = False,
    ) -> None:
        self.fn = fn
        self.loop = loop
        self.future = future
        self.single_statement = single_statement
        self.insert = insert
        self.row = row
        self.chained = chained


def _resolve_all(outcomes: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    """Resolve a batch's futures (on their event loop, in one callback)."""
    for fut, ok, value in outcomes:
        if fut.done():  # the caller was cancelled; the write happened anyway
            continue
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(value)


class SqliteStore(SqliteEventsMixin, SqliteClaimsMixin, SqliteVerdictsMixin):
    def __init__(
        self,
        path: Path,
        *,
        auto_migrate: bool = True,
        busy_rate: float = _BUSY_RATE,
        busy_commit_interval: float = _BUSY_COMMIT_INTERVAL,
        signer: LogSigner | None = None,
        log_key_file: Path | None = None,
        checkpoint_every: int | None = None,
        checkpoint_interval_us: int = DEFAULT_CHECKPOINT_INTERVAL_US,
        busy_timeout_ms: int = DEFAULT_SQLITE_BUSY_TIMEOUT_MS,
        adopt_unsigned_head: bool = False,
        secrets: Sequence[SecretFile] = (),
        log_origin: str | None = None,
    ) -> None:
        self.path = path
        self._busy_rate = busy_rate
        self._busy_commit_interval = busy_commit_interval
        # Each event loop thread's CPU-time clock and native id (None where the
        # platform has no such clock), for the writer to tell a busy loop from
        # an idle one.
        self._loop_clocks: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[int, int] | None
        ] = weakref.WeakKeyDictionary()
        self._busy_timeout_ms = busy_timeout_ms
        make_private_dir(path.parent)
        self._writer_conn = connect(path, busy_timeout_ms)
        # Statement journals (a multi-row INSERT keeps one, to undo itself if a
        # row fails) in memory rather than in a temporary file: they only ever
        # serve a rollback within the open transaction, never crash recovery.
        self._writer_conn.execute("PRAGMA temp_store=MEMORY")
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
        # The log's signing key: by default next to the database (created for a
        # new log), never inside it; bound under the write lock, so that two
        # processes starting at once cannot each bind a key of their own, and
        # another key than the one that signed the log is refused
        # (chain.bind_log_key).
        self._writer_conn.execute("BEGIN IMMEDIATE")
        try:
            self.signer = bind_log_key(
                self._writer_conn,
                str(path),
                key_file=None if signer is not None else log_key_file or default_log_key_file(path),
                signer=signer,
                adopt_unsigned_head=adopt_unsigned_head,
                origin=log_origin,
            )
            bind_secrets(self._writer_conn, str(path), secrets)
            self._chain = LogChain(  # the writer thread's
                self.signer,
                checkpoint_every=checkpoint_every or DEFAULT_CHECKPOINT_EVERY,
                checkpoint_interval_us=checkpoint_interval_us,
                origin=log_origin,
            )
            # The log since its last checkpoint, under the same lock: a log
            # changed behind the service's back is served read-only.
            self._log_problem = check_at_open(
                self._writer_conn,
                self.signer,
                self._chain.origin,
                UpdateGuard(*SQLITE_VERDICTS_UPDATE_GUARD),
            )
            self._writer_conn.execute("COMMIT")
        except BaseException:
            self._writer_conn.execute("ROLLBACK")
            self._writer_conn.close()
            raise
        if self._log_problem is not None:
            report_problem(self._log_problem, str(path))
        # (At least 10 ms: an interval of 0 must not make the writer spin.)
        self._checkpoint_poll = max(checkpoint_interval_us / 1_000_000, 0.01)
        # Items are lists of jobs: what one event-loop iteration submitted.
        self._queue: queue.SimpleQueue[list[_Job] | None] = queue.SimpleQueue()
        # Jobs submitted during the current iteration of each event loop, not
        # yet handed to the writer (see ``write``). Only the loop's own thread
        # touches its entry.
        self._pending: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        self._writer_gone = False
        self._closed = False
        # Set by the writer thread when a write failed for want of the database
        # (locked, full, I/O), so that the first commit after it is logged.
        self._failing = False
        self._multi_insert: dict[tuple[str, int], str] = {}
        # Checkpoints (copying committed WAL pages into the database file) run
        # on their own thread and connection, not inside the writer's COMMIT
        # where SQLite would run them every 1000 pages, holding up every
        # append queued behind that commit. Durability is unaffected: a
        # commit is durable once its WAL frames are synced (synchronous=FULL).
        self._writer_conn.execute("PRAGMA wal_autocheckpoint=0")
        self._checkpoint_conn = connect(path, busy_timeout_ms)
        self._checkpoint_wake = threading.Event()
        self._checkpoint_catch_up = False
        self._jobs_since_checkpoint = 0
        self._writer = threading.Thread(target=self._write_loop, name="sqlite-writer", daemon=True)
        self._writer.start()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="sqlite-checkpoint", daemon=True
        )
        self._checkpointer.start()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._read_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sqlite-read")

    # -- writing ---------------------------------------------------------

    def log_problem(self) -> LogProblem | None:
        return self._log_problem

    async def write(
        self, fn: Callable[[sqlite3.Connection], T], *, single_statement: bool = False
    ) -> T:
        """Run ``fn(conn)`` in the next group-commit batch; resolve after COMMIT.

        Jobs submitted during one event-loop iteration are handed to the
        writer together, right after that iteration (no timer, so no added
        latency when idle): under load, the requests the loop served in one
        iteration share one COMMIT instead of paying an fsync each.

        In a batch of several jobs each job runs inside its own SAVEPOINT, so a
        job that raises is rolled back alone and its caller gets the exception;
        the others commit. A batch of one job needs no SAVEPOINT: rolling back
        the transaction rolls back exactly that job. Nor does a job declared
        ``single_statement``: one that executes exactly one SQL statement and
        raises only when that statement fails. SQLite undoes a failed
        statement by itself and keeps the transaction (if the error rolled the
        whole transaction back instead, the batch fails as a whole).
        """
        return await self._submit(fn, single_statement)

    async def _submit(
        self,
        fn: Callable[[sqlite3.Connection], T],
        single_statement: bool,
        insert: str | None = None,
        row: tuple[Any, ...] = (),
        chained: bool = False,
    ) -> T:
        if self._closed:
            raise StoreError("store is closed")
        problem = self._log_problem
        if problem is not None:
            raise LogIntegrityError(problem.seq, problem.entry_id, problem.reason)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        job = _Job(fn, loop, fut, single_statement, insert, row, chained)
        pending = self._pending.get(loop)
        if pending is None:
            self._pending[loop] = [job]
            if loop not in self._loop_clocks:
                self._loop_clocks[loop] = _thread_cpu_clock()
            loop.call_soon(self._flush, loop)
        else:
            pending.append(job)
        return await fut

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = self._pending.pop(loop, None)
        if not batch:
            return
        if self._writer_gone:
            err = StoreError("store is closed")
            _resolve_all([(job.future, False, err) for job in batch])
            return
        self._queue.put(batch)

    def _write_loop(self) -> None:
        conn = self._writer_conn
        get_nowait = self._queue.get_nowait
        interval = self._busy_commit_interval
        busy_count = self._busy_rate * _RATE_WINDOW
        busy_seconds = _BUSY_DUTY * _RATE_WINDOW
        # Jobs taken and CPU seconds spent committing, exponentially decayed
        # with time constant _RATE_WINDOW: ``recent / _RATE_WINDOW`` estimates
        # the arrival rate, ``committing / _RATE_WINDOW`` the share of a core
        # that commits take.
        recent = committing = 0.0
        last_take = last_commit = time.monotonic()
        try:
            while True:
                try:
                    batch = self._queue.get(timeout=self._checkpoint_poll)
                except queue.Empty:
                    # A quiet log: its last entries still get a checkpoint.
                    if self._chain.dirty_since_checkpoint:
                        self._checkpoint_now(conn)
                    continue
                if batch is None:
                    return
                now = time.monotonic()
                decay = math.exp((last_take - now) / _RATE_WINDOW)
                recent *= decay
                committing *= decay
                last_take = now
                stop = False
                if recent >= busy_count or committing >= busy_seconds:
                    stop = self._gather(batch, last_commit + interval)
                while not stop and len(batch) < _MAX_BATCH:  # may overshoot by one iteration's jobs
                    try:
                        nxt = get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        stop = True
                        break
                    batch.extend(nxt)
                recent += len(batch)
                cpu_started = time.thread_time()
                self._run_batch(conn, batch)
                last_commit = time.monotonic()
                committing += time.thread_time() - cpu_started
                if self._checkpoint_catch_up:  # after this batch's callers were answered
                    self._checkpoint_catch_up = False
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self._jobs_since_checkpoint += len(batch)
                if self._jobs_since_checkpoint >= _CHECKPOINT_EVERY_JOBS:
                    self._jobs_since_checkpoint = 0
                    self._checkpoint_wake.set()
                if stop:
                    return
        finally:
            self._writer_gone = True

    def _checkpoint_now(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
            self._chain.checkpoint_if_due(conn)
            conn.execute("COMMIT")
        except Exception as exc:  # retried at the next quiet interval; never ends the writer
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            log.warning("log_checkpoint_failed", backend="sqlite", error=str(exc))

    def _gather(self, batch: list[_Job], deadline: float) -> bool:
        """Busy: let the jobs arriving until ``deadline`` join ``batch``, but
        stop as soon as the event loops that submitted them are idle. True
        when the store is closing (the queue's None).

        Holding a commit lets the writes the loops are still producing share
        it. A loop that uses no CPU is producing none: every caller it has is
        waiting, most likely for this very commit (a pool of clients, each
        waiting for its answer), and waiting on only idles the core.
        """
        clocks = self._cpu_clocks(batch)
        used, since = _cpu_seconds(clocks), time.monotonic()
        get = self._queue.get
        while len(batch) < _MAX_BATCH:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            poll = min(left, _IDLE_POLL) if clocks else left
            try:
                nxt = get(timeout=poll)  # releases the GIL
            except queue.Empty:
                if not clocks:
                    return False
                now_used, now = _cpu_seconds(clocks), time.monotonic()
                if now_used - used < _IDLE_SHARE * (now - since) and not _any_runnable(
                    clocks.values()
                ):
                    return False
                used, since = now_used, now
                continue
            if nxt is None:
                return True
            batch.extend(nxt)
            more = {c: t for c, t in self._cpu_clocks(nxt).items() if c not in clocks}
            if more:
                clocks.update(more)
                used += _cpu_seconds(more)
        return False

    def _cpu_clocks(self, jobs: list[_Job]) -> dict[int, int]:
        """CPU-clock id -> native thread id, of the loops that submitted ``jobs``."""
        out: dict[int, int] = {}
        for loop in {job.loop for job in jobs}:  # a batch's jobs share one or two loops
            ids = self._loop_clocks.get(loop)
            if ids is not None:
                out[ids[0]] = ids[1]
        return out

    def _checkpoint_loop(self) -> None:
        """PASSIVE checkpoints: never wait for, nor block, the writer or readers."""
        conn = self._checkpoint_conn
        # Background work: let request handling preempt it (Linux: per thread).
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _CHECKPOINT_NICE)
        while True:
            self._checkpoint_wake.wait(_CHECKPOINT_INTERVAL)
            self._checkpoint_wake.clear()
            if self._closed:
                return
            with contextlib.suppress(sqlite3.Error):  # retried next time
                # -> one row: (busy, frames in the WAL, frames checkpointed)
                rows = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                frames = rows[0][1] if rows else 0
                # Commits made meanwhile were not copied, and the WAL restarts
                # from its beginning only when a write transaction starts with
                # everything copied. Once it is long enough to matter, the
                # writer copies that remainder (a few pages) itself between
                # two transactions, and its next transaction restarts the WAL.
                if frames >= _WAL_RESTART_FRAMES:
                    self._checkpoint_catch_up = True

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Job]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        chain = self._chain
        try:
            conn.execute("BEGIN IMMEDIATE")
            if len(batch) == 1:
                # Alone in its transaction: a failure rolls back exactly this job.
                try:
                    value = batch[0].fn(conn)
                except Exception as exc:
                    chain.abort()
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    outcomes.append((False, unavailable(exc)))
                else:
                    chain.seal(conn)
                    conn.execute("COMMIT")
                    outcomes.append((True, value))
            else:
                outcomes = self._run_jobs(conn, batch)
                chain.seal(conn)
                conn.execute("COMMIT")
        except Exception as exc:
            # Nothing of this batch is durable: fail every job, commit nothing.
            # (Anything but an SQLite error is a bug, answered INTERNAL; it
            # must not end the writer thread, or no write would ever resolve.)
            chain.abort()
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            err: BaseException = exc
            if isinstance(exc, sqlite3.Error):
                err = StoreError(f"sqlite write failed: {exc}")
                err.__cause__ = exc
            outcomes = [(False, err)] * len(batch)
        self._note_outcomes(outcomes)
        # One wake-up per event loop and batch, not one per job.
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
        for job, (ok, value) in zip(batch, outcomes, strict=True):
            by_loop.setdefault(job.loop, []).append((job.future, ok, value))
        for loop, resolved in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                loop.call_soon_threadsafe(_resolve_all, resolved)

    def _note_outcomes(self, outcomes: list[tuple[bool, Any]]) -> None:
        """Log when writes start failing for want of the database, and when
        they succeed again: what the operator sees of a locked or full file
        besides the callers' UNAVAILABLE (one line per failed batch, not per call)."""
        failed = next((v for ok, v in outcomes if not ok and isinstance(v, StoreError)), None)
        if failed is not None:
            self._failing = True
            log.warning(
                "store_unavailable", backend="sqlite", error=str(failed), calls=len(outcomes)
            )
        elif self._failing and any(ok for ok, _ in outcomes):
            self._failing = False
            log.info("store_recovered", backend="sqlite")

    def _run_jobs(self, conn: sqlite3.Connection, batch: list[_Job]) -> list[tuple[bool, Any]]:
        """Run a multi-job batch inside the open transaction, each job isolated."""
        outcomes: list[tuple[bool, Any]] = []
        i, n = 0, len(batch)
        while i < n:
            insert = batch[i].insert
            j = i + 1
            if insert is not None:
                while j < n and j - i < _ROWS_PER_INSERT and batch[j].insert == insert:
                    j += 1
            if j - i > 1:
                outcomes.extend(self._insert_rows(conn, batch[i:j]))
            else:
                outcomes.append(self._run_job(conn, batch[i]))
            i = j
        return outcomes

    def _insert_rows(self, conn: sqlite3.Connection, jobs: list[_Job]) -> list[tuple[bool, Any]]:
        """Consecutive one-row inserts into one table as one multi-row INSERT.

        One statement instead of one per row: the writer re-takes the GIL once,
        not once per row. A statement either inserts every row or none, so if
        it fails the rows are inserted one by one instead, and only the
        failing ones fail. Rows inserted without an explicit rowid get
        consecutive rowids (max + 1 each), so row ``k`` of ``n`` got
        ``last - n + 1 + k``.
        """
        insert = jobs[0].insert
        assert insert is not None
        n = len(jobs)
        sql = self._multi_insert.get((insert, n))
        chain = self._chain
        mark = chain.mark()
        if jobs[0].chained:
            rows = [chained_row(conn, chain, job.row) for job in jobs]
        else:
            rows = [job.row for job in jobs]
        if sql is None:
            sql = self._multi_insert[(insert, n)] = insert_many(insert, len(rows[0]), n)
        params = [value for row in rows for value in row]
        try:
            last = conn.execute(sql, params).lastrowid
        except sqlite3.Error:
            if not conn.in_transaction:
                raise  # the error rolled back the whole transaction: the batch fails
            chain.reset(mark)
            return [self._run_job(conn, job) for job in jobs]
        if jobs[0].chained:  # the job's value is its seq
            return [(True, row[0]) for row in rows]
        if last is None or last >= _MAX_SEQUENTIAL_ROWID:
            raise sqlite3.OperationalError("rowids are no longer assigned sequentially")
        return [(True, last - n + 1 + k) for k in range(n)]

    def _run_job(self, conn: sqlite3.Connection, job: _Job) -> tuple[bool, Any]:
        chain = self._chain
        mark = chain.mark()
        if job.single_statement:
            try:
                return True, job.fn(conn)
            except Exception as exc:
                if not conn.in_transaction:
                    # The error rolled back the whole transaction.
                    raise sqlite3.OperationalError(f"transaction rolled back: {exc}") from exc
                chain.reset(mark)
                return False, unavailable(exc)
        conn.execute("SAVEPOINT job")
        try:
            value = job.fn(conn)
        except Exception as exc:
            conn.execute("ROLLBACK TO job")
            conn.execute("RELEASE job")
            chain.reset(mark)
            return False, unavailable(exc)
        conn.execute("RELEASE job")
        return True, value

    async def append_verdict(self, record: VerdictRecord) -> int:
        if self._log_problem is not None and record.kind == "analyst_access":
            return log_unrecorded_access(record)  # read-only: reads still work
        values = chain_values(record)

        def insert(conn: sqlite3.Connection) -> int:
            return append_verdict(conn, self._chain, record)

        return await self._submit(insert, True, INSERT_VERDICT_COLUMNS, values, chained=True)

    # -- reading ---------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, self._busy_timeout_ms)
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn`` on this thread's reader connection. A locked, full or failing
        database is a StoreError (UNAVAILABLE), as for writes; any other error
        (a bug in the SQL) reaches the caller as it is, answered INTERNAL and
        logged with its traceback rather than passed off as an outage."""
        if self._closed:
            raise StoreError("store is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._read_pool, lambda: fn(self._reader()))
        except sqlite3.Error as exc:
            err = unavailable(exc, "read")
            if err is exc:
                raise
            raise err from exc

    async def get_verdict(self, verdict_id: str) -> VerdictRecord | None:
        return await self.read(lambda conn: verdicts_sql.get_verdict(conn, verdict_id))

    async def latest_posture_by_device(
        self, customer_id: str, since_us: int, until_us: int
    ) -> list[VerdictRecord]:
        return await self.read(
            lambda conn: verdicts_sql.latest_posture_by_device(
                conn, customer_id, since_us, until_us
            )
        )

    async def count_verdicts(self) -> int:
        return await self.read(verdicts_sql.count_verdicts)

    async def subtree_hashes(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        return await self.read(lambda conn: log_tree.subtree_hashes(conn, ranges))

    async def checkpoint_covering(self, seq: int) -> Checkpoint | None:
        return await self.read(lambda conn: log_tree.checkpoint_covering(conn, seq))

    async def latest_checkpoint(self) -> Checkpoint | None:
        return await self.read(log_tree.latest_checkpoint)

    def schema_version(self) -> int:
        return self._version

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Hand over what this loop's current iteration submitted: it must
        # still be written (and its callers answered) before the writer stops.
        self._flush(asyncio.get_running_loop())
        self._queue.put(None)
        await asyncio.get_running_loop().run_in_executor(None, self._writer.join)
        self._checkpoint_wake.set()
        await asyncio.get_running_loop().run_in_executor(None, self._checkpointer.join)
        self._checkpoint_conn.close()
        self._read_pool.shutdown(wait=True)
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
        self._writer_conn.close()
