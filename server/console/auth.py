"""Who is looking at a console page, and whether their role may see it.

Credentials, as on the gRPC side (server/security/auth.py), from the same
auth config:

* a client certificate (mutual TLS: uvicorn requires one that chains to the
  client CA whenever gRPC does) mapped by its subject CN or SAN URI;
* else a session made by the login form from the same bearer token gRPC
  takes (server/console/session.py), honoured only while that token is in
  the config, naming the same caller (``token_session_holds``);
* without an auth config (``make run``'s plaintext loopback development
  mode) everyone is ``anonymous (local)`` with every role, as on gRPC; the
  console then answers only requests whose Host is a loopback name, so a
  web page cannot reach it through DNS rebinding.

Each page is admitted by the row of the RPC it mirrors in the one role
table (``PAGE_RPC``): a page never admits a role its RPC refuses.
"""

from __future__ import annotations

import hmac
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from server.security.config import AuthConfig, Principal
from server.security.identity import ANONYMOUS, LOCAL_ROLE, format_caller
from server.security.roles import READERS_OF_KIND, Open, admitted, kind_refusal

from .session import Session, credential, unseal

_SVC = "/anshin.v1.VerdictLogService/"
# Console page -> the RPC whose role-table row admits it. Replay and the
# charts read the logged decisions (their inputs) as QueryVerdicts does.
PAGE_RPC: Mapping[str, str] = {
    "search": _SVC + "QueryVerdicts",
    "decision": _SVC + "GetVerdict",
    "reviews": _SVC + "ListReviews",
    "resolve": _SVC + "ResolveReview",
    "replay": _SVC + "QueryVerdicts",
    "charts": _SVC + "QueryVerdicts",
}

TLS_SCOPE_KEY = "anshin.tls"  # scope["extensions"][...]: the verified client certificate


@dataclass(frozen=True, slots=True)
class Viewer:
    identity: str
    role: str  # a Role value, or "local" (anonymous development mode: every role)
    via: str  # "certificate" | "session" | "local"
    session: Session | None = None

    @property
    def caller(self) -> str:
        return format_caller(self.identity, self.role)

    def may(self, page: str) -> bool:
        if self.role == LOCAL_ROLE:
            return True
        rule = admitted(PAGE_RPC[page])
        if isinstance(rule, Open):
            return True
        return self.role in {r.value for r in rule}

    def admitted_roles(self, page: str) -> list[str]:
        rule = admitted(PAGE_RPC[page])
        return [] if isinstance(rule, Open) else sorted(r.value for r in rule)

    def reads(self, kind: str) -> bool:
        """Whether this viewer may read entries of ``kind`` (the access log: auditors)."""
        return kind_refusal(self.role, kind) is None

    def readers_of_refused_kinds(self) -> list[str]:
        """The roles that read the kinds this viewer may not: who a refused read admits."""
        return sorted(
            {
                r.value
                for kind, roles in READERS_OF_KIND.items()
                if not self.reads(kind)
                for r in roles
            }
        )


class Unauthenticated(Exception):
    """No credentials, or credentials that name nobody (or two different callers)."""


def cert_names(peercert: Mapping[str, Any] | None) -> tuple[list[str], list[str]]:
    """(subject CNs, SAN URIs) of a verified peer certificate (``ssl.getpeercert()``)."""
    if not peercert:
        return [], []
    cns = [
        value for rdn in peercert.get("subject", ()) for key, value in rdn if key == "commonName"
    ]
    uris = [value for kind, value in peercert.get("subjectAltName", ()) if kind == "URI"]
    return cns, uris


def cert_principal(config: AuthConfig, cns: Sequence[str], uris: Sequence[str]) -> Principal | None:
    found = {p for cn in cns if (p := config.by_common_name.get(cn)) is not None}
    found |= {p for uri in uris if (p := config.by_san_uri.get(uri)) is not None}
    if len(found) > 1:
        names = ", ".join(sorted(p.identity for p in found))
        raise Unauthenticated(f"the client certificate maps to several callers: {names}")
    return found.pop() if found else None


def token_session_holds(config: AuthConfig, key: bytes, session: Session) -> bool:
    """Whether the token that made ``session`` is still in the config, naming
    the same caller: a session outlives nothing it was made from (deleting
    the token ends it even when a certificate entry names the same caller)."""
    if not session.cred:
        return False
    return any(
        (p.identity, p.role.value) == (session.identity, session.role)
        and hmac.compare_digest(credential(key, digest), session.cred)
        for digest, p in config.tokens.items()
    )


def identify(
    config: AuthConfig | None,
    key: bytes,
    cookie: str | None,
    tls: Mapping[str, Sequence[str]] | None,
    now: int,
    revoked: Container[str] = frozenset(),
) -> Viewer:
    """The viewer of a request, or :class:`Unauthenticated`."""
    session = unseal(key, cookie, now) if cookie else None
    if session is not None and session.sid in revoked:
        session = None
    if config is None:  # development mode: the session only carries the CSRF secret
        if session is not None and (session.identity, session.role) != (ANONYMOUS, LOCAL_ROLE):
            session = None
        return Viewer(ANONYMOUS, LOCAL_ROLE, "local", session)
    if session is not None and session.cred and not token_session_holds(config, key, session):
        session = None  # its token was deleted from the config, or names another caller now
    by_cert = None
    if tls:
        by_cert = cert_principal(config, tls.get("cn", ()), tls.get("san_uri", ()))
    if by_cert is not None:
        if session is not None and (session.identity, session.role) != (
            by_cert.identity,
            by_cert.role.value,
        ):
            if session.cred:  # a login of someone else beside this certificate
                raise Unauthenticated(
                    f"the client certificate ({by_cert.identity}) and the session "
                    f"({session.identity}) name different callers"
                )
            session = None  # an earlier certificate viewer's CSRF session: stale
        return Viewer(by_cert.identity, by_cert.role.value, "certificate", session)
    if session is None or not session.cred:  # a certificate's session needs the certificate
        raise Unauthenticated("not logged in")
    return Viewer(session.identity, session.role, "session", session)
