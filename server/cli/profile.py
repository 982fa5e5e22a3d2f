"""The client profile: where a client command connects, and how, when its
flags do not say.

A TOML file (``--profile-file``, else ``$ANSHIN_PROFILE_FILE``, else
``$XDG_CONFIG_HOME/anshin/profile.toml`` or ``~/.config/anshin/profile.toml``)
with one table per profile; ``--profile NAME`` (or ``$ANSHIN_PROFILE``) picks
one, default ``default``::

    [default]
    server = "anshin.bank.example:50051"
    ca = "/etc/anshin/ca.pem"          # TLS: the server's CA
    cert = "/etc/anshin/client.pem"    # mutual TLS: this client's certificate
    key = "/etc/anshin/client.key"
    server_name = "anshin.bank.example"
    token_file = "~/.config/anshin/token"

Each setting is taken from, first to last: the flag, the environment
variable (``ANSHIN_SERVER``, ``ANSHIN_CA``, ``ANSHIN_CERT``, ``ANSHIN_KEY``,
``ANSHIN_SERVER_NAME``, ``ANSHIN_TOKEN_FILE``), the profile, the default.
Relative paths in the file are relative to the file's directory.

``--plaintext`` (``ANSHIN_PLAINTEXT=1``) sets aside every TLS file, whichever
source named it (``server.cli.channel``): a profile's ``ca`` is otherwise
applied to every server, a plaintext development one included.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_SERVER = "127.0.0.1:50051"


@dataclass(frozen=True, slots=True)
class Setting:
    attr: str  # the argparse destination of its flag
    env: str
    key: str  # in the profile
    is_path: bool


SETTINGS = (
    Setting("server", "ANSHIN_SERVER", "server", False),
    Setting("ca", "ANSHIN_CA", "ca", True),
    Setting("cert", "ANSHIN_CERT", "cert", True),
    Setting("key", "ANSHIN_KEY", "key", True),
    Setting("server_name", "ANSHIN_SERVER_NAME", "server_name", False),
    Setting("auth_token_file", "ANSHIN_TOKEN_FILE", "token_file", True),
)
KEYS = frozenset(s.key for s in SETTINGS)


def default_file(env: Mapping[str, str]) -> Path:
    if env.get("ANSHIN_PROFILE_FILE"):
        return Path(env["ANSHIN_PROFILE_FILE"])
    base = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "anshin" / "profile.toml"


def read_profile(path: Path, name: str, *, required: bool) -> dict[str, Any]:
    """Profile ``name`` of ``path``; empty when the file does not exist and
    nobody asked for it by name. Unknown keys are refused (a typo would
    otherwise silently connect elsewhere)."""
    if not path.exists():
        if required:
            raise ValueError(f"profile file {path}: no such file")
        return {}
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"profile file {path}: {exc}") from None
    table = doc.get(name)
    if table is None:
        if required:
            raise ValueError(f"profile file {path}: no [{name}] table")
        return {}
    if not isinstance(table, dict):
        raise ValueError(f"profile file {path}: [{name}] must be a table")
    unknown = sorted(set(table) - KEYS)
    if unknown:
        raise ValueError(
            f"profile file {path} [{name}]: unknown {', '.join(unknown)} "
            f"(known: {', '.join(sorted(KEYS))})"
        )
    base = path.parent
    out: dict[str, Any] = {}
    for s in SETTINGS:
        if s.key in table:
            value = str(table[s.key])
            out[s.attr] = (base / Path(value).expanduser()) if s.is_path else value
    return out


def resolve(
    flags: Mapping[str, Any], env: Mapping[str, str], profile: Mapping[str, Any]
) -> dict[str, Any]:
    """Each setting by precedence: flag > environment > profile > default."""
    out: dict[str, Any] = {}
    for s in SETTINGS:
        value = flags.get(s.attr)
        if value is None and env.get(s.env):
            value = Path(env[s.env]) if s.is_path else env[s.env]
        if value is None:
            value = profile.get(s.attr)
        if value is None and s.attr == "server":
            value = DEFAULT_SERVER
        out[s.attr] = value
    return out


_PROFILE_HINT = (
    "fix the file, or name another: --profile-file (ANSHIN_PROFILE_FILE), "
    "--profile (ANSHIN_PROFILE); README, Client profile"
)


def apply(ns: Any, env: Mapping[str, str] | None = None) -> None:
    """Fill a client command's connection settings in place (after parsing)."""
    from server.cli.exit_codes import Exit
    from server.cli.failures import CommandFailed, Failure

    if not hasattr(ns, "server"):
        return  # not a client command
    env = os.environ if env is None else env
    given = [f"--{a}" for a in ("ca", "cert", "key") if getattr(ns, a, None) is not None]
    if getattr(ns, "plaintext", None) and given:
        raise CommandFailed(
            Failure(
                Exit.USAGE,
                f"--plaintext with {', '.join(given)}: a channel is TLS or not",
                "drop --plaintext to use TLS, or the TLS flags for a plaintext server",
            )
        )
    explicit_file = getattr(ns, "profile_file", None) or env.get("ANSHIN_PROFILE_FILE")
    name = getattr(ns, "profile", None) or env.get("ANSHIN_PROFILE")
    path = Path(explicit_file) if explicit_file else default_file(env)
    try:
        profile = read_profile(path, name or "default", required=bool(name or explicit_file))
    except ValueError as exc:
        raise CommandFailed(Failure(Exit.USAGE, str(exc), _PROFILE_HINT)) from None
    flags = {s.attr: getattr(ns, s.attr, None) for s in SETTINGS}
    resolved = resolve(flags, env, profile)
    # Which files the profile named (not a flag, not the environment): an error
    # reading one then names the profile too (``channel``), not just the file.
    ns.profile_named = {
        s.attr: f"profile file {path} [{name or 'default'}]: {s.key}"
        for s in SETTINGS
        if s.is_path and s.attr in profile and flags.get(s.attr) is None and not env.get(s.env)
    }
    for attr, value in resolved.items():
        setattr(ns, attr, value)
