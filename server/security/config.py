"""The auth configuration file (TOML): who the callers are and their roles.

```toml
# Bearer tokens, stored as the SHA-256 of the token (hex), never the token.
[[tokens]]
identity = "hnb-ib-1"
role = "ib_server"
sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

# Client certificates (mutual TLS), by subject CN or by a SAN URI.
[[certificates]]
identity = "paypay-events"
role = "payment_app"
san_uri = "spiffe://paypay.example/anshin-client"

[[certificates]]
identity = "ops-alice"
role = "operator"
common_name = "alice.ops.anshin.example"

# Token buckets per caller identity, by role ("default" for roles not named).
[rate_limits.default]
per_second = 50
burst = 100

[rate_limits.ib_server]
per_second = 1000
burst = 2000
```

Why SHA-256 and not scrypt/argon2: the tokens are 256-bit random strings
(``anshin auth new-token``), not passwords. A slow hash protects a
low-entropy secret against guessing; nothing can guess 2^256 values, so a
fast digest is as safe here, and it lets every call be checked with one
dictionary lookup instead of ~50 ms of deliberate work (which would itself
be a denial-of-service lever).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.errors import ConfigError
from server.security.roles import Role

_IDENTITY = re.compile(r"^[A-Za-z0-9._:@/+-]{1,128}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
TOKEN_PREFIX = "anshin_"


class AuthConfigError(ConfigError):
    """The auth configuration file is invalid (every problem, one per line)."""


@dataclass(frozen=True, slots=True)
class Principal:
    identity: str
    role: Role


@dataclass(frozen=True, slots=True)
class RateLimit:
    per_second: float
    burst: float


@dataclass(frozen=True)
class AuthConfig:
    # sha256(token) hex -> principal
    tokens: Mapping[str, Principal] = field(default_factory=dict)
    by_common_name: Mapping[str, Principal] = field(default_factory=dict)
    by_san_uri: Mapping[str, Principal] = field(default_factory=dict)
    # role name or "default" -> limit; no entry and no default: unlimited
    rate_limits: Mapping[str, RateLimit] = field(default_factory=dict)
    source: str = "<memory>"

    def token_principal(self, token: str) -> Principal | None:
        return self.tokens.get(token_digest(token))

    def rate_limit(self, role: str) -> RateLimit | None:
        return self.rate_limits.get(role) or self.rate_limits.get("default")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh bearer token: 256 random bits, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def load_auth_config(path: Path) -> AuthConfig:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError as exc:
        raise AuthConfigError(f"{path}: missing") from exc
    except tomllib.TOMLDecodeError as exc:
        raise AuthConfigError(f"{path}: {exc}") from exc
    return auth_config_from_dict(data, source=str(path))


def _principal(entry: Any, where: str, problems: list[str]) -> Principal | None:
    if not isinstance(entry, dict):
        problems.append(f"{where}: must be a table")
        return None
    identity = entry.get("identity")
    role = entry.get("role")
    ok = True
    if not isinstance(identity, str) or not _IDENTITY.match(identity):
        problems.append(f"{where}.identity: 1-128 of A-Z a-z 0-9 . _ : @ / + - (got {identity!r})")
        ok = False
    if role not in {r.value for r in Role}:
        problems.append(f"{where}.role: one of {', '.join(r.value for r in Role)} (got {role!r})")
        ok = False
    return Principal(identity, Role(role)) if ok else None  # type: ignore[arg-type]


def auth_config_from_dict(data: Mapping[str, Any], *, source: str = "<memory>") -> AuthConfig:
    problems: list[str] = []
    unknown = set(data) - {"tokens", "certificates", "rate_limits"}
    if unknown:
        problems.append(f"unknown keys: {', '.join(sorted(unknown))}")

    tokens: dict[str, Principal] = {}
    for i, entry in enumerate(data.get("tokens", [])):
        where = f"tokens[{i}]"
        principal = _principal(entry, where, problems)
        digest = entry.get("sha256") if isinstance(entry, dict) else None
        if not isinstance(digest, str) or not _HEX64.match(digest):
            problems.append(f"{where}.sha256: 64 lower-case hex digits (sha256 of the token)")
            continue
        if digest in tokens:
            problems.append(f"{where}.sha256: the same token is listed twice")
            continue
        if principal is not None:
            tokens[digest] = principal

    by_cn: dict[str, Principal] = {}
    by_uri: dict[str, Principal] = {}
    for i, entry in enumerate(data.get("certificates", [])):
        where = f"certificates[{i}]"
        principal = _principal(entry, where, problems)
        if not isinstance(entry, dict):
            continue
        cn, uri = entry.get("common_name"), entry.get("san_uri")
        if (cn is None) == (uri is None):
            problems.append(f"{where}: exactly one of common_name, san_uri")
            continue
        name = cn if cn is not None else uri
        table = by_cn if cn is not None else by_uri
        if not isinstance(name, str) or not name:
            problems.append(f"{where}: the name must be a non-empty string")
            continue
        if name in table:
            problems.append(f"{where}: {name!r} is listed twice")
            continue
        if principal is not None:
            table[name] = principal

    limits: dict[str, RateLimit] = {}
    raw_limits = data.get("rate_limits", {})
    if not isinstance(raw_limits, dict):
        problems.append("rate_limits: must be a table")
        raw_limits = {}
    for name, entry in raw_limits.items():
        where = f"rate_limits.{name}"
        if name != "default" and name not in {r.value for r in Role}:
            problems.append(f"{where}: not a role (nor 'default')")
            continue
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a table with per_second and burst")
            continue
        rate, burst = entry.get("per_second"), entry.get("burst", entry.get("per_second"))
        if not isinstance(rate, int | float) or rate <= 0:
            problems.append(f"{where}.per_second: a number > 0")
            continue
        if not isinstance(burst, int | float) or burst < 1:
            problems.append(f"{where}.burst: a number >= 1")
            continue
        limits[name] = RateLimit(float(rate), float(burst))

    if problems:
        raise AuthConfigError(f"{source}:\n  " + "\n  ".join(problems))
    return AuthConfig(tokens, by_cn, by_uri, limits, source)
