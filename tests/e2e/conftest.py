"""Real `anshin serve` processes for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

ANSHIN = [sys.executable, "-m", "server.cli"]
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_serving(address: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with grpc.insecure_channel(address) as ch:
                resp = health_pb2_grpc.HealthStub(ch).Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=1
                )
                if resp.status == health_pb2.HealthCheckResponse.SERVING:
                    return
        except grpc.RpcError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"no SERVING from {address} within {timeout}s")


@dataclass
class ServerProcess:
    address: str
    db_url: str
    db_path: Path
    rules: Path
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                *ANSHIN,
                "serve",
                "--listen",
                self.address,
                "--db",
                self.db_url,
                "--rules",
                str(self.rules),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        wait_serving(self.address)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(encoding="utf-8").splitlines()


@pytest.fixture
def served(tmp_path: Path, rules_dir: Path) -> Iterator[ServerProcess]:
    db = tmp_path / "e2e.db"
    server = ServerProcess(
        f"127.0.0.1:{free_port()}", f"sqlite:///{db}", db, rules_dir, tmp_path / "server.log"
    )
    server.start()
    try:
        yield server
    finally:
        if server.proc and server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait(timeout=10)
