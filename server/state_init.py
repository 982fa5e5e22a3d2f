"""``anshin init DIR``: a complete state directory for a trial or a container.

One directory holds everything a server needs besides its code, each secret
0600 in a 0700 directory (server/state.py)::

    DIR/log-signing.key        the verdict log's Ed25519 signing key
    DIR/phone-hash.key         the phone-number hashing key
    DIR/auth.toml              one token per role, one client certificate per role
    DIR/tokens/ROLE.token      the bearer tokens themselves (only their digests are in auth.toml)
    DIR/tls/ca.crt, ca.key     a local CA
    DIR/tls/server.crt, .key   the server's certificate (localhost, 127.0.0.1, ::1, --host names)
    DIR/tls/clients/ROLE.crt, .key   a client certificate per role, for mutual TLS
    DIR/rules/                 a writable copy of the built-in rules (release-data imports)

``anshin serve --state-dir DIR`` then serves TLS with that certificate and
that auth config, the rules copy and (unless ``--db`` says otherwise)
``DIR/anshin.db``, created by ``anshin db migrate --create``. The local CA is
for trials: production certificates come from the bank's own CA.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from server.security.config import new_token, token_digest
from server.security.roles import Role
from server.state import LOG_KEY_NAME, PHONE_KEY_NAME, StateError, make_private_dir

# What `serve --state-dir DIR` picks up from DIR when its flag is not given.
AUTH_CONFIG_NAME = "auth.toml"
TLS_DIR = "tls"
RULES_DIR = "rules"
DB_NAME = "anshin.db"
CERT_DAYS = 825  # the longest validity clients such as Apple's accept for a server cert


@dataclass(frozen=True)
class StateLayout:
    """The paths inside a state directory."""

    root: Path

    @property
    def log_key(self) -> Path:
        return self.root / LOG_KEY_NAME

    @property
    def phone_key(self) -> Path:
        return self.root / PHONE_KEY_NAME

    @property
    def auth_config(self) -> Path:
        return self.root / AUTH_CONFIG_NAME

    @property
    def ca_cert(self) -> Path:
        return self.root / TLS_DIR / "ca.crt"

    @property
    def server_cert(self) -> Path:
        return self.root / TLS_DIR / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.root / TLS_DIR / "server.key"

    @property
    def rules(self) -> Path:
        return self.root / RULES_DIR

    @property
    def db(self) -> Path:
        return self.root / DB_NAME

    @property
    def db_url(self) -> str:
        """The ``--db`` a server given this state directory and no ``--db`` uses."""
        return f"sqlite:///{self.db}"

    def token(self, role: Role) -> Path:
        return self.root / "tokens" / f"{role.value}.token"

    def client_cert(self, role: Role) -> tuple[Path, Path]:
        base = self.root / TLS_DIR / "clients" / role.value
        return base.with_suffix(".crt"), base.with_suffix(".key")

    def initialised(self) -> bool:
        return self.auth_config.is_file()


def _write_private(path: Path, data: bytes) -> None:
    make_private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _write_public(path: Path, data: bytes) -> None:
    make_private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Anshin trial"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    now: dt.datetime,
    *,
    ca: bool = False,
    server_names: Sequence[str] = (),
    client: bool = False,
) -> x509.Certificate:
    issuer_name, issuer_key = issuer if issuer is not None else (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CERT_DAYS if not ca else 3650))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        ).add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]
            ),
            critical=False,
        )
    if server_names:
        sans: list[x509.GeneralName] = []
        for name in server_names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def init_state(
    root: Path, *, hosts: Sequence[str] = (), now: dt.datetime | None = None
) -> StateLayout:
    """Create a complete state directory at ``root`` (see the module docstring).

    Refuses a directory that already holds any of them: keys and certificates
    are never overwritten (a new log key would orphan the log). Other files
    (a database, a volume's lost+found) may be there.
    """
    from rules.load import BUILTIN_RULES_DIR
    from server.pii import PhoneHasher
    from server.store.chain import LogSigner

    layout = StateLayout(root)
    existing = [
        str(p)
        for p in (
            layout.log_key,
            layout.phone_key,
            layout.auth_config,
            root / TLS_DIR,
            root / "tokens",
            layout.rules,
        )
        if p.exists()
    ]
    if existing:
        raise StateError(
            f"{root} already holds {', '.join(existing)}: `anshin init` never overwrites "
            "keys or certificates (a new log key would orphan the log); use a new directory"
        )
    make_private_dir(root)
    os.chmod(root, 0o700)
    now = now or dt.datetime.now(dt.UTC)

    LogSigner.from_file(layout.log_key)  # created 0600
    PhoneHasher.from_file(layout.phone_key)  # created 0600

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate("Anshin trial CA", ca_key, None, now, ca=True)
    _write_private(layout.root / TLS_DIR / "ca.key", _key_pem(ca_key))
    _write_public(layout.ca_cert, _pem(ca_cert))
    issuer = (ca_cert.subject, ca_key)

    names = ["localhost", "127.0.0.1", "::1", *hosts]
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _certificate(names[0], server_key, issuer, now, server_names=names)
    _write_private(layout.server_key, _key_pem(server_key))
    _write_public(layout.server_cert, _pem(server_cert) + _pem(ca_cert))

    auth = [
        "# Written by `anshin init`: one caller per role, each with a bearer token",
        "# (tokens/ROLE.token; only its SHA-256 is here) and a client certificate",
        "# (tls/clients/ROLE.crt) for mutual TLS. See docs/security.md.",
        "",
    ]
    for role in Role:
        identity = f"trial-{role.value}"
        token = new_token()
        _write_private(layout.token(role), (token + "\n").encode())
        cn = f"{role.value}.trial.anshin"
        client_key = ec.generate_private_key(ec.SECP256R1())
        client_cert = _certificate(cn, client_key, issuer, now, client=True)
        crt, key = layout.client_cert(role)
        _write_private(key, _key_pem(client_key))
        _write_public(crt, _pem(client_cert))
        auth += [
            "[[tokens]]",
            f'identity = "{identity}"',
            f'role = "{role.value}"',
            f'sha256 = "{token_digest(token)}"',
            "",
            "[[certificates]]",
            f'identity = "{identity}"',
            f'role = "{role.value}"',
            f'common_name = "{cn}"',
            "",
        ]
    _write_private(layout.auth_config, "\n".join(auth).encode())

    shutil.copytree(BUILTIN_RULES_DIR, layout.rules, ignore=shutil.ignore_patterns("__pycache__"))
    for directory, dirs, _files in os.walk(layout.rules):
        os.chmod(directory, 0o700)
        for d in dirs:
            os.chmod(Path(directory) / d, 0o700)
    return layout
