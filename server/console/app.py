"""The console's Starlette application: routes, refusals, security headers.

Every response carries a content security policy that allows no script at
all (the pages are plain HTML forms and links, the charts server-side SVG),
styles and images from the console itself only, no framing, no referrer;
pages are ``no-store`` (they show customers' data). Refusals are pages:
401 with the login form, 403 naming the roles the page admits, CSRF and
origin failures 403, rate limits 429.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .pages.charts import charts_page
from .pages.decision import decision
from .pages.login import login_get, login_page, login_post, logout, switch_language
from .pages.replay import ReplayRunner, replay_page
from .pages.reviews import queue, resolve, resolve_form
from .pages.search import search
from .web import ConsoleDeps, CsrfRefused, Forbidden, NeedLogin, Throttled, log, render

STATIC = Path(__file__).parent / "static"

CSP = (
    "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self'; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def security_headers(tls: bool) -> list[tuple[bytes, bytes]]:
    headers = {
        "content-security-policy": CSP,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "x-frame-options": "DENY",
        "cross-origin-opener-policy": "same-origin",
        "cross-origin-resource-policy": "same-origin",
        "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
    }
    if tls:
        headers["strict-transport-security"] = "max-age=31536000"
    return [(k.encode(), v.encode()) for k, v in headers.items()]


_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


class Guard:
    """Security headers on every response; in development mode (no auth
    config, everyone admitted) only loopback Host names are answered, so a
    page elsewhere cannot reach the console through DNS rebinding."""

    def __init__(self, app: ASGIApp, tls: bool, loopback_only: bool) -> None:
        self.app = app
        self.headers = security_headers(tls)
        self.loopback_only = loopback_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.loopback_only:
            host = Headers(scope=scope).get("host", "").lower()
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name not in _LOOPBACK_HOSTS:
                response = PlainTextResponse("console: unknown Host", status_code=421)
                await self._send_with_headers(response, scope, receive, send)
                return
        await self._send_with_headers(self.app, scope, receive, send)

    async def _send_with_headers(
        self, app: ASGIApp, scope: Scope, receive: Receive, send: Send
    ) -> None:
        path = scope.get("path", "")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                raw += self.headers
                if not path.startswith("/static/"):
                    raw.append((b"cache-control", b"no-store"))
                message["headers"] = raw
            await send(message)

        await app(scope, receive, with_headers)


async def _need_login(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NeedLogin)
    if request.method == "GET":
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return login_page(request, 401, "not_logged_in", here)
    return render(request, "error.html", 401, None, title_key="not_logged_in", message=exc.reason)


async def _forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Forbidden)
    return render(
        request,
        "error.html",
        403,
        exc.viewer,
        title_key="forbidden",
        forbidden_role=exc.viewer.role,
        forbidden_roles=", ".join(exc.viewer.admitted_roles(exc.page)) or "-",
    )


async def _csrf(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CsrfRefused)
    log.warning("console_csrf_refused", reason=exc.reason, path=request.url.path)
    return render(request, "error.html", 403, None, title_key="refused", message=exc.reason)


async def _throttled(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Throttled)
    response = render(request, "error.html", 429, None, title_key="error", message="rate limit")
    response.headers["retry-after"] = str(max(1, round(exc.retry_after)))
    return response


async def _home(request: Request) -> Response:
    return RedirectResponse("/search" + (f"?{request.url.query}" if request.url.query else ""), 303)


def build_console(deps: ConsoleDeps) -> Guard:
    routes = [
        Route("/", _home),
        Route("/search", search),
        Route("/decisions/{verdict_id}", decision),
        Route("/reviews", queue),
        Route("/reviews/{verdict_id}", resolve_form),
        Route("/reviews/{verdict_id}/resolve", resolve, methods=["POST"]),
        Route("/replay", replay_page, methods=["GET", "POST"]),
        Route("/charts", charts_page),
        Route("/login", login_get),
        Route("/login", login_post, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/lang/{lang}", switch_language),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    handlers: dict[Any, Any] = {
        NeedLogin: _need_login,
        Forbidden: _forbidden,
        CsrfRefused: _csrf,
        Throttled: _throttled,
    }
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.deps = deps
    app.state.replay = ReplayRunner()
    return Guard(app, deps.tls, loopback_only=deps.auth is None)
