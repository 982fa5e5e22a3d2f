"""What the benchmark scripts share: a free port, and a real `anshin serve`
on a throw-away SQLite database, started and stopped around a measurement."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_serving(addr: str, timeout: float = 30) -> None:
    """Until the standard health service answers SERVING."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with grpc.insecure_channel(addr) as ch:
                r = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=1)
                if r.status == health_pb2.HealthCheckResponse.SERVING:
                    return
        except grpc.RpcError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server at {addr} did not come up")


@dataclass(frozen=True)
class Served:
    address: str
    db: Path


@contextmanager
def anshin_server(name: str, *extra: str, settle: float = 0.0) -> Iterator[Served]:
    """`anshin serve` on a fresh database; ``extra`` are more serve flags."""
    with tempfile.TemporaryDirectory() as tmp:
        addr = f"127.0.0.1:{free_port()}"
        db = Path(tmp) / f"{name}.db"
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "server.cli",
                "serve",
                "--listen",
                addr,
                "--db",
                f"sqlite:///{db}",
                "--log-level",
                "warning",
                *extra,
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "ANSHIN_PHONE_KEY_FILE": str(Path(tmp) / "k")},
        )
        try:
            wait_serving(addr)
            time.sleep(settle)  # with --workers N, let every worker bind
            yield Served(addr, db)
        finally:
            server.terminate()
            server.wait(timeout=30)
