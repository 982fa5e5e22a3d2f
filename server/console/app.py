"""The console's Starlette application: routes, refusals, security headers.

Every response carries a content security policy that allows no script at
all (the pages are plain HTML forms and links, the charts server-side SVG),
styles and images from the console itself only, no framing, no referrer;
pages are ``no-store`` (they show customers' data). Refusals are pages:
401 with the login form, 403 naming the roles the page admits, CSRF and
origin failures 403, rate limits 429.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.errors import AccessDenied

from .pages.charts import charts_page
from .pages.decision import decision
from .pages.login import login_get, login_page, login_post, logout, switch_language
from .pages.replay import ReplayRunner, replay_page
from .pages.reviews import queue, resolve, resolve_form
from .pages.search import search
from .web import (
    ConsoleDeps,
    CsrfRefused,
    Forbidden,
    NeedLogin,
    Throttled,
    log,
    render,
    viewer_of,
)

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


# A loopback name and an optional port, nothing else (no userinfo, no path):
# the whole Host header must match, so ``127.0.0.1:8581@evil`` is refused.
_LOOPBACK_HOST = re.compile(r"(?:localhost|127\.0\.0\.1|\[::1\])(?::[0-9]{1,5})?", re.IGNORECASE)


def loopback_host(host: str) -> bool:
    """Whether a Host header names this machine's loopback (development mode)."""
    return _LOOPBACK_HOST.fullmatch(host) is not None


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
        if self.loopback_only and not loopback_host(Headers(scope=scope).get("host", "")):
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


async def _access_denied(request: Request, exc: Exception) -> Response:
    """A use case's own refusal, as gRPC answers it: PERMISSION_DENIED (a kind
    the role may not read: the access log) is 403 naming the roles that read
    it; nothing was read or recorded before it."""
    assert isinstance(exc, AccessDenied)
    viewer = viewer_of(request)
    if exc.status_name == "RESOURCE_EXHAUSTED":
        return await _throttled(request, Throttled(exc.retry_after or 1.0))
    if exc.status_name != "PERMISSION_DENIED":
        return await _need_login(request, NeedLogin(exc.message))
    log.warning("console_denied", path=request.url.path, caller=viewer.caller, reason=exc.message)
    return render(
        request,
        "error.html",
        403,
        viewer,
        title_key="forbidden",
        forbidden_kind=True,
        forbidden_role=viewer.role,
        forbidden_roles=", ".join(viewer.readers_of_refused_kinds()) or "-",
        message=exc.message,
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


async def _no_route(request: Request, exc: Exception) -> Response:
    """404 and 405 as console pages in the viewer's language, with the
    navigation when someone is logged in and a way back either way."""
    assert isinstance(exc, HTTPException)
    try:
        viewer = viewer_of(request)
    except NeedLogin:
        viewer = None
    key = "method_not_allowed" if exc.status_code == 405 else "not_found"
    response = render(request, "error.html", exc.status_code, viewer, title_key=key, home_link=True)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value  # 405's Allow
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
        AccessDenied: _access_denied,
        404: _no_route,
        405: _no_route,
    }
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.deps = deps
    app.state.replay = ReplayRunner()
    return Guard(app, deps.tls, loopback_only=deps.auth is None)
