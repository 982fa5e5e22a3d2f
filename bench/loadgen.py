"""gRPC load generator for CheckLogin (closed loop or fixed rate).

Run as a separate process so the server under test has a core to itself.
Prints ``measuring`` when the measured phase starts (after the warm-up, so a
caller can sample the server's CPU time over exactly that phase), then one
JSON line: requests, seconds, throughput, p50/p99 latency (ms), this
process's CPU seconds over the measured phase, and the verdicts received.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from anshin.v1 import posture_pb2, posture_pb2_grpc

# Realistic mixed traffic: the same few browsers most customers use, so the
# server's UA cache behaves as in production; distinct-UA cost is measured
# separately by bench/ua_parse.py.
UAS = [
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/137.0.0.0 Safari/537.36",
        {
            "sec_ch_ua": '"Google Chrome";v="137", "Chromium";v="137", "Not/A)Brand";v="24"',
            "full_version_list": '"Google Chrome";v="137.0.7151.69", "Chromium";v="137.0.7151.69", '
            '"Not/A)Brand";v="24.0.0.0"',
            "platform": '"Windows"',
            "platform_version": '"19.0.0"',
            "mobile": "?0",
        },
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/137.0.0.0 Safari/537.36 Edg/137.0.0.0",
        {},
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.5 Safari/605.1.15",
        {},
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1",
        {},
    ),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:139.0) Gecko/20100101 Firefox/139.0", {}),
]
LOGIN = datetime(2025, 6, 18, 1, 0, tzinfo=UTC)


def make_requests(n: int) -> list[posture_pb2.CheckLoginRequest]:
    rng = random.Random(7)
    out = []
    for i in range(n):
        # Every request its own login instant (one second apart), as real
        # logins are: nothing keyed on the instant can be served from a cache.
        ts = Timestamp()
        ts.FromDatetime(LOGIN + timedelta(seconds=i))
        ua, hints = UAS[i % len(UAS)]
        req = posture_pb2.CheckLoginRequest(
            customer_id=f"cust-{rng.randrange(10_000)}",
            device_id=f"dev-{i % 997}",
            login_time=ts,
            user_agent=ua,
            token_status=posture_pb2.TOKEN_STATUS_ACTIVE,
        )
        for k, v in hints.items():
            setattr(req.client_hints, k, v)
        req.antivirus.product = "Norton 360"
        req.antivirus.running = True
        req.antivirus.signatures_updated_at.FromDatetime(LOGIN)
        req.phishwall.installed = True
        req.phishwall.client_version = "4.3.1"
        out.append(req)
    return out


VERDICTS: collections.Counter[int] = collections.Counter()


async def closed_loop(stub, reqs, concurrency: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker(k: int) -> None:
        i = k
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            resp = await stub.CheckLogin(reqs[i % len(reqs)])
            latencies.append(time.perf_counter() - t0)
            VERDICTS[resp.verdict] += 1
            i += concurrency

    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return latencies


async def fixed_rate(stub, reqs, rate: float, seconds: float) -> list[float]:
    latencies: list[float] = []
    tasks = []
    start = time.perf_counter()
    total = int(rate * seconds)

    async def one(i: int) -> None:
        t0 = time.perf_counter()
        resp = await stub.CheckLogin(reqs[i % len(reqs)])
        latencies.append(time.perf_counter() - t0)
        VERDICTS[resp.verdict] += 1

    for i in range(total):
        target = start + i / rate
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return latencies


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("target")
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--rate", type=float, default=0, help="fixed request rate (open loop)")
    p.add_argument("--warmup", type=float, default=1)
    p.add_argument("--offset", type=int, default=0, help="first request index (several loadgens)")
    ns = p.parse_args()
    reqs = make_requests(2000)
    reqs = reqs[ns.offset % len(reqs) :] + reqs[: ns.offset % len(reqs)]
    async with grpc.aio.insecure_channel(ns.target) as ch:
        stub = posture_pb2_grpc.PostureServiceStub(ch)
        # Warm up in the mode that is measured (a closed-loop burst before a
        # fixed-rate run would leave the server in its under-load state).
        if ns.rate:
            await fixed_rate(stub, reqs, ns.rate, ns.warmup)
        else:
            await closed_loop(stub, reqs, ns.concurrency, ns.warmup)
        VERDICTS.clear()
        print("measuring", flush=True)
        t0 = time.perf_counter()
        c0 = time.process_time()
        if ns.rate:
            lat = await fixed_rate(stub, reqs, ns.rate, ns.seconds)
        else:
            lat = await closed_loop(stub, reqs, ns.concurrency, ns.seconds)
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - c0
    lat.sort()
    names = posture_pb2.PostureVerdict.Name
    print(
        json.dumps(
            {
                "requests": len(lat),
                "seconds": round(elapsed, 3),
                "throughput": round(len(lat) / elapsed, 1),
                "p50_ms": round(statistics.median(lat) * 1000, 3),
                "p99_ms": round(lat[int(len(lat) * 0.99) - 1] * 1000, 3),
                "cpu_seconds": round(cpu, 3),
                "verdicts": {names(k): v for k, v in sorted(VERDICTS.items())},
            }
        ),
        flush=True,
    )
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
