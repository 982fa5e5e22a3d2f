"""End to end: the `anshin` command as an operator and a newcomer use it."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from anshin.v1 import posture_pb2_grpc
from server.version import version
from tests.conftest import create_database, db_rows
from tests.e2e.conftest import ANSHIN, ROOT, ServerProcess

pytestmark = pytest.mark.slow

UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/135.0.0.0 Safari/537.36"
)
CHECK = [
    *ANSHIN,
    "check-login",
    "--customer",
    "hnb-contract-0001",
    "--device",
    "win-1",
    "--token",
    "active",
    "--ua",
    UA,
    "--at",
    "2025-04-10T10:00:00+09:00",
    "--hint",
    'Sec-CH-UA-Full-Version-List: "Google Chrome";v="135.0.7049.85"',
    "--hint",
    'Sec-CH-UA-Platform: "Windows"',
    "--hint",
    'Sec-CH-UA-Platform-Version: "19.0.0"',
    "--av-product",
    "ESET Internet Security",
    "--av-running",
    "true",
    "--av-updated-at",
    "2025-04-10T08:00:00+09:00",
    "--phishwall",
    "installed",
    "--phishwall-version",
    "4.3.0",
    "--phishwall-extension-version",
    "2.1.0",
]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, cwd=ROOT, timeout=60)


def verdict_ids(db_url: str) -> list[str]:
    return [r[0] for r in db_rows(db_url, "SELECT id FROM verdicts ORDER BY seq")]


def test_health_cli_reports_serving(served: ServerProcess) -> None:
    out = run(*ANSHIN, "health", "--server", served.address)
    assert out.returncode == 0 and out.stdout.strip() == "SERVING"


def test_check_login_cli_against_server_is_recorded(served: ServerProcess) -> None:
    out = run(*CHECK, "--server", served.address, "--json")
    assert out.returncode == 0, out.stderr
    reply = json.loads(out.stdout)
    assert reply["verdict"] == "POSTURE_VERDICT_COMPLIANT"
    assert reply["verdictId"] in verdict_ids(served.db_url)


def test_check_login_cli_table_renders_japanese(served: ServerProcess) -> None:
    out = run(*CHECK[:-6], "--server", served.address)  # no Phishwall facts
    assert out.returncode == 0, out.stderr
    assert "browser.latest" in out.stdout and "HNB-P1" in out.stdout
    assert "UNKNOWN" in out.stdout  # Phishwall not reported


def test_check_login_cli_local_records_nothing(tmp_path: object, rules_dir: object) -> None:
    out = run(*CHECK, "--local", "--rules", str(rules_dir))
    assert out.returncode == 0, out.stderr
    assert "COMPLIANT" in out.stdout and "not recorded" in out.stdout


def test_logs_are_json_with_request_id(served: ServerProcess) -> None:
    run(*CHECK, "--server", served.address, "--json")
    lines = [json.loads(line) for line in served.log_lines() if line.startswith("{")]
    assert lines, served.log_lines()
    rpc = [x for x in lines if x.get("event") == "rpc"]
    assert rpc and all(x.get("request_id") for x in rpc)
    serving = [x for x in lines if x.get("event") == "serving"]
    assert serving and serving[0]["version"] == version()  # which build answers, in its log


def test_sigterm_drains_and_exits_cleanly(served: ServerProcess) -> None:
    run(*CHECK, "--server", served.address, "--json")
    assert served.terminate() == 0
    events = [json.loads(x).get("event") for x in served.log_lines() if x.startswith("{")]
    assert "draining" in events and "stopped" in events


def test_acknowledged_verdicts_survive_kill_9_and_restart(served: ServerProcess) -> None:
    from tests.service.test_check_login_table import CASES, request_for

    acknowledged: list[str] = []

    def send(i: int) -> str | None:
        with grpc.insecure_channel(served.address) as ch:
            stub = posture_pb2_grpc.PostureServiceStub(ch)
            try:
                return stub.CheckLogin(request_for(CASES[i % 20]), timeout=10).verdict_id
            except grpc.RpcError:
                return None

    with ThreadPoolExecutor(max_workers=16) as pool:
        futures = [pool.submit(send, i) for i in range(300)]
        for n, f in enumerate(futures):
            if n == 150:
                served.kill9()  # mid-load: some calls were acknowledged, some not
            vid = f.result()
            if vid:
                acknowledged.append(vid)
    assert acknowledged, "no call was acknowledged before the kill"
    served.start()
    stored = verdict_ids(served.db_url)
    assert len(stored) == len(set(stored))
    missing = set(acknowledged) - set(stored)
    assert not missing, f"{len(missing)} acknowledged verdicts lost"
    # The restarted server keeps appending after the recovered log.
    out = run(*CHECK, "--server", served.address, "--json")
    assert json.loads(out.stdout)["verdictId"] in verdict_ids(served.db_url)


def test_bad_rules_directory_refuses_to_start(tmp_path: object) -> None:
    from pathlib import Path

    bad = Path(str(tmp_path)) / "rules"
    import shutil

    from rules.load import BUILTIN_RULES_DIR

    shutil.copytree(BUILTIN_RULES_DIR, bad)
    (bad / "posture.toml").write_text("[browser]\ngrace_days = -1\n", encoding="utf-8")
    create_database(f"sqlite:///{tmp_path}/x.db")
    out = subprocess.run(
        [
            *ANSHIN,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            f"sqlite:///{tmp_path}/x.db",
            "--rules",
            str(bad),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode != 0
    assert "posture.toml" in out.stderr


def test_invalid_argument_from_cli_names_field(served: ServerProcess) -> None:
    out = run(
        sys.executable,
        "-m",
        "server.cli",
        "check-login",
        *("--customer", "c-1", "--device", "d-1", "--token", "active"),
        "--ua",
        "x" * 5000,
        "--server",
        served.address,
    )
    assert out.returncode == 3 and "INVALID_ARGUMENT" in out.stderr and "user_agent" in out.stderr
    # The access log records the status the caller saw.
    rpc = [json.loads(x) for x in served.log_lines() if '"event":"rpc"' in x]
    assert rpc[-1]["code"] == "INVALID_ARGUMENT" and rpc[-1]["request_id"]


def test_releases_import_and_status_cli(tmp_path: object) -> None:
    import shutil
    from pathlib import Path

    from rules.load import BUILTIN_RULES_DIR

    rules = Path(str(tmp_path)) / "rules"
    shutil.copytree(BUILTIN_RULES_DIR, rules)
    (rules / "releases" / "firefox.json").unlink()
    feed = sorted((ROOT / "tests" / "fixtures" / "mozilla-product-details").glob("*.json"))
    out = run(
        *ANSHIN, "releases", "import", "--format", "mozilla", "--rules", str(rules), *map(str, feed)
    )
    assert out.returncode == 0, out.stderr
    assert "firefox:" in out.stdout and "written" in out.stdout
    again = run(
        *ANSHIN, "releases", "import", "--format", "mozilla", "--rules", str(rules), *map(str, feed)
    )
    assert "0 added" in again.stdout and "unchanged" in again.stdout
    status = run(
        *ANSHIN, "releases", "status", "--rules", str(rules), "--at", "2025-04-01T00:00:00Z"
    )
    firefox = [line.split() for line in status.stdout.splitlines() if line.startswith("firefox ")]
    assert firefox and firefox[0][1].startswith("2025-03-18T"), status.stdout  # the feed's as_of
    assert status.returncode == 5  # stale data: phishwall, until the bank's export is imported
