"""N1: the console shares the serving process's file descriptors with gRPC,
so slow or half-sent requests may not hold them: a real `anshin serve` with
a small fd limit, many connections that send half a request and stop, and a
gRPC Health check that keeps answering meanwhile."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from server.console.server import (
    KEEP_ALIVE_SECONDS,
    OVER_CAP_SECONDS,
    REQUEST_SECONDS,
    ConsoleServer,
    connection_cap,
)
from server.security.tls import Transport
from tests.conftest import RunningServer
from tests.console.conftest import auth_config, console_for
from tests.console.stack import free_port, prepare, start_serve
from tests.security.certs import CA

FD_LIMIT = 400  # the serving process's RLIMIT_NOFILE in this test
HALF = b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Drip: 1\r\n"  # no blank line: never ends


def test_the_connection_cap_leaves_most_descriptors_to_grpc() -> None:
    assert connection_cap(400) == 100 and connection_cap(20_000) == 1000
    assert connection_cap(1024) == 256 and connection_cap(10) == 8


def _closed_by_server(s: socket.socket) -> bool:
    """Whether the server has closed ``s`` (EOF or reset), without waiting."""
    s.setblocking(False)
    try:
        return s.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionError:
        return True


def _get(port: int, timeout: float = 5) -> tuple[int, float]:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        status = int(s.recv(64).split(b" ")[1])
    return status, time.monotonic() - started


def _health(address: str) -> float:
    started = time.monotonic()
    with grpc.insecure_channel(address) as ch:
        resp = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert resp.status == health_pb2.HealthCheckResponse.SERVING
    return time.monotonic() - started


def test_half_sent_requests_are_closed_in_time_and_the_cap_keeps_grpc_serving(
    tmp_path: Path,
) -> None:
    db, tokens = prepare(tmp_path / "stack")
    grpc_addr, port = f"127.0.0.1:{free_port()}", free_port()
    stack = start_serve(
        tmp_path / "stack", db, tokens, grpc_addr, f"127.0.0.1:{port}", fd_limit=FD_LIMIT
    )
    cap = connection_cap(FD_LIMIT)
    held: list[socket.socket] = []
    try:
        # Twice the cap of connections that never finish their headers: without
        # bounds they are held forever (and, many more, starve gRPC of fds).
        opened = time.monotonic()
        for _ in range(2 * cap):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(HALF)
            held.append(s)
            if len(held) % 50 == 0:
                assert _health(grpc_addr) < 2  # gRPC answers all along
        # Past the cap a full request is answered 503 at once.
        status, took = _get(port)
        assert status == 503 and took < 2
        assert _health(grpc_addr) < 2
        # Those past the cap were given OVER_CAP_SECONDS; those within it are
        # still held (the deadline has not passed) ...
        time.sleep(max(0.0, opened + OVER_CAP_SECONDS + 1.5 - time.monotonic()))
        closed = [_closed_by_server(s) for s in held]
        assert sum(closed[cap:]) >= cap - 2, sum(closed[cap:])
        assert not any(closed[: cap // 2])
        # ... until REQUEST_SECONDS after they connected: then all are closed.
        time.sleep(max(0.0, opened + REQUEST_SECONDS + 2 - time.monotonic()))
        assert all(_closed_by_server(s) for s in held)
        status, _took = _get(port)
        assert status == 200  # the console serves again
        assert _health(grpc_addr) < 2
        # An idle keep-alive connection is closed after KEEP_ALIVE_SECONDS.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            s.recv(65536)
            time.sleep(KEEP_ALIVE_SECONDS + 1)
            s.settimeout(0.5)
            rest = b""
            try:
                while chunk := s.recv(65536):
                    rest += chunk
            except TimeoutError:
                raise AssertionError("the idle connection is still open") from None
            except ConnectionError:
                pass
    finally:
        for s in held:
            s.close()
        stack.stop()


@pytest.mark.sqlite_only(reason="the transport, not the store")
async def test_a_tls_handshake_or_a_request_that_never_ends_is_closed_at_the_deadline(
    server: RunningServer, tmp_path: Path
) -> None:
    """Under TLS a connection that never finishes its handshake is closed at
    the request deadline too (asyncio's own is 60 s), and so is one whose
    request headers never end."""
    ca = CA(tmp_path, "console-ca")
    tls = ca.issue("server", common_name="localhost", server=True)
    console = console_for(server, auth_config(), tls=True)
    running = ConsoleServer(
        console.app,  # type: ignore[arg-type]
        "127.0.0.1:0",
        Transport(tls.cert, tls.key, None),
        request_seconds=1.0,
    )
    port = await running.start()
    try:
        ctx = ssl.create_default_context(cafile=str(ca.pem))
        started = time.monotonic()
        silent, _ = await asyncio.open_connection("127.0.0.1", port)  # no ClientHello at all
        half, half_writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=ctx, server_hostname="localhost"
        )
        half_writer.write(HALF)
        for reader in (silent, half):
            assert await asyncio.wait_for(reader.read(1), timeout=5) == b""  # closed by the server
        assert 1.0 <= time.monotonic() - started < 3
        async with httpx.AsyncClient(verify=ctx) as c:  # a whole request is served
            assert (await c.get(f"https://127.0.0.1:{port}/login")).status_code == 200
    finally:
        await running.stop()
