"""Proof costs on a Merkle log: inclusion proofs (reader and running store),
receipt verification, consistency proofs, and `anshin log witness`.

Builds a log of ``--entries`` claim entries through the real SQLite store
(checkpoints as a server signs them: every 1,000 entries and every second
of writing) in a temporary directory, then times, on ``--samples`` random
entries: ``prove_sync`` (what ``anshin log prove`` runs), ``prove`` on the
running store (``GetVerdict`` with ``include_proof``), ``verify_receipt``
(what ``anshin log verify-receipt`` runs, offline), a consistency proof from
every checkpoint to the latest, and the real ``anshin log witness`` command
first on an empty witness (every checkpoint and entry hash) and again with
nothing new.

Usage: .venv/bin/python bench/log_proofs.py [--entries 100000] [--samples 300]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _record(i: int) -> object:
    import uuid_utils

    from server.store.records import VerdictRecord

    approve = i % 5 != 0
    return VerdictRecord(
        id=str(uuid_utils.uuid7()),
        kind="claim",
        customer_id=f"C{i % 997}",
        device_id=None,
        policy_id="HNB",
        subject_us=1_744_250_000_000_000 + i * 1_000_000,
        recorded_us=1_744_254_000_000_000 + i * 1_000_000,
        rules_digest="bench",
        rules=b"{}",
        outcome="APPROVE" if approve else "REVIEW",
        clause_ids=("HNB-1",),
        inputs=b'{"lossYen":1500000}',
        result=b'{"payableYen":%d}' % (1_200_000 if approve else 0),
        request_id=f"r{i}",
        caller="bench",
    )


async def _build(db: Path, entries: int) -> float:
    from server.store.sqlite import SqliteStore

    store = SqliteStore(db)
    started = time.perf_counter()
    try:
        for lo in range(1, entries + 1, 200):
            await asyncio.gather(
                *(store.append_verdict(_record(i)) for i in range(lo, min(lo + 200, entries + 1)))  # type: ignore[arg-type]
            )
    finally:
        await store.close()
    return time.perf_counter() - started


def _ms(seconds: float, n: int) -> str:
    return f"{seconds / n * 1000:.2f} ms"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--entries", type=int, default=100_000)
    p.add_argument("--samples", type=int, default=300)
    ns = p.parse_args()

    from cryptography.hazmat.primitives import serialization

    from server.log import note
    from server.log.receipt import EntryProof, make_receipt, verify_receipt
    from server.store import open_log_reader
    from server.store.chain import CHAIN_COLUMNS, LogSigner
    from server.store.sqlite import SqliteStore
    from server.usecases.prove_entry import consistency_sync, prove, prove_sync

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "anshin.db"
        built = asyncio.run(_build(db, ns.entries))
        print(f"built {ns.entries:,} entries through the store in {built:.1f} s")
        url = f"sqlite:///{db}"
        signer = LogSigner.from_file(Path(tmp) / "log-signing.key", create=False)
        public = signer.public.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        reader = open_log_reader(url)
        latest = reader.latest_checkpoint()
        assert latest is not None
        rng = random.Random(1)
        seqs = [rng.randint(1, latest.seq) for _ in range(ns.samples)]

        t = time.perf_counter()
        found = [prove_sync(reader, s) for s in seqs]
        dt = time.perf_counter() - t
        paths = [f for f in found if isinstance(f, EntryProof)]
        assert len(paths) == len(seqs)
        avg = sum(len(f.proof) for f in paths) / len(paths)
        print(f"inclusion proof (reader):        {_ms(dt, len(seqs))} each, {avg:.1f} hashes")

        async def served() -> float:
            store = SqliteStore(db)
            try:
                t = time.perf_counter()
                for s in seqs:
                    await prove(store, s)  # type: ignore[arg-type]
                return time.perf_counter() - t
            finally:
                await store.close()

        print(f"inclusion proof (running store): {_ms(asyncio.run(served()), len(seqs))} each")

        docs = []
        for s, f in zip(seqs, paths, strict=True):
            row = reader.verdict_row(reader.entry_id(s) or "")
            assert row is not None
            origin = note.peek_checkpoint(f.checkpoint)[0]
            name = note.key_name_of(f.checkpoint, public)
            values = row[1 : 1 + len(CHAIN_COLUMNS)]
            docs.append(
                make_receipt(
                    s, values, row[1 + len(CHAIN_COLUMNS)], f, origin=origin, key_name=name
                )
            )
        t = time.perf_counter()
        for d in docs:
            verify_receipt(d, public)
        print(f"receipt verification (offline): {_ms(time.perf_counter() - t, len(docs))} each")

        cps = [c for c in reader.checkpoints(0) if c.note][:-1]
        t = time.perf_counter()
        for c in cps:
            consistency_sync(reader, c.seq, latest.seq)
        print(f"consistency proof:               {_ms(time.perf_counter() - t, len(cps))} each "
              f"({len(cps)} checkpoints to the latest)")  # fmt: skip
        reader.close()

        pem = Path(tmp) / "log.pub"
        pem.write_bytes(signer.public_pem())
        witness = Path(tmp) / "witness.jsonl"
        cmd = [sys.executable, "-m", "server.cli", "log", "witness", "--to", str(witness),
               "--db", url, "--public-key", str(pem)]  # fmt: skip
        for label in ("first run", "nothing new"):
            t = time.perf_counter()
            subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True)
            wall = time.perf_counter() - t
            print(f"anshin log witness, {label}: {wall:.2f} s wall (incl. interpreter start), "
                  f"witness file {witness.stat().st_size:,} bytes")  # fmt: skip


if __name__ == "__main__":
    main()
