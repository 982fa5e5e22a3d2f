"""What every console page shares: its dependencies, who the viewer is and
whether they may see the page, CSRF on every POST, and rendering.

A page handler starts with ``viewer = await begin(request, "search")``:
that authenticates, checks the role row of the mirrored RPC, and opens the
request context the use cases record as the caller of the read.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uuid_utils
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from server.clock import Clock
from server.logs import get_logger
from server.request_context import RequestContext, set_request
from server.ruleset_holder import RulesHolder
from server.security.config import AuthConfig
from server.security.ratelimit import RateLimiter
from server.usecases.find_verdicts import FindVerdicts
from server.usecases.prove_entry import ProveEntry
from server.usecases.reviews import Reviews

from . import i18n
from .auth import TLS_SCOPE_KEY, Unauthenticated, Viewer, identify
from .format import age, jst, short_enum, yen
from .session import IDLE_SECONDS, Session, csrf_ok, csrf_token, seal

log = get_logger("anshin.console")
TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class ConsoleDeps:
    """The serving process's objects the console uses (built by server/main.py)."""

    find: FindVerdicts
    reviews: Reviews
    prove: ProveEntry
    store: Any  # the store: resolutions_of (a REVIEW's state), record_access
    rules: RulesHolder
    clock: Clock
    db_url: str
    auth: AuthConfig | None
    session_key: bytes
    tls: bool = False
    # Candidate rules directories the replay page offers (the operator's list).
    replay_dirs: tuple[Path, ...] = ()
    # Session ids logged out -> when they were issued (pruned once expired
    # anyway). In memory: the session key dies with the process, and so does
    # every session a revocation here could concern (server/console/session.py).
    revoked: dict[str, int] = field(default_factory=dict)
    limiter: RateLimiter | None = None
    failed_logins: dict[str, deque[float]] = field(default_factory=dict)

    @property
    def cookie_name(self) -> str:
        # __Host-: the browser keeps it only if Secure, Path=/ and no Domain.
        return "__Host-anshin_session" if self.tls else "anshin_session"


class NeedLogin(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Forbidden(Exception):
    def __init__(self, viewer: Viewer, page: str) -> None:
        super().__init__(page)
        self.viewer = viewer
        self.page = page


class Throttled(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class CsrfRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def deps_of(request: Request) -> ConsoleDeps:
    deps: ConsoleDeps = request.app.state.deps
    return deps


def viewer_of(request: Request) -> Viewer:
    """Who is asking (no role check): :class:`NeedLogin` when nobody."""
    cached = getattr(request.state, "viewer", None)
    if isinstance(cached, Viewer):
        return cached
    deps = deps_of(request)
    tls = request.scope.get("extensions", {}).get(TLS_SCOPE_KEY)
    try:
        viewer = identify(
            deps.auth,
            deps.session_key,
            request.cookies.get(deps.cookie_name),
            tls,
            int(time.time()),
            deps.revoked,
        )
    except Unauthenticated as exc:
        raise NeedLogin(str(exc)) from None
    if viewer.session is None:  # a certificate or local viewer: a session for CSRF
        viewer = Viewer(
            viewer.identity,
            viewer.role,
            viewer.via,
            Session.new(viewer.identity, viewer.role, int(time.time())),
        )
    request.state.viewer = viewer
    return viewer


async def begin(request: Request, page: str) -> Viewer:
    """Authenticate, authorize by the mirrored RPC's role row, rate-limit, and
    open the request context the use cases record (``analyst_access``)."""
    viewer = viewer_of(request)
    if not viewer.may(page):
        log.warning(
            "console_denied",
            page=page,
            caller=viewer.caller,
            admits=viewer.admitted_roles(page),
            peer=_peer(request),
        )
        raise Forbidden(viewer, page)
    deps = deps_of(request)
    if deps.limiter is not None:
        retry = deps.limiter.take(viewer.identity, viewer.role)
        if retry is not None:
            raise Throttled(retry)
    set_request(
        RequestContext(
            request_id=str(uuid_utils.uuid7()),
            method=f"console {request.method} {request.url.path}",
            caller=viewer.caller,
        )
    )
    return viewer


def _peer(request: Request) -> str:
    return f"{request.client.host}:{request.client.port}" if request.client else "-"


def same_origin(request: Request) -> bool:
    """A POST from one of the console's own pages.

    ``Origin`` must be present, and either the console's own, or ``null``
    together with the browser-set, unforgeable ``Sec-Fetch-Site:
    same-origin``: under ``Referrer-Policy: no-referrer`` a browser sends
    ``Origin: null`` on a same-origin form POST (Fetch standard). A POST
    without ``Origin`` is refused whatever else it carries: every browser
    that sends ``Sec-Fetch-Site`` also sends ``Origin`` on every POST, so
    such a request is no browser's form (a client that is not a browser has
    the gRPC API), and the rule is then exactly the one documented."""
    origin = request.headers.get("origin")
    if origin is None:
        return False
    if origin != "null":
        return origin == f"{request.url.scheme}://{request.url.netloc}"
    return request.headers.get("sec-fetch-site") == "same-origin"


async def check_post(request: Request, viewer: Viewer) -> FormData:
    """The form of a POST whose origin and CSRF token are the session's own."""
    if not same_origin(request):
        raise CsrfRefused("cross-origin form post")
    form = await request.form()
    assert viewer.session is not None
    given = form.get("csrf")
    if not isinstance(given, str) or not csrf_ok(
        deps_of(request).session_key, viewer.session.sid, given
    ):
        raise CsrfRefused("missing or wrong CSRF token")
    return form


def language(request: Request) -> str:
    return i18n.pick(request.cookies.get("lang"), request.headers.get("accept-language"))


_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html", "svg"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["jst"] = jst
_env.filters["yen"] = yen
_env.filters["short"] = short_enum
_env.globals["age"] = age
_env.globals["utc"] = UTC


def render(
    request: Request,
    template: str,
    status: int = 200,
    viewer: Viewer | None = None,
    **context: Any,
) -> Response:
    lang = language(request)
    deps = deps_of(request)
    if viewer is None:
        viewer = getattr(request.state, "viewer", None)
    csrf = (
        csrf_token(deps.session_key, viewer.session.sid)
        if viewer is not None and viewer.session is not None
        else ""
    )
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    html = _env.get_template(template).render(
        t=i18n.translator(lang),
        lang=lang,
        viewer=viewer,
        csrf=csrf,
        here=here,
        local_mode=deps.auth is None,
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    if viewer is not None and viewer.session is not None:
        set_session(response, deps, viewer.session.touched(int(time.time())))
    return response


def set_session(response: Response, deps: ConsoleDeps, session: Session) -> None:
    response.set_cookie(
        deps.cookie_name,
        seal(deps.session_key, session),
        max_age=IDLE_SECONDS,
        path="/",
        secure=deps.tls,
        httponly=True,
        samesite="strict",
    )


def local_path(target: str | None, default: str = "/") -> str:
    """A redirect target that stays on the console (no scheme, no host, no //)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return default
    return target


def field_errors(violations: Sequence[Any]) -> dict[str, str]:
    """InvalidArgument's violations by field, for the form to show beside each."""
    return {v.field: v.description for v in violations}
