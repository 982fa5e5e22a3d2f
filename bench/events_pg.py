"""Event ingestion into PostgreSQL: unary from 64 concurrent callers, and the bulk stream.

The same load as ``bench/events.py`` (it drives it: ``--role unary|bulk``),
against `anshin serve --db postgresql://…` on a fresh schema of the given
database, dropped afterwards. Every counted event was acknowledged, i.e.
committed (synchronous_commit as the server is configured) before its reply.

    .venv/bin/python bench/events_pg.py [--db postgresql://postgres@127.0.0.1:5432/test]
        [--seconds 10] [--callers 64] [--workers 1] [--bulk 200000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from harness import ROOT, create_database, free_port, wait_serving

DEFAULT_DB = os.environ.get("ANSHIN_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
EVENTS = Path(__file__).with_name("events.py")


def _admin(db: str):
    import psycopg

    return psycopg.connect(db, autocommit=True)


def _phase(ns: argparse.Namespace, phase: str, workers: int) -> dict:
    schema = f"anshin_bench_{uuid.uuid4().hex[:12]}"
    with _admin(ns.db) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in ns.db else "?"
    url = f"{ns.db}{sep}options=-csearch_path%3D{schema}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            addr = f"127.0.0.1:{free_port()}"
            env = {
                **os.environ,
                "ANSHIN_PHONE_KEY_FILE": str(Path(tmp) / "phone-hash.key"),
                "ANSHIN_LOG_KEY_FILE": str(Path(tmp) / "log-signing.key"),
            }
            create_database(url, env)
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "server.cli",
                    "serve",
                    "--listen",
                    addr,
                    "--db",
                    url,
                    "--workers",
                    str(workers),
                ],
                cwd=ROOT,
                # As in production: info level, one access line per call, to a file.
                stdout=(Path(tmp) / "server.log").open("wb"),
                stderr=subprocess.STDOUT,
                env=env,
            )
            try:
                wait_serving(addr)
                time.sleep(1.0 if workers > 1 else 0.0)  # let every worker bind
                args = [
                    sys.executable,
                    str(EVENTS),
                    "--role",
                    phase,
                    "--target",
                    addr,
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
                ]
                out = subprocess.run(args, check=True, capture_output=True, text=True, cwd=ROOT)
                result: dict = json.loads(out.stdout.strip().splitlines()[-1])
            finally:
                server.terminate()
                server.wait(timeout=60)
        with _admin(url) as conn:
            result["stored"] = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        return result
    finally:
        if not ns.keep:
            with _admin(ns.db) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--db", default=DEFAULT_DB, help="PostgreSQL URL (a schema is made in it)")
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--callers", type=int, default=64)
    p.add_argument("--bulk", type=int, default=200_000, help="0: skip the bulk phase")
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--workers", type=int, default=1, help="serving processes (serve --workers)")
    p.add_argument("--channels", type=int, default=8, help="client connections (unary)")
    p.add_argument("--keep", action="store_true", help="keep the schemas (to inspect)")
    ns = p.parse_args()
    u = _phase(ns, "unary", ns.workers)
    print(
        f"postgresql unary, {ns.callers} callers, {ns.workers} worker(s): {u['rate']:8.0f} "
        f"acknowledged events/s ({u['acked']} in {u['seconds']:.1f} s, "
        f"p50 {u['p50_ms']:.1f} ms, p99 {u['p99_ms']:.1f} ms; {u['stored']} stored) "
        "target >= 3000",
        flush=True,
    )
    if ns.bulk:
        b = _phase(ns, "bulk", 1)
        print(
            f"postgresql bulk stream ({ns.batch}/msg) : {b['rate']:8.0f} events/s "
            f"({b['accepted']} in {b['seconds']:.1f} s; {b['stored']} stored)"
        )


if __name__ == "__main__":
    main()
