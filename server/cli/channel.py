"""The channel every ``anshin`` client command builds, from flags or environment.

``add_server_args`` gives a client command its ``--server``, ``--timeout``
and connection-security flags; ``open_channel`` turns them into a channel.

``--ca`` (server CA, PEM) turns on TLS; ``--cert``/``--key`` add a client
certificate (mutual TLS); the bearer token comes from ``--auth-token-file``,
``ANSHIN_TOKEN_FILE``, ``ANSHIN_TOKEN`` or (visible to other local users in
the process list, so discouraged) ``--auth-token``. Without any of them the
channel is plaintext, as for a loopback development server. ``--plaintext``
(``ANSHIN_PLAINTEXT=1``) makes it plaintext whatever the environment or the
profile say (a profile's ``ca`` would otherwise apply to every server).

The PEM files are read and checked here, before gRPC sees them: gRPC would
only log a C++ line and fail the call as if the server were unreachable.

Every setting but the token itself may also come from the client profile
(``server.cli.profile``): flag > environment > profile > default.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server.cli.args import seconds
from server.cli.exit_codes import Exit
from server.cli.failures import CommandFailed, Failure
from server.cli.profile import DEFAULT_SERVER

if TYPE_CHECKING:
    import grpc


def add_server_args(
    parser: argparse.ArgumentParser,
    *,
    timeout: float | None,
    server_help: str = f"HOST:PORT (env ANSHIN_SERVER, profile, default {DEFAULT_SERVER})",
) -> None:
    """``--server`` (default ``$ANSHIN_SERVER``, the profile's, or 127.0.0.1:50051),
    ``--timeout`` in seconds (unless ``timeout`` is None) and the
    connection-security flags. ``server.cli.profile.apply`` fills the defaults."""
    parser.add_argument("--server", default=None, help=server_help)
    if timeout is not None:
        parser.add_argument("--timeout", type=seconds, default=timeout, help="seconds")
    add_client_args(parser)


def add_client_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("connection security")
    g.add_argument(
        "--plaintext",
        action="store_true",
        default=None,
        help="no TLS, whatever ANSHIN_CA/… or the profile say (env ANSHIN_PLAINTEXT=1)",
    )
    g.add_argument("--ca", type=Path, help="server CA certificate, PEM: use TLS (env ANSHIN_CA)")
    g.add_argument("--cert", type=Path, help="client certificate, PEM (env ANSHIN_CERT)")
    g.add_argument("--key", type=Path, help="client private key, PEM (env ANSHIN_KEY)")
    g.add_argument(
        "--server-name",
        help="TLS name to verify when it is not the --server host (env ANSHIN_SERVER_NAME)",
    )
    g.add_argument(
        "--auth-token-file",
        type=Path,
        help="file holding the bearer token (env ANSHIN_TOKEN_FILE, or ANSHIN_TOKEN itself)",
    )
    g.add_argument("--auth-token", help="the bearer token (prefer --auth-token-file)")
    g.add_argument(
        "--profile", help="the client profile to use (env ANSHIN_PROFILE; default: default)"
    )
    g.add_argument(
        "--profile-file",
        type=Path,
        help="client profiles, TOML (env ANSHIN_PROFILE_FILE; default ~/.config/anshin/profile.toml)",  # noqa: E501
    )


def uses_tls(ns: argparse.Namespace) -> bool:
    """Whether the channel of these flags is TLS (for the hint on a mismatch)."""
    return not plaintext(ns) and any(
        _path(ns, attr, env) is not None
        for attr, env in (("ca", "ANSHIN_CA"), ("cert", "ANSHIN_CERT"))
    )


def plaintext(ns: argparse.Namespace) -> bool:
    """``--plaintext`` or ``ANSHIN_PLAINTEXT=1``: no TLS files apply."""
    return bool(getattr(ns, "plaintext", None)) or os.environ.get("ANSHIN_PLAINTEXT") == "1"


def _path(ns: argparse.Namespace, attr: str, env: str) -> Path | None:
    if attr in _TLS_FILES and plaintext(ns):
        return None
    value = getattr(ns, attr, None)
    if value is None and os.environ.get(env):
        value = Path(os.environ[env])
    return value


def _token(ns: argparse.Namespace) -> str | None:
    if getattr(ns, "auth_token", None):
        return str(ns.auth_token)
    path = _path(ns, "auth_token_file", "ANSHIN_TOKEN_FILE")
    if path is not None:
        try:
            token = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            named = getattr(ns, "profile_named", {}).get("auth_token_file")
            if not named:
                raise  # the CLI's one explanation of a missing file names it
            raise CommandFailed(
                Failure(
                    Exit.USAGE,
                    f"{named} {path}: no such file",
                    "fix token_file in that profile, or give --auth-token-file",
                )
            ) from None
        if not token:  # it would go as "Bearer " and come back as a server refusal
            raise CommandFailed(
                Failure(
                    Exit.USAGE,
                    f"empty token file {path}",
                    "put the bearer token in it (anshin init puts them in STATE/tokens/), or name "
                    "another file: --auth-token-file, ANSHIN_TOKEN_FILE, a profile's token_file",
                )
            )
        return token
    return os.environ.get("ANSHIN_TOKEN") or None


_TLS_FILES = frozenset({"ca", "cert", "key"})

# What each PEM file must hold, as cryptography reads it; its flag and what to give.
_PEM = {
    "ca": ("--ca", "a certificate", "the server's CA certificate (PEM), e.g. a state "
           "directory's tls/ca.crt"),
    "cert": ("--cert", "a certificate", "this client's certificate (PEM)"),
    "key": ("--key", "a private key", "this client's private key (PEM, unencrypted)"),
}  # fmt: skip


def read_pem(path: Path, attr: str) -> bytes:
    """The bytes of a TLS file, refused (usage, exit 2) unless it holds what
    ``attr`` (``ca``, ``cert``, ``key``) needs."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    flag, what, give = _PEM[attr]
    data = path.read_bytes()  # a missing file: the CLI's one OSError explanation
    try:
        if attr == "key":
            serialization.load_pem_private_key(data, password=None)
        else:
            x509.load_pem_x509_certificates(data)
    except (ValueError, TypeError):
        raise CommandFailed(
            Failure(Exit.USAGE, f"{path} ({flag}): not {what} in PEM", f"give {give}")
        ) from None
    return data


def open_channel(
    ns: argparse.Namespace,
    *,
    server: str | None = None,
    options: Sequence[tuple[str, Any]] = (),
) -> grpc.Channel:
    """A channel to ``server`` (default ``ns.server``) secured as the flags say."""
    import grpc  # here: every client command imports this module, not all open a channel

    from server.cli.bearer import BearerInterceptor, BearerToken

    address = server or ns.server or DEFAULT_SERVER
    ca = _path(ns, "ca", "ANSHIN_CA")
    cert = _path(ns, "cert", "ANSHIN_CERT")
    key = _path(ns, "key", "ANSHIN_KEY")
    name = getattr(ns, "server_name", None) or os.environ.get("ANSHIN_SERVER_NAME")
    token = _token(ns)
    opts = list(options)
    if (cert is None) != (key is None):
        given, missing = ("--cert", "--key") if key is None else ("--key", "--cert")
        raise CommandFailed(
            Failure(
                Exit.USAGE,
                f"{given} without {missing}: mutual TLS needs both",
                f"give {missing} too (env ANSHIN_CERT/ANSHIN_KEY, or the profile's cert/key), "
                f"or drop {given}",
            )
        )
    if ca is None and cert is None:
        channel = grpc.insecure_channel(address, options=opts)
        if token is not None:
            channel = grpc.intercept_channel(channel, BearerInterceptor(token))
        return channel
    creds = grpc.ssl_channel_credentials(
        root_certificates=read_pem(ca, "ca") if ca is not None else None,
        private_key=read_pem(key, "key") if key is not None else None,
        certificate_chain=read_pem(cert, "cert") if cert is not None else None,
    )
    if token is not None:
        creds = grpc.composite_channel_credentials(
            creds, grpc.metadata_call_credentials(BearerToken(token))
        )
    if name:
        opts.append(("grpc.ssl_target_name_override", name))
    return grpc.secure_channel(address, creds, options=opts)
