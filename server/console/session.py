"""The console's session cookie and CSRF tokens: pure functions of a key.

A session is who logged in (identity, role), the credential that made it
(``credential``: a keyed fingerprint of the token's digest, so deleting the
token from the auth config ends its sessions), a random session id, when it
was issued and when it was last used, sealed with HMAC-SHA256 under a key
drawn at random when the process starts (``new_session_key``). The cookie
carries no bearer token and no secret of the server: stealing it gives a
session until it expires (idle or absolute), never the token.

Why a key per process: a logged-out session id is revoked in memory, and a
revocation must never be outlived by the session it revoked. With the key
gone at every restart, so is every session made under it: nothing revoked
can come back, and nothing needs storing. The price is that a restart (a
deploy, a crash) signs everyone out of the console; certificate viewers
notice nothing, token viewers log in again.

The CSRF token of a session is HMAC(key, "csrf" + session id): nothing to
store server-side, different for every session, compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace

import orjson

# A session ends 30 minutes after its last request, and 8 hours after login
# whatever the activity: a working day's shift, as bank consoles do.
IDLE_SECONDS = 30 * 60
ABSOLUTE_SECONDS = 8 * 60 * 60


def new_session_key() -> bytes:
    """The sessions' MAC key for this process's life (see the module's docstring)."""
    return secrets.token_bytes(32)


def credential(key: bytes, token_digest: str) -> str:
    """What a session keeps of the token that made it: a fingerprint of the
    token's digest as the auth config stores it, keyed so that the cookie
    tells its holder nothing about the token (not even a verifier of it)."""
    return hmac.new(key, b"token\0" + token_digest.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Session:
    sid: str
    identity: str
    role: str
    issued: int  # unix seconds
    seen: int  # unix seconds of the last request
    # ``credential()`` of the token that logged in; "" for the sessions the
    # console makes for certificate and development viewers (CSRF only),
    # which authenticate nobody without their certificate.
    cred: str = ""

    @classmethod
    def new(cls, identity: str, role: str, now: int, cred: str = "") -> Session:
        return cls(secrets.token_urlsafe(16), identity, role, now, now, cred)

    def touched(self, now: int) -> Session:
        return replace(self, seen=now)

    def expired(self, now: int) -> bool:
        return (
            now - self.seen > IDLE_SECONDS
            or now - self.issued > ABSOLUTE_SECONDS
            or (
                self.seen > now + 60  # from the future: a clock jump or a forgery
            )
        )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(key: bytes, session: Session) -> str:
    body = _b64(
        orjson.dumps(
            {
                "sid": session.sid,
                "id": session.identity,
                "role": session.role,
                "iat": session.issued,
                "seen": session.seen,
                "cred": session.cred,
            }
        )
    )
    mac = hmac.new(key, body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def unseal(key: bytes, cookie: str, now: int) -> Session | None:
    """The session a cookie holds; None when forged, malformed or expired."""
    body, _, mac = cookie.partition(".")
    want = hmac.new(key, body.encode(), hashlib.sha256).hexdigest()
    if not mac or not hmac.compare_digest(mac, want):
        return None
    try:
        d = orjson.loads(_unb64(body))
        session = Session(
            str(d["sid"]),
            str(d["id"]),
            str(d["role"]),
            int(d["iat"]),
            int(d["seen"]),
            str(d["cred"]),
        )
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        return None
    return None if session.expired(now) else session


def csrf_token(key: bytes, sid: str) -> str:
    return hmac.new(key, b"csrf\0" + sid.encode(), hashlib.sha256).hexdigest()


def csrf_ok(key: bytes, sid: str, given: str) -> bool:
    return bool(given) and hmac.compare_digest(csrf_token(key, sid), given)
