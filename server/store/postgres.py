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

The SQL is the backends' shared qmark SQL (``events_sql``, ``claims_sql``,
``verdicts_sql``, ``chain``, …), run through :class:`PgConn`, which turns
``?`` into psycopg's ``%s``. That SQL is synchronous (it reads results
between statements, and a claim's ``decide`` runs between them), so each
transaction runs on a worker thread holding one pooled connection
(``psycopg_pool.ConnectionPool``); the store's methods are async and never
block the event loop. Like the SQLite writer's group commit, concurrent
appends and event writes submitted while a transaction is in flight are
written together by the next one: one lock, one round trip and one WAL
flush per batch instead of per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import select
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl, quote, urlencode, urlparse, urlunparse

import psycopg
import psycopg.errors
from psycopg_pool import ConnectionPool, PoolTimeout

from server.logs import get_logger
from server.store.base import (
    DEFAULT_PG_LOCK_TIMEOUT_MS,
    SchemaMismatch,
    StoreError,
    VerdictRecord,
)
from server.store.chain import (
    DEFAULT_CHECKPOINT_EVERY,
    LogChain,
    LogSigner,
    sign_unsigned_head,
    signer_for_log,
)
from server.store.migrations import LATEST_VERSION, MIGRATIONS, postgres_statements
from server.store.postgres_claims import PostgresClaimsMixin
from server.store.postgres_events import PostgresEventsMixin
from server.store.postgres_verdicts import PostgresVerdictsMixin
from server.store.verdicts_sql import (
    INSERT_VERDICT_COLUMNS,
    VERDICT_COLUMNS,
    append_verdict,
    chain_values,
    chained_row,
    record_from_row,
)

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741

log = get_logger("anshin.store")

# SQLSTATEs after which the whole transaction is re-run.
RETRY_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
_MAX_ATTEMPTS = 30
_BACKOFF_BASE = 0.002
_BACKOFF_MAX = 0.25
# Verdicts per multi-row INSERT (19 parameters each; PostgreSQL allows 65535).
_VERDICT_BATCH = 500
_EVENT_ROWS_PER_TXN = 5000
# Query parameters of the --db URL that configure the pool, not libpq.
_POOL_PARAMS = ("pool_min", "pool_max", "pool_timeout")
_DEFAULT_POOL_MIN = 1
_DEFAULT_POOL_MAX = 8
# Seconds a call waits for a pooled connection before it is UNAVAILABLE: all
# of them busy, or PostgreSQL unreachable (then no connection can be made).
# Shorter than callers' deadlines for the reasons the lock timeouts are (see
# server/store/base.py); psycopg_pool's own default is 30 s.
_DEFAULT_POOL_TIMEOUT = 5.0
# SQLSTATEs besides psycopg's OperationalError family that mean "the database
# cannot serve this now", not "this request is wrong": a read-only
# transaction (the URL reaches a standby, e.g. after a failover).
_UNAVAILABLE_SQLSTATES = frozenset({"25006"})
# Collations whose order of text is the order of code points, as SQLite's
# BINARY: the rules break ties by client event id.
_CODEPOINT_COLLATIONS = frozenset({"C", "POSIX", "C.UTF-8", "C.utf8", "ucs_basic"})


@functools.lru_cache(maxsize=4096)
def _pyformat(sql: str) -> str:
    """qmark → psycopg's format style (the shared SQL has no literal ``?``)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgConn:
    """A psycopg connection behind the sqlite3-style interface of the shared SQL."""

    __slots__ = ("raw",)

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        if not params:
            return self.raw.execute(sql)  # no parameters: no placeholder parsing
        return self.raw.execute(_pyformat(sql), params)

    def executemany(self, sql: str, params: Any) -> psycopg.Cursor[Any]:
        cur = self.raw.cursor()
        cur.executemany(_pyformat(sql), params)
        return cur


def split_url(url: str) -> tuple[str, dict[str, float]]:
    """(libpq URL, pool settings): ``pool_min`` / ``pool_max`` / ``pool_timeout``
    (seconds) are the store's own."""
    parsed = urlparse(url)
    query = parse_qsl(parsed.query, keep_blank_values=True)
    try:
        pool = {
            k: float(v) if k == "pool_timeout" else int(v) for k, v in query if k in _POOL_PARAMS
        }
    except ValueError as exc:
        raise ValueError(f"--db URL: pool_min, pool_max, pool_timeout are numbers: {exc}") from None
    if pool.get("pool_timeout", 1.0) <= 0:
        raise ValueError("--db URL: pool_timeout must be > 0 seconds")
    rest = [(k, v) for k, v in query if k not in _POOL_PARAMS]
    scheme = "postgresql" if parsed.scheme == "postgres" else parsed.scheme
    # libpq decodes %XX but not "+": encode spaces as %20.
    query_text = urlencode(rest, quote_via=quote)
    return urlunparse(parsed._replace(scheme=scheme, query=query_text)), pool


def _where(url: str) -> str:
    """The database a URL names, for messages: host, port and database, never a password."""
    parsed = urlparse(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.hostname or 'localhost'}{port}{parsed.path or ''}"


def connect(url: str) -> PgConn:
    """One autocommit connection (administration, tests, ``anshin log verify``)."""
    conninfo, _ = split_url(url)
    try:
        return PgConn(psycopg.connect(conninfo, autocommit=True))
    except psycopg.OperationalError as exc:
        raise StoreError(f"cannot connect to PostgreSQL: {exc}") from exc


def connect_sync_readonly(url: str) -> PgConn:
    """A read-only connection (``anshin log verify``); picklable as a partial."""
    conn = connect(url)
    conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    return conn


def unavailable(exc: BaseException, what: str) -> BaseException:
    """``exc`` as the caller should see it: the database unreachable, gone
    away, shutting down, out of disk or connections, a lock not granted in
    time (lock_timeout) or read-only is a StoreError (UNAVAILABLE); anything
    else (a bug, a constraint) unchanged."""
    if isinstance(exc, PoolTimeout):
        err: BaseException = StoreError(f"no PostgreSQL connection available: {exc}")
    elif isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError) or (
        isinstance(exc, psycopg.Error) and exc.sqlstate in _UNAVAILABLE_SQLSTATES
    ):
        err = StoreError(f"postgresql {what} failed: {exc}")
    else:
        return exc
    err.__cause__ = exc
    return err


def _stale(conn: psycopg.Connection[Any]) -> bool:
    """Whether an idle pooled connection is dead: the server ended it (a
    restart, a failover, ``pg_terminate_backend``, an idle timeout) while it
    sat in the pool. Such a server first sends its reason (FATAL 57P01 …) or
    at least closes the socket, so an idle connection's socket is readable
    only then (or for a stray notice): one poll(2), no round trip for a
    healthy connection; a readable one gets a round trip to tell which."""
    if conn.closed or conn.broken:
        return True
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    if not poller.poll(0):
        return False
    try:
        conn.execute("")  # an empty query: one round trip, raises if dead
    except psycopg.Error:
        return True
    return False


# -- schema -----------------------------------------------------------------


def _scalar(conn: PgConn, sql: str) -> Any:
    row = conn.execute(sql).fetchone()
    assert row is not None, sql
    return row[0]


def current_schema_version(conn: PgConn) -> int:
    if not _scalar(conn, "SELECT to_regclass('schema_migrations') IS NOT NULL"):
        return 0
    return int(_scalar(conn, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))


def migrate(conn: PgConn) -> list[int]:
    """Apply pending migrations, each in its own transaction; returns those applied.

    Safe to run from several processes at once: each migration's transaction
    locks ``schema_migrations`` and re-reads the version under that lock.
    """
    with contextlib.suppress(psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable):
        # Two processes creating it at once: one of them finds it there.
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
        with conn.raw.transaction():
            conn.execute("LOCK TABLE schema_migrations IN EXCLUSIVE MODE")
            current = current_schema_version(conn)
            if m.version <= current:
                continue  # another process applied it meanwhile
            before, after = postgres_statements(m)
            for stmt in before:
                conn.execute(stmt)
            if m.python is not None:
                m.python(conn)
            for stmt in after:
                conn.execute(stmt)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_us) VALUES (?, ?, ?)",
                (m.version, m.name, time.time_ns() // 1000),
            )
        current = m.version
        applied.append(m.version)
    return applied


def _check_collation(conn: PgConn) -> None:
    try:
        row = conn.execute(
            "SELECT datcollate FROM pg_database WHERE datname = current_database()"
        ).fetchone()
    except psycopg.Error:  # not PostgreSQL's catalog (a compatible database): trust it
        return
    if row is not None and row[0] not in _CODEPOINT_COLLATIONS:
        raise StoreError(
            f"database collation {row[0]!r} does not order text by code point as the "
            "decisions need (ties broken by event id): create the database with "
            "LC_COLLATE 'C.UTF-8' (e.g. CREATE DATABASE anshin TEMPLATE template0 "
            "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8')"
        )


# -- group commit -------------------------------------------------------------


class _GroupCommit(Generic[I]):
    """One transaction in flight at a time: items submitted meanwhile wait and
    are written together by the next one (``run(items) -> [(ok, value or
    error)]``, on a worker thread). A lightly loaded store writes each item
    at once.

    One, not several: every transaction costs a commit and a round of
    locking on the unique indexes whatever its size, so concurrent small
    transactions did less than one growing with the database's latency
    (events: 1.5x the events/s against four in flight, bench/events_pg.py)."""

    def __init__(
        self,
        run: Callable[[list[I]], list[tuple[bool, Any]]],
        executor: ThreadPoolExecutor,
        max_batch: int,
        size: Callable[[I], int] = lambda _: 1,
    ) -> None:
        self._run = run
        self._executor = executor
        self._max_batch = max_batch
        self._size = size
        self._pending: list[tuple[I, asyncio.Future[Any]]] = []
        self._writing = False
        self._scheduled = False

    async def submit(self, item: I) -> Any:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._pending.append((item, fut))
        if not self._scheduled and not self._writing:
            # After this loop iteration: what it submits joins this batch.
            self._scheduled = True
            loop.call_soon(self._start)
        return await fut

    def _start(self) -> None:
        self._scheduled = False
        if not self._pending or self._writing:
            return
        n, total = 0, 0
        while n < len(self._pending) and (n == 0 or total < self._max_batch):
            total += self._size(self._pending[n][0])
            n += 1
        batch, self._pending = self._pending[:n], self._pending[n:]
        self._writing = True
        asyncio.get_running_loop().create_task(self._write(batch))

    async def _write(self, batch: list[tuple[I, asyncio.Future[Any]]]) -> None:
        loop = asyncio.get_running_loop()
        items = [item for item, _ in batch]
        try:
            outcomes = await loop.run_in_executor(self._executor, self._run, items)
        except BaseException as exc:  # the batch failed as a whole
            outcomes = [(False, exc)] * len(batch)
        finally:
            self._writing = False
        for (_, fut), (ok, value) in zip(batch, outcomes, strict=True):
            if fut.done():  # the caller was cancelled; the write happened anyway
                continue
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)
        if self._pending and not self._scheduled:
            self._start()

    async def drain(self) -> None:
        """Until everything submitted was written and its callers answered."""
        while self._pending or self._writing or self._scheduled:
            await asyncio.sleep(0.005)


# -- the store ----------------------------------------------------------------


class PostgresStore(PostgresEventsMixin, PostgresClaimsMixin, PostgresVerdictsMixin):
    def __init__(
        self,
        url: str,
        *,
        auto_migrate: bool = True,
        signer: LogSigner | None = None,
        log_key_file: Path | None = None,
        checkpoint_every: int | None = None,
        lock_timeout_ms: int = DEFAULT_PG_LOCK_TIMEOUT_MS,
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
            _check_collation(admin)
            # Never a default location: a key created in whichever directory
            # the server happened to start in is a mislaid key (server/state.py).
            self.signer = signer_for_log(
                admin, _where(url), key_file=log_key_file, signer=signer
            )
            with admin.raw.transaction():
                admin.execute("SELECT seq FROM log_head WHERE id = 1 FOR UPDATE")
                sign_unsigned_head(admin, self.signer)
        finally:
            admin.raw.close()
        self._version = version
        self._checkpoint_every = checkpoint_every or DEFAULT_CHECKPOINT_EVERY
        max_size = max(1, int(pool.get("pool_max", _DEFAULT_POOL_MAX)))
        min_size = min(max_size, max(0, int(pool.get("pool_min", _DEFAULT_POOL_MIN))))
        self._pool_timeout = pool.get("pool_timeout", _DEFAULT_POOL_TIMEOUT)
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
        self._verdicts: _GroupCommit[VerdictRecord] = _GroupCommit(
            self._append_batch, self._executor, max_batch=_VERDICT_BATCH
        )
        self._init_events(self._executor)

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
                stale = _stale(conn)
            except BaseException:
                self._pool.putconn(conn)
                raise
            if not stale:
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
            self.signer, lock_suffix=" FOR UPDATE", checkpoint_every=self._checkpoint_every
        )

    def transact(self, fn: Callable[[PgConn, LogChain], T]) -> T:
        """Run ``fn(conn, chain)`` in one transaction and COMMIT (on a worker thread).

        The chain is fresh per attempt and sealed before COMMIT. A
        serialization failure or deadlock re-runs the whole transaction.
        """
        attempt = 0
        while True:
            chain = self._new_chain()
            try:
                with self._connection() as raw, raw.transaction():
                    conn = PgConn(raw)
                    value = fn(conn, chain)
                    chain.seal(conn)
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
            rows = [chained_row(conn, chain, chain_values(r)) for r in records]
            marks = "(" + ",".join("?" * len(rows[0])) + ")"
            conn.execute(
                f"{INSERT_VERDICT_COLUMNS} VALUES {','.join([marks] * len(rows))}",
                [value for row in rows for value in row],
            )
            return [int(row[0]) for row in rows]

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
        return int(await self._verdicts.submit(record))

    async def get_verdict(self, verdict_id: str) -> VerdictRecord | None:
        def q(conn: PgConn) -> VerdictRecord | None:
            row = conn.execute(
                f"SELECT {VERDICT_COLUMNS} FROM verdicts WHERE id = ?", (verdict_id,)
            ).fetchone()
            return None if row is None else record_from_row(row)

        return await self.read(q)

    async def latest_posture_by_device(
        self, customer_id: str, since_us: int, until_us: int
    ) -> list[VerdictRecord]:
        def q(conn: PgConn) -> list[VerdictRecord]:
            # As SqliteStore: latest subject instant per device, ties by log order.
            rows = conn.execute(
                f"""
                SELECT {VERDICT_COLUMNS} FROM verdicts v
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
            return [record_from_row(r) for r in rows]

        return await self.read(q)

    async def count_verdicts(self) -> int:
        return await self.read(lambda c: int(_scalar(c, "SELECT COUNT(*) FROM verdicts")))

    def schema_version(self) -> int:
        return self._version

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # What was submitted is still written, and its callers answered.
        await self._verdicts.drain()
        await self._drain_events()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, functools.partial(self._executor.shutdown, wait=True))
        await loop.run_in_executor(None, self._pool.close)


def _append_one(conn: PgConn, chain: LogChain, *, record: VerdictRecord) -> int:
    return append_verdict(conn, chain, record)
