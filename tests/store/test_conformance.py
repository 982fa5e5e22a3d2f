"""One conformance suite for the store's ports, run on every backend.

Each port (server/store/ports.py) is exercised through the store
``open_store`` returns, or the reader ``open_log_reader`` returns, on the
``db_url`` of each backend: what is appended reads back the same, retries are
idempotent, the ledger never spends a cap twice, reviews resolve once, and
the read-only reader sees exactly what was written. Cases with more edges
live beside it and run on both backends too (test_sqlite_store.py: appends
under concurrency, append-only tables, schema checks, the latest posture
per device; test_postgres_store.py: several processes on one database).
"""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from rules.engine.needs import (
    CardMonitoring,
    CoverEvents,
    InstrumentRegistrations,
    LastLogins,
    Need,
)
from server.clock import from_us
from server.store import Store, open_log_reader, open_store
from server.store.chain import GENESIS_HASH, LogSigner, checkpoint_problem
from server.store.errors import AlreadyResolved, NotUnderReview, ReviewNotFound
from server.store.postgres import PostgresStore
from server.store.records import (
    ClaimWrite,
    EventRow,
    LedgerEntry,
    ResolutionWrite,
    Usage,
    VerdictFilter,
    VerdictRecord,
)
from server.store.sqlite import SqliteStore
from server.store.url import sqlite_path
from tests.conftest import key_files
from tests.store.test_sqlite_store import record

CAP = 10_000_000


@pytest.fixture
def key(db_url: str, tmp_path: Path) -> Path | None:
    return key_files(db_url, tmp_path).get("log_key_file")


@pytest.fixture
async def store(db_url: str, key: Path | None) -> AsyncIterator[Store]:
    s = open_store(db_url, log_key_file=key)
    try:
        yield s
    finally:
        await s.close()


def _text(value: object) -> object:
    """A row's column as ``str`` (SQLite's export path reads text as bytes)."""
    return value.decode() if isinstance(value, bytes) else value


def _row(row: tuple[object, ...]) -> tuple[object, ...]:
    return tuple(_text(v) for v in row)


def claim_record(
    outcome: str = "APPROVE", *, customer: str = "c", policy: str = "HNB", payable: int = 0
) -> VerdictRecord:
    """A claim decision recorded at 10 µs; its result as the service writes it."""
    result: dict[str, object] = {"decisionId": "d", "outcome": f"OUTCOME_{outcome}"}
    if payable:
        result["payableYen"] = str(payable)
    return replace(
        record(customer=customer, device=""),
        kind="claim",
        device_id=None,
        policy_id=policy,
        outcome=outcome,
        clause_ids=("HNB-X5",) if outcome != "APPROVE" else (),
        recorded_us=10,
        result=orjson.dumps(result),
    )


def decide_within_cap(
    amount: int, *, scope: str = "S", person: str = "p", outcome: str = "APPROVE"
) -> Callable[[dict[str, Usage]], ClaimWrite]:
    """A pure decision: grant what is left of the cap in ``scope``, up to ``amount``."""

    def decide(usage: dict[str, Usage]) -> ClaimWrite:
        grant = max(0, min(amount, CAP - usage[scope].amount_yen))
        verdict = claim_record(outcome if grant else "DENY", payable=grant)
        entries = (LedgerEntry(scope, grant, 1, person),) if grant else ()
        return ClaimWrite(verdict, str(grant).encode(), f"fp-{amount}", entries)

    return decide


def event(
    event_id: str,
    kind: str,
    subject: str,
    event_us: int,
    *,
    payload: dict[str, object] | None = None,
    customer: str = "c",
    fingerprint: str = "f",
) -> EventRow:
    return EventRow(
        event_id,
        kind,
        customer,
        subject,
        event_us,
        event_us + 1,
        fingerprint,
        orjson.dumps(payload or {"id": event_id}),
        b"head-" + event_id.encode(),
        b"judgements-" + kind.encode(),
        "r",
        "t",
    )


def registration(event_id: str, service: str, token: str, event_us: int) -> EventRow:
    payload = {"id": event_id, "payment_service_id": service, "instrument": {"token": token}}
    return event(event_id, "registration", f"{service}/{token}", event_us, payload=payload)


# -- VerdictLog ---------------------------------------------------------------------------


async def test_verdict_log_appends_and_reads_back(store: Store) -> None:
    records = [record(device=f"d{i}", subject_us=100 + i) for i in range(3)]
    seqs = [await store.append_verdict(r) for r in records]
    assert seqs == [1, 2, 3]
    got = await store.get_verdict(records[1].id)
    assert got is not None
    assert replace(got, seq=None, prev_hash="", entry_hash="") == records[1]
    assert got.seq == 2 and got.prev_hash != GENESIS_HASH and len(got.entry_hash) == 64
    assert await store.get_verdict("no-such-id") is None
    assert await store.count_verdicts() == 3
    latest = await store.latest_posture_by_device("c", 0, 1_000)
    assert [r.device_id for r in latest] == ["d0", "d1", "d2"]


# -- EventLog -----------------------------------------------------------------------------


async def test_events_are_stored_once_by_client_event_id(store: Store) -> None:
    first = event("e1", "monitoring", "card", 5, fingerprint="one")
    [(inserted, row)] = await store.record_events([first])
    assert inserted and row == first
    # A retry, and a conflicting reuse of the id: both get the row stored first.
    again = await store.record_events([replace(first, fingerprint="two"), first])
    assert again == [(False, first), (False, first)]
    # Within one call: the first row with an id is stored.
    both = await store.record_events(
        [event("e2", "monitoring", "card", 6), event("e2", "monitoring", "card", 7)]
    )
    assert [ok for ok, _ in both] == [True, False] and both[1][1].event_us == 6
    assert await store.count_events() == 2


async def test_events_read_back_by_kind_and_instant(store: Store) -> None:
    await store.record_events(
        [
            event("b", "monitoring", "card", 20),
            event("a", "monitoring", "card", 20),
            event("c", "activation", "app", 10),
            event("late", "monitoring", "card", 99),
            event("other", "monitoring", "card", 10, customer="x"),
        ]
    )
    got = await store.events_of("c", ["monitoring", "activation"], 50)
    # In (event_us, client_event_id) order; nothing after the instant, of no other customer.
    assert [orjson.loads(p)["id"] for _, p in got] == ["c", "a", "b"]
    assert [k for k, _ in got] == ["activation", "monitoring", "monitoring"]
    replies = await store.event_replies("c", "monitoring", "ca", 99)
    assert replies == [b"head-a" + b"judgements-monitoring", b"head-b" + b"judgements-monitoring"]


async def test_claim_events_load_what_the_query_names(store: Store) -> None:
    await store.record_events(
        [
            event("enr-hnb", "enrolment", "HNB", 1),
            event("enr-dcm", "enrolment", "DCM", 1),
            event("act", "activation", "app", 2),
            # Registrations of the instrument to two services, one of another token
            # whose subject ends alike, one after the claim.
            registration("r1", "pay", "tok", 10),
            registration("r2", "pay", "tok", 20),
            registration("r3", "pay", "tok", 30),
            registration("r4", "wallet", "tok", 40),
            registration("r5", "pay", "a/tok", 41),
            registration("r6", "pay", "tok", 60),
            registration("r7", "pay", "tok", 200),
            event("l1", "payment_login", "pay/", 45),
            event("l2", "payment_login", "pay/", 48),
            event("l3", "payment_login", "pay/", 55),
            event("l4", "payment_login", "wallet/", 46),
            event("l5", "payment_login", "shop/", 47),
            event("m1", "monitoring", "card", 3),
            event("m2", "monitoring", "other-card", 3),
        ]
    )

    async def ids(*needs: Need) -> list[str]:
        return [orjson.loads(p)["id"] for _, p in await store.claim_events("c", needs)]

    fraud, claim = from_us(50), from_us(100)
    assert await ids(CoverEvents("enrolment", "HNB", claim)) == ["enr-hnb"]
    assert await ids(CoverEvents("activation", None, claim)) == ["act"]
    # Of each service's registrations at or before the instant the first and the
    # last (not r6, after it; not r5, another token); each service's last login.
    by_instrument = (InstrumentRegistrations("tok", fraud), LastLogins(fraud, instrument="tok"))
    assert await ids(CoverEvents("activation", None, claim), *by_instrument) == [
        "act",
        "r1",
        "r3",
        "r4",
        "l4",
        "l2",
    ]
    # As of a later instant the last registration is another one.
    assert await ids(InstrumentRegistrations("tok", from_us(60))) == ["r1", "r4", "r6"]
    # One service's only; an event two questions select is returned once.
    assert await ids(
        InstrumentRegistrations("tok", fraud), InstrumentRegistrations("tok", fraud, "pay")
    ) == ["r1", "r3", "r4"]
    assert await ids(InstrumentRegistrations("tok", fraud, "pay")) == ["r1", "r3"]
    assert await ids(LastLogins(fraud, service="shop"), CardMonitoring("card", claim)) == [
        "l5",
        "m1",
    ]


# -- ClaimLedger --------------------------------------------------------------------------


async def test_claims_are_decided_once_and_never_exceed_the_cap(store: Store) -> None:
    results = await asyncio.gather(
        *(store.decide_claim(f"claim-{i}", ["S"], decide_within_cap(3_000_000)) for i in range(6))
    )
    granted = sorted(int(stored.reply) for _, stored in results)
    assert all(decided for decided, _ in results)
    assert sum(granted) == CAP and granted == [0, 0, 1_000_000, 3_000_000, 3_000_000, 3_000_000]
    usage = await store.ledger_usage(["S", "unused"])
    assert usage == {"S": Usage(CAP, 4, frozenset({"p"})), "unused": Usage(0, 0, frozenset())}
    # A claim id seen before: its stored decision, never decided again.
    never = decide_within_cap(1)
    again = await store.decide_claim("claim-1", ["S"], never)
    assert again == (False, results[1][1])
    assert await store.stored_claim("claim-1") == results[1][1]
    assert await store.stored_claim("claim-none") is None
    decision = await store.get_verdict(results[1][1].decision_id)
    assert decision is not None and decision.kind == "claim"


# -- ReviewQueue --------------------------------------------------------------------------


async def _review(store: Store, claim_id: str, *, customer: str = "c", policy: str = "HNB") -> str:
    def decide(usage: dict[str, Usage]) -> ClaimWrite:
        verdict = claim_record("REVIEW", customer=customer, policy=policy)
        return ClaimWrite(verdict, b"review", "fp", ())

    _, stored = await store.decide_claim(claim_id, ["S"], decide)
    return stored.decision_id


def _resolution(amount: int) -> Callable[[VerdictRecord, dict[str, Usage]], ResolutionWrite]:
    def resolve(original: VerdictRecord, usage: dict[str, Usage]) -> ResolutionWrite:
        grant = min(amount, CAP - usage["S"].amount_yen)
        verdict = replace(
            record(customer=original.customer_id),
            kind="review_resolution",
            device_id=None,
            policy_id=original.policy_id,
            outcome="APPROVE",
            refers_to=original.id,
        )
        return ResolutionWrite(verdict, (LedgerEntry("S", grant, 1, "q"),))

    return resolve


async def test_reviews_are_listed_until_resolved_once(store: Store) -> None:
    first = await _review(store, "k1")
    second = await _review(store, "k2", customer="d", policy="DCM")
    approved = await store.decide_claim("k3", ["S"], decide_within_cap(CAP - 1))
    rows = await store.open_reviews(None, None, None, 10)
    assert [r[1] for r in rows] == [first, second]
    assert [r[1] for r in await store.open_reviews("DCM", None, None, 10)] == [second]
    assert [r[1] for r in await store.open_reviews(None, "c", None, 10)] == [first]
    assert [r[1] for r in await store.open_reviews(None, None, int(rows[0][0]), 10)] == [second]

    row = await store.resolve_review(first, ["S"], _resolution(5))
    assert row[2] == "review_resolution" and row[16] == first
    # It reserved what was left of the cap, read inside its transaction.
    assert (await store.ledger_usage(["S"]))["S"].amount_yen == CAP
    assert [r[1] for r in await store.open_reviews(None, None, None, 10)] == [second]
    assert await store.resolutions_of([first, second]) == {first: row[1]}
    with pytest.raises(AlreadyResolved):
        await store.resolve_review(first, ["S"], _resolution(5))
    with pytest.raises(NotUnderReview):
        await store.resolve_review(approved[1].decision_id, ["S"], _resolution(5))
    with pytest.raises(ReviewNotFound):
        await store.resolve_review("no-such-id", ["S"], _resolution(5))


# -- LogQueries ---------------------------------------------------------------------------


async def test_log_queries_page_through_filtered_entries(store: Store) -> None:
    for i in range(5):
        await store.append_verdict(record(customer="a" if i % 2 else "b", subject_us=i))
    await store.append_verdict(replace(record(customer="a"), kind="analyst_access"))
    await store.decide_claim("q1", ["S"], decide_within_cap(1, outcome="REVIEW"))
    newest = await store.query_verdicts(VerdictFilter(customer_id="a"), None, 10)
    assert [int(r[0]) for r in newest] == [4, 2]  # analysts' reads only when asked for
    page = await store.query_verdicts(VerdictFilter(oldest_first=True), None, 2)
    rest = await store.query_verdicts(VerdictFilter(oldest_first=True), int(page[-1][0]), 10)
    assert [int(r[0]) for r in page + rest] == [1, 2, 3, 4, 5, 7]
    reads = await store.query_verdicts(VerdictFilter(kind="analyst_access"), None, 9)
    assert [int(r[0]) for r in reads] == [6]
    clause = await store.query_verdicts(VerdictFilter(clause_id="HNB-X5"), None, 9)
    assert [_text(r[2]) for r in clause] == ["claim"]
    with pytest.raises(ValueError, match="clause id"):
        await store.query_verdicts(VerdictFilter(clause_id="x%"), None, 9)
    one = await store.verdict_row(str(_text(newest[0][1])))
    assert one is not None and _row(one) == _row(newest[0])
    assert await store.verdict_row("no-such-id") is None


# -- LogReader ----------------------------------------------------------------------------


def open_backend(db_url: str, key: Path | None, **kw: int) -> Store:
    """The backend's store itself, for settings ``open_store`` does not take."""
    if db_url.startswith("sqlite:"):
        return SqliteStore(sqlite_path(db_url), **kw)
    return PostgresStore(db_url, log_key_file=key, **kw)


async def test_log_reader_reads_the_chain_as_written(db_url: str, key: Path | None) -> None:
    store = open_backend(db_url, key, checkpoint_every=2)
    for i in range(5):
        await store.append_verdict(record(device=f"d{i}"))
    signer: LogSigner = store.signer  # type: ignore[attr-defined]
    everything = VerdictFilter(oldest_first=True)
    written = [_row(r) for r in await store.query_verdicts(everything, None, 9)]
    await store.close()
    reader = open_log_reader(db_url)
    try:
        assert reader.log_bounds() == (5, 1, 5)
        assert reader.entry_id(3) == written[2][1]
        assert reader.entry_id(9) is None
        rows = list(reader.chain_rows(1, None))
        assert [r[:4] for r in rows] == [(i + 1, w[1], w[17], w[18]) for i, w in enumerate(written)]
        assert all(r[4] == r[3] for r in rows)  # recomputed hash == stored hash
        assert [r[0] for r in reader.chain_rows(2, 4)] == [2, 3]
        head = reader.head()
        assert head is not None and (head.seq, head.entry_hash) == (5, rows[-1][3])
        assert head.key_id == signer.key_id
        checkpoints = reader.checkpoints()
        # The first append of a new log is checkpointed too (none was ever made).
        assert [c.seq for c in checkpoints] == [1, 2, 4]
        assert all(checkpoint_problem(signer, c) is None for c in checkpoints)
        assert [c.seq for c in reader.checkpoints(since_seq=2)] == [4]
        # A copy in another process opens a connection of its own.
        copy = pickle.loads(pickle.dumps(reader))
        assert list(copy.chain_rows(1, None)) == rows
        copy.close()
    finally:
        reader.close()


async def test_log_reader_reads_claims_for_replay(store: Store, db_url: str) -> None:
    await store.append_verdict(record())
    await store.decide_claim("r1", ["S", "T"], decide_within_cap(400))
    hnb = await store.decide_claim("r2", ["S"], decide_within_cap(600))
    await store.decide_claim("r3", ["S"], decide_within_cap(0))
    reader = open_log_reader(db_url)
    try:
        assert reader.claim_seqs() == [2, 3, 4]
        assert reader.claim_seqs(policy="HNB") == [2, 3, 4]
        assert reader.claim_seqs(policy="DCM") == []
        assert reader.claim_seqs(since_us=11) == []  # every claim was recorded at 10
        assert reader.claim_seqs(since_us=10, until_us=11) == [2, 3, 4]
        rows = reader.claim_rows([4, 3])
        assert [r[0] for r in rows] == [3, 4] and _text(rows[0][1]) == hnb[1].decision_id
        assert [(r[5], r[8]) for r in rows] == [("APPROVE", "600"), ("DENY", None)]
        assert reader.ledger_before(3, ["S", "T"]) == {
            "S": Usage(400, 1, frozenset({"p"})),
            "T": Usage(0, 0, frozenset()),
        }
        assert reader.ledger_before(9, ["S"])["S"].amount_yen == 1_000
    finally:
        reader.close()
