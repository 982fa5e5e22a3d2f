"""Prometheus metrics through prometheus_client, one scrape for every process.

gRPC, with the names and labels of go-grpc-prometheus / py-grpc-prometheus
(so the usual gRPC dashboards and alerts work unchanged; ``grpc_code`` is the
status name as Python spells it, ``OK``, ``INVALID_ARGUMENT``, …):

* ``grpc_server_started_total{grpc_type,grpc_service,grpc_method}``;
* ``grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}``:
  by the status the caller saw (denials and rate limiting included);
* ``grpc_server_msg_received_total``, ``grpc_server_msg_sent_total``: messages
  (1 per unary request and reply; each message of a stream);
* ``grpc_server_handling_seconds{grpc_type,grpc_service,grpc_method}``: latency.

Anshin's own:

* ``anshin_verdicts_total{kind,outcome}``: verdicts and claim decisions recorded;
* ``anshin_store_duration_seconds{operation}``: store call latency at the
  service edge (:func:`metered_store`);
* ``anshin_store_available``: 1 while the store serves reads and writes; 0 while
  the log is read-only (it failed its start-up check) or from a call the store
  failed (``StoreError``: locked, full, unreachable) until a call of that kind
  succeeds again;
* ``anshin_log_read_only``: 1 while the verdict log refuses every write;
* ``anshin_log_head_seq``, ``anshin_log_checkpoint_seq``,
  ``anshin_log_checkpoint_age_seconds``: the log's head, its latest signed
  checkpoint and that checkpoint's age (:class:`LogSampler`, every few seconds);
* ``anshin_release_data_age_seconds{product}``: now minus the ``as_of`` of the
  release data in force;
* ``anshin_rules_info{digest}``, ``anshin_rules_reloads_total{result}``
  (``ok``, ``unchanged``, ``refused``; each from 0 at start-up, so a rate or
  an ``increase`` has a series before the first reload),
  ``anshin_rules_reload_failures_total`` (no label: the refused ones): hot reloads;
* ``anshin_release_refresh_total{source,result}``,
  ``anshin_release_refresh_last_success_timestamp_seconds{source}``: the
  background refresh of the release feeds;
* ``anshin_build_info{version,python,grpc,prometheus_client}``: 1.

One process (``serve``): prometheus_client's default registry, served by
:func:`serve_metrics`. ``serve --workers N``: prometheus_client's
multiprocess mode. The parent gives every worker one private directory
(``PROMETHEUS_MULTIPROC_DIR``, set before the worker's Python starts, as
prometheus_client requires) where each process keeps its values in files,
and serves one endpoint over all of them (:func:`serve_workers_metrics`):
counters and histograms summed over the workers, each gauge merged as its
``multiprocess_mode`` says. That mode forbids custom collectors and
``set_function``, so every value computed from the state (ages, the log head)
is a gauge set by :class:`LogSampler`; removing a label set is not
supported either (see :func:`set_rules_digest`).

The metric objects are process-wide; several apps in one process (the tests)
share them.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import inspect
import os
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, cast

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)
from prometheus_client.multiprocess import MultiProcessCollector

from server.errors import Unavailable
from server.logs import get_logger
from server.store.errors import StoreError
from server.store.ports import Store
from server.version import version

log = get_logger("anshin.metrics")

# Set by the parent of `serve --workers N` before this process started.
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip

# -- gRPC server metrics (go-grpc-prometheus names) --------------------------------

_GRPC_LABELS = ("grpc_type", "grpc_service", "grpc_method")
GRPC_STARTED = Counter(
    "grpc_server_started", "Total number of RPCs started on the server.", _GRPC_LABELS
)
GRPC_HANDLED = Counter(
    "grpc_server_handled",
    "Total number of RPCs completed on the server, regardless of success or failure.",
    (*_GRPC_LABELS, "grpc_code"),
)
GRPC_MSG_RECEIVED = Counter(
    "grpc_server_msg_received",
    "Total number of RPC stream messages received on the server.",
    _GRPC_LABELS,
)
GRPC_MSG_SENT = Counter(
    "grpc_server_msg_sent", "Total number of gRPC stream messages sent by the server.", _GRPC_LABELS
)
GRPC_HANDLING = Histogram(
    "grpc_server_handling_seconds",
    "Histogram of response latency (seconds) of gRPC that had been application-level "
    "handled by the server.",
    _GRPC_LABELS,
    buckets=_LATENCY_BUCKETS,
)

# -- Anshin ------------------------------------------------------------------------
# Gauges' multiprocess modes: "live…" modes forget a worker once it is gone
# (mark_process_dead); "max" keeps a dead worker's value (a timestamp of success).
# A worker starting writes 0 into its unlabelled gauges before it knows better:
# the modes below are chosen so that such a 0 says nothing false for long.

VERDICTS = Counter("anshin_verdicts", "Verdicts and claim decisions recorded", ("kind", "outcome"))
STORE_DURATION = Histogram(
    "anshin_store_duration_seconds", "Store call latency", ("operation",), buckets=_LATENCY_BUCKETS
)
STORE_AVAILABLE = Gauge(
    "anshin_store_available",
    "1 while the store serves reads and writes; 0 while the log is read-only or the store fails",
    # Any live worker that cannot use the store makes the whole 0.
    multiprocess_mode="livemin",
)
LOG_READ_ONLY = Gauge(
    "anshin_log_read_only",
    "1 while the verdict log failed its start-up check and every write is refused",
    multiprocess_mode="livemax",
)
LOG_HEAD_SEQ = Gauge(
    "anshin_log_head_seq",
    "Highest verdict-log sequence number appended by this process or under a signed checkpoint",
    multiprocess_mode="livemax",
)
LOG_CHECKPOINT_SEQ = Gauge(
    "anshin_log_checkpoint_seq",
    "Tree size of the latest signed checkpoint of the verdict log",
    multiprocess_mode="livemax",
)
LOG_CHECKPOINT_AGE = Gauge(
    "anshin_log_checkpoint_age_seconds",
    "Seconds since the latest signed checkpoint of the verdict log was made (0: none yet)",
    # The workers read the same checkpoint a few seconds apart: the oldest view.
    multiprocess_mode="livemax",
)
RELEASE_DATA_AGE = Gauge(
    "anshin_release_data_age_seconds",
    "Seconds since the as_of instant of each product's release data in force",
    ("product",),
    multiprocess_mode="livemax",
)
RELOAD_RESULTS = ("ok", "unchanged", "refused")  # server/usecases/reload_rules.py
RULES_RELOADS = Counter("anshin_rules_reloads", "Rules reload attempts", ("result",))
for _result in RELOAD_RESULTS:  # every series from 0: absent is not "none yet"
    RULES_RELOADS.labels(_result)
RULES_RELOAD_FAILURES = Counter(
    "anshin_rules_reload_failures", "Rules reloads refused (the previous rules kept serving)"
)
RULES_INFO = Gauge(
    "anshin_rules_info",
    "The rules in force (value 1)",
    ("digest",),
    # Workers swap one after another: during a reload both digests show 1.
    multiprocess_mode="livemax",
)
# Background release-feed refresh (server/refresh_task.py, `serve --refresh-releases`):
# each source's outcome (updated, unchanged, not_modified, refused, error) and its
# last success, so "no good refresh for a day" can be alerted on.
RELEASE_REFRESHES = Counter(
    "anshin_release_refresh", "Release-feed refreshes by source and outcome", ("source", "result")
)
RELEASE_REFRESH_LAST_SUCCESS = Gauge(
    "anshin_release_refresh_last_success_timestamp_seconds",
    "Unix time of each source's last successful refresh",
    ("source",),
    multiprocess_mode="max",
)
BUILD_INFO = Gauge(
    "anshin_build_info",
    "The running Anshin's version and those of what it runs on (value 1)",
    ("version", "python", "grpc", "prometheus_client"),
    # One series per live worker (label pid): which version each process runs.
    multiprocess_mode="liveall",
)


def _distribution(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def build_labels() -> dict[str, str]:
    return {
        "version": version(),
        "python": platform.python_version(),
        "grpc": _distribution("grpcio"),
        "prometheus_client": _distribution("prometheus_client"),
    }


def publish_build_info() -> None:
    BUILD_INFO.labels(**build_labels()).set(1)


# -- rules and release data ------------------------------------------------------------


class _ReleaseAge:
    """The release data in force, whose ages :class:`LogSampler` publishes."""

    def __init__(self) -> None:
        self.source: Callable[[], dict[str, datetime]] | None = None
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def publish(self) -> None:
        source = self.source
        if source is None:
            return
        now = self.clock()
        for product, as_of in sorted(source().items()):
            RELEASE_DATA_AGE.labels(product).set((now - as_of).total_seconds())


_RELEASE_AGE = _ReleaseAge()
_DIGEST: list[str] = []  # the digest this process last reported


def watch_release_data(
    source: Callable[[], dict[str, datetime]], clock: Callable[[], datetime]
) -> None:
    """Report the age of the release data ``source()`` returns (latest app wins),
    measured on the server's clock ``clock``."""
    _RELEASE_AGE.source = source
    _RELEASE_AGE.clock = clock
    _RELEASE_AGE.publish()


def set_rules_digest(digest: str) -> None:
    """The rules in force changed (start-up, reload): their digest, and the
    ages of the release data they carry."""
    for old in _DIGEST:
        if old != digest:
            if MULTIPROCESS:  # prometheus_client cannot remove a label set there
                RULES_INFO.labels(old).set(0)
            else:
                RULES_INFO.remove(old)
    _DIGEST[:] = [digest]
    RULES_INFO.labels(digest).set(1)
    _RELEASE_AGE.publish()


# -- exposition ------------------------------------------------------------------------


class ListenError(OSError):
    """The metrics endpoint cannot listen on ``listen`` (``reason``: the system's words)."""

    def __init__(self, listen: str, reason: str, in_use: bool) -> None:
        super().__init__(f"cannot serve metrics on {listen}: {reason}")
        self.listen = listen
        self.reason = reason
        self.in_use = in_use


def _address(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def _start(listen: str, registry: CollectorRegistry = REGISTRY) -> int:
    """Serve ``registry`` on HOST:PORT (a daemon thread); the port. A port in
    use or a host that does not resolve is a :class:`ListenError` naming the
    address (the socket's error names neither)."""
    host, port = _address(listen)
    try:
        server, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise ListenError(listen, reason, exc.errno == errno.EADDRINUSE) from None
    return int(server.server_port)


def serve_metrics(listen: str) -> int:
    """One process: the default registry on HOST:PORT (a daemon thread); the port."""
    return _start(listen)


def serve_workers_metrics(listen: str, directory: str) -> int:
    """The parent of ``serve --workers N``: one endpoint over every worker's
    files in ``directory`` (their PROMETHEUS_MULTIPROC_DIR); the port. The
    parent's own process metrics are not in it: it serves no calls."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return _start(listen, registry)


# -- per-call gRPC metrics ---------------------------------------------------------------


class MethodMetrics:
    """One method's series, resolved once: the hot path does no label lookups."""

    __slots__ = ("_handled", "_labels", "handling", "received", "sent", "started")

    def __init__(self, grpc_type: str, method: str) -> None:
        service, _, name = method.lstrip("/").rpartition("/")
        self._labels = (grpc_type, service, name)
        self.started = GRPC_STARTED.labels(*self._labels)
        self.received = GRPC_MSG_RECEIVED.labels(*self._labels)
        self.sent = GRPC_MSG_SENT.labels(*self._labels)
        self.handling = GRPC_HANDLING.labels(*self._labels)
        self._handled: dict[str, Any] = {}

    def handled(self, code: str, seconds: float) -> None:
        counter = self._handled.get(code)
        if counter is None:
            counter = self._handled[code] = GRPC_HANDLED.labels(*self._labels, code)
        counter.inc()
        self.handling.observe(seconds)


class RpcMetrics:
    """Builds each method's :class:`MethodMetrics` (the guard does, once per method)."""

    def method(self, method: str, grpc_type: str) -> MethodMetrics:
        return MethodMetrics(grpc_type, method)


# -- the store ---------------------------------------------------------------------------

# The store calls that write: a failure of one of these says nothing is
# writable until one of them succeeds again (reads may go on meanwhile).
_WRITES = frozenset({"append_verdict", "record_events", "decide_claim", "resolve_review"})


class StoreHealth:
    """``anshin_store_available`` from what the store's calls end with.

    Read-only log: 0 for the life of the process. A call failing with a
    store error (the store's own ``StoreError`` or ``Unavailable``): 0 until a
    call of the same kind succeeds; a write's success clears both kinds (a
    write reads too). The gauge is written only when the value changes, so
    the hot path costs two attribute reads."""

    def __init__(self, read_only: bool) -> None:
        self.read_only = read_only
        self.reads_failing = False
        self.writes_failing = False
        self._shown: float | None = None
        LOG_READ_ONLY.set(1 if read_only else 0)
        self._show()

    @property
    def available(self) -> bool:
        return not (self.read_only or self.reads_failing or self.writes_failing)

    def failed(self, write: bool) -> None:
        if write:
            self.writes_failing = True
        else:
            self.reads_failing = True
        self._show()

    def succeeded(self, write: bool) -> None:
        if not (self.reads_failing or self.writes_failing):
            return
        if write:
            self.writes_failing = False
        self.reads_failing = False
        self._show()

    def _show(self) -> None:
        value = 1.0 if self.available else 0.0
        if value != self._shown:
            STORE_AVAILABLE.set(value)
            self._shown = value


class _MeteredStore:
    """A store whose coroutine methods are timed, whose failures say whether
    it is available, and whose appends are counted (verdicts) and remembered
    (the highest seq, for the log head). One wrapper per method, resolved on
    first use: a store call pays one extra coroutine frame, no more."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.health = StoreHealth(store.log_problem() is not None)
        self.head_seen = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not inspect.iscoroutinefunction(attr):
            return attr
        watch = _Watch(STORE_DURATION.labels(name), self.health, name in _WRITES)
        if name == "append_verdict":
            wrapped = _timed_append(attr, watch, self)
        elif name == "decide_claim":
            wrapped = _timed_decide(attr, watch)
        else:
            wrapped = _timed(attr, watch)
        setattr(self, name, wrapped)  # resolved once; later calls skip __getattr__
        return wrapped


# What a store call fails with when the store, not the request, is at fault.
_STORE_DOWN = (StoreError, Unavailable)


class _Watch:
    __slots__ = ("health", "hist", "write")

    def __init__(self, hist: Any, health: StoreHealth, write: bool) -> None:
        self.hist = hist
        self.health = health
        self.write = write


def _timed(fn: Any, watch: _Watch) -> Any:
    @functools.wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            result = await fn(*args, **kwargs)
        except _STORE_DOWN:
            watch.health.failed(watch.write)
            raise
        finally:
            watch.hist.observe(time.perf_counter() - started)
        watch.health.succeeded(watch.write)
        return result

    return call


def _timed_append(fn: Any, watch: _Watch, metered: _MeteredStore) -> Any:
    @functools.wraps(fn)
    async def call(record: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            seq = await fn(record, *args, **kwargs)
        except _STORE_DOWN:
            watch.health.failed(True)
            raise
        finally:
            watch.hist.observe(time.perf_counter() - started)
        watch.health.succeeded(True)
        VERDICTS.labels(record.kind, record.outcome).inc()
        if isinstance(seq, int) and seq > metered.head_seen:
            metered.head_seen = seq  # published by LogSampler: no gauge write per call
        return seq

    return call


def _timed_decide(fn: Any, watch: _Watch) -> Any:
    @functools.wraps(fn)
    async def call(claim_id: Any, scopes: Any, decide: Any, *args: Any, **kwargs: Any) -> Any:
        written: list[Any] = []

        def deciding(usage: Any) -> Any:
            write = decide(usage)
            written.append(write)
            return write

        started = time.perf_counter()
        try:
            result = await fn(claim_id, scopes, deciding, *args, **kwargs)
        except _STORE_DOWN:
            watch.health.failed(True)
            raise
        finally:
            watch.hist.observe(time.perf_counter() - started)
        watch.health.succeeded(True)
        decided = result[0] if isinstance(result, tuple) else False
        if decided and written:
            verdict = written[-1].verdict
            VERDICTS.labels(verdict.kind, verdict.outcome).inc()
        return result

    return call


def metered_store(store: Store) -> Store:
    return cast(Store, _MeteredStore(store))


# -- values read from the state, every few seconds ----------------------------------------------

SAMPLE_SECONDS = 5.0


class LogSampler:
    """Publishes the log's head, its latest checkpoint and that checkpoint's
    age, and the release data's ages, every ``SAMPLE_SECONDS``.

    Gauges, not values computed at scrape time: under ``serve --workers N``
    the scrape is answered by the parent from the workers' files. The head
    is the highest seq this process appended or a signed checkpoint covers
    (checkpoints follow the head within ``--checkpoint-interval-ms``), read
    without counting a large log. The checkpoint's age is on the wall clock,
    as the store stamps it (``wall``), not the server's judging clock."""

    def __init__(self, store: Store, wall: Callable[[], float] = time.time) -> None:
        self._store = store
        self._wall = wall

    async def sample(self) -> None:
        checkpoint = await self._store.latest_checkpoint()
        seen = self._store.head_seen if isinstance(self._store, _MeteredStore) else 0
        if checkpoint is None:
            LOG_CHECKPOINT_SEQ.set(0)
            LOG_CHECKPOINT_AGE.set(0)
            LOG_HEAD_SEQ.set(seen)
        else:
            LOG_CHECKPOINT_SEQ.set(checkpoint.seq)
            LOG_CHECKPOINT_AGE.set(max(0.0, self._wall() - checkpoint.created_us / 1_000_000))
            LOG_HEAD_SEQ.set(max(seen, checkpoint.seq))
        _RELEASE_AGE.publish()

    async def run(self, every: float = SAMPLE_SECONDS) -> None:
        while True:
            try:
                await self.sample()
            except _STORE_DOWN as exc:  # anshin_store_available says so
                log.debug("metrics_sample_failed", error=str(exc))
            except Exception:  # a bug here must not end the sampling, nor go unseen
                log.warning("metrics_sample_failed", exc_info=True)
            await asyncio.sleep(every)
