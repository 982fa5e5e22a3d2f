"""`anshin replay` on a verdict log of 1,000,000 entries.

The log (``bench/biglog.py``, cached under var/bench/) holds login-posture
verdicts and 50,000 claim decisions of the five policies with their recorded
facts. Measured in one run, each as a real ``anshin replay --json`` process
(the rate is its own: claims replayed per second of the whole replay,
from opening the database to the last tally, worker start-up included):

(a) the rules the log was decided under (the built-in rules): zero changes;
(b) a candidate with HNB-X5's 30 days made 14: every change must be an HNB
    claim APPROVE → DENY on HNB-X5 alone, and their number must be exactly the
    APPROVEd HNB claims notified on days 15..30 after the fraud (counted here
    from the log independently of replay).

Each with ``--workers 1`` (one process) and the default (one per CPU).
Target >= 5,000 claims/s.

Usage:

    .venv/bin/python bench/replay.py [--entries 1000000] [--claims 50000] [--rounds 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from biglog import CACHE, ROOT, cached

sys.path.insert(0, str(ROOT))
TARGET = 5_000
JST = timedelta(hours=9)


def machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs ({model}), "
        f"Python {platform.python_version()}, load average {load[0]:.2f} at start"
    )


def x5_candidate(days: int) -> Path:
    from rules.load import BUILTIN_RULES_DIR

    target = CACHE / f"rules-x5-{days}"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(BUILTIN_RULES_DIR, target)
    hnb = target / "policies" / "hnb.toml"
    head, sep, tail = hnb.read_text(encoding="utf-8").partition('id = "HNB-X5"')
    hnb.write_text(head + sep + tail.replace("days = 30\n", f"days = {days}\n", 1), "utf-8")
    return target


def expected_x5_changes(db: Path) -> tuple[int, int]:
    """HNB claims notified on JST days 15..30 counted from the day after the fraud:
    (all of them, the APPROVEd ones). Each gains HNB-X5; the APPROVEd become DENY."""
    from server.store.sql.blobs import expand_claim_rows

    n = approved = 0
    with sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT seq, outcome, inputs FROM verdicts WHERE kind = 'claim' AND policy_id = 'HNB'"
        ).fetchall()
        # Compacted entries: their inputs as written (server/store/sql/blobs.py).
        shaped = [
            (seq, None, None, None, None, outcome, None, inputs, 0) for seq, outcome, inputs in rows
        ]
        for row in expand_claim_rows(conn, shaped):
            outcome, inputs = row[5], row[7]
            ib = json.loads(inputs)["request"]["ibTransfer"]
            fraud = datetime.fromisoformat(ib["fraudAt"].replace("Z", "+00:00")) + JST
            notified = datetime.fromisoformat(ib["notifiedBankAt"].replace("Z", "+00:00")) + JST
            day = (notified.date() - fraud.date()).days  # day 1 = the JST day after the fraud
            if 15 <= day <= 30:
                n += 1
                approved += outcome == "APPROVE"
    return n, approved


def run_replay(db: Path, rules: Path, workers: int) -> dict[str, object]:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "server.cli",
            "replay",
            "--db",
            f"sqlite:///{db}",
            "--rules",
            str(rules),
            "--json",
            "--quiet",
            "--workers",
            str(workers),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    doc: dict[str, object] = json.loads(proc.stdout)
    return doc


def main() -> None:
    from rules.load import BUILTIN_RULES_DIR

    p = argparse.ArgumentParser()
    p.add_argument("--entries", type=int, default=1_000_000)
    p.add_argument("--claims", type=int, default=50_000)
    p.add_argument("--rounds", type=int, default=1)
    ns = p.parse_args()
    print(f"machine: {machine()}")
    db = cached(ns.entries, ns.claims)
    with sqlite3.connect(db) as conn:
        (entries,) = conn.execute("SELECT COUNT(*) FROM verdicts").fetchone()
        (claims,) = conn.execute("SELECT COUNT(*) FROM verdicts WHERE kind = 'claim'").fetchone()
    size = db.stat().st_size / 2**30
    print(f"log: {db} ({entries:,} entries, {claims:,} claims, {size:.1f} GiB)")
    x5 = x5_candidate(14)
    expected, approved = expected_x5_changes(db)
    workers_auto = min(os.cpu_count() or 1, 4)
    ok = True
    for label, rules in (("unchanged rules", BUILTIN_RULES_DIR), ("HNB-X5 30 → 14 days", x5)):
        for workers in (1, workers_auto):
            rates, cpu_rates = [], []
            for _ in range(ns.rounds):
                doc = run_replay(db, rules, workers)
                rates.append(float(doc["claims_per_s"]))  # type: ignore[arg-type]
                cpu_rates.append(float(doc["claims_per_cpu_s"]))  # type: ignore[arg-type]
            changes = doc["changes"]
            assert isinstance(changes, list)
            if rules == BUILTIN_RULES_DIR:
                good = doc["changed"] == 0
                what = "0 expected"
            else:
                good = (
                    len(changes) == expected
                    and doc["outcome_changes"]
                    == [{"from": "APPROVE", "to": "DENY", "count": approved}]
                    and all(
                        c["policy_id"] == "HNB"
                        and c["newly_fired"] == ["HNB-X5"]
                        and c["no_longer_fired"] == []
                        and c["outcome"]["new"] == "DENY"
                        for c in changes
                    )
                )
                what = (
                    f"{expected:,} expected: the HNB claims notified on days 15..30, "
                    f"{approved:,} of them APPROVE → DENY"
                )
            ok &= good
            print(
                f"{label:20} --workers {workers}: {doc['replayed']:,} replayed, "
                f"{doc['changed']:,} changed ({what}: {'ok' if good else 'WRONG'})\n"
                f"{'':22}{statistics.median(rates):,.0f} claims/s wall "
                f"({', '.join(f'{r:,.0f}' for r in rates)}), "
                f"{statistics.median(cpu_rates):,.0f} claims per CPU-second; "
                f"target >= {TARGET:,} claims/s"
            )
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
