"""Event ingestion into SQLite: unary from 64 concurrent callers, and the bulk stream.

Starts `anshin serve` on a fresh database as a subprocess and drives it from
a separate load process. Every counted event was acknowledged, i.e. durably
committed (WAL, synchronous=FULL) before its reply. Usage:

    .venv/bin/python bench/events.py [--seconds 10] [--callers 64] [--bulk 200000]
        [--workers N] [--client grpc_load|python]

The unary load comes from ``grpc_load`` (bench/grpc_load.cc, C++, built on
first use; needs Debian's libgrpc++-dev) sending pre-serialized requests, each
with its own client event id: on a two-core machine a Python client would
take a core the server under test needs. ``--client python`` uses the
grpc.aio client instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

from harness import ROOT, anshin_server, empty_server, run_grpc_load, write_records

AT = datetime.now(UTC) - timedelta(days=1)


def _ts(msg, dt: datetime) -> None:
    msg.FromDatetime(dt)


def make_event(i: int):
    from anshin.v1 import events_pb2 as pb

    h = pb.EventHeader(client_event_id=str(uuid.uuid4()), customer_id=f"m-{i % 5000}")
    _ts(h.event_time, AT - timedelta(seconds=i))
    kind = i % 4
    if kind == 0:
        return "registration", pb.ReportRegistrationRequest(
            header=h,
            payment_service_id="paypay",
            instrument=pb.Instrument(
                token=f"tok-{i}",
                last4=f"{i % 10000:04d}",
                kind=pb.INSTRUMENT_KIND_CREDIT_CARD,
                funding=pb.FUNDING_SOURCE_NONE,
                issued_in_japan=True,
            ),
            authentication=pb.AuthenticationEvidence(
                three_d_secure=pb.ThreeDSecureEvidence(
                    protocol_version="2.2.0", trans_status="Y" if i % 7 else "N", eci="05"
                )
            ),
        )
    if kind == 1:
        return "registration", pb.ReportRegistrationRequest(
            header=h,
            payment_service_id="rakuten",
            instrument=pb.Instrument(
                token=f"acct-{i}",
                last4="0001",
                kind=pb.INSTRUMENT_KIND_BANK_ACCOUNT,
                funding=pb.FUNDING_SOURCE_BANK_ACCOUNT,
                issued_in_japan=True,
            ),
            authentication=pb.AuthenticationEvidence(
                otp=pb.OtpEvidence(
                    channel=pb.OTP_CHANNEL_SMS, sent_to_qr_registered_phone=bool(i % 3)
                )
            ),
        )
    if kind == 2:
        return "payment_login", pb.ReportPaymentLoginRequest(
            header=h,
            payment_service_id="paypay",
            method=pb.PAYMENT_LOGIN_METHOD_OTP_TWO_STEP
            if i % 5
            else pb.PAYMENT_LOGIN_METHOD_PASSWORD_ONLY,
        )
    return "monitoring", pb.ReportMonitoringEventRequest(
        header=h,
        kind=pb.MONITORING_EVENT_KIND_LEAK_ALERT_DELIVERED,
        card=pb.Instrument(token=f"tok-{i}", last4="1111"),
    )


async def unary(target: str, callers: int, seconds: float, channels: int = 8) -> dict:
    import grpc

    from anshin.v1 import events_pb2_grpc

    methods = {
        "registration": "ReportRegistration",
        "payment_login": "ReportPaymentLogin",
        "monitoring": "ReportMonitoringEvent",
    }
    events = [make_event(i) for i in range(60_000)]
    acked = 0
    latencies: list[float] = []
    # Several connections, as several IB / payment-app servers would open:
    # with `serve --workers N` the kernel spreads connections across workers.
    # A distinct channel argument keeps grpc from sharing one subchannel.
    chans = [
        grpc.aio.insecure_channel(target, options=[("anshin.bench.channel", i)])
        for i in range(channels)
    ]
    stubs = [events_pb2_grpc.EventServiceStub(ch) for ch in chans]
    deadline = time.perf_counter() + seconds
    counter = iter(range(len(events)))

    async def caller(k: int) -> None:
        nonlocal acked
        stub = stubs[k % len(stubs)]
        while time.perf_counter() < deadline:
            kind, req = events[next(counter)]
            t0 = time.perf_counter()
            await getattr(stub, methods[kind])(req)
            latencies.append(time.perf_counter() - t0)
            acked += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(caller(k) for k in range(callers)))
    elapsed = time.perf_counter() - t0
    for ch in chans:
        await ch.close()
    latencies.sort()
    return {
        "acked": acked,
        "seconds": elapsed,
        "rate": acked / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


METHODS = {
    "registration": "/anshin.v1.EventService/ReportRegistration",
    "payment_login": "/anshin.v1.EventService/ReportPaymentLogin",
    "monitoring": "/anshin.v1.EventService/ReportMonitoringEvent",
}


def unary_native(target: str, callers: int, seconds: float, channels: int) -> dict:
    """The unary phase driven by grpc_load: every event sent at most once."""
    import tempfile
    from pathlib import Path

    # More events than the fastest run can send: --once stops at --duration.
    n = max(60_000, int(seconds * 20_000))
    with tempfile.TemporaryDirectory() as tmp:
        records = Path(tmp) / "events.bin"
        write_records(
            records,
            ((METHODS[kind], req.SerializeToString()) for kind, req in map(make_event, range(n))),
        )
        out = run_grpc_load(
            target,
            records,
            "--once",
            "--duration",
            str(seconds),
            "--warmup",
            "0",
            "--concurrency",
            str(callers),
            "--connections",
            str(channels),
            "--threads",
            "2" if callers >= 32 else "1",
        )
    if out["exhausted"]:
        raise RuntimeError(f"grpc_load sent all {n} events before {seconds} s: make more")
    errors = out["errors"]
    return {
        # Every call started was answered: OK ones are the acknowledgements.
        "acked": out["ok"] + out["warmup"]["ok"],
        "errors": errors,
        "seconds": out["seconds"],
        "rate": out["throughput"],
        "p50_ms": out["p50_ms"],
        "p99_ms": out["p99_ms"],
        "client_cpu": out["cpu_cores"],
    }


async def bulk(target: str, n: int, batch: int) -> dict:
    import grpc

    from anshin.v1 import events_pb2 as pb
    from anshin.v1 import events_pb2_grpc

    envs = []
    for i in range(n):
        kind, req = make_event(i)
        env = pb.EventEnvelope()
        getattr(env, kind).CopyFrom(req)
        envs.append(env)
    messages = [pb.IngestEventsRequest(events=envs[i : i + batch]) for i in range(0, n, batch)]
    async with grpc.aio.insecure_channel(
        target, options=[("grpc.max_send_message_length", 64 << 20)]
    ) as ch:
        stub = events_pb2_grpc.EventServiceStub(ch)
        t0 = time.perf_counter()
        resp = await stub.IngestEvents(iter(messages))
        elapsed = time.perf_counter() - t0
    return {
        "accepted": resp.accepted,
        "rejected": len(resp.rejected),
        "seconds": elapsed,
        "rate": resp.accepted / elapsed,
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--callers", type=int, default=64)
    p.add_argument("--bulk", type=int, default=200_000, help="0: no bulk phase")
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--workers", type=int, default=1, help="serving processes (serve --workers)")
    p.add_argument("--channels", type=int, default=8, help="client connections (unary)")
    p.add_argument("--client", choices=["grpc_load", "python"], default="grpc_load")
    p.add_argument("--role", choices=["driver", "unary", "bulk"], default="driver")
    p.add_argument("--target")
    ns = p.parse_args()
    if ns.role == "unary":
        if ns.client == "grpc_load":
            result = unary_native(ns.target, ns.callers, ns.seconds, ns.channels)
        else:
            result = asyncio.run(unary(ns.target, ns.callers, ns.seconds, ns.channels))
        print(json.dumps(result))
        return
    if ns.role == "bulk":
        print(json.dumps(asyncio.run(bulk(ns.target, ns.bulk, ns.batch))))
        return
    results = {}
    if ns.client == "grpc_load":
        # The ceiling: the same load against handlers that do nothing, on as
        # many processes as Anshin gets (bench/empty_server.py).
        with empty_server(ns.workers, settle=1.0 if ns.workers > 1 else 0.0) as addr:
            results["empty"] = unary_native(addr, ns.callers, ns.seconds, ns.channels)
    for phase in ("unary", "bulk") if ns.bulk else ("unary",):
        workers = ns.workers if phase == "unary" else 1
        with anshin_server(
            "events", "--workers", str(workers), settle=1.0 if workers > 1 else 0.0
        ) as served:
            args = [
                sys.executable,
                __file__,
                "--role",
                phase,
                "--target",
                served.address,
                "--seconds",
                str(ns.seconds),
                "--callers",
                str(ns.callers),
                "--bulk",
                str(ns.bulk),
                "--batch",
                str(ns.batch),
                "--channels",
                str(ns.channels),
                "--client",
                ns.client,
            ]
            out = subprocess.run(args, check=True, capture_output=True, text=True, cwd=ROOT)
            results[phase] = json.loads(out.stdout.strip().splitlines()[-1])
            with sqlite3.connect(served.db) as conn:
                results[phase]["stored"] = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    u, b = results["unary"], results.get("bulk")
    if "empty" in results:
        e = results["empty"]
        print(
            f"empty handlers, same load, {ns.workers} process(es): {e['rate']:8.0f} calls/s "
            f"(p50 {e['p50_ms']:.1f} ms, client {e['client_cpu']:.2f} CPU): the ceiling of any "
            f"grpc.aio service on this machine; Anshin reaches {u['rate'] / e['rate']:.2f} of it"
        )
    if u.get("errors"):
        print(f"unary errors: {u['errors']}")
    if u["stored"] != u["acked"]:
        print(f"MISMATCH: {u['acked']} acknowledged but {u['stored']} stored")
    client = f", client {u['client_cpu']:.2f} CPU" if "client_cpu" in u else ""
    print(
        f"unary, {ns.callers} callers, {ns.workers} worker(s), {ns.client} client: "
        f"{u['rate']:8.0f} acknowledged events/s "
        f"({u['acked']} in {u['seconds']:.1f} s, p50 {u['p50_ms']:.1f} ms, "
        f"p99 {u['p99_ms']:.1f} ms{client};"
        f" {u['stored']} stored) target >= 3000"
    )
    if b is None:
        return
    print(
        f"bulk stream ({ns.batch}/msg) : {b['rate']:8.0f} events/s "
        f"({b['accepted']} in {b['seconds']:.1f} s; {b['stored']} stored) target >= 20000"
    )


if __name__ == "__main__":
    main()
