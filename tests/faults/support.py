"""What the fault tests share: the three writing calls, what the store holds,
and the issue's invariant — a claim decision never recorded without its
ledger reservation, nor the reverse — plus the log still verifying."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import orjson

from anshin.v1 import (
    claims_pb2,
    claims_pb2_grpc,
    common_pb2,
    events_pb2,
    events_pb2_grpc,
    posture_pb2,
    posture_pb2_grpc,
)
from server.store import open_log_reader
from server.store.chain import LogSigner
from server.usecases import verify_log as logverify
from tests.conftest import TEST_NOW, RunningServer, db_rows
from tests.service.test_check_login_table import WIN_CHROME, Case, chrome_hints, request_for
from tests.service.test_claims_service import CUSTOMER, hnb_claim
from tests.service.test_events_service import registration

TABLES = ("verdicts", "events", "claims", "ledger")
Rows = Callable[[str], list[tuple[Any, ...]]]


def login(customer: str = CUSTOMER, minutes_ago: int = 5) -> posture_pb2.CheckLoginRequest:
    case = Case(
        "pc",
        WIN_CHROME.format(v=135),
        "",
        {},
        hints=chrome_hints("135.0.7049.85", "Windows", "19.0.0"),
        at=TEST_NOW - timedelta(minutes=minutes_ago),
    )
    req = request_for(case)
    req.customer_id = customer
    return req


@dataclass
class Writes:
    """One request of each writing RPC, kept so that the very same requests can
    be sent again once the store is back (retries with the same ids)."""

    login: posture_pb2.CheckLoginRequest
    event: events_pb2.ReportRegistrationRequest
    claim: claims_pb2.EvaluateClaimRequest

    @classmethod
    def new(cls, incident: int = 0) -> Writes:
        """``incident``: the claim's (test_claims_service.incident_at): each ``Writes``
        approved in one test is its own incident, as one incident's loss is paid once
        (HNB-L2); record_history(incidents=n) makes the first n approvable."""
        # 100 000 yen: many approvals fit under the HNB-L1 cap of 10 million.
        claim = hnb_claim(loss=100_000, recovered=0, incident=incident)
        return cls(login(), registration(), claim)

    def calls(
        self, channel: grpc.aio.Channel
    ) -> list[tuple[str, Callable[[float], Awaitable[Any]]]]:
        posture = posture_pb2_grpc.PostureServiceStub(channel)
        events = events_pb2_grpc.EventServiceStub(channel)
        claims = claims_pb2_grpc.ClaimServiceStub(channel)
        return [
            ("CheckLogin", lambda t: posture.CheckLogin(self.login, timeout=t)),
            ("ReportRegistration", lambda t: events.ReportRegistration(self.event, timeout=t)),
            ("EvaluateClaim", lambda t: claims.EvaluateClaim(self.claim, timeout=t)),
        ]


async def expect_unavailable(
    call: Callable[[float], Awaitable[Any]], name: str, *, within: float, deadline: float = 20.0
) -> float:
    """The call fails UNAVAILABLE (not INTERNAL, not DEADLINE_EXCEEDED) in less
    than ``within`` seconds; returns how long it took."""
    started = time.monotonic()
    try:
        await call(deadline)
    except grpc.aio.AioRpcError as exc:
        took = time.monotonic() - started
        assert exc.code() == grpc.StatusCode.UNAVAILABLE, f"{name}: {exc.code()} {exc.details()}"
        assert took < within, f"{name}: UNAVAILABLE only after {took:.1f} s"
        return took
    raise AssertionError(f"{name} succeeded while the store could not serve it")


def counts(rows: Rows) -> dict[str, int]:
    return {t: int(rows(f"SELECT COUNT(*) FROM {t}")[0][0]) for t in TABLES}


def server_rows(server: RunningServer) -> Rows:
    return lambda sql: db_rows(server.db_url, sql)


def logged_json(rows: Rows, stored: str) -> Any:
    """A stored JSON column as it was written: a compacted one (a reference,
    docs/claims.md "What a decision stores") read from its blob."""
    from server.log import compact

    digest = compact.reference_of(stored)
    if digest is None:
        return orjson.loads(stored)

    def blob(d: str) -> compact.Blob:
        ((codec, body),) = rows(f"SELECT codec, body FROM log_blobs WHERE digest = '{d}'")
        return compact.Blob(d, str(codec), bytes(body))

    found = blob(digest)
    named = compact.dictionary_of(found.codec)
    dictionaries = {} if named is None else {named: compact.decode(blob(named), {})}
    content = compact.decode(found, dictionaries)
    return orjson.loads(compact.expand(stored, {digest: content}))


def assert_claims_whole(rows: Rows) -> None:
    """Every claim decision in the log has its claim row and exactly its ledger
    reservation; no claim row, and no reservation, without its decision."""
    claims = dict(rows("SELECT claim_id, decision_id FROM claims"))
    decisions = {
        str(r[0]): (str(r[1]), logged_json(rows, r[2]))
        for r in rows("SELECT id, outcome, result FROM verdicts WHERE kind = 'claim'")
    }
    reserved: dict[str, int] = {}
    for decision_id, amount, scope in rows("SELECT decision_id, amount_yen, scope_key FROM ledger"):
        reserved.setdefault(str(decision_id), 0)
        if str(scope).startswith("HNB-L1"):
            reserved[str(decision_id)] += int(amount)
    assert sorted(map(str, claims.values())) == sorted(decisions), "claim rows vs decisions"
    assert set(reserved) <= set(decisions), "ledger rows without a decision"
    for decision_id, (outcome, result) in decisions.items():
        if outcome == "APPROVE":
            assert reserved.get(decision_id) == int(result["payableYen"]), decision_id
        else:
            assert decision_id not in reserved, decision_id


def assert_log_verifies(db_url: str, key_file: Path) -> None:
    reader = open_log_reader(db_url)
    try:
        report = logverify.verify(reader, LogSigner.from_file(key_file, create=False), workers=1)
    finally:
        reader.close()
    assert report.ok, report.problem


async def assert_writes_succeed(
    writes: Writes, channel: grpc.aio.Channel
) -> claims_pb2.EvaluateClaimResponse:
    """The same requests, sent again, are served now: the store came back by
    itself. Returns the claim's reply (approved, its reservation made)."""
    replies = {name: await call(20.0) for name, call in writes.calls(channel)}
    claim: claims_pb2.EvaluateClaimResponse = replies["EvaluateClaim"]
    assert claim.outcome == common_pb2.OUTCOME_APPROVE, claim.summary_ja
    assert claim.payable_yen == 100_000
    return claim


def assert_served_once(rows: Rows, before: dict[str, int], claim: Any) -> None:
    """Since ``before``: exactly one login verdict, one event (and the ``events``
    entry binding it to the log), one claim with its decision and reservations —
    what one ``Writes`` stores, nothing more."""
    reserved = rows(f"SELECT COUNT(*) FROM ledger WHERE decision_id = '{claim.decision_id}'")
    assert reserved[0][0] >= 1
    after = counts(rows)
    assert grew_by(before, after, verdicts=3, events=1, claims=1, ledger=reserved[0][0]), (
        before,
        after,
    )


def grew_by(before: dict[str, int], after: dict[str, int], **delta: int) -> bool:
    return all(after[t] - before[t] == delta.get(t, 0) for t in TABLES)
