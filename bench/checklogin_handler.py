"""CheckLogin's own work per call, outside the server: no gRPC, no store.

The handler (validation, evaluation, reply, log record) and the guard every
call goes through (request id, caller, metrics, access-log line), awaited
in a tight loop over the load generator's requests, with a store whose
append returns at once and a stand-in for the gRPC call context. What this
prints is the least that work can cost per call; inside the serving
process the same code runs colder and costs more (compare the server CPU
per call of ``bench/checklogin_floor.py``).

    .venv/bin/python bench/checklogin_handler.py [--calls 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import bench_rules
from loadgen import make_requests

from anshin.v1 import posture_pb2_grpc
from rules.load import load_rules
from server.api.interceptors import RequestInterceptor
from server.api.posture import PostureService
from server.clock import system_clock
from server.logs import configure_logging
from server.metrics import RpcMetrics
from server.ruleset_holder import RulesHolder
from server.security.auth import Gate
from server.usecases.check_login import CheckLogin

METHOD = "/anshin.v1.PostureService/CheckLogin"


class InstantStore:
    async def append_verdict(self, record: Any) -> None:
        return None


class CallContext:
    """What the guard and the handler read of a grpc.aio ServicerContext."""

    def invocation_metadata(self) -> tuple[()]:
        return ()

    def set_trailing_metadata(self, metadata: Any) -> None:
        pass

    def time_remaining(self) -> None:
        return None

    def auth_context(self) -> dict[str, Any]:
        return {}

    def peer(self) -> str:
        return "ipv4:127.0.0.1:50000"


class Registry:
    """Takes the method handlers the generated add_*_to_server registers."""

    def __init__(self) -> None:
        self.handlers: dict[str, Any] = {}

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        for h in handlers:
            self.handlers["CheckLogin"] = h.service(type("D", (), {"method": METHOD})())

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        self.handlers.update(handlers)


async def per_call(fn: Any, requests: list[Any], calls: int) -> float:
    ctx = CallContext()
    for r in requests:  # warm-up: caches filled as in a running server
        await fn(r, ctx)
    t0 = time.thread_time()
    for i in range(calls):
        await fn(requests[i % len(requests)], ctx)
    return (time.thread_time() - t0) / calls


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=int, default=20_000)
    p.add_argument("--rounds", type=int, default=3)
    ns = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rules_dir = bench_rules(Path(tmp))
        with open(Path(tmp) / "access.log", "w") as log:
            configure_logging("info", stream=log)
            holder = RulesHolder(load_rules(rules_dir))
            service = PostureService(CheckLogin(InstantStore(), holder), system_clock)  # type: ignore[arg-type]
            registry = Registry()
            posture_pb2_grpc.add_PostureServiceServicer_to_server(service, registry)
            handler = registry.handlers["CheckLogin"]
            guarded = RequestInterceptor(Gate(None), RpcMetrics()).wrap(METHOD, handler)
            requests = make_requests(2000)
            # The guard decodes the request itself (server/wire/strict_decode.py),
            # so it is handed the bytes grpc would hand it; the bare handler the message.
            wire = [r.SerializeToString() for r in requests]
            bare, whole = [], []
            for _ in range(ns.rounds):  # alternating, so drift affects both alike
                bare.append(asyncio.run(per_call(handler.unary_unary, requests, ns.calls)))
                whole.append(asyncio.run(per_call(guarded.unary_unary, wire, ns.calls)))
    for name, runs in (("handler alone", bare), ("guard + handler + access log", whole)):
        print(
            f"{name:29}: {statistics.median(runs) * 1e6:6.1f} us per call (CPU, tight loop; "
            f"median of {ns.rounds}: {', '.join(f'{r * 1e6:.1f}' for r in runs)})"
        )


if __name__ == "__main__":
    main()
