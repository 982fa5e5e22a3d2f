"""`anshin serve` with TLS, tokens and metrics; SIGHUP reloads; the CLI clients' flags."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.conftest import create_database
from tests.e2e.conftest import ANSHIN, ROOT, free_port
from tests.security.conftest import PKI, auth_toml, tls_channel

pytestmark = pytest.mark.slow


def wait_tls_serving(address: str, ca: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with tls_channel(address, ca) as ch:
                resp = health_pb2_grpc.HealthStub(ch).Check(
                    health_pb2.HealthCheckRequest(), timeout=1
                )
                if resp.status == health_pb2.HealthCheckResponse.SERVING:
                    return
        except grpc.RpcError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"no SERVING from {address}")


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return str(r.read().decode())


def digests_in_force(text: str) -> set[str]:
    """The rules digests some process serves (value 1; a replaced one shows 0
    under `serve --workers N`, where label sets cannot be removed)."""
    return {
        line.split('"')[1]
        for line in text.splitlines()
        if line.startswith('anshin_rules_info{digest="') and line.endswith(" 1.0")
    }


def metric_digest(text: str) -> str | None:
    return min(digests_in_force(text), default=None)


def touch(rules: Path, note: str) -> None:
    p = rules / "posture.toml"
    p.write_text(p.read_text(encoding="utf-8") + f"\n# {note}\n", encoding="utf-8")


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ANSHIN, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def secured(
    tmp_path: Path, rules_dir: Path, pki: PKI, tokens: dict[str, str]
) -> Iterator[tuple[str, int, subprocess.Popen[bytes], Path]]:
    auth = tmp_path / "auth.toml"
    auth.write_text(auth_toml(tokens))
    address = f"127.0.0.1:{free_port()}"
    metrics_port = free_port()
    log = tmp_path / "server.log"
    create_database(f"sqlite:///{tmp_path}/s.db")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                *ANSHIN,
                "serve",
                "--listen",
                address,
                "--db",
                f"sqlite:///{tmp_path}/s.db",
                "--rules",
                str(rules_dir),
                "--tls-cert",
                str(pki.server.cert),
                "--tls-key",
                str(pki.server.key),
                "--auth-config",
                str(auth),
                "--metrics-listen",
                f"127.0.0.1:{metrics_port}",
                "--bulk-workers",
                "0",
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        wait_tls_serving(address, pki.ca.pem)
        yield address, metrics_port, proc, log
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_secured_serve_cli_metrics_and_sighup(
    secured: tuple[str, int, subprocess.Popen[bytes], Path],
    pki: PKI,
    tokens: dict[str, str],
    rules_dir: Path,
    tmp_path: Path,
) -> None:
    address, metrics_port, proc, log = secured
    token_file = tmp_path / "operator.token"
    token_file.write_text(tokens["operator"] + "\n")
    tls = ["--server", address, "--ca", str(pki.ca.pem)]

    # The CLI clients speak TLS and send the token.
    assert run_cli("health", *tls).stdout.strip() == "SERVING"
    status = run_cli("ops", "status", *tls, "--auth-token-file", str(token_file), "-o", "json")
    assert status.returncode == 0, status.stderr
    assert '"identity": "operator-1"' in status.stdout
    denied = run_cli("ops", "status", *tls, env={"ANSHIN_TOKEN": tokens["analyst"]})
    assert denied.returncode == 3 and "PERMISSION_DENIED" in denied.stderr
    unauth = run_cli("ops", "status", *tls)
    assert "UNAUTHENTICATED" in unauth.stderr
    plaintext = run_cli("health", "--server", address, "--timeout", "2")
    assert plaintext.returncode == 3 and "give --ca" in plaintext.stderr

    # The metrics port: requests by RPC and code, latency, release-data age.
    text = scrape(metrics_port)
    get_status = (
        'grpc_method="GetStatus",grpc_service="anshin.v1.OperatorService",grpc_type="unary"'
    )
    assert f'grpc_server_handled_total{{grpc_code="OK",{get_status}}}' in text
    assert f'grpc_server_handled_total{{grpc_code="PERMISSION_DENIED",{get_status}}}' in text
    assert "grpc_server_handling_seconds_bucket" in text
    assert 'anshin_release_data_age_seconds{product="chrome"}' in text
    assert "anshin_store_duration_seconds" in text
    first = metric_digest(text)
    assert first

    # SIGHUP reloads; a broken version is refused and the old one keeps serving.
    touch(rules_dir, "sighup")
    proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while metric_digest(scrape(metrics_port)) == first and time.monotonic() < deadline:
        time.sleep(0.1)
    second = metric_digest(scrape(metrics_port))
    assert second and second != first
    (rules_dir / "matrix" / "hnb.toml").write_text("[broken", encoding="utf-8")
    proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while "rules_reload_refused" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "rules_reload_refused" in log.read_text()
    assert "anshin_rules_reload_failures_total 1.0" in scrape(metrics_port)
    assert metric_digest(scrape(metrics_port)) == second
    assert run_cli("health", *tls).stdout.strip() == "SERVING"
    assert proc.poll() is None

    # Every access-log line names the caller.
    lines = [ln for ln in log.read_text().splitlines() if '"event":"rpc"' in ln]
    assert lines and all('"caller":"' in ln for ln in lines)
    assert any('"caller":"operator-1 (operator)"' in ln for ln in lines)
    assert any('"caller":"analyst-1 (analyst)"' in ln for ln in lines)  # denied, still named
    assert any('"caller":"unauthenticated"' in ln for ln in lines)


def test_workers_forward_sighup(tmp_path: Path, rules_dir: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    metrics_port = free_port()  # one endpoint for both workers (server/workers.py)
    create_database(f"sqlite:///{tmp_path}/w.db")
    parent = subprocess.Popen(
        [
            *ANSHIN,
            "serve",
            "--listen",
            address,
            "--db",
            f"sqlite:///{tmp_path}/w.db",
            "--rules",
            str(rules_dir),
            "--workers",
            "2",
            "--bulk-workers",
            "0",
            "--metrics-listen",
            f"127.0.0.1:{metrics_port}",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 30
        before: set[str] = set()
        while time.monotonic() < deadline and len(before) != 1:
            with contextlib.suppress(OSError):  # not listening yet
                before = digests_in_force(scrape(metrics_port))
            time.sleep(0.2)
        assert len(before) == 1
        touch(rules_dir, "workers")
        parent.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        now = before
        # The old digest leaves only once no live worker serves it any more.
        while time.monotonic() < deadline and (now & before or not now):
            time.sleep(0.2)
            now = digests_in_force(scrape(metrics_port))
        assert len(now) == 1 and not now & before, (before, now)
        assert parent.poll() is None
    finally:
        parent.send_signal(signal.SIGTERM)
        try:
            parent.wait(timeout=30)
        except subprocess.TimeoutExpired:
            parent.kill()
