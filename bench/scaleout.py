"""CheckLogin with `serve --workers 2` against `--workers 1`, measured in one run.

Each round starts `anshin serve --workers N` on a fresh store (SQLite file,
or a fresh schema of a PostgreSQL database with ``--db postgresql://…``) and
drives it with grpc_load (bench/grpc_load.cc, C++: pre-serialized
CheckLoginRequests, so the client costs the servers little), alternating
1, 2, 1, 2, … for ``--rounds`` rounds; it prints each configuration's median
throughput and the ratio. Every acknowledged verdict is counted in the store
afterwards.

CPU placement (``--pin``, the default): the question is whether throughput
grows with processes, so each worker process gets one core. ``--workers 1``
runs on CPU 0 alone; ``--workers 2`` on CPUs 0 and 1. The load generator
runs on the last CPU in both cases, so with two CPUs it shares the second
worker's core (which counts against the two-worker figure), and PostgreSQL's
own processes run where the kernel puts them. ``--no-pin`` lets the kernel
place everything: one worker then already spreads its threads (event loop,
SQLite writer, gRPC poller) over both cores, which bounds the ratio by how
much of a second core one worker uses.

Usage:

    .venv/bin/python bench/scaleout.py [--db sqlite|postgresql://…] [--seconds 8]
        [--rounds 3] [--concurrency 64] [--connections 8] [--no-pin]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from harness import (
    ROOT,
    create_database,
    free_port,
    run_grpc_load,
    wait_serving,
    write_records,
)
from loadgen import make_requests

TARGET = 1.6
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def family(pid: int) -> list[int]:
    """``pid`` and its children (the worker processes of `serve --workers N`)."""
    out = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            children = (task / "children").read_text().split()
            out += [int(c) for c in children]
    except OSError:
        pass
    return out


@contextmanager
def store_url(db: str, tmp: Path, name: str):  # type: ignore[no-untyped-def]
    """A fresh store: a new SQLite file, or a new schema dropped afterwards."""
    if db == "sqlite":
        yield f"sqlite:///{tmp / name}.db"
        return
    import psycopg

    schema = f"anshin_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in db else "?"
    try:
        yield f"{db}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def stored_verdicts(url: str) -> int:
    if url.startswith("sqlite:"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0])
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT COUNT(*) FROM verdicts").fetchone()
        return int(row[0]) if row else 0


def one_round(
    workers: int, ns: argparse.Namespace, records: Path, tmp: Path, rnd: int
) -> dict[str, float]:
    server_cpus = set(ns.cpus[:workers]) if ns.pin else set(ns.cpus)
    addr = f"127.0.0.1:{free_port()}"
    with store_url(ns.db, tmp, f"w{workers}r{rnd}") as url:
        env = {
            **os.environ,
            "ANSHIN_PHONE_KEY_FILE": str(tmp / "phone.key"),
            "ANSHIN_LOG_KEY_FILE": str(tmp / "log.key"),
        }
        create_database(url, env)
        with (tmp / f"w{workers}r{rnd}.log").open("wb") as log:
            server = subprocess.Popen(
                [
                    *(sys.executable, "-m", "server.cli", "serve", "--listen", addr),
                    *("--db", url, "--workers", str(workers)),
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=lambda: os.sched_setaffinity(0, server_cpus),
            )
            try:
                wait_serving(addr)
                time.sleep(1.0 if workers > 1 else 0.2)  # every worker bound
                pids = family(server.pid)
                c0 = cpu_seconds(pids)
                out = run_grpc_load(
                    addr,
                    records,
                    "--cycle",
                    "--duration",
                    str(ns.seconds),
                    "--concurrency",
                    str(ns.concurrency),
                    "--connections",
                    str(ns.connections),
                    "--warmup",
                    "1",
                )
                server_cpu = (cpu_seconds(pids) - c0) / (ns.seconds + 1)
            finally:
                server.terminate()
                server.wait(timeout=60)
        stored = stored_verdicts(url)
    acked = out["ok"] + out["warmup"]["ok"]
    if out["errors"]:
        print(f"  errors: {out['errors']}", flush=True)
    if stored != acked:
        print(f"  MISMATCH: {acked} acknowledged, {stored} stored", flush=True)
    return {
        "rate": out["throughput"],
        "p50": out["p50_ms"],
        "p99": out["p99_ms"],
        "server_cpu": server_cpu,
        "client_cpu": out["cpu_cores"],
        "stored": stored,
        "acked": acked,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", default="sqlite", help="sqlite, or a PostgreSQL URL")
    p.add_argument("--seconds", type=float, default=8)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--pin", action=argparse.BooleanOptionalAction, default=True)
    ns = p.parse_args()
    if ns.db == "postgresql":
        ns.db = PG_DEFAULT
    # Taken before this process pins itself (and the client) to the last one.
    cpus = ns.cpus = sorted(os.sched_getaffinity(0))
    if ns.pin:
        if len(cpus) < 2:
            sys.exit("--pin needs two CPUs")
        os.sched_setaffinity(0, {cpus[-1]})  # grpc_load inherits this
    placement = (
        f"pinned: 1 worker on CPU 0, 2 workers on CPUs 0-1, client on CPU {cpus[-1]}"
        if ns.pin
        else "unpinned"
    )
    print(
        f"CheckLogin, serve --workers 1 vs 2, store {ns.db.split('?')[0]}; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
        f"{placement}; "
        f"grpc_load {ns.concurrency} calls in flight over {ns.connections} connections, "
        f"{ns.seconds:g} s after 1 s warm-up",
        flush=True,
    )
    rates: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        records = tmp / "checklogin.bin"
        write_records(
            records,
            (
                ("/anshin.v1.PostureService/CheckLogin", r.SerializeToString())
                for r in make_requests(2000)
            ),
        )
        for rnd in range(ns.rounds):
            for workers in (1, 2):
                r = one_round(workers, ns, records, tmp, rnd)
                rates[workers].append(r["rate"])
                print(
                    f"round {rnd + 1} workers={workers}: {r['rate']:7.1f} req/s  "
                    f"p50 {r['p50']:6.1f} ms  p99 {r['p99']:6.1f} ms  "
                    f"cpu: servers {r['server_cpu']:.2f}, "
                    f"client {r['client_cpu']:.2f}; {r['stored']} verdicts stored "
                    f"= {r['acked']} acknowledged",
                    flush=True,
                )
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    per_round = ", ".join(f"{b / a:.2f}" for a, b in zip(rates[1], rates[2], strict=True))
    print(f"workers=1 : {one:7.1f} req/s (median of {ns.rounds})")
    print(f"workers=2 : {two:7.1f} req/s (median of {ns.rounds})")
    print(f"ratio     : {two / one:.2f} (target >= {TARGET}); per round {per_round}")


if __name__ == "__main__":
    main()
