"""In-process servers with the store settings a fault test needs (short
timeouts, so that each test takes seconds)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from rules.load import RuleSet
from tests.conftest import TEST_NOW, FixedClock, RunningServer, key_files

StartServer = Callable[..., Awaitable[RunningServer]]


@pytest.fixture
async def start_server(tmp_path: Path, rules: RuleSet) -> AsyncIterator[StartServer]:
    """``await start_server(db_url, **config)``: a served in-process app; stopped after."""
    from server.config import Config
    from server.main import build_app

    running: list[RunningServer] = []

    async def start(db_url: str, **config: Any) -> RunningServer:
        clock = FixedClock(TEST_NOW)
        app = await build_app(
            Config(listen="127.0.0.1:0", db=db_url, **key_files(db_url, tmp_path), **config),
            rules=rules,
            clock=clock,
        )
        await app.server.start()
        address = f"127.0.0.1:{app.port}"
        server = RunningServer(address, grpc.aio.insecure_channel(address), app, clock, db_url)
        running.append(server)
        return server

    yield start
    for server in running:
        await server.channel.close()
        await server.app.stop(0)  # type: ignore[attr-defined]


def log_key(db_url: str, tmp_path: Path) -> Path:
    """Where the server's log-signing key is (next to a SQLite file, else tmp_path)."""
    from server.store.url import sqlite_path

    if db_url.startswith("sqlite:"):
        return sqlite_path(db_url).parent / "log-signing.key"
    return key_files(db_url, tmp_path)["log_key_file"]
