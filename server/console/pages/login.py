"""Log in with the gRPC bearer token, log out, switch the language.

The login form is protected like every other POST: its own origin, and a
CSRF token bound to a random pre-login cookie (double submit, signed), so
another site can neither log a browser in as someone else nor replay the
form. Failed logins are limited per client address."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.logs import get_logger
from server.security.config import token_digest

from ..session import ABSOLUTE_SECONDS, Session, credential
from ..web import (
    NeedLogin,
    check_post,
    deps_of,
    local_path,
    render,
    same_origin,
    set_session,
    viewer_of,
)

log = get_logger("anshin.console")

PRELOGIN = "anshin_prelogin"
FAILS_PER_MINUTE = 5


def prelogin_name(tls: bool) -> str:
    """The pre-login cookie, ``__Host-`` under TLS like the session cookie: a
    sibling host cannot set or overwrite it."""
    return f"__Host-{PRELOGIN}" if tls else PRELOGIN


def _prelogin_attrs(tls: bool) -> dict[str, Any]:
    # The same attributes to set and to clear, or the browser keeps the old one.
    return {"path": "/", "secure": tls, "httponly": True, "samesite": "strict"}


def _login_csrf(key: bytes, nonce: str) -> str:
    return hmac.new(key, b"login\0" + nonce.encode(), hashlib.sha256).hexdigest()


def revoke(revoked: dict[str, int], session: Session, now: int) -> None:
    """Revoke ``session``, forgetting revocations of sessions expired anyway."""
    for sid in [s for s, issued in revoked.items() if now - issued > ABSOLUTE_SECONDS]:
        del revoked[sid]
    revoked[session.sid] = session.issued


def login_page(
    request: Request, status: int = 200, message_key: str = "", next_path: str = "/"
) -> Response:
    deps = deps_of(request)
    nonce = request.cookies.get(prelogin_name(deps.tls)) or secrets.token_urlsafe(16)
    response = render(
        request,
        "login.html",
        status=status,
        viewer=None,
        login_csrf=_login_csrf(deps.session_key, nonce),
        message_key=message_key,
        next_path=local_path(next_path),
    )
    response.set_cookie(prelogin_name(deps.tls), nonce, max_age=3600, **_prelogin_attrs(deps.tls))
    return response


async def login_get(request: Request) -> Response:
    try:
        viewer_of(request)
    except NeedLogin:
        return login_page(request, next_path=request.query_params.get("next", "/"))
    return RedirectResponse(local_path(request.query_params.get("next")), status_code=303)


def _throttled(fails: deque[float], now: float) -> bool:
    while fails and now - fails[0] > 60:
        fails.popleft()
    return len(fails) >= FAILS_PER_MINUTE


async def login_post(request: Request) -> Response:
    deps = deps_of(request)
    form = await request.form()
    next_path = local_path(str(form.get("next", "/")))
    nonce = request.cookies.get(prelogin_name(deps.tls), "")
    given = str(form.get("csrf", ""))
    if (
        not same_origin(request)
        or not nonce
        or not hmac.compare_digest(_login_csrf(deps.session_key, nonce), given)
    ):
        return render(request, "error.html", 403, None, title_key="refused", message="CSRF")
    if deps.auth is None:  # development mode: nobody logs in, everyone is local
        return RedirectResponse(next_path, status_code=303)
    peer = request.client.host if request.client else "-"
    fails = deps.failed_logins.setdefault(peer, deque())
    now = time.monotonic()
    if _throttled(fails, now):
        log.warning("console_login_throttled", peer=peer)
        return login_page(request, 429, "too_many", next_path)
    digest = token_digest(str(form.get("token", "")).strip())
    principal = deps.auth.tokens.get(digest)
    if principal is None:
        fails.append(now)
        log.warning("console_login_failed", peer=peer)
        return login_page(request, 401, "bad_token", next_path)
    # The session names the token that made it: deleting the token ends it.
    cred = credential(deps.session_key, digest)
    session = Session.new(principal.identity, principal.role.value, int(time.time()), cred)
    log.info("console_login", caller=f"{principal.identity} ({principal.role.value})", peer=peer)
    response = RedirectResponse(next_path, status_code=303)
    set_session(response, deps, session)
    response.delete_cookie(prelogin_name(deps.tls), **_prelogin_attrs(deps.tls))
    return response


async def logout(request: Request) -> Response:
    deps = deps_of(request)
    viewer = viewer_of(request)
    await check_post(request, viewer)
    if viewer.session is not None:
        revoke(deps.revoked, viewer.session, int(time.time()))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(
        deps.cookie_name, path="/", secure=deps.tls, httponly=True, samesite="strict"
    )
    return response


async def switch_language(request: Request) -> Response:
    lang = request.path_params["lang"]
    response = RedirectResponse(local_path(request.query_params.get("next")), status_code=303)
    if lang in ("en", "ja"):
        response.set_cookie(
            "lang", lang, max_age=365 * 86400, path="/", secure=deps_of(request).tls, samesite="lax"
        )
    return response
