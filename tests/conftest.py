"""Shared fixtures: a rules directory for tests and a real in-process server."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest

from rules.load import BUILTIN_RULES_DIR, RuleSet, load_rules

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """The built-in rules plus a Phishwall release history for tests.

    The shipped Phishwall file is empty until a bank imports its export
    (see docs/release-data.md); tests use fixture versions instead.
    """
    target = tmp_path / "rules"
    shutil.copytree(BUILTIN_RULES_DIR, target)
    shutil.copy(FIXTURES / "phishwall_releases.json", target / "releases" / "phishwall.json")
    return target


@pytest.fixture
def rules(rules_dir: Path) -> RuleSet:
    return load_rules(rules_dir)


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class RunningServer:
    address: str
    channel: grpc.aio.Channel
    app: object
    clock: FixedClock
    db_url: str


# A wall-clock "now" inside the shipped release data's window.
TEST_NOW = datetime(2025, 4, 10, 3, 0, tzinfo=UTC)


@pytest.fixture
async def server(tmp_path: Path, rules: RuleSet) -> AsyncIterator[RunningServer]:
    from server.app import build_app
    from server.config import Config

    clock = FixedClock(TEST_NOW)
    db_url = f"sqlite:///{tmp_path}/anshin.db"
    app = await build_app(Config(listen="127.0.0.1:0", db=db_url), rules=rules, clock=clock)
    await app.server.start()
    address = f"127.0.0.1:{app.port}"
    channel = grpc.aio.insecure_channel(address)
    try:
        yield RunningServer(address, channel, app, clock, db_url)
    finally:
        await channel.close()
        await app.stop(0)


@pytest.fixture
def stub_factory(server: RunningServer) -> Callable[[type], object]:
    return lambda stub_cls: stub_cls(server.channel)
