"""`anshin serve --workers 2`: one port, two processes, one store."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from anshin.v1 import events_pb2, events_pb2_grpc
from tests.conftest import create_database, db_rows
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


def serve_workers(
    db_url: str,
    tmp_path: Path,
    rules_dir: Path,
    workers: int,
    *extra: str,
    stdout: int = subprocess.DEVNULL,
) -> tuple[str, subprocess.Popen[bytes]]:
    """`anshin serve --workers N` on a free port: (address, the parent process)."""
    address = f"127.0.0.1:{free_port()}"
    create_database(db_url)
    parent = subprocess.Popen(
        [
            *(*ANSHIN, "serve", "--listen", address, "--db", db_url, "--rules", str(rules_dir)),
            *("--workers", str(workers), *extra),
        ],
        cwd=ROOT,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        env=server_env(db_url, tmp_path),
    )
    return address, parent


def test_two_workers_share_the_port_and_the_store(
    db_url: str, tmp_path: Path, rules_dir: Path
) -> None:
    address, parent = serve_workers(db_url, tmp_path, rules_dir, 2, stdout=subprocess.PIPE)
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
    create_database(f"sqlite:///{tmp_path}/x.db")
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


def _children(pid: int) -> list[int]:
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        return [int(c) for t in tasks for c in (t / "children").read_text().split()]
    except OSError:
        return []


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        kids = _children(todo.pop())
        out += kids
        todo += kids
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left = [p for p in pids if _running(p)]
        if not left:
            return []
        time.sleep(0.1)
    return [p for p in pids if _running(p)]


@pytest.mark.parametrize("workers", [1, 2])
def test_no_process_outlives_a_killed_server(
    workers: int, db_url: str, tmp_path: Path, rules_dir: Path
) -> None:
    """kill -9 of `serve` leaves neither its bulk-ingestion workers nor (with
    --workers 2) its serving workers behind: they would wait forever, or go on
    answering on the port next to whatever replaces the server."""
    address, parent = serve_workers(db_url, tmp_path, rules_dir, workers, "--bulk-workers", "1")
    try:
        wait_serving(address)
        # A bulk batch through every connection the kernel spreads over the
        # workers: each serving process starts its bulk worker process.
        for i in range(8 * workers):
            with grpc.insecure_channel(address, options=[("anshin.test", i)]) as ch:
                envelope = events_pb2.EventEnvelope(monitoring=monitoring(str(uuid.uuid4())))
                batch = events_pb2.IngestEventsRequest(events=[envelope])
                resp = events_pb2_grpc.EventServiceStub(ch).IngestEvents(iter([batch]), timeout=60)
                assert resp.accepted == 1
        servers = [parent.pid] if workers == 1 else _children(parent.pid)
        pools = [c for s in servers for c in _children(s) if "multiprocessing" in _cmdline(c)]
        assert len(pools) >= len(servers), "every server has a bulk worker process"
        family = _descendants(parent.pid)
        parent.kill()
        parent.wait(timeout=10)
        assert _wait_gone(family, 15) == []
    finally:
        if parent.poll() is None:
            parent.kill()
        for pid in _descendants(parent.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_a_worker_killed_stops_the_server_with_one_error_and_no_warning(
    db_url: str, tmp_path: Path, rules_dir: Path
) -> None:
    """Fail-fast, as docs/operations.md says: kill -9 of one worker drains the
    other and the parent exits 5 with one `anshin:` line and a hint; the dead
    worker's semaphores are cleaned up without Python's multi-line
    "leaked semaphore objects" warning (A21b break E)."""
    address = f"127.0.0.1:{free_port()}"
    create_database(db_url)
    parent = subprocess.Popen(
        [
            *(*ANSHIN, "serve", "--listen", address, "--db", db_url, "--rules", str(rules_dir)),
            *("--workers", "2", "--metrics-listen", f"127.0.0.1:{free_port()}"),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=server_env(db_url, tmp_path),
    )
    try:
        wait_serving(address)
        deadline = time.monotonic() + 30
        workers = _children(parent.pid)
        while len(workers) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
            workers = _children(parent.pid)
        # Each worker's bulk-ingestion pool holds named semaphores by now.
        while time.monotonic() < deadline and not all(
            any("multiprocessing" in _cmdline(c) for c in _children(w)) for w in workers
        ):
            time.sleep(0.1)
        os.kill(workers[0], signal.SIGKILL)
        _, err = parent.communicate(timeout=30)
    finally:
        if parent.poll() is None:
            parent.kill()
        for pid in _descendants(parent.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert parent.returncode == 5
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("***")]
    assert lines == [
        f"anshin: serve: worker {workers[0]} was killed by SIGKILL; "
        "the 1 other worker(s) drained and stopped",
        lines[1],
    ], err
    assert lines[1].startswith("hint: restart it; under a supervisor")
    assert "Warning" not in err and "leaked" not in err
