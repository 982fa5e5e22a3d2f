"""A big verdict log for benchmarks, built fast by direct bulk insert into SQLite.

``build(path, entries=1_000_000, claims=50_000)`` writes a migrated SQLite
database whose verdict log holds ``entries`` entries: login-posture verdicts
and, at random positions, ``claims`` claim decisions carrying realistic facts
(``inputs.facts``, as EvaluateClaim records them), with the ledger rows of
the approved ones. The hash chain (``prev_hash``, ``entry_hash``), the entry
MACs and the Merkle tree's kept nodes are filled exactly as the store
computes them (``server.store.chain``: ``entry_hash`` over ``CHAIN_COLUMNS``,
``LogSigner.entry_mac``, ``merkle.Frontier``), with the key
``log-signing.key`` beside the database, and ``log_head`` is signed at the
last entry with a signed checkpoint there (``chain.write_head``): the store
opens it writable and ``anshin log verify`` accepts it.

Where the entries come from:

* the worked examples of docs/claims.md (five policies, their events and the
  HNB login posture) are recorded once through a real in-process server; the
  posture verdict and the claim entries it logs are the templates;
* posture entries: the template with a fresh id, customer, device and
  instant;
* claims: an example's request with a fresh claim id, customer and amounts
  (HNB: the notice to the bank 0..40 days after the fraud, so HNB-X5 decides
  some), its recorded facts, decided by the service's own pure path
  (``claim_facts`` → ``context_from_facts`` → ``ledger_scopes`` → ``evaluate``)
  on a ledger kept as the build goes, so caps bind for customers with several
  claims. Replaying the log under the rules it was built with changes nothing.

Entries are recorded (``recorded_us``) one per 18 s from 2025-07-01 UTC.
The ``events`` table is left empty: the claims' events are in their facts.

Usage: ``.venv/bin/python bench/biglog.py [--entries N] [--claims N] PATH``
(or ``from biglog import build``; ``cached(...)`` reuses a finished build).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

EXAMPLES = ROOT / "docs" / "examples" / "claims"
START_US = int(datetime(2025, 7, 1, tzinfo=UTC).timestamp() * 1_000_000)
STEP_US = 18_000_000
# Claim templates by weight: HNB the most frequent (an IB bank's log).
WEIGHTS = {"hnb": 40, "dcm": 15, "kdn": 15, "jpe": 10, "jpe-before-cover": 5, "isa": 15}
CACHE = ROOT / "var" / "bench"


# --------------------------------------------------------------------------- templates


async def _record_examples(db: Path, rules_dir: Path | None) -> None:
    from rules.load import load_rules
    from server.cli import main
    from server.config import Config
    from server.main import build_app
    from tests.e2e.test_claim_cli import HNB_LOGIN

    app = await build_app(
        Config(listen="127.0.0.1:0", db=f"sqlite:///{db}"), rules=load_rules(rules_dir)
    )
    await app.server.start()
    addr = f"127.0.0.1:{app.port}"

    def cli(*args: str) -> None:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            code = main([*args, "--server", addr])
        if code != 0:
            raise RuntimeError(f"anshin {' '.join(args)}: exit {code}: {out.getvalue()}")

    try:
        for events in sorted(EXAMPLES.glob("*-events.jsonl")):
            await asyncio.to_thread(cli, "events", "ingest", "--quiet", str(events))
        await asyncio.to_thread(cli, *HNB_LOGIN)
        for name in WEIGHTS:
            await asyncio.to_thread(cli, "claim", str(EXAMPLES / f"{name}.json"))
    finally:
        await app.stop(0)


def templates(rules_dir: Path | None = None) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(the posture entry, {example name: claim entry}) as a real server logged them."""
    from server.store.chain import CHAIN_COLUMNS
    from server.store.sql.blobs import expand_rows as expand_blob_rows

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "templates.db"
        asyncio.run(_record_examples(db, rules_dir))
        with contextlib.closing(sqlite3.connect(db)) as conn:
            cols = ", ".join(CHAIN_COLUMNS)
            stored = conn.execute(f"SELECT seq, {cols} FROM verdicts ORDER BY seq").fetchall()
            # As the log gives them back: compacted columns expanded (``blobs``).
            rows = [
                dict(zip(CHAIN_COLUMNS, r[1 : 1 + len(CHAIN_COLUMNS)], strict=True))
                for r in expand_blob_rows(conn, stored)
            ]
    posture = next(r for r in rows if r["kind"] == "login_posture")
    claims = [r for r in rows if r["kind"] == "claim"]
    by_name = {}
    for name, row in zip(WEIGHTS, claims, strict=True):
        by_name[name] = row
    return posture, by_name


# --------------------------------------------------------------------------- claims


class ClaimMaker:
    """Fresh claims from the templates, decided as the service decides them."""

    def __init__(self, rules: Any, claims: dict[str, dict[str, Any]], rng: random.Random) -> None:
        self.rules = rules
        self.rng = rng
        self.templates = {name: orjson.loads(row["inputs"]) for name, row in claims.items()}
        self.names = list(WEIGHTS)
        self.weights = [WEIGHTS[n] for n in self.names]
        self.ledger: dict[str, Any] = {}  # scope → LedgerUsage, as the build goes
        self.policy_ids = frozenset(rules.policies.policies)

    def make(self, customer: str, now_us: int) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
        """A claim entry's columns (without the chain) and its ledger rows."""
        import uuid_utils
        from google.protobuf import json_format

        from anshin.v1 import claims_pb2
        from rules import engine as eng
        from server.clock import from_us, to_us
        from server.usecases.claim_facts import FactsSnapshot, context_from_facts
        from server.wire import claims as conv

        rng = self.rng
        name = rng.choices(self.names, self.weights)[0]
        template = self.templates[name]
        request = orjson.loads(orjson.dumps(template["request"]))
        facts = template["facts"]
        request["claimId"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        request["customerId"] = customer
        loss = int(request["amounts"]["lossYen"])
        request["amounts"]["lossYen"] = str(max(1000, int(loss * rng.uniform(0.2, 3.0))))
        if "ibTransfer" in request:
            fraud = datetime.fromisoformat(request["ibTransfer"]["fraudAt"])
            notified = fraud + timedelta(seconds=rng.randrange(3600, 40 * 86400))
            request["ibTransfer"]["notifiedBankAt"] = _json_ts(notified)
            request["ibTransfer"]["policeConsultedAt"] = _json_ts(notified)
            request["claimedAt"] = _json_ts(notified + timedelta(days=1))
        events = [[kind, {**payload, "customer_id": customer}] for kind, payload in facts["events"]]
        snapshot = FactsSnapshot.from_json({**facts, "now_us": now_us, "events": events})
        req = json_format.ParseDict(request, claims_pb2.EvaluateClaimRequest())
        claim = conv.claim_facts(req, from_us(now_us), self.policy_ids)
        policy = self.rules.policies.get(claim.policy_id)
        ctx = context_from_facts(snapshot, claim, policy, self.rules)
        scopes = eng.ledger_scopes(policy, claim, ctx)
        usage = {s: self.ledger.get(s, eng.LedgerUsage()) for s in scopes}
        decision = eng.evaluate(policy, claim, replace(ctx, ledger=usage))
        decision_id = str(uuid_utils.uuid7())
        ledger_rows = []
        if decision.outcome is eng.Outcome.APPROVE:
            for r in decision.reservations:
                u = self.ledger.get(r.scope_key, eng.LedgerUsage())
                self.ledger[r.scope_key] = eng.LedgerUsage(
                    u.amount_yen + r.amount_yen,
                    u.count + r.count,
                    u.persons | ({r.insured_person_ref} if r.insured_person_ref else set()),
                )
                ledger_rows.append(
                    (r.scope_key, decision_id, r.amount_yen, r.count, r.insured_person_ref, now_us)
                )
        from anshin.v1 import common_pb2

        rules_pb = common_pb2.RulesVersion(
            digest=self.rules.digest, policies=[f"{policy.id}@{policy.version}"]
        )
        resp = conv.response(decision, rules_pb, dry_run=False)
        resp.decision_id = decision_id
        resp.recorded_at.FromMicroseconds(now_us)
        inputs = {"request": request, "facts": snapshot.with_ledger(usage).to_json()}
        row = {
            "id": decision_id,
            "kind": "claim",
            "customer_id": customer,
            "device_id": None,
            "policy_id": policy.id,
            "subject_us": to_us(claim.incident.occurred_at),
            "recorded_us": now_us,
            "rules_digest": self.rules.digest,
            "rules": orjson.dumps(
                {"digest": self.rules.digest, "policies": [f"{policy.id}@{policy.version}"]}
            ).decode(),
            "outcome": decision.outcome.value,
            "clause_ids": orjson.dumps(list(conv.fired_clause_ids(decision))).decode(),
            "inputs": orjson.dumps(inputs).decode(),
            "result": orjson.dumps(json_format.MessageToDict(resp)).decode(),
            "request_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "caller": "bench",
            "refers_to": None,
        }
        return row, ledger_rows


def _json_ts(dt: datetime) -> str:
    """As ``MessageToDict`` writes a Timestamp (UTC, "Z")."""
    from google.protobuf.timestamp_pb2 import Timestamp

    ts = Timestamp()
    ts.FromDatetime(dt)
    return str(ts.ToJsonString())


# --------------------------------------------------------------------------- build


def _entries(
    entries: int,
    claims: int,
    posture: dict[str, Any],
    maker: ClaimMaker,
    rng: random.Random,
    ledger_out: list[tuple[Any, ...]],
) -> Iterator[dict[str, Any]]:
    import uuid_utils

    claim_at = set(rng.sample(range(1, entries + 1), claims))
    customers = max(1, claims // 3)
    old_customer = posture["customer_id"]
    p_inputs = posture["inputs"]
    p_result = posture["result"]
    for seq in range(1, entries + 1):
        now_us = START_US + seq * STEP_US
        customer = f"bench-{rng.randrange(customers):07d}"
        if seq in claim_at:
            row, ledger = maker.make(customer, now_us)
            ledger_out.extend(ledger)
            yield row
            continue
        yield {
            **posture,
            "id": str(uuid_utils.uuid7()),
            "customer_id": customer,
            "device_id": f"dev-{rng.randrange(3)}",
            "subject_us": now_us - rng.randrange(60_000_000),
            "recorded_us": now_us,
            "inputs": p_inputs.replace(old_customer, customer),
            "result": p_result,
            "request_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        }


def build(
    path: Path,
    entries: int = 1_000_000,
    claims: int = 50_000,
    *,
    rules_dir: Path | None = None,
    seed: int = 7,
    progress: bool = True,
) -> Path:
    """Write the log to ``path`` (replaced if it exists); returns ``path``."""
    from rules.load import load_rules
    from server.log import merkle
    from server.store.chain import (
        CHAIN_COLUMNS,
        GENESIS_HASH,
        INSERT_TREE_NODE,
        LogSigner,
        default_origin,
        entry_hash,
        kept_node,
        write_head,
    )
    from server.store.sql.blobs import compact_columns
    from server.store.sqlite import connect, migrate

    if claims > entries:
        raise ValueError("more claims than entries")
    t0 = time.perf_counter()
    rules = load_rules(rules_dir)
    posture, claim_rows = templates(rules_dir)
    rng = random.Random(seed)
    maker = ClaimMaker(rules, claim_rows, rng)
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    conn = connect(path)
    migrate(conn)
    # A bulk build: no WAL (every page would be written twice), no syncs.
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-200000")
    cols = ", ".join(("seq", *CHAIN_COLUMNS, "prev_hash", "entry_hash", "entry_mac"))
    insert = f"INSERT INTO verdicts ({cols}) VALUES ({','.join('?' * (len(CHAIN_COLUMNS) + 4))})"
    signer = LogSigner.from_file(path.parent / "log-signing.key")
    frontier = merkle.Frontier()
    nodes: list[tuple[int, int, bytes]] = []

    def keep(level: int, idx: int, node: bytes) -> None:
        if kept_node(level):
            nodes.append((level, idx, node))

    ledger: list[tuple[Any, ...]] = []
    prev, seq = GENESIS_HASH, 0
    batch: list[tuple[Any, ...]] = []
    conn.execute("BEGIN")
    for row in _entries(entries, claims, posture, maker, rng, ledger):
        seq += 1
        if row["kind"] == "claim":  # compacted as the service stores them
            inputs, result = compact_columns(
                conn, "claim", row["policy_id"], row["inputs"].encode(), row["result"].encode()
            )
            row = {**row, "inputs": inputs.decode(), "result": result.decode()}
        values = tuple(row[c] for c in CHAIN_COLUMNS)
        h = entry_hash(seq, values, prev)
        batch.append((seq, *values, prev, h, signer.entry_mac(h)))
        frontier.append(merkle.entry_leaf(h), keep)
        prev = h
        if len(batch) >= 10_000:
            conn.executemany(insert, batch)
            batch.clear()
            if progress:
                rate = seq / (time.perf_counter() - t0)
                print(f"\r  {seq:,}/{entries:,} entries ({rate:,.0f}/s)", end="", file=sys.stderr)
    conn.executemany(insert, batch)
    conn.executemany(
        "INSERT INTO ledger (scope_key, decision_id, amount_yen, count, insured_person_ref, "
        "recorded_us) VALUES (?,?,?,?,?,?)",
        ledger,
    )
    conn.executemany(INSERT_TREE_NODE, nodes)
    write_head(
        conn,
        signer,
        default_origin(signer.key_id),
        seq,
        prev,
        frontier,
        time.time_ns() // 1000,
        checkpoint=True,
        checkpoint_seq=0,
        checkpoint_us=0,
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA journal_mode=WAL")  # as the store runs it
    conn.close()
    asyncio.run(_check_opens(path))
    if progress:
        print(f"\r  {entries:,} entries in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return path


async def _check_opens(path: Path) -> None:
    """Open the store once, as a server would: it must find the log intact."""
    from server.store.url import open_store

    store = open_store(f"sqlite:///{path.resolve()}")
    problem = store.log_problem()
    await store.close()
    if problem is not None:
        raise RuntimeError(f"the built log fails the store's start-up check: {problem}")


def cached(entries: int = 1_000_000, claims: int = 50_000, *, seed: int = 7) -> Path:
    """The log of these parameters under var/bench/, built on first use."""
    from rules.load import BUILTIN_RULES_DIR, digest_of
    from server.store.chain import CANONICAL_VERSION
    from server.store.sql.migrations import LATEST_VERSION

    tag = (
        f"biglog-{entries}-{claims}-{seed}-{digest_of(BUILTIN_RULES_DIR)}"
        f"-c{CANONICAL_VERSION}-s{LATEST_VERSION}"
    )
    path = CACHE / f"{tag}.db"
    done = CACHE / f"{tag}.done"
    if not done.exists():
        print(f"building {path} (cached for later runs)", file=sys.stderr)
        build(path, entries, claims, seed=seed)
        done.write_text("ok\n")
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("path", type=Path)
    p.add_argument("--entries", type=int, default=1_000_000)
    p.add_argument("--claims", type=int, default=50_000)
    p.add_argument("--seed", type=int, default=7)
    ns = p.parse_args()
    build(ns.path, ns.entries, ns.claims, seed=ns.seed)


if __name__ == "__main__":
    main()
