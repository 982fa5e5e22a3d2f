"""Serve the console with uvicorn inside ``anshin serve``'s event loop.

The serving process's TLS files serve the console too; with a client CA,
uvicorn requires a client certificate at the handshake exactly as gRPC does
(``CERT_REQUIRED``), and the verified certificate's CN and SAN URIs are
handed to the app (``TLS_SCOPE_KEY``) to be mapped to a caller by the auth
config. uvicorn's own signal handling is off: ``serve`` owns SIGTERM and
drains the console with the gRPC server.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Iterator
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from server.security.tls import Transport

from .app import Guard
from .auth import TLS_SCOPE_KEY, cert_names


class _CertH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, handing the app the verified client certificate."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
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
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the serve process handles signals (server/main.py)


class ConsoleServer:
    def __init__(self, app: Guard, listen: str, transport: Transport) -> None:
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
            http=_CertH11Protocol,
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            proxy_headers=False,
            timeout_graceful_shutdown=5,
            **options,
        )
        self._app = app
        self._server = _Embedded(config)
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
