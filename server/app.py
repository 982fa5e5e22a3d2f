"""The grpc.aio application: wiring, health, reflection, graceful drain."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
from dataclasses import dataclass
from datetime import datetime

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from anshin.v1 import (
    claims_pb2,
    claims_pb2_grpc,
    events_pb2,
    posture_pb2,
    posture_pb2_grpc,
)
from checks.releases import is_stale
from rules.load import RuleSet, load_rules
from server.bulk import BulkPool
from server.clock import Clock, system_clock
from server.config import Config
from server.interceptors import RequestInterceptor
from server.logs import get_logger
from server.pii import PhoneHasher
from server.ruleset_holder import RulesHolder
from server.services.claims import ClaimService
from server.services.events import EventService, register_event_service
from server.services.posture import PostureService
from server.store import Store, open_store

log = get_logger("anshin.server")

# Health service names. "" is the whole server; RELEASE_DATA turns NOT_SERVING
# when browser release data is stale, without taking the server out of a
# load balancer (verdicts are then UNKNOWN, not wrong).
SERVICE_NAMES = (
    posture_pb2.DESCRIPTOR.services_by_name["PostureService"].full_name,
    events_pb2.DESCRIPTOR.services_by_name["EventService"].full_name,
    claims_pb2.DESCRIPTOR.services_by_name["ClaimService"].full_name,
)
RELEASE_DATA = "anshin.release_data"
BROWSER_PRODUCTS = ("chrome", "edge", "firefox", "safari")


@dataclass
class App:
    server: grpc.aio.Server
    store: Store
    rules: RulesHolder
    health: health.aio.HealthServicer
    port: int
    clock: Clock
    bulk_pool: BulkPool | None = None

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
                hint="run `anshin releases import` with current vendor feeds",
            )

    async def stop(self, grace: float) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        if self.bulk_pool is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.bulk_pool.close)
        await self.store.close()


async def build_app(
    config: Config, *, rules: RuleSet | None = None, clock: Clock = system_clock
) -> App:
    ruleset = rules or load_rules(config.rules)
    store = open_store(config.db)
    holder = RulesHolder(ruleset)
    server = grpc.aio.server(
        interceptors=[RequestInterceptor()],
        options=[
            ("grpc.max_receive_message_length", config.max_message_bytes),
            ("grpc.max_send_message_length", config.max_message_bytes),
            # Only `serve --workers N` shares the port between processes.
            ("grpc.so_reuseport", 1 if os.environ.get("ANSHIN_REUSEPORT") == "1" else 0),
        ],
    )
    posture_pb2_grpc.add_PostureServiceServicer_to_server(
        PostureService(store, holder, clock), server
    )
    hasher = PhoneHasher.from_file(config.resolved_phone_key_file())
    bulk_pool = (
        BulkPool(config.bulk_workers, ruleset.directory, hasher.key)
        if config.bulk_workers > 0
        else None
    )
    register_event_service(EventService(store, holder, clock, hasher, bulk_pool), server)
    claims_pb2_grpc.add_ClaimServiceServicer_to_server(ClaimService(store, holder, clock), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    port = server.add_insecure_port(config.listen)
    if port == 0:
        await store.close()
        raise OSError(f"cannot listen on {config.listen}")
    for name in ("", *SERVICE_NAMES):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    app = App(server, store, holder, health_servicer, port, clock, bulk_pool)
    await app.refresh_release_health()
    return app


async def serve(config: Config) -> None:
    app = await build_app(config)
    # Everything built so far (rules, release data, modules) lives as long as
    # the process: keep it out of the collector's full passes, each of which
    # would otherwise stall the event loop for ~10-20 ms under load.
    gc.freeze()
    await app.server.start()
    log.info(
        "serving",
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

    async def watch_release_data() -> None:
        while True:
            await asyncio.sleep(600)
            await app.refresh_release_health()

    watcher = asyncio.create_task(watch_release_data())
    await stop.wait()
    log.info("draining", grace_seconds=config.drain_seconds)
    watcher.cancel()
    await app.stop(config.drain_seconds)
    log.info("stopped")
