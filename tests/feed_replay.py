"""A local HTTP server that replays recorded feed responses (tests have no internet).

``FeedReplay`` runs ``http.server`` on 127.0.0.1 in a thread. Each path has
a script: a list of :class:`Reply` played in order, the last one repeated.
A reply with an ``etag`` / ``last_modified`` answers a matching conditional
request (``If-None-Match`` / ``If-Modified-Since``) with 304, as the real
feeds do. Every request is recorded (path, query, headers) for assertions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FEEDS = Path(__file__).parent / "fixtures" / "feeds"


@dataclass(frozen=True)
class Reply:
    body: bytes = b""
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0  # seconds before answering (a server slower than the client's timeout)
    drip: float = 0.0  # seconds between single bytes of the body (a trickling server)
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Seen:
    path: str
    query: str
    headers: Mapping[str, str]


def fixture(*parts: str) -> bytes:
    return FEEDS.joinpath(*parts).read_bytes()


def standard_routes(bcd: str = "data-2026-12-06.json") -> dict[str, list[Reply]]:
    """Every source's documents, as the public feeds serve them (with validators)."""
    routes: dict[str, list[Reply]] = {
        "/bcd/data.json": [Reply(fixture("bcd", bcd), etag=f'"{bcd}"')],
        "/chrome/releases": [Reply(fixture("chrome", "page-1.json"), etag='"vh-1"')],
    }
    for token in ("token-2", "token-3"):
        page = f"page-{token[-1]}.json"
        routes[f"/chrome/releases?pageToken={token}"] = [Reply(fixture("chrome", page))]
    for name in sorted(p.name for p in (FEEDS / "mozilla").glob("*.json")):
        routes[f"/mozilla/{name}"] = [
            Reply(fixture("mozilla", name), last_modified="Tue, 18 Mar 2025 10:00:00 GMT")
        ]
    for path in sorted((FEEDS / "eol-release-data").glob("*.json")):
        routes[f"/eol-release-data/{path.name}"] = [
            Reply(path.read_bytes(), etag=f'"rd-{path.stem}"')
        ]
    for path in sorted((FEEDS / "eol").glob("*.json")):
        routes[f"/eol/{path.stem}/"] = [Reply(path.read_bytes(), etag=f'"eol-{path.stem}"')]
    return routes


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client hanging up mid-answer (timeouts, size cap) is what some tests do


class FeedReplay:
    def __init__(self, routes: Mapping[str, list[Reply]]) -> None:
        self.routes: dict[str, list[Reply]] = {k: list(v) for k, v in routes.items()}
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        replay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                replay._answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def base_urls(self) -> dict[str, str]:
        """``--base-url`` of every source, pointing here."""
        return {
            "bcd": f"{self.base}/bcd",
            "chrome": f"{self.base}/chrome/releases",
            "mozilla": f"{self.base}/mozilla",
            "eol-release-data": f"{self.base}/eol-release-data",
            "eol": f"{self.base}/eol",
        }

    def script(self, path: str, *replies: Reply) -> None:
        with self._lock:
            self.routes[path] = list(replies)

    def requests_to(self, prefix: str) -> list[Seen]:
        return [s for s in self.seen if s.path.startswith(prefix)]

    def _next(self, key: str) -> Reply | None:
        with self._lock:
            script = self.routes.get(key)
            if not script:
                return None
            return script.pop(0) if len(script) > 1 else script[0]

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        path, _, query = handler.path.partition("?")
        headers = {k.lower(): v for k, v in handler.headers.items()}
        self.seen.append(Seen(path, query, headers))
        # pageSize is the client's choice; pageToken selects the page.
        token = [q for q in query.split("&") if q.startswith("pageToken=")]
        reply = self._next(f"{path}?{token[0]}" if token else path)
        if reply is None:
            self._send(handler, Reply(b'{"error": "not found"}', status=404))
            return
        if reply.delay:
            time.sleep(reply.delay)
        if reply.status == 200 and (
            (reply.etag and headers.get("if-none-match") == reply.etag)
            or (reply.last_modified and headers.get("if-modified-since") == reply.last_modified)
        ):
            self._send(
                handler, Reply(status=304, etag=reply.etag, last_modified=reply.last_modified)
            )
            return
        self._send(handler, reply)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        try:
            handler.send_response(reply.status)
            if reply.etag:
                handler.send_header("ETag", reply.etag)
            if reply.last_modified:
                handler.send_header("Last-Modified", reply.last_modified)
            for k, v in reply.headers.items():
                handler.send_header(k, v)
            if reply.status != 304:
                handler.send_header("Content-Type", "application/json")
                if "Content-Length" not in reply.headers:
                    handler.send_header("Content-Length", str(len(reply.body)))
                else:  # promises more than it sends: hang up after the body (a cut transfer)
                    handler.close_connection = True
            handler.end_headers()
            if reply.status != 304 and reply.drip:
                import time

                for i in range(len(reply.body)):
                    handler.wfile.write(reply.body[i : i + 1])
                    handler.wfile.flush()
                    time.sleep(reply.drip)
            elif reply.status != 304:
                handler.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    def __enter__(self) -> FeedReplay:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def replay(routes: Mapping[str, list[Reply]] | None = None) -> Iterator[FeedReplay]:
    with FeedReplay(routes if routes is not None else standard_routes()) as server:
        yield server
