"""Transport: TLS / mutual-TLS server credentials and the plaintext policy.

Plaintext is for loopback: a non-loopback address is served in plaintext,
or without an auth config, only when the operator says ``--insecure``
(e.g. TLS terminated by a sidecar on the same host), and ``serve`` warns
loudly whenever it is not fully protected.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

import grpc

from server.errors import ConfigError


class TransportConfigError(ConfigError):
    """The TLS / listen configuration is incomplete or unsafe."""


@dataclass(frozen=True, slots=True)
class Transport:
    tls_cert: Path | None = None
    tls_key: Path | None = None
    client_ca: Path | None = None

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def mutual(self) -> bool:
        return self.client_ca is not None

    def credentials(self) -> grpc.ServerCredentials | None:
        """TLS server credentials; requiring a client cert when a client CA is given."""
        if self.tls_cert is None and self.tls_key is None:
            if self.client_ca is not None:
                raise TransportConfigError("--client-ca needs --tls-cert and --tls-key")
            return None
        if self.tls_cert is None or self.tls_key is None:
            raise TransportConfigError("--tls-cert and --tls-key go together")
        try:
            cert = self.tls_cert.read_bytes()
            key = self.tls_key.read_bytes()
            ca = self.client_ca.read_bytes() if self.client_ca is not None else None
        except OSError as exc:
            raise TransportConfigError(f"cannot read TLS material: {exc}") from exc
        # gRPC either requires and verifies a client certificate or does not
        # ask for one: with a client CA, every caller presents a certificate.
        return grpc.ssl_server_credentials(
            [(key, cert)], root_certificates=ca, require_client_auth=ca is not None
        )


def is_loopback(listen: str) -> bool:
    """Whether HOST:PORT binds only the loopback interface."""
    host, _, _ = listen.rpartition(":")
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name, "0.0.0.0", "[::]", "": assume reachable


def exposure_warnings(
    listen: str, transport: Transport, has_auth: bool, insecure: bool
) -> list[str]:
    """Why this configuration is unsafe; raises when it may not be served at all."""
    loopback = is_loopback(listen)
    warnings: list[str] = []
    if not loopback and not (transport.tls and has_auth) and not insecure:
        missing = " and ".join(
            w for w, ok in (("TLS", transport.tls), ("an auth config", has_auth)) if not ok
        )
        raise TransportConfigError(
            f"refusing to serve {listen} without {missing}: give --tls-cert/--tls-key and "
            "--auth-config, listen on 127.0.0.1, or pass --insecure to accept the risk"
        )
    if not has_auth:
        warnings.append(
            "NO AUTHENTICATION: no --auth-config, every caller is admitted with EVERY role "
            "as 'anonymous (local)'"
        )
    if not transport.tls:
        warnings.append("PLAINTEXT: no --tls-cert, requests and bearer tokens travel unencrypted")
    if not loopback and warnings:
        warnings.append(f"--insecure: {listen} is reachable beyond this host")
    return warnings
