"""The console's first page of a 1,000,000-entry log: rendered within 1 s.

Uses the shared big log (``bench/biglog.py``, cached under var/bench/, built
on first use in a few minutes), starts the real ``anshin serve
--console-listen`` on it, and times whole HTTP responses of the search page
as a browser asks for it: newest first, 50 entries (the default), and the
same page filtered by kind and outcome. Each page view is recorded in the
log (an analyst_access entry, durably) before it is answered, as in
production. Prints the median and the worst of ``--rounds`` requests
against the bound. Also the review queue and the charts, for information.

Usage: .venv/bin/python bench/console.py [--entries 1000000] [--rounds 20]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from biglog import ROOT, cached

BOUND_S = 1.0
PAGES = {
    "search, newest first (first page, 50 entries)": "/search",
    "search, claims DENY, oldest first": "/search?kind=claim&outcome=DENY&order=oldest",
    "review queue (info)": "/reviews",
    "charts, 7 days (info)": "/charts?days=7",
}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as r:
        body = r.read()
        status = r.status
    elapsed = time.perf_counter() - t0
    if status != 200 or b"<html" not in body:
        raise SystemExit(f"{url}: HTTP {status}")
    return elapsed, len(body)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--entries", type=int, default=1_000_000)
    p.add_argument("--claims", type=int, default=50_000)
    p.add_argument("--rounds", type=int, default=20)
    ns = p.parse_args()
    db = cached(ns.entries, ns.claims)
    grpc_port, console_port = _port(), _port()
    base = f"http://127.0.0.1:{console_port}"
    log = Path(db).with_suffix(".console-bench.log")
    # The big log was written without a phone-hash key (it holds no phone
    # hashes): a server binds an existing key file to it, never a new one
    # (server/store/chain.py, bind_secrets), so make that file first.
    phone_key = Path(db).parent / "phone-hash.key"
    if not phone_key.exists():
        from server.pii import PhoneHasher

        PhoneHasher.create_key_file(phone_key)
    env = {**os.environ, "ANSHIN_BULK_WORKERS": "0", "ANSHIN_PHONE_KEY_FILE": str(phone_key)}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "server.cli",
                "serve",
                "--db",
                f"sqlite:///{db}",
                "--listen",
                f"127.0.0.1:{grpc_port}",
                "--console-listen",
                f"127.0.0.1:{console_port}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=env,
        )
    try:
        t0 = time.monotonic()
        while True:  # the store checks the log's head at start-up
            if proc.poll() is not None:
                raise SystemExit(f"serve exited:\n{log.read_text()}")
            try:
                _get(base + "/login")
                break
            except OSError:
                if time.monotonic() - t0 > 600:
                    raise SystemExit(f"no console after 600 s:\n{log.read_text()}") from None
                time.sleep(0.2)
        print(f"log: {db} ({ns.entries:,} entries); serving after {time.monotonic() - t0:.1f} s")
        worst_bound = 0.0
        for name, path in PAGES.items():
            _get(base + path)  # one warm-up: the first read of cold pages of the file
            times = []
            size = 0
            for _ in range(ns.rounds if "info" not in name else max(3, ns.rounds // 5)):
                elapsed, size = _get(base + path)
                times.append(elapsed)
            median, worst = statistics.median(times), max(times)
            line = f"{name:52} median {median * 1000:7.1f} ms  worst {worst * 1000:7.1f} ms"
            line += f"  ({len(times)} requests, {size:,} bytes)"
            if "info" not in name:
                worst_bound = max(worst_bound, worst)
                line += f"  bound {BOUND_S:.1f} s: {'met' if worst <= BOUND_S else 'MISSED'}"
            print(line)
        print(
            f"first page within {BOUND_S:.1f} s: "
            f"{'met' if worst_bound <= BOUND_S else 'MISSED'} (worst {worst_bound * 1000:.1f} ms)"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=60)


if __name__ == "__main__":
    main()
