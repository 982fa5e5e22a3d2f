"""The gate every RPC passes: authenticate, authorize by the role table, rate-limit.

The request interceptor calls :meth:`Gate.admit` before the handler runs.
Credentials are a client certificate (mutual TLS, verified by the handshake
against the client CA) or ``authorization: Bearer <token>`` metadata,
checked against the SHA-256 digests in the auth config. When both are sent
they must name the same caller; a certificate that names nobody in the
config is allowed next to a valid token (a shared "bank network" cert plus
a per-system token). A token that does not match is refused even when the
certificate is good: someone is trying something.

Without an auth config (plaintext on loopback, for development and the
tests) every caller is admitted with every role as ``anonymous (local)``;
``serve`` says so loudly at start-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

import grpc

from server.errors import AccessDenied
from server.logs import get_logger
from server.security.config import AuthConfig, Principal
from server.security.identity import ANONYMOUS, LOCAL_CALLER, Caller
from server.security.ratelimit import RateLimiter
from server.security.roles import ADMITTED, OPEN, Open, Role

log = get_logger("anshin.auth")

_NO_ROLE = "none"
_NO_CREDENTIALS = "no credentials: present a client certificate or 'authorization: Bearer <token>'"


class Denied(AccessDenied):
    """The call is refused before its handler runs (its status: server/api/status.py)."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        retry_after: float | None = None,
        caller: Caller | None = None,
    ) -> None:
        super().__init__(code.name, message, retry_after=retry_after)
        self.code = code
        self.caller = caller  # None: not authenticated


class _Unauthenticated(Exception):
    pass


def _values(ctx: Mapping[str, Iterable[bytes]], key: str) -> list[str]:
    return [v.decode("utf-8", "replace") for v in ctx.get(key, ())]


class Gate:
    def __init__(
        self,
        config: AuthConfig | None,
        *,
        table: Mapping[str, frozenset[Role] | Open] = ADMITTED,
    ) -> None:
        self.config = config
        self._table = table
        self._limiter = (
            RateLimiter(config.rate_limit) if config is not None and config.rate_limits else None
        )

    @property
    def anonymous_local(self) -> bool:
        return self.config is None

    def admit(
        self,
        method: str,
        metadata: Any,
        auth_context: Mapping[str, Iterable[bytes]],
        peer: str,
    ) -> Caller:
        """The caller, or :class:`Denied` (already logged) if the call may not run."""
        config = self.config
        if config is None:
            return LOCAL_CALLER
        rule = self._table.get(method, frozenset())
        try:
            principal = self._authenticate(config, metadata, auth_context)
        except _Unauthenticated as exc:
            if rule is OPEN:
                return Caller(ANONYMOUS, _NO_ROLE)
            self._deny(grpc.StatusCode.UNAUTHENTICATED, str(exc), method, peer, None)
        if principal is None:
            if rule is OPEN:
                return Caller(ANONYMOUS, _NO_ROLE)
            self._deny(grpc.StatusCode.UNAUTHENTICATED, _NO_CREDENTIALS, method, peer, None)
        caller = Caller(principal.identity, principal.role.value)
        if isinstance(rule, Open):
            return caller
        if principal.role not in rule:
            allowed = ", ".join(sorted(r.value for r in rule)) or "nobody"
            self._deny(
                grpc.StatusCode.PERMISSION_DENIED,
                f"{caller} may not call {method} (admits: {allowed})",
                method,
                peer,
                caller,
            )
        if self._limiter is not None:
            retry_after = self._limiter.take(principal.identity, principal.role.value)
            if retry_after is not None:
                message = f"rate limit of {caller} exceeded; retry in {retry_after:.3f}s"
                log.warning(
                    "rate_limited",
                    method=method,
                    caller=str(caller),
                    peer=peer,
                    retry_after=round(retry_after, 3),
                )
                # Answered with google.rpc.RetryInfo (AIP-194).
                raise Denied(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    message,
                    retry_after=retry_after,
                    caller=caller,
                )
        return caller

    @staticmethod
    def _deny(
        code: grpc.StatusCode, reason: str, method: str, peer: str, caller: Caller | None
    ) -> NoReturn:
        log.warning(
            "rpc_denied",
            method=method,
            code=code.name,
            reason=reason,
            peer=peer,
            caller=str(caller) if caller else None,
        )
        raise Denied(code, reason, caller=caller)

    @staticmethod
    def _authenticate(
        config: AuthConfig, metadata: Any, auth_context: Mapping[str, Iterable[bytes]]
    ) -> Principal | None:
        by_token = _token_principal(config, metadata)
        by_cert = _cert_principal(config, auth_context)
        if by_token is not None and by_cert is not None and by_token != by_cert:
            raise _Unauthenticated(
                f"the client certificate ({by_cert.identity}) and the token "
                f"({by_token.identity}) name different callers"
            )
        return by_token or by_cert


def _token_principal(config: AuthConfig, metadata: Any) -> Principal | None:
    headers = [v for k, v in metadata or () if k == "authorization"]
    if not headers:
        return None
    if len(headers) > 1:
        raise _Unauthenticated("more than one authorization header")
    value = headers[0]
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _Unauthenticated("malformed authorization header: expected 'Bearer <token>'")
    principal = config.token_principal(token)
    if principal is None:
        raise _Unauthenticated("unknown or revoked token")
    return principal


def _cert_principal(
    config: AuthConfig, auth_context: Mapping[str, Iterable[bytes]]
) -> Principal | None:
    """The principal the verified client certificate maps to (None: no cert or unmapped)."""
    if not auth_context or b"ssl" not in auth_context.get("transport_security_type", ()):
        return None
    found: set[Principal] = set()
    for cn in _values(auth_context, "x509_common_name"):
        if (p := config.by_common_name.get(cn)) is not None:
            found.add(p)
    uris = {
        *_values(auth_context, "peer_uri"),
        *_values(auth_context, "x509_subject_alternative_name"),
    }
    for uri in uris:
        if (p := config.by_san_uri.get(uri)) is not None:
            found.add(p)
    if len(found) > 1:
        names = ", ".join(sorted(p.identity for p in found))
        raise _Unauthenticated(f"the client certificate maps to several callers: {names}")
    return found.pop() if found else None
