"""The console in-process, on the in-process server's store and use cases,
with an auth config of one caller per role (tests/conftest.py's ``server``
makes the data through the real gRPC API)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from server.console.app import build_console
from server.console.web import ConsoleDeps
from server.security.config import AuthConfig, auth_config_from_dict, token_digest
from server.usecases.find_verdicts import FindVerdicts
from server.usecases.prove_entry import ProveEntry
from server.usecases.reviews import Reviews
from tests.conftest import RunningServer

TOKENS = {
    "alice": ("analyst", "anshin_test_analyst_token_alice"),
    "bob": ("analyst", "anshin_test_analyst_token_bob"),
    "olga": ("operator", "anshin_test_operator_token_olga"),
    "audrey": ("auditor", "anshin_test_auditor_token_audrey"),
    "hnb-ib-1": ("ib_server", "anshin_test_ib_token_hnb"),
}
BASE = "http://console.test"


def auth_config() -> AuthConfig:
    return auth_config_from_dict(
        {
            "tokens": [
                {"identity": who, "role": role, "sha256": token_digest(token)}
                for who, (role, token) in TOKENS.items()
            ],
            "certificates": [
                {"identity": "carol", "role": "analyst", "common_name": "carol.analyst.example"}
            ],
        }
    )


@dataclass
class Console:
    deps: ConsoleDeps
    server: RunningServer
    app: object

    def client(self, base: str = BASE) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),  # type: ignore[arg-type]
            base_url=base,
            follow_redirects=False,
        )


def console_for(
    server: RunningServer,
    auth: AuthConfig | None,
    replay_dirs: tuple[Path, ...] = (),
    tls: bool = False,
) -> Console:
    app = server.app
    store = app.store  # type: ignore[attr-defined]
    rules = app.rules  # type: ignore[attr-defined]
    clock = server.clock
    deps = ConsoleDeps(
        find=FindVerdicts(store, clock),
        reviews=Reviews(store, rules, clock),
        prove=ProveEntry(store),
        store=store,
        rules=rules,
        clock=clock,
        db_url=server.db_url,
        auth=auth,
        session_key=b"k" * 32,
        replay_dirs=replay_dirs,
        tls=tls,
    )
    return Console(deps, server, build_console(deps))


@pytest.fixture
async def console(server: RunningServer) -> AsyncIterator[Console]:
    c = console_for(server, auth_config())
    yield c
    c.app.app.state.replay.close()  # type: ignore[attr-defined]


async def login(client: httpx.AsyncClient, who: str) -> None:
    """Log ``who`` in through the form, as a browser does (CSRF and Origin included)."""
    page = await client.get("/login")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    resp = await client.post(
        "/login",
        data={"csrf": csrf, "token": TOKENS[who][1], "next": "/search"},
        headers={"origin": BASE},
    )
    assert resp.status_code == 303, resp.text


def csrf_of(html: str) -> str:
    return html.split('name="csrf" value="')[1].split('"')[0]
