"""Unread QueryVerdicts streams against a real server: peak RSS and health latency.

    python bench/unread_streams.py [--streams 300] [--entries 3000] [--entry-kb 6]
                                   [--hold 20] [--db postgresql://…/db]

Issue 18's Done-when: 300 open QueryVerdicts streams whose reader never reads,
against a log where each stream would return megabytes, must keep the
server's RSS under 512 MB and health answering within 100 ms.

1. Creates a database (SQLite in a temporary directory, or a fresh schema of
   the PostgreSQL server ``--db`` names) and appends ``--entries`` log
   entries of about ``--entry-kb`` KiB each through the store, so that a
   full scan is ``entries × entry-kb`` of pages (18 MB by default).
2. Starts ``anshin serve`` on it with ``--max-streams-per-identity`` raised
   to ``--streams`` (every stream comes from the one local identity; the
   limit itself is what the defaults measure elsewhere) and samples its RSS
   every 50 ms.
3. Opens ``--streams`` QueryVerdicts calls (page_size 1000, to the end) that
   never read a message, holds them for ``--hold`` seconds while a health
   check runs every 50 ms, then cancels them.

Prints the server's RSS before, its peak while the streams were open (VmHWM
and the sampled maximum), the health check latency p50 / p99 / max, and
whether the two bounds held. The machine may be busy: figures are what this
run saw.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT, create_database, free_port, wait_serving

RSS_BOUND_MB = 512.0
HEALTH_BOUND_MS = 100.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for pid {pid}")


async def populate(url: str, state: Path, entries: int, entry_kb: int) -> None:
    """``entries`` log entries of ~``entry_kb`` KiB, appended through the store."""
    import orjson

    from server.state import phone_key_secret
    from server.store import open_store
    from server.store.records import VerdictRecord

    # The keys bound as `serve` binds them (server/main.py), so that it opens this log.
    store = open_store(
        url,
        log_key_file=state / "log-signing.key",
        secrets=(phone_key_secret(state / "phone-hash.key"),),
    )
    filler = "x" * (entry_kb * 1024)
    now_us = int(time.time() * 1_000_000)

    def record(i: int) -> VerdictRecord:
        return VerdictRecord(
            id=str(uuid.uuid4()),
            kind="login_posture",
            customer_id=f"bench-{i % 50}",
            device_id="dev",
            subject_us=now_us - i,
            recorded_us=now_us - i,
            rules_digest="bench",
            rules=b"{}",
            outcome="COMPLIANT",
            clause_ids=("HNB-P1",),
            inputs=orjson.dumps({"padding": filler, "i": i}),
            result=b"{}",
            request_id=f"bench-{i}",
            caller="bench (local)",
        )

    try:
        for start in range(0, entries, 200):  # 200 appends at a time: group commit
            await asyncio.gather(
                *(store.append_verdict(record(i)) for i in range(start, min(entries, start + 200)))
            )
    finally:
        await store.close()


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, rss_mb(self.pid))
            except (OSError, RuntimeError):
                return
            time.sleep(0.05)


async def hold_unread_streams(addr: str, streams: int, hold: float) -> list[float]:
    """Health checks every 50 ms from before the streams open until ``hold``
    seconds after they all started: their latencies (ms). The streams are
    opened, never read, and cancelled at the end."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from anshin.v1 import verdicts_pb2, verdicts_pb2_grpc

    health_channel = grpc.aio.insecure_channel(addr)
    health = health_pb2_grpc.HealthStub(health_channel)
    latencies: list[float] = []
    done = asyncio.Event()

    async def check() -> None:
        while not done.is_set():
            t0 = time.perf_counter()
            await health.Check(health_pb2.HealthCheckRequest(), timeout=10)
            latencies.append((time.perf_counter() - t0) * 1000)
            await asyncio.sleep(0.05)

    checker = asyncio.create_task(check())
    # One channel per 50 streams: a real crowd of readers is many connections.
    channels = [grpc.aio.insecure_channel(addr) for _ in range(max(1, streams // 50))]
    request = verdicts_pb2.QueryVerdictsRequest(page_size=1000, oldest_first=True)
    stubs = [verdicts_pb2_grpc.VerdictLogServiceStub(ch) for ch in channels]
    calls = [stubs[i % len(stubs)].QueryVerdicts(request) for i in range(streams)]
    # Started once their headers arrive (the server sent the first page).
    await asyncio.gather(*(c.initial_metadata() for c in calls))
    await asyncio.sleep(hold)
    done.set()
    await checker
    for c in calls:
        c.cancel()
    for ch in (*channels, health_channel):
        await ch.close()
    return latencies


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--streams", type=int, default=300)
    p.add_argument("--entries", type=int, default=3000)
    p.add_argument("--entry-kb", type=int, default=6)
    p.add_argument("--hold", type=float, default=20.0)
    p.add_argument("--db", help="a PostgreSQL URL (a fresh schema is made); default SQLite")
    ns = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/streams.db"
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        if ns.db:
            import psycopg

            with psycopg.connect(ns.db, autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA {schema}")
            url = f"{ns.db}?options=-csearch_path%3D{schema}"
        try:
            run(ns, url, Path(tmp))
        finally:
            if ns.db:
                with psycopg.connect(ns.db, autocommit=True) as conn:
                    conn.execute(f"DROP SCHEMA {schema} CASCADE")


def run(ns: argparse.Namespace, url: str, tmp: Path) -> None:
    state = tmp / "state"
    env = {**os.environ, "ANSHIN_STATE_DIR": str(state)}
    create_database(url, env)
    t0 = time.perf_counter()
    asyncio.run(populate(url, state, ns.entries, ns.entry_kb))
    print(
        f"log: {ns.entries:,} entries of ~{ns.entry_kb} KiB "
        f"({time.perf_counter() - t0:.1f} s to append)"
    )
    addr = f"127.0.0.1:{free_port()}"
    log = (tmp / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--listen", addr, "--db", url,
         "--max-streams-per-identity", str(ns.streams)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    try:
        wait_serving(addr)
        time.sleep(1.0)
        before = rss_mb(server.pid)
        cpu_before, t_before = cpu_seconds(server.pid), time.monotonic()
        sampler = RssSampler(server.pid)
        sampler.start()
        latencies = asyncio.run(hold_unread_streams(addr, ns.streams, ns.hold))
        sampler.stop.set()
        sampler.join()
        hwm = rss_mb(server.pid, "VmHWM")
        cpu = (cpu_seconds(server.pid) - cpu_before) / (time.monotonic() - t_before)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    peak = max(hwm, sampler.peak)
    print(
        f"backend: {'postgresql' if ns.db else 'sqlite'}; {ns.streams} unread streams; "
        f"server CPU {cpu:.0%} of a core while they were open; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(
        f"server RSS: {before:.0f} MB before, peak {peak:.0f} MB "
        f"(VmHWM {hwm:.0f}, sampled {sampler.peak:.0f}); bound {RSS_BOUND_MB:.0f} MB: "
        f"{'held' if peak < RSS_BOUND_MB else 'EXCEEDED'}"
    )
    print(
        f"readers (this process): peak RSS {rss_mb(os.getpid(), 'VmHWM'):.0f} MB — what the "
        "server sent before the readers' HTTP/2 windows filled"
    )
    print(
        f"health: {len(latencies)} checks, p50 {statistics.median(latencies):.1f} ms, "
        f"p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms; bound {HEALTH_BOUND_MS:.0f} ms: "
        f"{'held' if latencies[-1] < HEALTH_BOUND_MS else 'EXCEEDED'}"
    )


if __name__ == "__main__":
    main()
