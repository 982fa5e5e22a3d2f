"""`anshin serve --workers 2`: one port, two processes, one store."""

from __future__ import annotations

import signal
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from anshin.v1 import events_pb2, events_pb2_grpc
from tests.conftest import db_rows
from tests.e2e.conftest import ANSHIN, ROOT, free_port, server_env, wait_serving

pytestmark = pytest.mark.slow


def monitoring(event_id: str) -> events_pb2.ReportMonitoringEventRequest:
    req = events_pb2.ReportMonitoringEventRequest(
        header=events_pb2.EventHeader(client_event_id=event_id, customer_id="m-1"),
        kind=events_pb2.MONITORING_EVENT_KIND_LEAK_ALERT_DELIVERED,
        card=events_pb2.Instrument(token="tok-1", last4="1111"),
    )
    req.header.event_time.FromJsonString("2025-04-09T01:00:00Z")
    return req


def test_two_workers_share_the_port_and_the_store(
    db_url: str, tmp_path: Path, rules_dir: Path
) -> None:
    address = f"127.0.0.1:{free_port()}"
    parent = subprocess.Popen(
        [
            *ANSHIN,
            "serve",
            "--listen",
            address,
            "--db",
            db_url,
            "--rules",
            str(rules_dir),
            "--workers",
            "2",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=server_env(db_url, tmp_path),
    )
    try:
        wait_serving(address)
        same_id = str(uuid.uuid4())

        def send(i: int) -> str:
            # A separate connection per call: the kernel spreads them over the workers.
            with grpc.insecure_channel(address, options=[("anshin.test", i)]) as ch:
                stub = events_pb2_grpc.EventServiceStub(ch)
                event_id = same_id if i % 2 else str(uuid.uuid4())
                ack = stub.ReportMonitoringEvent(monitoring(event_id), timeout=20)
                return ack.event_id if i % 2 else event_id

        with ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(send, range(40)))
        # Retries of one id through both workers: stored once, one reply for all.
        assert len({results[i] for i in range(1, 40, 2)}) == 1
        ids = [r[0] for r in db_rows(db_url, "SELECT client_event_id FROM events")]
        assert len(ids) == len(set(ids)) == 21
        assert same_id in ids
    finally:
        parent.send_signal(signal.SIGTERM)
        out, _ = parent.communicate(timeout=60)
    assert parent.returncode == 0, out.decode()[-2000:]
    assert '"event":"workers_stopped"' in out.decode()


def test_workers_need_a_fixed_port(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            *ANSHIN,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            f"sqlite:///{tmp_path}/x.db",
            "--workers",
            "2",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0 and "fixed port" in out.stderr + out.stdout
