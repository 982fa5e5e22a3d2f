"""`anshin log verify` on a 1,000,000-entry log: entries/s against the target.

Uses the shared big log (``bench/biglog.py``: posture verdicts and claim
decisions with realistic inputs and results, ~5 KB per entry, chained, MACed
and Merkle-hashed as the store does it, its head signed), then runs the real
command (``anshin log verify --json``, with the private key: chain, every
entry's MAC, the Merkle roots of the checkpoints and head) ``--rounds`` times
and reports the median. Target (issues 5 and 17): >= 100,000 entries/s.

Usage: .venv/bin/python bench/log_verify.py [--entries 1000000] [--rounds 3] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

from biglog import ROOT, cached

TARGET = 100_000


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--entries", type=int, default=1_000_000)
    p.add_argument("--claims", type=int, default=50_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--workers", type=int, default=None)
    ns = p.parse_args()
    db = cached(ns.entries, ns.claims)
    cmd = [sys.executable, "-m", "server.cli", "log", "verify", "--db", f"sqlite:///{db}", "--json"]
    if ns.workers:
        cmd += ["--workers", str(ns.workers)]
    # Warm the page cache once (a verifier reads the whole file).
    subprocess.run(["cat", str(db)], stdout=subprocess.DEVNULL, check=True)
    rates = []
    for r in range(ns.rounds):
        t0 = time.perf_counter()
        cpu0 = _children_cpu()
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
        wall = time.perf_counter() - t0
        cpu = _children_cpu() - cpu0
        if out.returncode != 0:
            raise SystemExit(f"verify failed: {out.stdout}{out.stderr}")
        doc = json.loads(out.stdout)
        rate = doc["entries"] / wall
        rates.append(rate)
        if not doc["macs_checked"]:
            raise SystemExit("verify did not check the entry MACs (no private key?)")
        # CPU seconds of the command and its workers: on a shared machine the
        # wall rate depends on the neighbours, entries per CPU-second does not.
        print(
            f"round {r + 1}: {doc['entries']:,} entries (MACs checked), "
            f"{doc['checkpoints_checked']} checkpoints, "
            f"{wall:.2f} s wall (incl. interpreter start) -> {rate:,.0f} entries/s; "
            f"{cpu:.1f} CPU-s -> {doc['entries'] / cpu:,.0f} entries per CPU-second"
        )
    med = statistics.median(rates)
    verdict = "OK" if med >= TARGET else "BELOW TARGET"
    print(f"\nlog verify: median {med:,.0f} entries/s (target >= {TARGET:,}) {verdict}")


if __name__ == "__main__":
    main()
