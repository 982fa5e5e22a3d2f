"""Several `anshin serve` processes on one database, as behind a load balancer.

Everything global — the ledger's caps, event idempotency, the verdict log's
sequence and hash chain — must hold between processes through the database
alone. Run on both backends (SQLite processes share one file the same way),
the point being PostgreSQL.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest

from anshin.v1 import claims_pb2_grpc, common_pb2, events_pb2, events_pb2_grpc
from server.store.chain import (
    CHAIN_COLUMNS,
    GENESIS_HASH,
    LogSigner,
    entry_hash,
    head_message_v2,
)
from tests.conftest import db_rows
from tests.e2e.conftest import ServerProcess, free_port
from tests.e2e.test_fault_kill9 import Acks, _claim, _event, _history, _login
from tests.service.test_claims_service import PAID_IN_YEAR, hnb_claim

pytestmark = pytest.mark.slow
HNB_L1_CAP = 10_000_000


@pytest.fixture
def servers(db_url: str, tmp_path: Path, rules_dir: Path) -> Iterator[list[ServerProcess]]:
    """Three processes on one database, sharing the key files (in tmp_path)."""
    procs = [
        ServerProcess(
            f"127.0.0.1:{free_port()}",
            db_url,
            tmp_path / "e2e.db",  # unused: db_url says where
            rules_dir,
            tmp_path / f"server-{i}.log",
        )
        for i in range(3)
    ]
    try:
        for p in procs:
            p.start()
        yield procs
    finally:
        for p in procs:
            if p.proc and p.proc.poll() is None:
                p.proc.kill()
                p.proc.wait(timeout=10)


def test_concurrent_claims_through_several_processes_never_exceed_the_cap(
    servers: list[ServerProcess],
) -> None:
    with grpc.insecure_channel(servers[0].address) as ch:
        _history(ch, "multi-1")
    # Twelve incidents of the customer (one incident's loss is paid once, HNB-L2),
    # days apart (another paid incident the same JST day or the next is REVIEW).
    claims = [hnb_claim(loss=3_000_000, recovered=0, incident=i) for i in range(12)]
    for c in claims:
        c.customer_id = "multi-1"

    def send(i: int) -> Any:
        with grpc.insecure_channel(servers[i % len(servers)].address) as ch:
            return claims_pb2_grpc.ClaimServiceStub(ch).EvaluateClaim(claims[i], timeout=30)

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(send, range(len(claims))))
    paid = sum(r.payable_yen for r in results)
    assert paid == HNB_L1_CAP  # ¥10,000,000 per customer per year, exactly
    approved = [r for r in results if r.outcome == common_pb2.OUTCOME_APPROVE]
    assert len(approved) == 4  # 3M + 3M + 3M + 1M (capped); nothing left for the rest
    # HNB-L1's year holds it (each approval also reserves in its incident's HNB-L2 scopes).
    assert db_rows(servers[0].db_url, PAID_IN_YEAR) == [(paid,)]
    # A retry of a decided claim through another process replays the first answer.
    with grpc.insecure_channel(servers[1].address) as ch:
        again = claims_pb2_grpc.ClaimServiceStub(ch).EvaluateClaim(claims[0], timeout=30)
    assert again.decision_id == results[0].decision_id


def _monitoring(event_id: str) -> events_pb2.ReportMonitoringEventRequest:
    req = events_pb2.ReportMonitoringEventRequest(
        header=events_pb2.EventHeader(client_event_id=event_id, customer_id="multi-2"),
        kind=events_pb2.MONITORING_EVENT_KIND_LEAK_ALERT_DELIVERED,
        card=events_pb2.Instrument(token="tok-1", last4="1111"),
    )
    req.header.event_time.FromJsonString("2025-04-09T01:00:00Z")
    return req


def test_the_same_event_ids_through_several_processes_are_stored_once(
    servers: list[ServerProcess],
) -> None:
    ids = [str(uuid.uuid4()) for _ in range(40)]
    # Every id sent through every process, at the same time, in shuffled orders.
    sends = [(event_id, s) for event_id in ids for s in range(len(servers))] * 2
    random.Random(7).shuffle(sends)

    def send(job: tuple[str, int]) -> tuple[str, bool, bytes]:
        event_id, s = job
        with grpc.insecure_channel(servers[s].address) as ch:
            stub = events_pb2_grpc.EventServiceStub(ch)
            ack = stub.ReportMonitoringEvent(_monitoring(event_id), timeout=30)
        replayed = ack.replayed
        ack.replayed = False
        return event_id, replayed, ack.SerializeToString()

    with ThreadPoolExecutor(max_workers=24) as pool:
        acks = list(pool.map(send, sends))
    replies: dict[str, set[bytes]] = {}
    first: dict[str, int] = {}
    for event_id, replayed, reply in acks:
        replies.setdefault(event_id, set()).add(reply)
        first[event_id] = first.get(event_id, 0) + (not replayed)
    # Each id stored by exactly one process; every other call was told it is a
    # replay, and every caller got the same acknowledgement (ids, judgements).
    assert len(replies) == len(ids)
    assert all(n == 1 for n in first.values()), first
    assert all(len(r) == 1 for r in replies.values())
    stored = [r[0] for r in db_rows(servers[0].db_url, "SELECT client_event_id FROM events")]
    assert sorted(stored) == sorted(ids)


def test_hash_chain_verifies_after_concurrent_writes_from_several_processes(
    servers: list[ServerProcess], tmp_path: Path
) -> None:
    customers = [f"fault-{k}" for k in range(6)]  # as test_fault_kill9's load uses
    with grpc.insecure_channel(servers[0].address) as ch:
        for customer in customers:
            _history(ch, customer)
    acks, stop = Acks(), threading.Event()
    errors: list[BaseException] = []

    def load(address: str, seed: int) -> None:
        rng = random.Random(seed)
        with grpc.insecure_channel(address) as ch:
            while not stop.is_set():
                try:
                    rng.choice([_login, _login, _event, _claim])(ch, rng, acks)
                except BaseException as exc:  # reported below, not lost in the thread
                    errors.append(exc)
                    return

    threads = [
        threading.Thread(target=load, args=(servers[i % len(servers)].address, i)) for i in range(6)
    ]
    for t in threads:
        t.start()
    time.sleep(3)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors[:3]
    for s in servers:
        assert s.terminate() == 0
    assert len(acks.verdicts) > 20 and acks.claims

    db_url = servers[0].db_url
    cols = ", ".join(CHAIN_COLUMNS)
    rows = db_rows(db_url, f"SELECT seq, {cols}, prev_hash, entry_hash FROM verdicts ORDER BY seq")
    prev = GENESIS_HASH
    for n, row in enumerate(rows, start=1):
        seq, values, prev_hash, h = row[0], row[1:-2], row[-2], row[-1]
        assert seq == n, f"gap before seq {seq}"
        assert prev_hash == prev, f"entry {seq} does not link to entry {seq - 1}"
        assert h == entry_hash(seq, values, prev), f"entry {seq} does not hash to its entry_hash"
        prev = h
    ids = {r[1] for r in rows}
    assert not set(acks.verdicts) - ids
    assert {d for d, _ in acks.claims.values()} <= ids
    ((head_seq, head_hash, signed_us, signature, root_hex, cp_seq),) = db_rows(
        db_url,
        "SELECT seq, entry_hash, signed_us, signature, root_hash, checkpoint_seq "
        "FROM log_head WHERE id = 1",
    )
    assert (head_seq, head_hash) == (len(rows), prev)
    # Every process signed with the one key (SQLite: next to the file; PostgreSQL:
    # ANSHIN_LOG_KEY_FILE, both in tmp_path here).
    signer = LogSigner.from_file(tmp_path / "log-signing.key", create=False)
    root = bytes.fromhex(root_hex)
    assert signer.valid(signature, head_message_v2(head_seq, head_hash, root, cp_seq, signed_us))
    # And the operator's verifier agrees (checkpoints included).
    from server.store import open_log_reader
    from server.usecases.verify_log import verify

    reader = open_log_reader(db_url)
    try:
        report = verify(reader, signer)
    finally:
        reader.close()
    assert report.ok, report.problem
    assert report.entries == len(rows)
