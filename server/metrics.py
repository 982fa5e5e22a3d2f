"""Prometheus metrics, served on their own port (``serve --metrics-listen``).

Series:

* ``anshin_rpc_requests_total{method,code}``: every RPC by the status the
  caller saw (denials and rate limiting included);
* ``anshin_rpc_duration_seconds{method}``: latency histogram;
* ``anshin_verdicts_total{kind,outcome}``: verdicts and claim decisions
  durably recorded;
* ``anshin_store_duration_seconds{operation}``: store call latency, measured
  at the service edge (:func:`metered_store`);
* ``anshin_release_data_age_seconds{product}``: now minus the release data's
  ``as_of`` (the data the server is using right now);
* ``anshin_rules_reloads_total{result}``, ``anshin_rules_reload_failures_total``,
  ``anshin_rules_info{digest}``: hot reloads;
* ``anshin_release_refresh_total{source,result}``,
  ``anshin_release_refresh_last_success_timestamp_seconds{source}``: the
  background refresh of the release feeds.

The metric objects are process-wide (prometheus_client's default registry);
several apps in one process (the tests) share them.
"""

from __future__ import annotations

import functools
import inspect
import time
from bisect import bisect_left
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from prometheus_client import REGISTRY, Counter, Gauge, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from server.store.ports import Store

_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip


class TallyCounter(Collector):
    """A labelled counter counted by the serving thread without a lock.

    prometheus_client's own Counter and Histogram take a mutex on every
    update; four of those per request (calls, latency, store latency,
    verdicts) cost CheckLogin measurable CPU. These tallies are plain Python
    numbers updated on the event-loop thread only; the exposition thread reads
    them at scrape time (under the GIL, so a scrape sees each number whole,
    at worst one observation behind another).
    """

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...]) -> None:
        self._name = name
        self._doc = documentation
        self._labelnames = labelnames
        self._children: dict[tuple[str, ...], _CounterChild] = {}
        REGISTRY.register(self)

    def labels(self, *values: str) -> _CounterChild:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = _CounterChild()
        return child

    def collect(self) -> Any:
        family = CounterMetricFamily(self._name, self._doc, labels=self._labelnames)
        for values, child in list(self._children.items()):
            family.add_metric(list(values), child.value)
        yield family


class _CounterChild:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount


class TallyHistogram(Collector):
    """A labelled histogram observed without a lock (see :class:`TallyCounter`)."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: tuple[str, ...],
        buckets: tuple[float, ...],
    ) -> None:
        self._name = name
        self._doc = documentation
        self._labelnames = labelnames
        self._bounds = tuple(sorted(buckets))
        self._children: dict[tuple[str, ...], _HistogramChild] = {}
        REGISTRY.register(self)

    def labels(self, *values: str) -> _HistogramChild:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = _HistogramChild(self._bounds)
        return child

    def collect(self) -> Any:
        family = HistogramMetricFamily(self._name, self._doc, labels=self._labelnames)
        les = [floatToGoString(b) for b in self._bounds] + ["+Inf"]  # type: ignore[no-untyped-call]
        for values, child in list(self._children.items()):
            counts = list(child.counts)
            cumulative, running = [], 0
            for le, count in zip(les, counts, strict=True):
                running += count
                cumulative.append((le, running))
            family.add_metric(list(values), cumulative, child.sum)
        yield family


class _HistogramChild:
    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, value: float) -> None:
        # bisect_left: a value equal to a bound belongs to that bound's bucket (le).
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value


RPC_REQUESTS = TallyCounter(
    "anshin_rpc_requests", "RPCs by method and the gRPC status returned", ("method", "code")
)
RPC_DURATION = TallyHistogram(
    "anshin_rpc_duration_seconds", "RPC latency", ("method",), _LATENCY_BUCKETS
)
VERDICTS = TallyCounter(
    "anshin_verdicts", "Verdicts and claim decisions recorded", ("kind", "outcome")
)
STORE_DURATION = TallyHistogram(
    "anshin_store_duration_seconds", "Store call latency", ("operation",), _LATENCY_BUCKETS
)
RULES_RELOADS = Counter("anshin_rules_reloads", "Rules reload attempts", ["result"])
RULES_RELOAD_FAILURES = Counter(
    "anshin_rules_reload_failures", "Rules reloads refused (the previous rules kept serving)"
)
RULES_INFO = Gauge("anshin_rules_info", "The rules in force (value 1)", ["digest"])
LOG_READ_ONLY = Gauge(
    "anshin_log_read_only",
    "1 while the verdict log failed its start-up check and every write is refused",
)
# Background release-feed refresh (server/refresh_task.py, `serve --refresh-releases`):
# each source's outcome (updated, unchanged, not_modified, refused, error) and its
# last success, so "no good refresh for a day" can be alerted on.
RELEASE_REFRESHES = Counter(
    "anshin_release_refresh", "Release-feed refreshes by source and outcome", ["source", "result"]
)
RELEASE_REFRESH_LAST_SUCCESS = Gauge(
    "anshin_release_refresh_last_success_timestamp_seconds",
    "Unix time of each source's last successful refresh",
    ["source"],
)


class _ReleaseAge(Collector):
    """Release-data age computed at scrape time from the rules in force."""

    def __init__(self) -> None:
        self.source: Callable[[], dict[str, datetime]] | None = None
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def collect(self) -> Any:
        family = GaugeMetricFamily(
            "anshin_release_data_age_seconds",
            "Seconds since the as_of instant of each product's release data in force",
            labels=["product"],
        )
        source = self.source
        if source is not None:
            now = self.clock()
            for product, as_of in sorted(source().items()):
                family.add_metric([product], (now - as_of).total_seconds())
        yield family


_RELEASE_AGE = _ReleaseAge()
REGISTRY.register(_RELEASE_AGE)


def watch_release_data(
    source: Callable[[], dict[str, datetime]], clock: Callable[[], datetime]
) -> None:
    """Report the age of the release data ``source()`` returns (latest app wins)."""
    _RELEASE_AGE.source = source
    _RELEASE_AGE.clock = clock


def set_rules_digest(digest: str) -> None:
    RULES_INFO.clear()
    RULES_INFO.labels(digest).set(1)


def serve_metrics(listen: str) -> int:
    """Start the HTTP exposition on HOST:PORT in a daemon thread; returns the port."""
    host, _, port = listen.rpartition(":")
    server, _thread = start_http_server(int(port), addr=host.strip("[]") or "127.0.0.1")
    return int(server.server_port)


class RpcMetrics:
    """Per-method children cached: one dict lookup per call on the hot path."""

    def __init__(self) -> None:
        self._counters: dict[tuple[str, str], Any] = {}
        self._histograms: dict[str, Any] = {}

    def observe(self, method: str, code: str, seconds: float) -> None:
        counter = self._counters.get((method, code))
        if counter is None:
            counter = self._counters[(method, code)] = RPC_REQUESTS.labels(method, code)
        counter.inc()
        hist = self._histograms.get(method)
        if hist is None:
            hist = self._histograms[method] = RPC_DURATION.labels(method)
        hist.observe(seconds)


class _MeteredStore:
    """A store whose coroutine methods are timed (and verdicts counted)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not inspect.iscoroutinefunction(attr):
            return attr
        hist = STORE_DURATION.labels(name)
        if name == "append_verdict":
            wrapped = _timed_append(attr, hist)
        elif name == "decide_claim":
            wrapped = _timed_decide(attr, hist)
        else:
            wrapped = _timed(attr, hist)
        setattr(self, name, wrapped)  # resolved once; later calls skip __getattr__
        return wrapped


def _timed(fn: Any, hist: Any) -> Any:
    @functools.wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await fn(*args, **kwargs)
        finally:
            hist.observe(time.perf_counter() - started)

    return call


def _timed_append(fn: Any, hist: Any) -> Any:
    @functools.wraps(fn)
    async def call(record: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            result = await fn(record, *args, **kwargs)
        finally:
            hist.observe(time.perf_counter() - started)
        VERDICTS.labels(record.kind, record.outcome).inc()
        return result

    return call


def _timed_decide(fn: Any, hist: Any) -> Any:
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
        finally:
            hist.observe(time.perf_counter() - started)
        decided = result[0] if isinstance(result, tuple) else False
        if decided and written:
            verdict = written[-1].verdict
            VERDICTS.labels(verdict.kind, verdict.outcome).inc()
        return result

    return call


def metered_store(store: Store) -> Store:
    return cast(Store, _MeteredStore(store))
