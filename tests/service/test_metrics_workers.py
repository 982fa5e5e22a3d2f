"""`anshin serve --workers 2 --metrics-listen`: one scrape covers both workers
(prometheus_client's multiprocess mode, server/workers.py)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from anshin.v1 import posture_pb2_grpc
from server.version import version
from tests.conftest import create_database
from tests.e2e.conftest import ANSHIN, ROOT, free_port, server_env, wait_serving
from tests.service.test_check_login_service import ts, valid_request

pytestmark = pytest.mark.slow
CALLS = 40
CHECK_LOGIN = {
    "grpc_type": "unary",
    "grpc_service": "anshin.v1.PostureService",
    "grpc_method": "CheckLogin",
}


def scrape(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found.setdefault(s.name, []).append((s.labels, s.value))
    return found


def handled(samples: list[tuple[dict[str, str], float]]) -> float:
    """CheckLogin calls ended, whatever their status."""
    return sum(v for labels, v in samples if CHECK_LOGIN.items() <= labels.items())


def check_login(address: str, i: int) -> None:
    # A connection per call (a distinct channel argument: grpc would share one
    # subchannel otherwise): the kernel spreads them over the workers (SO_REUSEPORT).
    with grpc.insecure_channel(address, options=[("anshin.test", i)]) as channel:
        request = valid_request(login_time=ts(datetime.now(UTC) - timedelta(minutes=1)))
        posture_pb2_grpc.PostureServiceStub(channel).CheckLogin(request, timeout=20)


def test_one_scrape_covers_every_worker(tmp_path: Path, rules_dir: Path) -> None:
    db = f"sqlite:///{tmp_path}/w.db"
    create_database(db)
    address, metrics_port = f"127.0.0.1:{free_port()}", free_port()
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        parent = subprocess.Popen(
            [
                *(*ANSHIN, "serve", "--listen", address, "--db", db, "--rules", str(rules_dir)),
                *("--workers", "2", "--bulk-workers", "0"),
                *("--metrics-listen", f"127.0.0.1:{metrics_port}"),
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=server_env(db, tmp_path),
        )
    try:
        wait_serving(address)
        deadline = time.monotonic() + 60  # both workers listening, not just the first
        while log_path.read_text().count('"event":"serving"') < 2:
            assert time.monotonic() < deadline, log_path.read_text()[-2000:]
            time.sleep(0.1)
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda i: check_login(address, i), range(CALLS)))
        lines = [json.loads(x) for x in log_path.read_text().splitlines() if x.startswith("{")]
        started = next(x for x in lines if x["event"] == "workers_started")
        serving = next(x for x in lines if x["event"] == "metrics_serving")
        pids = started["pids"]
        directory = Path(serving["directory"])
        found = scrape(metrics_port)

        # The sum over both workers, in the one scrape.
        assert handled(found["grpc_server_handled_total"]) == CALLS
        # Each worker served some of them (read from its own file).
        per_worker = []
        for pid in pids:
            counter_file = str(directory / f"counter_{pid}.db")
            merged = MultiProcessCollector.merge([counter_file])  # type: ignore[no-untyped-call]
            per_worker.append(
                sum(
                    s.value
                    for family in merged
                    for s in family.samples
                    if s.name == "grpc_server_handled_total"
                    and CHECK_LOGIN.items() <= s.labels.items()
                )
            )
        assert all(n > 0 for n in per_worker) and sum(per_worker) == CALLS, per_worker
        # Both live workers, by pid, in the build info; the store serves for both.
        info = found["anshin_build_info"]
        assert sorted(int(labels["pid"]) for labels, _ in info) == sorted(pids)
        assert {labels["version"] for labels, _ in info} == {version()}
        assert [v for _, v in found["anshin_store_available"]] == [1.0]
        # The start-up lines carry the version, the parent's and each worker's.
        assert started["version"] == serving["version"] == version()
        assert [x["version"] for x in lines if x["event"] == "serving"] == [version()] * 2
    finally:
        parent.send_signal(signal.SIGTERM)
        parent.wait(timeout=60)
    assert parent.returncode == 0, log_path.read_text()[-2000:]
    assert not directory.exists()  # the workers' files go with the parent
