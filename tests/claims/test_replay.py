"""Replay: the logged claim decisions re-made under a candidate rules directory.

Claims are recorded through the real service (posture verdict, IB contract
enrolment, then EvaluateClaim); replay reads the log only. Under a copy of
the same rules nothing changes; with HNB-X5's 30 days made 14, exactly the
claims notified on days 15..30 after the fraud change (14 and 31 do not).
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import sqlite3
import uuid
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from anshin.v1.verdicts_pb2 import GetVerdictRequest
from anshin.v1.verdicts_pb2_grpc import VerdictLogServiceStub
from rules.load import load_rules
from server.clock import to_us
from server.store.records import VerdictRecord
from server.store.url import sqlite_path
from server.usecases.replay import NO_FACTS, Tally, replay
from tests.conftest import TEST_NOW, RunningServer, db_rows
from tests.service.test_claims_service import (
    CUSTOMER,
    FRAUD,
    hnb_claim,
    outcome,
    record_history,
    stub,
    ts,
)

# Days from the fraud to the notice to the bank. HNB-X5 counts from the next JST day:
# for the fraud of 2025-04-08 12:00 JST, day 14 ends 2025-04-22 24:00 JST and day 30
# ends 2025-05-08 24:00 JST; notices at 12:00 JST of those days.
DELAYS = (1, 14, 15, 20, 30, 31)
CHANGED_UNDER_14 = (15, 20, 30)
# The n-th claim's fraud is 2n JST days after FRAUD: each its own incident, and none
# within a JST day of another (HNB-L2 near_days = 1 would send it to a human).
APART = timedelta(days=2)


def x5_days(rules_dir: Path, target: Path, days: int) -> Path:
    """A copy of ``rules_dir`` with HNB-X5's day count changed."""
    shutil.copytree(rules_dir, target)
    hnb = target / "policies" / "hnb.toml"
    text = hnb.read_text(encoding="utf-8")
    head, sep, tail = text.partition('id = "HNB-X5"')
    assert sep and "days = 30\n" in tail
    hnb.write_text(head + sep + tail.replace("days = 30\n", f"days = {days}\n", 1), "utf-8")
    return target


async def record_claims(server: RunningServer) -> dict[int, str]:
    """One HNB claim per delay (decision id by delay), decided 45 days after the fraud."""
    await record_history(server)
    server.clock.now = FRAUD + timedelta(days=45)
    ids = {}
    for n, days in enumerate(DELAYS):
        req = hnb_claim()
        # Each claim its own incident (the loss of one incident is paid once, HNB-L2),
        # its notice `days` after its own fraud (after the same compliant login).
        fraud = FRAUD + n * APART
        req.ib_transfer.fraud_at.CopyFrom(ts(fraud))
        req.ib_transfer.police_consulted_at.CopyFrom(ts(fraud + timedelta(days=1)))
        notified = fraud + timedelta(days=days)
        req.ib_transfer.notified_bank_at.CopyFrom(ts(notified))
        req.claimed_at.CopyFrom(ts(notified + timedelta(hours=1)))
        resp = await stub(server).EvaluateClaim(req)
        assert outcome(resp) == ("DENY" if days == 31 else "APPROVE"), (days, resp.summary_ja)
        ids[days] = resp.decision_id
    # Another customer with no posture on record: REVIEW (HNB-R1), unchanged by X5.
    other = hnb_claim(customer_id="ib-contract-2")
    assert outcome(await stub(server).EvaluateClaim(other)) == "REVIEW"
    return ids


def state(db_url: str) -> tuple[object, ...]:
    """What a write would change: row counts, the log's head, and for SQLite the
    bytes of the database and its WAL (not the -shm index, where every reader
    takes its read mark)."""
    rows = db_rows(
        db_url,
        "SELECT (SELECT COUNT(*) FROM verdicts), (SELECT COUNT(*) FROM ledger), "
        "(SELECT COUNT(*) FROM claims), (SELECT entry_hash || signature FROM log_head)",
    )
    if not db_url.startswith("sqlite:"):
        return tuple(rows)
    path = sqlite_path(db_url)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    h = hashlib.sha256()
    for suffix in ("", "-wal"):
        f = path.with_name(path.name + suffix)
        h.update(f.read_bytes() if f.exists() else b"-")
    return (*rows, h.hexdigest())


async def test_claim_entry_records_the_facts_it_read(server: RunningServer) -> None:
    await record_history(server)
    resp = await stub(server).EvaluateClaim(hnb_claim())
    # As the log gives it back (the stored column is a compacted reference).
    entry = await VerdictLogServiceStub(server.channel).GetVerdict(
        GetVerdictRequest(id=resp.decision_id)
    )
    inputs = orjson.loads(entry.inputs_json)
    assert inputs["request"]["customerId"] == CUSTOMER
    facts = inputs["facts"]
    assert facts["v"] == 1 and facts["now_us"] == to_us(TEST_NOW)
    (posture,) = facts["postures"]
    assert posture["verdict"] == "COMPLIANT" and posture["clauses"]["HNB-P1"] == "PASS"
    assert [kind for kind, _ in facts["events"]] == ["enrolment"]
    assert facts["events"][0][1]["policy_id"] == "HNB"  # the stored payload, as stored
    ledger = facts["ledger"]
    # HNB-L1's year, HNB-L2's incident and the JST days either side of it (near_days):
    # what was paid there, and the recorded claims of the incident and of those days.
    days = [f"HNB-L2/customer:{CUSTOMER}/day:2025-04-0{d}" for d in (7, 8, 9)]
    assert set(ledger) == {
        f"HNB-L1/customer:{CUSTOMER}/year:2025",
        f"HNB-L2/customer:{CUSTOMER}/at:2025-04-08T03:00:00.000000Z",
        f"HNB-L2/customer:{CUSTOMER}/at:2025-04-08T03:00:00.000000Z/claimed",
        f"HNB-L2/customer:{CUSTOMER}/at:2025-04-08T03:00:00.000000Z/refused",
        *days,
        *(f"{day}/claimed" for day in days),
    }
    assert all(tuple(usage) == (0, 0, []) for usage in ledger.values())


async def test_unchanged_rules_replay_without_a_change(
    server: RunningServer, rules_dir: Path, tmp_path: Path
) -> None:
    await record_claims(server)
    same = tmp_path / "same"
    shutil.copytree(rules_dir, same)
    tally = replay(server.db_url, load_rules(same))
    assert tally.replayed == len(DELAYS) + 1
    assert tally.unchanged == tally.replayed and tally.changed == 0
    assert not tally.not_replayable and tally.ledger_reads == 0


async def test_x5_fourteen_days_changes_exactly_days_15_to_30(
    server: RunningServer, rules_dir: Path, tmp_path: Path
) -> None:
    ids = await record_claims(server)
    candidate = load_rules(x5_days(rules_dir, tmp_path / "x5-14", 14))
    path = server.db_url
    before = state(path)
    tally = replay(path, candidate)
    assert state(path) == before  # nothing written

    assert tally.replayed == len(DELAYS) + 1
    assert {c.decision_id for c in tally.changes} == {ids[d] for d in CHANGED_UNDER_14}
    assert tally.unchanged == tally.replayed - len(CHANGED_UNDER_14)
    for change in tally.changes:
        assert (change.old_outcome, change.new_outcome) == ("APPROVE", "DENY")
        assert (change.old_payable, change.new_payable) == (1_200_000, 0)
        assert change.newly_fired == ("HNB-X5",) and change.no_longer_fired == ()
        assert change.customer_id == CUSTOMER and change.policy_id == "HNB"
    assert dict(tally.outcome_changes) == {("APPROVE", "DENY"): 3}
    assert tally.amount_changed == 3 and tally.amount_delta_yen == -3_600_000
    assert dict(tally.newly_fired) == {"HNB-X5": 3} and not tally.no_longer_fired
    hnb = tally.by_policy["HNB"]
    assert (hnb.replayed, hnb.changed, hnb.outcome_changed) == (7, 3, 3)

    # The other way round: 45 days lets the day-31 claim through.
    longer = replay(path, load_rules(x5_days(rules_dir, tmp_path / "x5-45", 45)))
    ((change,),) = (longer.changes,)
    assert change.decision_id == ids[31]
    assert (change.old_outcome, change.new_outcome) == ("DENY", "APPROVE")
    assert change.no_longer_fired == ("HNB-X5",) and change.new_payable == 1_200_000


async def test_window_and_policy_filters(
    server: RunningServer, rules_dir: Path, tmp_path: Path
) -> None:
    await record_claims(server)
    path = server.db_url
    candidate = load_rules(x5_days(rules_dir, tmp_path / "x5-14", 14))
    decided = to_us(FRAUD + timedelta(days=45))
    assert replay(path, candidate, since_us=decided).replayed == 7
    assert replay(path, candidate, until_us=decided).replayed == 0
    assert replay(path, candidate, since_us=decided + 1).replayed == 0
    assert replay(path, candidate, policy="DCM").replayed == 0
    assert replay(path, candidate, policy="HNB").changed == 3


async def test_entries_without_facts_are_counted_not_skipped(
    server: RunningServer, rules_dir: Path
) -> None:
    await record_claims(server)
    # A claim entry as logged before facts were recorded: inputs = the request alone.
    store = server.app.store  # type: ignore[attr-defined]
    old_id = str(uuid.uuid4())
    await store.append_verdict(
        VerdictRecord(
            id=old_id,
            kind="claim",
            customer_id=CUSTOMER,
            device_id=None,
            policy_id="HNB",
            subject_us=to_us(FRAUD),
            recorded_us=to_us(TEST_NOW),
            rules_digest="old",
            rules=b"{}",
            outcome="APPROVE",
            clause_ids=("HNB-A1",),
            inputs=orjson.dumps({"claimId": str(uuid.uuid4()), "policyId": "HNB"}),
            result=b'{"payableYen": "1"}',
            request_id="r",
            caller="c",
        )
    )
    tally = replay(server.db_url, load_rules(rules_dir))
    assert tally.not_replayable == {NO_FACTS: 1}
    assert tally.not_replayable_ids == {NO_FACTS: [old_id]}
    assert tally.replayed == 7 and tally.changed == 0
    doc = tally.to_json()
    assert doc["not_replayable"]["total"] == 1


async def test_candidate_without_the_policy_is_not_replayable(
    server: RunningServer, rules_dir: Path, tmp_path: Path
) -> None:
    await record_claims(server)
    no_hnb = tmp_path / "no-hnb"
    shutil.copytree(rules_dir, no_hnb)
    (no_hnb / "policies" / "hnb.toml").unlink()
    tally = replay(server.db_url, load_rules(no_hnb))
    assert tally.replayed == 0
    ((reason, count),) = tally.not_replayable.items()
    assert count == 7 and "policy_id: unknown policy" in reason


async def test_parallel_replay_matches_in_process(
    server: RunningServer, rules_dir: Path, tmp_path: Path
) -> None:
    await record_claims(server)
    candidate = load_rules(x5_days(rules_dir, tmp_path / "x5-14", 14))
    one = replay(server.db_url, candidate)
    two = replay(server.db_url, candidate, workers=2, chunk=2)
    assert two.to_json() == one.to_json()


def test_tallies_merge() -> None:
    a, b = Tally(), Tally()
    a.refuse("x", "1")
    b.refuse("x", "2")
    a.add(b)
    assert a.not_replayable == {"x": 2} and a.not_replayable_ids == {"x": ["1", "2"]}


def test_fast_request_parser_matches_json_format() -> None:
    from google.protobuf import json_format

    from anshin.v1 import claims_pb2
    from server.wire.claim_json import parse_request

    examples = Path(__file__).resolve().parents[2] / "docs" / "examples" / "claims"
    docs = []
    for path in sorted(examples.glob("*.json")):
        req = json_format.Parse(path.read_text(encoding="utf-8"), claims_pb2.EvaluateClaimRequest())
        docs.append(json_format.MessageToDict(req))  # as EvaluateClaim logs it
    docs.append(json_format.MessageToDict(hnb_claim()))
    odd = json_format.MessageToDict(hnb_claim())
    odd["claimedAt"] = "2025-04-10T11:59:59.123456789+09:00"  # offset, nanoseconds
    odd["ibTransfer"]["fraudAt"] = "2025-04-08T03:00:00.5Z"
    docs.append(odd)
    docs.append({**odd, "unknownField": 1})  # falls back to json_format
    docs.append({**odd, "residentInJapan": "yes"})  # a wrong type: json_format decides
    docs.append({**odd, "claimedAt": ["2025-04-10T03:00:00Z"]})  # not hashable either
    docs.append({**odd, "claimedAt": "2025-04-10 03:00:00"})  # not RFC 3339
    for d in docs:
        try:
            expected = json_format.ParseDict(
                d, claims_pb2.EvaluateClaimRequest(), ignore_unknown_fields=True
            )
        except json_format.ParseError:
            with pytest.raises(json_format.ParseError):
                parse_request(d)
            continue
        got = parse_request(d)
        assert got.SerializeToString(deterministic=True) == expected.SerializeToString(
            deterministic=True
        )


def test_logged_payable_read_from_the_head_agrees_with_json_extract(tmp_path: Path) -> None:
    from server.store import open_log_reader

    db = tmp_path / "log.db"
    results = [
        '{"decisionId":"d1","outcome":"OUTCOME_APPROVE","payableYen":"1200000","x":[]}',
        '{"decisionId":"d2","outcome":"OUTCOME_DENY","computation":[{"payableYen":"5"}]}',
        '{"payableYen": "7"}',
        '{"decisionId":"d\\"4","outcome":"OUTCOME_APPROVE","payableYen":"3"}',
        '{"decisionId":"d5","outcome":"OUTCOME_APPROVE","payableYen":9}',
        '{"decisionId":"d6","outcome":"OUTCOME_APPROVE","payableYen":"-2"}',
    ]
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute(
            "CREATE TABLE verdicts (seq INTEGER PRIMARY KEY, id TEXT, kind TEXT, "
            "customer_id TEXT, policy_id TEXT, recorded_us INTEGER, outcome TEXT, "
            "clause_ids TEXT, inputs TEXT, result TEXT)"
        )
        conn.executemany(
            "INSERT INTO verdicts VALUES (?, ?, 'claim', 'c', 'HNB', 0, 'APPROVE', '[]', '{}', ?)",
            [(seq, f"d{seq}", r) for seq, r in enumerate(results, 1)],
        )
        conn.commit()
        expected = dict(
            conn.execute("SELECT seq, json_extract(result, '$.payableYen') FROM verdicts")
        )
    reader = open_log_reader(f"sqlite:///{db}", check_schema=False)  # a hand-made table
    try:
        rows = reader.claim_rows([6, 5, 4, 3, 2, 1])
    finally:
        reader.close()
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert {r[0]: int(r[8] or 0) for r in rows} == {seq: int(v or 0) for seq, v in expected.items()}
    assert rows[0][8] == "1200000" and rows[1][8] is None
