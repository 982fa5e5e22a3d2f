"""`anshin log verify` on a 1,000,000-entry log: entries/s against the target.

Uses the shared big log (``bench/biglog.py``: posture verdicts and claim
decisions with realistic inputs and results, ~5 KB per entry, chained as the
store chains them), signs its head once as the store does on open, then runs
the real command (``anshin log verify --json``) ``--rounds`` times and reports
the median. Target (issue 5): >= 100,000 entries/s.

Usage: .venv/bin/python bench/log_verify.py [--entries 1000000] [--rounds 3] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from biglog import ROOT, cached

TARGET = 100_000


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--entries", type=int, default=1_000_000)
    p.add_argument("--claims", type=int, default=50_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--workers", type=int, default=None)
    ns = p.parse_args()
    db = cached(ns.entries, ns.claims)
    sys.path.insert(0, str(ROOT))
    import asyncio

    from server.store.sqlite import SqliteStore

    async def sign_head() -> None:  # what the server does when it opens the database
        store = SqliteStore(Path(db))
        await store.close()

    asyncio.run(sign_head())
    cmd = [sys.executable, "-m", "server.cli", "log", "verify", "--db", f"sqlite:///{db}", "--json"]
    if ns.workers:
        cmd += ["--workers", str(ns.workers)]
    # Warm the page cache once (a verifier reads the whole file).
    subprocess.run(["cat", str(db)], stdout=subprocess.DEVNULL, check=True)
    rates = []
    for r in range(ns.rounds):
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
        wall = time.perf_counter() - t0
        if out.returncode != 0:
            raise SystemExit(f"verify failed: {out.stdout}{out.stderr}")
        doc = json.loads(out.stdout)
        rate = doc["entries"] / wall
        rates.append(rate)
        print(
            f"round {r + 1}: {doc['entries']:,} entries, {doc['checkpoints_checked']} checkpoints, "
            f"{wall:.2f} s wall (incl. interpreter start) -> {rate:,.0f} entries/s"
        )
    med = statistics.median(rates)
    verdict = "OK" if med >= TARGET else "BELOW TARGET"
    print(f"\nlog verify: median {med:,.0f} entries/s (target >= {TARGET:,}) {verdict}")


if __name__ == "__main__":
    main()
