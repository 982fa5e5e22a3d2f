"""Real `anshin serve` processes for end-to-end tests, on each backend."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.conftest import create_database, db_rows

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


def server_env(db_url: str, directory: Path) -> dict[str, str]:
    """The environment of an `anshin serve` child: its keys kept in ``directory``
    for PostgreSQL (SQLite keeps them next to its file)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if not db_url.startswith("sqlite:"):
        env["ANSHIN_PHONE_KEY_FILE"] = str(directory / "phone-hash.key")
        env["ANSHIN_LOG_KEY_FILE"] = str(directory / "log-signing.key")
    return env


@dataclass
class ServerProcess:
    address: str
    db_url: str
    db_path: Path  # the SQLite file (PostgreSQL: unused)
    rules: Path
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A query on the server's database, whichever the backend."""
        return db_rows(self.db_url, sql, params)

    def start(self) -> None:
        """Start (or restart) the server; the database is created on first start,
        as `anshin db migrate --create` would (serve never creates one)."""
        create_database(self.db_url)
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
            env=server_env(self.db_url, self.log_path.parent),
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
def served(
    backend: str, tmp_path: Path, rules_dir: Path, request: pytest.FixtureRequest
) -> Iterator[ServerProcess]:
    db = tmp_path / "e2e.db"
    url = f"sqlite:///{db}" if backend == "sqlite" else str(request.getfixturevalue("pg_url"))
    server = ServerProcess(f"127.0.0.1:{free_port()}", url, db, rules_dir, tmp_path / "server.log")
    server.start()
    try:
        yield server
    finally:
        if server.proc and server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait(timeout=10)
