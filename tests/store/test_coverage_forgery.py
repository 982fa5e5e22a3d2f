"""Forging the tables that decide money, as someone with write access to the
database but no key: each forgery is named by `anshin log verify` (and a
retried claim is refused rather than answered from a forged row), on SQLite
and on PostgreSQL. The untouched database verifies OK.

The attacker drops (SQLite) or disables (PostgreSQL) the append-only
triggers first, as anyone who owns the tables can.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import orjson
import pytest

from anshin.v1 import claims_pb2, events_pb2, events_pb2_grpc
from server.store import open_log_reader
from server.store.chain import LogSigner
from server.store.url import sqlite_path
from server.usecases import verify_log
from tests.conftest import RunningServer, db_rows, key_files
from tests.service.test_claims_service import (
    CUSTOMER,
    FRAUD,
    hnb_claim,
    outcome,
    record_history,
    stub,
    ts,
)

CARD = "tok-forgery-card"


def _tamper(url: str, *statements: tuple[str, Sequence[Any]]) -> None:
    """Run ``statements`` with the append-only guards out of the way."""
    if url.startswith("sqlite:"):
        import sqlite3

        conn = sqlite3.connect(sqlite_path(url))
        try:
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'"):
                conn.execute(f"DROP TRIGGER {name}")
            for sql, params in statements:
                conn.execute(sql, params)
            conn.commit()
        finally:
            conn.close()
        return
    for table in ("ledger", "events", "claims", "judgement_sets"):
        db_rows(url, f"ALTER TABLE {table} DISABLE TRIGGER USER")
    for sql, params in statements:
        db_rows(url, sql, params)


def _verify(server: RunningServer, tmp_path: Path) -> verify_log.Report:
    url = server.db_url
    if url.startswith("sqlite:"):
        key = sqlite_path(url).parent / "log-signing.key"
    else:
        key = key_files(url, tmp_path)["log_key_file"]
    signer = LogSigner.from_file(key, create=False)
    reader = open_log_reader(url)
    try:
        serial = verify_log.verify(reader, signer, workers=1)
        # The parallel walk checks these tables in a worker beside the chunks:
        # it must find the same (forced here on a small log).
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(verify_log, "_PARALLEL_MIN_ENTRIES", 1)
            mp.setattr(verify_log, "_MIN_CHUNK", 4)
            parallel = verify_log.verify(reader, signer, workers=2)
    finally:
        reader.close()
    assert parallel.ok == serial.ok
    assert parallel.problem == serial.problem and parallel.notes == serial.notes
    return serial


def _reasons(report: verify_log.Report) -> str:
    """The first problem and every other one, as one text to search."""
    assert report.problem is not None, "the forgery was not detected"
    return "\n".join([report.problem.reason, *report.notes])


async def _registration(server: RunningServer, trans_status: str = "Y") -> str:
    """A card registered to a payment service with 3-D Secure; its client event id."""
    event_id = str(uuid.uuid4())
    await events_pb2_grpc.EventServiceStub(server.channel).ReportRegistration(
        events_pb2.ReportRegistrationRequest(
            header=events_pb2.EventHeader(
                client_event_id=event_id,
                event_time=ts(FRAUD - timedelta(days=30)),
                customer_id=CUSTOMER,
            ),
            payment_service_id="paypay",
            instrument=events_pb2.Instrument(
                token=CARD,
                last4="4242",
                kind=events_pb2.INSTRUMENT_KIND_CREDIT_CARD,
                funding=events_pb2.FUNDING_SOURCE_NONE,
                issued_in_japan=True,
            ),
            authentication=events_pb2.AuthenticationEvidence(
                three_d_secure=events_pb2.ThreeDSecureEvidence(
                    protocol_version="2.2.0", trans_status=trans_status, eci="05"
                )
            ),
        )
    )
    return event_id


async def _history(server: RunningServer) -> tuple[claims_pb2.EvaluateClaimRequest, str, str]:
    """A compliant login, the HNB contract, a 3-D Secure registration and one
    approved ¥1.2M HNB claim: (its request, its decision id, the registration's id)."""
    await record_history(server)
    event_id = await _registration(server)
    req = hnb_claim()
    resp = await stub(server).EvaluateClaim(req)
    assert outcome(resp) == "APPROVE" and resp.payable_yen == 1_200_000
    return req, resp.decision_id, event_id


async def test_untouched_database_verifies_ok(server: RunningServer, tmp_path: Path) -> None:
    req, _, _ = await _history(server)
    again = await stub(server).EvaluateClaim(req)  # a retry answers the bound reply
    assert again.replayed and outcome(again) == "APPROVE"
    report = _verify(server, tmp_path)
    assert report.ok, report.problem
    # One approval: its rows in HNB-L1's year, HNB-L2's incident and the incident's day, and
    # the claim of the incident counted in its …/claimed and its day's …/claimed.
    assert any("5 ledger rows, 1 claims rows, 2 events" in n for n in report.notes), report.notes


# --------------------------------------------------------------------------- the ledger


async def test_deleted_ledger_rows_and_the_claim_decided_on_them_are_named(
    server: RunningServer, tmp_path: Path
) -> None:
    _, first, _ = await _history(server)
    _tamper(server.db_url, ("DELETE FROM ledger WHERE decision_id = ?", (first,)))
    # The next ¥1.5M claim reads the cap as unused: the ledger is what it reads.
    resp = await stub(server).EvaluateClaim(hnb_claim(loss=1_500_000, recovered=0))
    assert outcome(resp) == "APPROVE"
    assert "used ¥0" in " ".join(s.note for s in resp.computation)
    report = _verify(server, tmp_path)
    text = _reasons(report)
    assert f"ledger row of decision {first} in scope HNB-L1/" in text and "is missing" in text
    assert report.problem is not None and report.problem.entry_id == first
    # ... and the decision taken on the short ledger, the one that may have overpaid.
    assert f"claim {resp.decision_id} was decided on a ledger that disagrees" in text
    assert "read ¥0 used over 0 claims, but the decisions before it reserved ¥1,200,000" in text


async def test_edited_ledger_amount_is_named(server: RunningServer, tmp_path: Path) -> None:
    _, first, _ = await _history(server)
    _tamper(server.db_url, ("UPDATE ledger SET amount_yen = 1 WHERE decision_id = ?", (first,)))
    text = _reasons(_verify(server, tmp_path))
    assert f"ledger row of decision {first}" in text and "was changed: it holds ¥1" in text
    assert "the entry reserved ¥1,200,000" in text


async def test_inserted_ledger_row_is_named(server: RunningServer, tmp_path: Path) -> None:
    await _history(server)
    _tamper(
        server.db_url,
        (
            "INSERT INTO ledger (scope_key, decision_id, amount_yen, count, insured_person_ref, "
            "recorded_us) VALUES (?,?,?,?,?,?)",
            ("HNB-L1/x/2025", "forged-decision", 9_000_000, 1, "", 1),
        ),
    )
    text = _reasons(_verify(server, tmp_path))
    assert "ledger row of decision forged-decision in scope HNB-L1/x/2025" in text
    assert "reserved by no entry of the log" in text


# --------------------------------------------------------------------------- events


def _payload(server: RunningServer, event_id: str) -> dict[str, Any]:
    ((payload,),) = db_rows(
        server.db_url, "SELECT payload FROM events WHERE client_event_id = ?", (event_id,)
    )
    d = orjson.loads(payload)
    assert isinstance(d, dict)
    return d


def _replace_3ds(value: Any, old: str, new: str) -> Any:
    """``value`` with every ``trans_status`` equal to ``old`` set to ``new``."""
    if isinstance(value, dict):
        return {
            k: (new if k == "trans_status" and v == old else _replace_3ds(v, old, new))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_replace_3ds(v, old, new) for v in value]
    return value


async def test_edited_3ds_result_of_an_event_is_named(
    server: RunningServer, tmp_path: Path
) -> None:
    _, _, event_id = await _history(server)
    payload = _payload(server, event_id)
    forged = _replace_3ds(payload, "Y", "N")
    assert forged != payload, payload
    _tamper(
        server.db_url,
        (
            "UPDATE events SET payload = ? WHERE client_event_id = ?",
            (orjson.dumps(forged).decode(), event_id),
        ),
    )
    text = _reasons(_verify(server, tmp_path))
    assert f"event {event_id} was changed after it was stored" in text


async def test_deleted_event_is_named(server: RunningServer, tmp_path: Path) -> None:
    _, _, event_id = await _history(server)
    _tamper(server.db_url, ("DELETE FROM events WHERE client_event_id = ?", (event_id,)))
    text = _reasons(_verify(server, tmp_path))
    assert f"event {event_id} listed by entry" in text and "is missing" in text


@pytest.mark.parametrize("bound", [True, False], ids=["to-an-entry", "to-none"])
async def test_inserted_event_is_named(server: RunningServer, tmp_path: Path, bound: bool) -> None:
    _, _, event_id = await _history(server)
    cols = (
        "client_event_id, kind, customer_id, subject, event_us, recorded_us, fingerprint, "
        "payload, reply_head, judgements_ref, request_id, caller"
    )
    forged_id = "forged-" + str(uuid.uuid4())
    log_seq = "log_seq" if bound else "NULL"
    _tamper(
        server.db_url,
        (
            f"INSERT INTO events ({cols}, log_seq) SELECT ?, kind, customer_id, subject, "
            f"event_us, recorded_us, fingerprint, payload, reply_head, judgements_ref, "
            f"request_id, caller, {log_seq} FROM events WHERE client_event_id = ?",
            (forged_id, event_id),
        ),
    )
    text = _reasons(_verify(server, tmp_path))
    assert f"event {forged_id}" in text and "inserted behind the service's back" in text


# --------------------------------------------------------------------------- claims rows


async def _refused_retry(server: RunningServer, req: claims_pb2.EvaluateClaimRequest) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub(server).EvaluateClaim(req)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    return str(info.value.details())


async def test_claims_row_pointed_at_another_decision_is_named_and_refused(
    server: RunningServer, tmp_path: Path
) -> None:
    req, first, _ = await _history(server)
    other = await stub(server).EvaluateClaim(hnb_claim(loss=400_000, recovered=0))
    _tamper(
        server.db_url,
        ("UPDATE claims SET decision_id = ? WHERE claim_id = ?", (other.decision_id, req.claim_id)),
    )
    text = _reasons(_verify(server, tmp_path))
    assert f"claims row of claim_id {req.claim_id} points at decision {other.decision_id}" in text
    assert f"claims row of claim_id {req.claim_id} (decision {first}) is missing" not in text
    assert "disagrees with the verdict log" in await _refused_retry(server, req)


async def test_forged_stored_reply_is_named_and_never_answered(
    server: RunningServer, tmp_path: Path
) -> None:
    req, first, _ = await _history(server)
    forged = claims_pb2.EvaluateClaimResponse(
        decision_id=first, outcome=claims_pb2.EvaluateClaimResponse().outcome, payable_yen=9_999_999
    ).SerializeToString()
    _tamper(
        server.db_url, ("UPDATE claims SET reply = ? WHERE claim_id = ?", (forged, req.claim_id))
    )
    text = _reasons(_verify(server, tmp_path))
    assert f"claims row of claim_id {req.claim_id} holds a reply that is not the one" in text
    assert "the reply differs" in await _refused_retry(server, req)


async def test_deleted_claims_row_is_named(server: RunningServer, tmp_path: Path) -> None:
    req, first, _ = await _history(server)
    _tamper(server.db_url, ("DELETE FROM claims WHERE claim_id = ?", (req.claim_id,)))
    text = _reasons(_verify(server, tmp_path))
    assert f"claims row of claim_id {req.claim_id} (decision {first}) is missing" in text
