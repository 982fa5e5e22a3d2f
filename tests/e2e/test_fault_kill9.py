"""kill -9 at random moments under mixed load, restart, repeat: nothing
acknowledged is lost or stored twice, no decision lacks its ledger
reservation (or the reverse), and the verdict log still verifies."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import grpc

from anshin.v1 import (
    claims_pb2_grpc,
    common_pb2,
    events_pb2,
    events_pb2_grpc,
    posture_pb2_grpc,
)
from tests.conftest import TEST_NOW
from tests.e2e.conftest import ROOT, ServerProcess, server_env
from tests.faults.support import logged_json
from tests.service.test_check_login_table import WIN_CHROME, Case, chrome_hints, request_for
from tests.service.test_claims_service import INCIDENTS, history_requests, hnb_claim

CYCLES = 4
CUSTOMERS = [f"fault-{k}" for k in range(6)]
# The loss of each incident (``_claim``): every claim of an incident states the same.
LOSSES = (500_000, 1_500_000, 3_000_000)


def _history(channel: grpc.Channel, customer: str) -> None:
    """What makes HNB claims of this customer's incidents approvable
    (test_claims_service.history_requests, every incident_at(k))."""
    logins, enrolment = history_requests(customer, incidents=INCIDENTS)
    for req in logins:
        posture_pb2_grpc.PostureServiceStub(channel).CheckLogin(req, timeout=10)
    events_pb2_grpc.EventServiceStub(channel).ReportEnrolment(enrolment, timeout=10)


class Acks:
    """What the server acknowledged, by kind (appended from many threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.verdicts: list[str] = []
        self.events: list[str] = []
        self.claims: dict[str, tuple[str, int]] = {}  # claim id → (decision id, payable)

    def add(self, kind: str, key: str, value: tuple[str, int] | None = None) -> None:
        with self.lock:
            if kind == "verdict":
                self.verdicts.append(key)
            elif kind == "event":
                self.events.append(key)
            else:
                assert value is not None
                self.claims[key] = value


def _login(ch: grpc.Channel, rng: random.Random, acks: Acks) -> None:
    case = Case(
        "pc",
        WIN_CHROME.format(v=135),
        "",
        {},
        hints=chrome_hints("135.0.7049.85", "Windows", "19.0.0"),
        # Off the whole minute: never at the very instant of an incident (FRAUD is one),
        # where the device's earlier verdicts would not count.
        at=TEST_NOW - timedelta(minutes=rng.randrange(10_000), seconds=30),
    )
    req = request_for(case)
    req.customer_id = rng.choice(CUSTOMERS)
    resp = posture_pb2_grpc.PostureServiceStub(ch).CheckLogin(req, timeout=10)
    acks.add("verdict", resp.verdict_id)


def _event(ch: grpc.Channel, rng: random.Random, acks: Acks) -> None:
    req = events_pb2.ReportMonitoringEventRequest(
        header=events_pb2.EventHeader(
            client_event_id=str(uuid.uuid4()), customer_id=rng.choice(CUSTOMERS)
        ),
        kind=events_pb2.MONITORING_EVENT_KIND_LEAK_ALERT_DELIVERED,
        card=events_pb2.Instrument(token=f"tok-{rng.randrange(100)}", last4="1111"),
    )
    req.header.event_time.FromJsonString("2025-04-09T01:00:00Z")
    events_pb2_grpc.EventServiceStub(ch).ReportMonitoringEvent(req, timeout=10)
    acks.add("event", req.header.client_event_id)


def _claim(ch: grpc.Channel, rng: random.Random, acks: Acks) -> None:
    # One of the customer's incidents, claimed with its own loss: a claim of an incident
    # already paid is an exact duplicate (DENY: one loss is paid once, HNB-L2), never a
    # re-claim stating more than was paid (REVIEW).
    incident = rng.randrange(INCIDENTS)
    req = hnb_claim(loss=LOSSES[incident % len(LOSSES)], recovered=0, incident=incident)
    req.customer_id = rng.choice(CUSTOMERS)
    resp = claims_pb2_grpc.ClaimServiceStub(ch).EvaluateClaim(req, timeout=10)
    acks.add("claim", req.claim_id, (resp.decision_id, resp.payable_yen))
    assert resp.outcome in (common_pb2.OUTCOME_APPROVE, common_pb2.OUTCOME_DENY), resp.summary_ja


def _load(address: str, acks: Acks, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    work: list[Callable[[grpc.Channel, random.Random, Acks], None]] = [_login, _event, _claim]
    with grpc.insecure_channel(address) as ch:
        while not stop.is_set():
            try:
                rng.choice(work)(ch, rng, acks)
            except grpc.RpcError:
                time.sleep(0.05)  # the server is down: not acknowledged, try again


def test_kill9_at_random_moments_under_mixed_load(served: ServerProcess) -> None:
    with grpc.insecure_channel(served.address) as ch:
        for customer in CUSTOMERS:
            _history(ch, customer)
    acks = Acks()
    rng = random.Random(20261121)
    for _cycle in range(CYCLES):
        stop = threading.Event()
        threads = [
            threading.Thread(target=_load, args=(served.address, acks, stop, rng.random()))
            for _ in range(6)
        ]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.4, 1.5))
        served.kill9()  # mid-load, at a random moment
        stop.set()
        for t in threads:
            t.join(timeout=30)
        served.start()
    served.terminate()

    assert acks.verdicts and acks.events and acks.claims
    verdict_ids = {r[0] for r in served.rows("SELECT id FROM verdicts")}
    event_rows = [r[0] for r in served.rows("SELECT client_event_id FROM events")]
    claim_rows = dict(served.rows("SELECT claim_id, decision_id FROM claims"))
    decisions = {
        r[0]: (r[1], logged_json(served.rows, r[2]))
        for r in served.rows("SELECT id, outcome, result FROM verdicts WHERE kind = 'claim'")
    }
    ledger: dict[str, int] = {}
    marks: dict[str, int] = {}
    for decision_id, amount, scope in served.rows(
        "SELECT decision_id, amount_yen, scope_key FROM ledger"
    ):
        if scope.endswith(("/claimed", "/refused")):
            # Every recorded claim counts its incident and its day, whatever the outcome,
            # and a DENY its incident's refusal.
            assert int(amount) == 0, (decision_id, scope)
            marks[decision_id] = marks.get(decision_id, 0) + 1
            continue
        if scope.startswith("HNB-L1"):
            ledger[decision_id] = ledger.get(decision_id, 0) + int(amount)
        ledger.setdefault(decision_id, 0)

    # Every acknowledged entry is there, and only once.
    assert not set(acks.verdicts) - verdict_ids, "acknowledged login verdicts were lost"
    assert len(event_rows) == len(set(event_rows))
    assert not set(acks.events) - set(event_rows), "acknowledged events were lost"
    for claim_id, (decision_id, _payable) in acks.claims.items():
        assert claim_rows.get(claim_id) == decision_id, f"claim {claim_id} lost or re-decided"
    # Every decision has exactly its reservation; no reservation without a decision.
    assert any(outcome == "APPROVE" for outcome, _ in decisions.values())
    assert set(ledger) <= set(decisions), "ledger rows without a decision"
    assert marks == {d: 3 if o == "DENY" else 2 for d, (o, _) in decisions.items()}, "marks"
    for decision_id, (outcome, result) in decisions.items():
        payable = int(result.get("payableYen", 0))
        if outcome == "APPROVE":
            assert ledger.get(decision_id) == payable, f"decision {decision_id} vs its ledger"
        else:
            assert decision_id not in ledger
    for decision_id, payable in acks.claims.values():
        assert int(decisions[decision_id][1].get("payableYen", 0)) == payable
    # The HNB-L1 cap held for every customer throughout.
    per_customer: dict[str, int] = {}
    for customer, result in served.rows(
        "SELECT customer_id, result FROM verdicts WHERE kind = 'claim' AND outcome = 'APPROVE'"
    ):
        per_customer[customer] = per_customer.get(customer, 0) + int(
            logged_json(served.rows, result)["payableYen"]
        )
    assert max(per_customer.values()) <= 10_000_000
    # And the log verifies.
    verify = subprocess.run(
        [sys.executable, "-m", "server.cli", "log", "verify", "--db", served.db_url],
        env=server_env(served.db_url, served.log_path.parent),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
