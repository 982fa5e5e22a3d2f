"""Serve the console with uvicorn inside ``anshin serve``'s event loop.

The serving process's TLS files serve the console too; with a client CA,
uvicorn requires a client certificate at the handshake exactly as gRPC does
(``CERT_REQUIRED``), and the verified certificate's CN and SAN URIs are
handed to the app (``TLS_SCOPE_KEY``) to be mapped to a caller by the auth
config. uvicorn's own signal handling is off: ``serve`` owns SIGTERM and
drains the console with the gRPC server.

The console shares the process's file descriptors with gRPC, so no client
may hold console connections without bound (a slow or half-sent request
would otherwise be kept forever): a request's headers (and body) must
arrive within ``REQUEST_SECONDS`` of the connection or of the previous
response, an idle keep-alive connection is closed after
``KEEP_ALIVE_SECONDS``, and at most :func:`connection_cap` connections are
served at once; past the cap a request is answered 503 and the connection
gets ``OVER_CAP_SECONDS`` to send it. Under TLS the handshake must end
within ``REQUEST_SECONDS`` too (asyncio's default is 60 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import resource
import ssl
from collections.abc import Iterator
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from server.security.tls import Transport

from .app import Guard
from .auth import TLS_SCOPE_KEY, cert_names

REQUEST_SECONDS = 10.0
KEEP_ALIVE_SECONDS = 5.0
OVER_CAP_SECONDS = 1.0
MAX_CONNECTIONS = 1000


def connection_cap(fd_limit: int) -> int:
    """Console connections served at once: a quarter of the process's file
    descriptors (at most ``MAX_CONNECTIONS``, at least 8), so gRPC, the
    database and the logs always keep the rest."""
    return max(8, min(MAX_CONNECTIONS, fd_limit // 4))


def fd_limit() -> int:
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


class _CertH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a deadline for each request (uvicorn
    has none: a half-sent request is otherwise held forever), handing the app
    the verified client certificate."""

    request_seconds = REQUEST_SECONDS
    over_cap_seconds = OVER_CAP_SECONDS
    _deadline: asyncio.TimerHandle | None = None

    def _arm_deadline(self, seconds: float) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.loop.call_later(seconds, self._deadline_passed)

    def _deadline_passed(self) -> None:
        self._deadline = None
        # IDLE: the request's headers are not all here; SEND_BODY: its body is
        # not. DONE means the app has it (a long replay is not cut short).
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing():
            self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_deadline(self.request_seconds)  # for the next request on this connection

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        super().connection_lost(exc)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        over_cap = self.limit_concurrency is not None and (
            len(self.connections) >= self.limit_concurrency
        )  # past the cap uvicorn answers 503: the request need not be waited for long
        self._arm_deadline(self.over_cap_seconds if over_cap else self.request_seconds)
        ssl_object = transport.get_extra_info("ssl_object")
        peercert = ssl_object.getpeercert() if ssl_object is not None else None
        if not peercert:
            return
        cns, uris = cert_names(peercert)
        app = self.app
        tls = {"cn": cns, "san_uri": uris}

        async def with_cert(scope: Any, receive: Any, send: Any) -> None:
            scope.setdefault("extensions", {})[TLS_SCOPE_KEY] = tls
            await app(scope, receive, send)

        self.app = with_cert


class _Embedded(uvicorn.Server):
    handshake_seconds = REQUEST_SECONDS

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the serve process handles signals (server/main.py)

    async def startup(self, sockets: list[Any] | None = None) -> None:
        """uvicorn's, with a deadline for the TLS handshake: uvicorn passes
        none to ``create_server``, and a connection that never finishes its
        handshake would hold a descriptor for asyncio's 60 s."""
        if self.config.ssl is None:
            await super().startup(sockets)
            return
        loop = asyncio.get_running_loop()
        bounded = functools.partial(
            type(loop).create_server, loop, ssl_handshake_timeout=self.handshake_seconds
        )
        loop.create_server = bounded  # type: ignore[method-assign]
        try:
            await super().startup(sockets)
        finally:
            del loop.create_server  # the loop's own method again


class ConsoleServer:
    def __init__(
        self,
        app: Guard,
        listen: str,
        transport: Transport,
        max_connections: int | None = None,
        request_seconds: float = REQUEST_SECONDS,
    ) -> None:
        host, _, port = listen.rpartition(":")
        options: dict[str, Any] = {}
        if transport.tls:
            options = {
                "ssl_certfile": str(transport.tls_cert),
                "ssl_keyfile": str(transport.tls_key),
            }
            if transport.client_ca is not None:
                options["ssl_ca_certs"] = str(transport.client_ca)
                options["ssl_cert_reqs"] = ssl.CERT_REQUIRED
        config = uvicorn.Config(
            app,
            host=host.strip("[]") or "127.0.0.1",
            port=int(port),
            http=type("_Protocol", (_CertH11Protocol,), {"request_seconds": request_seconds}),
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            proxy_headers=False,
            timeout_graceful_shutdown=5,
            timeout_keep_alive=int(KEEP_ALIVE_SECONDS),
            limit_concurrency=max_connections or connection_cap(fd_limit()),
            **options,
        )
        self._app = app
        self._server = _Embedded(config)
        self._server.handshake_seconds = request_seconds
        self._task: asyncio.Task[None] | None = None
        self.listen = listen

    async def start(self) -> int:
        """Start serving; the bound port (``:0`` picks one)."""
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                # uvicorn logs why (address in use, TLS files) and exits its task.
                with contextlib.suppress(SystemExit, Exception):
                    self._task.result()
                raise OSError(f"cannot serve the console on {self.listen}")
            await asyncio.sleep(0.02)
        sockets = [s for server in self._server.servers for s in server.sockets]
        return int(sockets[0].getsockname()[1]) if sockets else 0

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        runner = getattr(self._app.app, "state", None)
        if runner is not None:
            runner.replay.close()
