"""Event ingestion end to end: the bulk CLI and durability across kill -9."""

from __future__ import annotations

import json
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from anshin.v1 import events_pb2, events_pb2_grpc
from tests.conftest import db_rows
from tests.e2e.conftest import ANSHIN, ROOT, ServerProcess

pytestmark = pytest.mark.slow
PAN = "4111111111111111"


def envelope(token: str = "tok-1", event_id: str | None = None, status: str = "Y") -> dict:
    return {
        "registration": {
            "header": {
                "clientEventId": event_id or str(uuid.uuid4()),
                "eventTime": "2025-04-09T01:00:00Z",
                "customerId": "m-1",
            },
            "paymentServiceId": "paypay",
            "instrument": {
                "token": token,
                "last4": "1111",
                "kind": "INSTRUMENT_KIND_CREDIT_CARD",
                "funding": "FUNDING_SOURCE_NONE",
                "issuedInJapan": True,
            },
            "authentication": {
                "threeDSecure": {"protocolVersion": "2.2.0", "transStatus": status, "eci": "05"}
            },
        }
    }


def stored_ids(db_url: str) -> list[str]:
    return [r[0] for r in db_rows(db_url, "SELECT client_event_id FROM events")]


def test_events_ingest_cli_reports_rejected_lines(served: ServerProcess, tmp_path: Path) -> None:
    dup_id = str(uuid.uuid4())
    lines = [json.dumps(envelope()) for _ in range(1200)]
    lines[3] = "{not json"
    lines[7] = json.dumps(envelope(token=PAN))
    lines[9] = json.dumps(envelope(event_id=dup_id))
    lines.append(json.dumps(envelope(event_id=dup_id)))  # a retry: replayed, not rejected
    lines.append(json.dumps(envelope(event_id=dup_id, status="N")))  # a conflict
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = subprocess.run(
        [
            *ANSHIN,
            "events",
            "ingest",
            str(path),
            "--server",
            served.address,
            "--batch",
            "100",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert out.returncode == 5, out.stderr  # rejected lines (exit_codes)
    assert "1198 accepted, 1 already stored (retries), 3 rejected" in out.stdout
    assert "line 4: INVALID_JSON" in out.stdout
    assert "line 8: INVALID_ARGUMENT" in out.stdout and "instrument.token" in out.stdout
    assert "line 1202: ALREADY_EXISTS" in out.stdout
    assert PAN not in out.stdout + out.stderr
    assert PAN not in "\n".join(served.log_lines())
    assert len(stored_ids(served.db_url)) == 1198


def test_acknowledged_events_survive_kill_9_under_concurrent_load(served: ServerProcess) -> None:
    acked: list[str] = []

    def send(i: int) -> str | None:
        req = events_pb2.ReportMonitoringEventRequest(
            header=events_pb2.EventHeader(client_event_id=str(uuid.uuid4()), customer_id=f"m-{i}"),
            kind=events_pb2.MONITORING_EVENT_KIND_LEAK_ALERT_DELIVERED,
            card=events_pb2.Instrument(token=f"tok-{i}", last4="1111"),
        )
        req.header.event_time.FromJsonString("2025-04-09T01:00:00Z")
        with grpc.insecure_channel(served.address) as ch:
            try:
                events_pb2_grpc.EventServiceStub(ch).ReportMonitoringEvent(req, timeout=10)
            except grpc.RpcError:
                return None
        return req.header.client_event_id

    with ThreadPoolExecutor(max_workers=32) as pool:
        futures = [pool.submit(send, i) for i in range(600)]
        for n, f in enumerate(futures):
            if n == 300:
                served.kill9()
            if (eid := f.result()) is not None:
                acked.append(eid)
    assert acked
    served.start()
    ids = stored_ids(served.db_url)
    assert len(ids) == len(set(ids))
    assert not set(acked) - set(ids), "acknowledged events were lost"
