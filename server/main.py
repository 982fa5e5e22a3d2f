"""The composition root: the one place that builds the server from its parts.

It opens the store (``open_store`` picks the backend from the ``--db``
URL), builds the use cases on the store's ports, the servicers on the use
cases, and the grpc.aio server with the guard, health and reflection; the
bulk worker pool; then serves with graceful drain (docs/architecture.md).
Nothing else imports ``server.api``.

Security and operations (docs/security.md): TLS / mutual TLS, the auth gate
in the request interceptor, Prometheus metrics on their own port, and hot
reload of the rules on SIGHUP or ``OperatorService/ReloadRules``.
``serve --workers N`` runs N processes of this (server/workers.py).
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health, health_pb2

from anshin.v1 import (
    claims_pb2,
    claims_pb2_grpc,
    events_pb2,
    operator_pb2,
    operator_pb2_grpc,
    posture_pb2,
    posture_pb2_grpc,
    verdicts_pb2,
)
from checks.releases import is_stale
from rules.load import RuleSet, load_rules
from server.api.claims import ClaimService
from server.api.events import EventService, register_event_service
from server.api.interceptors import GuardedServer, RequestInterceptor
from server.api.operator import OperatorService
from server.api.posture import PostureService
from server.api.reflection import add_health_and_reflection
from server.api.verdicts import VerdictLogService, register_verdict_log_service
from server.bulk import BulkPool
from server.clock import Clock, system_clock
from server.config import Config
from server.logs import get_logger
from server.metrics import (
    LogSampler,
    RpcMetrics,
    metered_store,
    publish_build_info,
    serve_metrics,
    watch_release_data,
)
from server.parent_watch import watch_parent
from server.pii import PhoneHasher
from server.refresh_task import ReleaseRefresher
from server.ruleset_holder import RulesHolder
from server.security.auth import Gate
from server.security.config import load_auth_config
from server.security.stream_limits import StreamLimits
from server.security.tls import Transport, exposure_warnings
from server.state import phone_key_secret, require_private
from server.store import Store, open_store
from server.usecases.check_login import CheckLogin
from server.usecases.decide_claim import DecideClaim
from server.usecases.event_queries import EventQueries
from server.usecases.find_verdicts import FindVerdicts
from server.usecases.prove_entry import ProveEntry
from server.usecases.record_events import EventJudge, RecordEvents
from server.usecases.reload_rules import RulesReloader
from server.usecases.reviews import Reviews
from server.version import version

if TYPE_CHECKING:  # the console's modules load only when it is served
    from server.console.server import ConsoleServer

log = get_logger("anshin.server")

# Health service names. "" is the whole server; RELEASE_DATA turns NOT_SERVING
# when browser release data is stale, without taking the server out of a
# load balancer (verdicts are then UNKNOWN, not wrong).
SERVICE_NAMES = (
    posture_pb2.DESCRIPTOR.services_by_name["PostureService"].full_name,
    events_pb2.DESCRIPTOR.services_by_name["EventService"].full_name,
    claims_pb2.DESCRIPTOR.services_by_name["ClaimService"].full_name,
    verdicts_pb2.DESCRIPTOR.services_by_name["VerdictLogService"].full_name,
    operator_pb2.DESCRIPTOR.services_by_name["OperatorService"].full_name,
)
RELEASE_DATA = "anshin.release_data"
# NOT_SERVING while the verdict log failed its start-up check (it was changed
# outside the service): the store refuses every write, and so do the services
# that write (WRITING_SERVICES, and the whole server "").
LOG_INTEGRITY = "anshin.log_integrity"
WRITING_SERVICES = (
    posture_pb2.DESCRIPTOR.services_by_name["PostureService"].full_name,
    events_pb2.DESCRIPTOR.services_by_name["EventService"].full_name,
    claims_pb2.DESCRIPTOR.services_by_name["ClaimService"].full_name,
)
# Release data the browser checks read: Safari on iPhone/iPad is judged from
# the iOS / iPadOS data (checks/platform.py), so those count for freshness too.
BROWSER_PRODUCTS = ("chrome", "edge", "firefox", "safari", "ios", "ipados")


@dataclass
class App:
    server: grpc.aio.Server
    store: Store
    rules: RulesHolder
    health: health.aio.HealthServicer
    port: int
    clock: Clock
    bulk_pool: BulkPool | None = None
    reloader: RulesReloader | None = None
    # Why this configuration is not fully protected (said loudly at start-up).
    warnings: tuple[str, ...] = field(default=())
    # `serve --refresh-releases` (server/refresh_task.py); None when off.
    refresher: ReleaseRefresher | None = None
    # `serve --console-listen` (server/console); None when off.
    console: ConsoleServer | None = None
    # Publishes the log head, checkpoint age and data ages (server/metrics.py).
    metrics_sampler: LogSampler | None = None

    def stale_products(self, at: datetime | None = None) -> list[str]:
        now = at or self.clock()
        posture = self.rules.current.posture
        return sorted(
            p
            for p in BROWSER_PRODUCTS
            if (r := posture.releases.get(p)) is not None
            and is_stale(r, now, posture.settings.release_stale_after)
        )

    async def refresh_release_health(self) -> None:
        stale = self.stale_products()
        status = (
            health_pb2.HealthCheckResponse.NOT_SERVING
            if stale
            else health_pb2.HealthCheckResponse.SERVING
        )
        await self.health.set(RELEASE_DATA, status)
        if stale:
            log.warning(
                "release_data_stale",
                products=stale,
                hint="run `anshin releases refresh` (or serve --refresh-releases)",
            )

    async def stop(self, grace: float) -> None:
        if self.refresher is not None:  # release refresh: no new fetch while draining
            await self.refresher.stop()
        if self.console is not None:  # no new page views while draining
            await self.console.stop()
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        if self.bulk_pool is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.bulk_pool.close)
        await self.store.close()


async def build_app(
    config: Config, *, rules: RuleSet | None = None, clock: Clock = system_clock
) -> App:
    # Security configuration first: refuse an unsafe one before opening anything.
    transport = Transport(config.tls_cert, config.tls_key, config.client_ca)
    auth = load_auth_config(config.auth_config) if config.auth_config is not None else None
    warnings = exposure_warnings(config.listen, transport, auth is not None, config.insecure)
    credentials = transport.credentials()
    ruleset = rules or load_rules(config.rules)
    # Secrets others can read are refused before anything is opened.
    require_private(config.resolved_log_key_file(), "the log-signing key")
    require_private(config.resolved_phone_key_file(), "the phone-hash key")
    if config.tls_key is not None:
        require_private(config.tls_key, "the TLS private key")
    # Both keys are bound to the database as it opens: a lost or swapped key
    # is refused, never silently replaced (server/state.py).
    store = open_store(
        config.db,
        log_key_file=config.resolved_log_key_file(),
        settings=config.store_settings(),
        secrets=(phone_key_secret(config.resolved_phone_key_file()),),
    )
    # Store latency, availability and verdict outcomes in the metrics.
    store = metered_store(store)
    publish_build_info()
    holder = RulesHolder(ruleset)
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", config.max_message_bytes),
            ("grpc.max_send_message_length", config.max_message_bytes),
            # Only `serve --workers N` shares the port between processes.
            ("grpc.so_reuseport", 1 if os.environ.get("ANSHIN_REUSEPORT") == "1" else 0),
        ],
    )
    # Every service registers through the guard (auth, limits, access log,
    # error mapping), wrapped once per method rather than intercepted per call.
    guarded = GuardedServer(server, RequestInterceptor(Gate(auth), RpcMetrics()))
    posture_pb2_grpc.add_PostureServiceServicer_to_server(
        PostureService(CheckLogin(store, holder), clock), guarded
    )
    hasher = PhoneHasher.from_file(config.resolved_phone_key_file())
    bulk_pool = (
        BulkPool(config.bulk_workers, ruleset.directory, hasher.key)
        if config.bulk_workers > 0
        else None
    )
    record_events = RecordEvents(store, EventJudge(holder, hasher), clock, bulk_pool)
    register_event_service(EventService(record_events, EventQueries(store, holder), clock), guarded)
    claims_pb2_grpc.add_ClaimServiceServicer_to_server(
        ClaimService(DecideClaim(store), holder, clock), guarded
    )
    find_verdicts, reviews, prove_entry = (
        FindVerdicts(store, clock),
        Reviews(store, holder, clock),
        ProveEntry(store),
    )
    register_verdict_log_service(
        VerdictLogService(
            find_verdicts,
            reviews,
            clock,
            prove_entry,
            StreamLimits(config.stream_settings()),
        ),
        guarded,
    )

    async def after_swap(new: RuleSet) -> None:
        if bulk_pool is not None:
            bulk_pool.reload(new.directory)
        await app.refresh_release_health()

    reloader = RulesReloader(holder, clock=clock, after_swap=after_swap)
    # Release refresh (server/refresh_task.py): writes the rules directory in
    # force, then swaps it in through the reloader above; started by serve().
    refresher = ReleaseRefresher.for_app(
        config.release_refresh, lambda: holder.current.directory, reloader.reload, clock
    )
    operator_pb2_grpc.add_OperatorServiceServicer_to_server(
        OperatorService(
            holder,
            reloader,
            stale_products=lambda: app.stale_products(),
            schema_version=store.schema_version,
            refresh_status=refresher.operator_status if refresher is not None else None,
            log_integrity=lambda: log_integrity(store),
        ),
        guarded,
    )
    # Health (with List) and reflection v1 + v1alpha, through the guard.
    health_servicer = add_health_and_reflection(guarded, SERVICE_NAMES)
    if credentials is not None:
        port = server.add_secure_port(config.listen, credentials)
    else:
        port = server.add_insecure_port(config.listen)
    if port == 0:
        await store.close()
        raise OSError(f"cannot listen on {config.listen}")
    for name in ("", *SERVICE_NAMES):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    await report_log_integrity(store, health_servicer)
    app = App(
        server, store, holder, health_servicer, port, clock, bulk_pool, reloader, tuple(warnings)
    )
    app.refresher = refresher  # release refresh (server/refresh_task.py)
    if config.console_listen:  # the analysts' console: same store, same use cases
        from server.console.serve import console_server

        app.console = console_server(
            config, transport, auth, store, holder, clock, find_verdicts, reviews, prove_entry
        )
    watch_release_data(lambda: holder.current.release_as_of(), clock)
    # The log head, its latest checkpoint and the data ages, as gauges (serve()).
    app.metrics_sampler = LogSampler(store)
    await app.refresh_release_health()
    return app


def log_integrity(store: Store) -> operator_pb2.LogIntegrity | None:
    """GetStatus's account of the store's start-up check of the log (None: passed)."""
    problem = store.log_problem()
    if problem is None:
        return None
    return operator_pb2.LogIntegrity(
        read_only=True,
        first_bad_seq=problem.seq,
        first_bad_id=problem.entry_id or "",
        reason=problem.reason,
    )


async def report_log_integrity(store: Store, health_servicer: health.aio.HealthServicer) -> None:
    """A log that failed the store's start-up check: the process serves reads
    only (the store refuses writes with FAILED_PRECONDITION). Health says so
    for the services that write and for the whole server, so a load balancer
    sends them elsewhere; the verdict-log and operator services stay SERVING
    for auditors (ResolveReview, which writes, is refused by the store)."""
    problem = store.log_problem()
    serving = health_pb2.HealthCheckResponse.SERVING
    not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
    if problem is None:
        await health_servicer.set(LOG_INTEGRITY, serving)
        return
    for name in ("", *WRITING_SERVICES, LOG_INTEGRITY):
        await health_servicer.set(name, not_serving)
    # The store logged the one critical line (verdict_log_tampered); this says
    # what the server does about it.
    log.warning(
        "serving_read_only",
        first_bad_seq=problem.seq,
        first_bad_id=problem.entry_id,
        reason=problem.reason,
        not_serving=["", *WRITING_SERVICES, LOG_INTEGRITY],
        hint="run `anshin log verify` with the private key; see docs/security.md",
    )


async def serve(config: Config) -> None:
    app = await build_app(config)
    # Everything built so far (rules, release data, modules) lives as long as
    # the process: keep it out of the collector's full passes, each of which
    # would otherwise stall the event loop for ~10-20 ms under load.
    gc.freeze()
    for warning in app.warnings:
        log.warning("insecure_configuration", warning=warning)
        print(f"\n*** ANSHIN WARNING: {warning} ***", file=sys.stderr)
    # (A worker of `serve --workers N` has none: its parent serves them all.)
    if config.metrics_listen:
        metrics_port = serve_metrics(config.metrics_listen)
        log.info(
            "metrics_serving", version=version(), listen=config.metrics_listen, port=metrics_port
        )
    await app.server.start()
    if app.console is not None:
        console_port = await app.console.start()
        log.info("console_serving", listen=config.console_listen, port=console_port)
    if app.refresher is not None:  # serve --refresh-releases: first run after a short delay
        app.refresher.start()
    log.info(
        "serving",
        version=version(),
        listen=config.listen,
        port=app.port,
        db=config.db,
        rules=str(app.rules.current.directory),
        rules_digest=app.rules.current.digest,
        schema_version=app.store.schema_version(),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    reloads: set[asyncio.Task[object]] = set()

    def reload_on_sighup() -> None:
        assert app.reloader is not None
        task: asyncio.Task[object] = asyncio.create_task(app.reloader.reload("sighup"))
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, reload_on_sighup)
    parent = os.environ.get("ANSHIN_PARENT_PID")
    if parent:
        # A worker ignores SIGHUP until here (server/workers.py), so a reload
        # asked for while it was starting would be lost and it would serve
        # the rules it read before the change for good: look once more now.
        reload_on_sighup()
    if parent:  # a worker of `serve --workers N`: drain and stop if the parent dies

        def parent_gone() -> None:
            log.error("parent_gone", parent_pid=int(parent), hint="draining and stopping")
            stop.set()

        def on_watch_thread() -> None:
            loop.call_soon_threadsafe(parent_gone)

        watch_parent(on_watch_thread, int(parent))

    async def watch_release_data() -> None:
        while True:
            await asyncio.sleep(600)
            await app.refresh_release_health()

    watcher = asyncio.create_task(watch_release_data())
    sampler = asyncio.create_task(app.metrics_sampler.run()) if app.metrics_sampler else None
    await stop.wait()
    log.info("draining", grace_seconds=config.drain_seconds)
    watcher.cancel()
    if sampler is not None:
        sampler.cancel()
    await app.stop(config.drain_seconds)
    log.info("stopped")
