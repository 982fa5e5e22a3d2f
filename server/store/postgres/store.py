"""PostgreSQL store: several Anshin processes (and hosts) on one database.

Everything global lives in the database and is kept correct by its
transactions and row locks, never by state in one process:

* the verdict log's sequence and hash chain: every transaction that appends
  locks the log head (``SELECT … FROM log_head WHERE id = 1 FOR UPDATE``)
  first, so appends of all processes serialize and commit in seq order;
* the ledger's caps: a claim (or review resolution) transaction takes that
  same lock *before* it reads ledger usage, so two claims of any processes
  can never both spend the same remaining cap;
* event idempotency: ``INSERT … ON CONFLICT (client_event_id) DO NOTHING
  RETURNING``, so of two processes storing one id exactly one inserts it.

Serialization failures and deadlocks (SQLSTATE 40001, 40P01) re-run the
whole transaction with backoff; the callbacks run inside (a claim's
``decide``) are pure and may run again. Nothing depends on advisory locks,
LISTEN/NOTIFY or sequences being gapless, so the SQL stays portable to
Citus, CockroachDB or YugabyteDB.

The SQL is the backends' shared qmark SQL (``server/store/sql/``, ``chain``),
run through :class:`PgConn` (``connection.py``), which turns
``?`` into psycopg's ``%s``. That SQL is synchronous (it reads results
between statements, and a claim's ``decide`` runs between them), so each
transaction runs on a worker thread holding one pooled connection
(``psycopg_pool.ConnectionPool``); the store's methods are async and never
block the event loop. Like the SQLite writer's group commit, concurrent
appends and event writes submitted while a transaction is in flight are
written together by the next one (``group_commit.py``): one lock, one round trip and one WAL
flush per batch instead of per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import structlog
from psycopg_pool import ConnectionPool, PoolTimeout

from server.store.chain import (
    DEFAULT_CHECKPOINT_EVERY,
    DEFAULT_CHECKPOINT_INTERVAL_US,
    LogChain,
    LogSigner,
    SecretFile,
    bind_log_key,
    bind_secrets,
    default_origin,
)
from server.store.errors import LogIntegrityError, SchemaMismatch, StoreError
from server.store.log_open import UpdateGuard, check_at_open
from server.store.postgres.claims import PostgresClaimsMixin
from server.store.postgres.connection import (
    DEFAULT_POOL_MAX,
    DEFAULT_POOL_MIN,
    DEFAULT_POOL_TIMEOUT,
    LOCK_HEAD,
    PgConn,
    check_collation,
    connect,
    current_schema_version,
    migrate,
    split_url,
    stale,
    unavailable,
    where,
)
from server.store.postgres.events import PostgresEventsMixin
from server.store.postgres.group_commit import GroupCommit
from server.store.postgres.verdicts import PostgresVerdictsMixin
from server.store.read_only import log_unrecorded_access, report_problem
from server.store.records import Checkpoint, LogProblem, VerdictRecord
from server.store.settings import DEFAULT_PG_LOCK_TIMEOUT_MS
from server.store.sql import log_tree
from server.store.sql import verdicts as verdicts_sql
from server.store.sql.migrations import LATEST_VERSION, POSTGRES_VERDICTS_UPDATE_GUARD

T = TypeVar("T")

log = structlog.get_logger("anshin.store")

# SQLSTATEs after which the whole transaction is re-run.
RETRY_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
_MAX_ATTEMPTS = 30
_BACKOFF_BASE = 0.002
_BACKOFF_MAX = 0.25
# Verdicts per multi-row INSERT (19 parameters each; PostgreSQL allows 65535).
_VERDICT_BATCH = 500


class PostgresStore(PostgresEventsMixin, PostgresClaimsMixin, PostgresVerdictsMixin):
    def __init__(
        self,
        url: str,
        *,
        auto_migrate: bool = True,
        signer: LogSigner | None = None,
        log_key_file: Path | None = None,
        checkpoint_every: int | None = None,
        checkpoint_interval_us: int = DEFAULT_CHECKPOINT_INTERVAL_US,
        lock_timeout_ms: int = DEFAULT_PG_LOCK_TIMEOUT_MS,
        adopt_unsigned_head: bool = False,
        secrets: Sequence[SecretFile] = (),
        log_origin: str | None = None,
    ) -> None:
        if lock_timeout_ms < 0:
            raise ValueError(f"lock timeout must be >= 0 ms, not {lock_timeout_ms}")
        conninfo, pool = split_url(url)
        self.url = url
        admin = connect(url)
        try:
            if auto_migrate:
                migrate(admin)
            version = current_schema_version(admin)
            if version != LATEST_VERSION:
                raise SchemaMismatch(
                    f"database schema version {version}, this build needs {LATEST_VERSION}: "
                    "run `anshin db migrate`"
                )
            check_collation(admin)
            # Never a default location: a key created in whichever directory
            # the server happened to start in is a mislaid key. Bound under the
            # head lock, so two servers starting at once cannot each bind their
            # own key to a new log (chain.bind_log_key).
            with admin.raw.transaction():
                admin.execute(LOCK_HEAD)
                self.signer = bind_log_key(
                    admin,
                    where(url, admin),
                    key_file=log_key_file,
                    signer=signer,
                    adopt_unsigned_head=adopt_unsigned_head,
                    origin=log_origin,
                )
                bind_secrets(admin, where(url, admin), secrets)
                self._origin = log_origin or default_origin(self.signer.key_id)
                # The log since its last checkpoint, under the head lock: a log
                # changed behind the service's back is served read-only.
                self._log_problem = check_at_open(
                    admin, self.signer, self._origin, UpdateGuard(*POSTGRES_VERDICTS_UPDATE_GUARD)
                )
            place = where(url, admin)
        finally:
            admin.raw.close()
        if self._log_problem is not None:
            report_problem(self._log_problem, place)
        self._version = version
        self._checkpoint_every = checkpoint_every or DEFAULT_CHECKPOINT_EVERY
        self._checkpoint_interval_us = checkpoint_interval_us
        max_size = max(1, int(pool.get("pool_max", DEFAULT_POOL_MAX)))
        min_size = min(max_size, max(0, int(pool.get("pool_min", DEFAULT_POOL_MIN))))
        self._pool_timeout = pool.get("pool_timeout", DEFAULT_POOL_TIMEOUT)
        self._lock_timeout_ms = lock_timeout_ms
        # Set when a call failed for want of the database, so that the first
        # success after it is logged (store_unavailable / store_recovered).
        self._failing = False
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            kwargs={"autocommit": True},
            configure=self._configure,
            # How long a call waits for a connection (see _connection).
            timeout=self._pool_timeout,
            # A connection lost while PostgreSQL is down is re-made with
            # backoff (1 s, 2 s, 4 s, …) for this long, then given up; the
            # next call that finds no connection starts a fresh attempt at
            # once. psycopg_pool's 5 minutes would let the backoff grow to
            # minutes, and the service stay UNAVAILABLE that long after
            # PostgreSQL came back.
            reconnect_timeout=self._pool_timeout,
            open=False,
            name="anshin",
        )
        try:
            self._pool.open(wait=True, timeout=30)
        except PoolTimeout as exc:
            self._pool.close()
            raise StoreError(f"cannot connect to PostgreSQL: {exc}") from exc
        # Each transaction holds a pooled connection on one of these threads.
        self._executor = ThreadPoolExecutor(max_workers=max_size, thread_name_prefix="pg")
        self._closed = False
        # Appends serialize on the log head anyway: one batch at a time, and
        # the appends arriving meanwhile go together in the next.
        self._verdicts: GroupCommit[VerdictRecord] = GroupCommit(
            self._append_batch, self._executor, max_batch=_VERDICT_BATCH
        )
        self._init_events(self._executor)
        # A quiet log still gets its last entries checkpointed within about
        # one interval (chain.LogChain.checkpoint_if_due), by each process
        # that appended them.
        self._appended_unchecked = False
        self._stop_ticks = threading.Event()
        self._ticker = threading.Thread(
            target=self._checkpoint_ticks, name="pg-log-checkpoint", daemon=True
        )
        self._ticker.start()

    def log_problem(self) -> LogProblem | None:
        return self._log_problem

    def _checkpoint_ticks(self) -> None:
        while not self._stop_ticks.wait(max(self._checkpoint_interval_us / 1_000_000, 0.01)):
            if not self._appended_unchecked:
                continue
            try:
                self._appended_unchecked = self._transact_raw(_checkpoint_if_due)
            except Exception as exc:  # retried at the next tick
                log.warning("log_checkpoint_failed", backend="postgresql", error=str(exc))

    # -- connections -------------------------------------------------------

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        """Each new pooled connection: a lock not granted within the lock
        timeout fails its statement (SQLSTATE 55P03, UNAVAILABLE) instead of
        waiting for as long as another session holds it."""
        if self._lock_timeout_ms:
            conn.execute(f"SET lock_timeout = {int(self._lock_timeout_ms)}")

    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A live pooled connection, waiting at most the pool timeout.

        Connections the server ended while they sat in the pool (after a
        restart: all of them) are dropped here and replaced by the pool, so
        the call is served by a live one instead of failing UNAVAILABLE.
        Not psycopg_pool's ``check=``: its loop sleeps 1 s, 2 s, 4 s, …
        between consecutive failed checks, and its check costs a round
        trip on every transaction.
        """
        deadline = time.monotonic() + self._pool_timeout
        dropped = 0
        while True:
            # PoolTimeout when none comes in time (all busy, or PostgreSQL down).
            conn = self._pool.getconn(timeout=max(0.001, deadline - time.monotonic()))
            try:
                is_stale = stale(conn)
            except BaseException:
                self._pool.putconn(conn)
                raise
            if not is_stale:
                break
            dropped += 1
            conn.close()
            self._pool.putconn(conn)  # a closed connection: the pool makes a new one
        if dropped:
            log.info("store_connections_replaced", backend="postgresql", stale=dropped)
        try:
            yield conn
        finally:
            self._pool.putconn(conn)

    def _unavailable(self, exc: BaseException, what: str) -> BaseException:
        err = unavailable(exc, what)
        if err is not exc and not self._failing:
            # Once per outage, not per call (each call's UNAVAILABLE is in the
            # access log); from the pool's threads, so at worst twice.
            self._failing = True
            log.warning("store_unavailable", backend="postgresql", error=str(err))
        return err

    def _served(self) -> None:
        if self._failing:
            self._failing = False
            log.info("store_recovered", backend="postgresql")

    # -- transactions ------------------------------------------------------

    def _new_chain(self) -> LogChain:
        return LogChain(
            self.signer,
            lock_suffix=" FOR UPDATE",
            checkpoint_every=self._checkpoint_every,
            checkpoint_interval_us=self._checkpoint_interval_us,
            origin=self._origin,
        )

    def transact(self, fn: Callable[[PgConn, LogChain], T]) -> T:
        """Run ``fn(conn, chain)`` in one transaction and COMMIT (on a worker thread).

        The chain is fresh per attempt and sealed before COMMIT. A
        serialization failure or deadlock re-runs the whole transaction.
        Refused (``LogIntegrityError``) while the log is read-only.
        """
        problem = self._log_problem
        if problem is not None:
            raise LogIntegrityError(problem.seq, problem.entry_id, problem.reason)
        return self._transact_raw(fn)

    def _transact_raw(self, fn: Callable[[PgConn, LogChain], T]) -> T:
        attempt = 0
        while True:
            chain = self._new_chain()
            try:
                with self._connection() as raw, raw.transaction():
                    conn = PgConn(raw)
                    value = fn(conn, chain)
                    chain.seal(conn)
                    if chain.dirty_since_checkpoint:
                        self._appended_unchecked = True
            except psycopg.Error as exc:
                chain.abort()
                if exc.sqlstate in RETRY_SQLSTATES and attempt + 1 < _MAX_ATTEMPTS:
                    attempt += 1
                    delay = min(_BACKOFF_MAX, _BACKOFF_BASE * 2**attempt)
                    time.sleep(delay * (0.5 + random.random()))
                    continue
                # (PoolTimeout is a psycopg.OperationalError too.)
                err = self._unavailable(exc, "write")
                if err is exc:
                    raise
                raise err from exc
            except BaseException:
                chain.abort()
                raise
            self._served()
            return value

    async def write(self, fn: Callable[[PgConn, LogChain], T]) -> T:
        """``transact(fn)`` off the event loop; resolves after COMMIT."""
        if self._closed:
            raise StoreError("store is closed")
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.transact, fn)

    def _read_sync(self, fn: Callable[[PgConn], T]) -> T:
        try:
            with self._connection() as raw:
                value = fn(PgConn(raw))
        except psycopg.Error as exc:  # PoolTimeout included
            err = self._unavailable(exc, "read")
            if err is exc:
                raise
            raise err from exc
        self._served()
        return value

    async def read(self, fn: Callable[[PgConn], T]) -> T:
        """``fn(conn)`` on a pooled autocommit connection (qmark SQL), off the loop."""
        if self._closed:
            raise StoreError("store is closed")
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._read_sync, fn)

    # -- the verdict log ---------------------------------------------------------

    def _append_batch(self, records: list[VerdictRecord]) -> list[tuple[bool, Any]]:
        def run(conn: PgConn, chain: LogChain) -> list[int]:
            return verdicts_sql.append_verdicts(conn, chain, records)

        try:
            return [(True, seq) for seq in self.transact(run)]
        except StoreError:
            raise
        except Exception:
            if len(records) == 1:
                raise
        # One of them failed (a duplicate id?): each alone, so only it fails.
        outcomes: list[tuple[bool, Any]] = []
        for record in records:
            try:
                outcomes.append(
                    (True, self.transact(functools.partial(_append_one, record=record)))
                )
            except Exception as exc:
                outcomes.append((False, exc))
        return outcomes

    async def append_verdict(self, record: VerdictRecord) -> int:
        if self._closed:
            raise StoreError("store is closed")
        if self._log_problem is not None and record.kind == "analyst_access":
            return log_unrecorded_access(record)  # read-only: reads still work
        return int(await self._verdicts.submit(record))

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
        self._stop_ticks.set()
        # What was submitted is still written, and its callers answered.
        await self._verdicts.drain()
        await self._drain_events()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._ticker.join)
        await loop.run_in_executor(None, functools.partial(self._executor.shutdown, wait=True))
        await loop.run_in_executor(None, self._pool.close)


def _checkpoint_if_due(conn: PgConn, chain: LogChain) -> bool:
    """A checkpoint of the head when one is due; whether entries remain uncovered."""
    return chain.checkpoint_if_due(conn)


def _append_one(conn: PgConn, chain: LogChain, *, record: VerdictRecord) -> int:
    return verdicts_sql.append_verdict(conn, chain, record)
