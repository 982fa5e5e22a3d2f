"""PKI, tokens and a server on its own thread, shared by the security tests."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest

from rules.load import BUILTIN_RULES_DIR, load_rules
from server.security.config import new_token, token_digest
from server.security.roles import Role
from tests.conftest import FIXTURES, TEST_NOW, FixedClock
from tests.security.certs import CA, Issued

T = TypeVar("T")
ROLES = [r.value for r in Role]


@dataclass
class PKI:
    ca: CA
    other_ca: CA
    server: Issued
    clients: dict[str, Issued]  # role -> cert (operator and analyst by SAN URI, others by CN)
    unmapped: Issued  # valid, but names nobody in the auth config
    expired: Issued
    wrong_ca: Issued


def cert_name(role: str) -> str:
    return f"{role.replace('_', '-')}.clients.anshin.test"


def cert_uri(role: str) -> str:
    return f"spiffe://anshin.test/{role}"


BY_URI = {"operator", "analyst"}


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    d = tmp_path_factory.mktemp("pki")
    ca = CA(d, "anshin-test-ca")
    other = CA(d, "other-ca")
    clients = {
        role: ca.issue(
            f"client-{role}",
            common_name=cert_name(role) if role not in BY_URI else f"someone-{role}",
            san_uri=cert_uri(role) if role in BY_URI else None,
        )
        for role in ROLES
    }
    return PKI(
        ca=ca,
        other_ca=other,
        server=ca.issue("server", common_name="localhost", server=True),
        clients=clients,
        unmapped=ca.issue("unmapped", common_name="nobody.clients.anshin.test"),
        expired=ca.issue("expired", common_name=cert_name("operator"), expired=True),
        wrong_ca=other.issue("wrong-ca", common_name=cert_name("ib_server")),
    )


@pytest.fixture(scope="session")
def tokens() -> dict[str, str]:
    """role -> a bearer token of the identity ``<role>-1``."""
    return {role: new_token() for role in ROLES}


def auth_toml(tokens: dict[str, str], extra: str = "") -> str:
    lines = []
    for role, token in tokens.items():
        lines += [
            "[[tokens]]",
            f'identity = "{role}-1"',
            f'role = "{role}"',
            f'sha256 = "{token_digest(token)}"',
            "",
        ]
    for role in ROLES:
        key = (
            f'san_uri = "{cert_uri(role)}"'
            if role in BY_URI
            else f'common_name = "{cert_name(role)}"'
        )
        lines += ["[[certificates]]", f'identity = "{role}-1"', f'role = "{role}"', key, ""]
    return "\n".join(lines) + extra


def make_rules_dir(target: Path) -> Path:
    shutil.copytree(BUILTIN_RULES_DIR, target)
    shutil.copy(FIXTURES / "phishwall_releases.json", target / "releases" / "phishwall.json")
    return target


class ThreadServer:
    """An app serving on its own event loop thread, so sync tests can share it."""

    def __init__(self, config: Any, rules_dir: Path) -> None:
        from server.main import build_app

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.clock = FixedClock(TEST_NOW)
        try:
            self.app = self.run(build_app(config, rules=load_rules(rules_dir), clock=self.clock))
            self.run(self.app.server.start())
        except BaseException:
            self._stop_loop()
            raise
        self.address = f"127.0.0.1:{self.app.port}"

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def _stop_loop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def stop(self) -> None:
        self.run(self.app.stop(0))
        self._stop_loop()


@pytest.fixture
def serve_thread(tmp_path: Path) -> Iterator[Any]:
    """``serve_thread(**config)``: start a server; all are stopped after the test."""
    from server.config import Config

    started: list[ThreadServer] = []

    def start(rules_dir: Path | None = None, **overrides: Any) -> ThreadServer:
        rules = rules_dir or make_rules_dir(tmp_path / f"rules-{len(started)}")
        config = Config(
            listen="127.0.0.1:0",
            db=f"sqlite:///{tmp_path}/anshin-{len(started)}.db",
            bulk_workers=0,
            **overrides,
        )
        srv = ThreadServer(config, rules)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


def tls_channel(
    address: str,
    ca: Path,
    client: Issued | None = None,
) -> grpc.Channel:
    creds = grpc.ssl_channel_credentials(
        root_certificates=ca.read_bytes(),
        private_key=client.key.read_bytes() if client else None,
        certificate_chain=client.cert.read_bytes() if client else None,
    )
    return grpc.secure_channel(address, creds)


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)
