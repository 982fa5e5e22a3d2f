"""How often the verdict log signs checkpoints, and under which name, is the
operator's setting (``serve --checkpoint-interval-ms / --checkpoint-every /
--log-origin``), carried through Config and StoreSettings to both backends."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from server.config import Config, ConfigError
from server.store import open_log_reader
from server.store.settings import StoreSettings
from server.store.url import open_store
from tests.store.test_log_forgery import _record


def test_the_settings_reach_the_store_settings() -> None:
    config = Config(checkpoint_interval_ms=250, checkpoint_every=7, log_origin="bank.example/log")
    s = config.store_settings()
    assert (s.checkpoint_interval_ms, s.checkpoint_every, s.log_origin) == (
        250,
        7,
        "bank.example/log",
    )
    assert StoreSettings().checkpoint_interval_ms == 1000  # the "at least every second"


@pytest.mark.parametrize(
    "bad",
    [
        {"checkpoint_interval_ms": 0},
        {"checkpoint_interval_ms": 60_001},  # longer than a minute is refused
        {"checkpoint_every": 0},
        {"log_origin": ""},
        {"log_origin": " padded"},
        {"log_origin": "two\nlines"},
    ],
)
def test_bad_settings_are_refused_at_start_up(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        Config(**bad)  # type: ignore[arg-type]


def test_boundaries_are_accepted() -> None:
    Config(checkpoint_interval_ms=1, checkpoint_every=1)
    Config(checkpoint_interval_ms=60_000, log_origin="a")


def test_every_and_origin_are_used_by_the_log(db_url: str, tmp_path: Path) -> None:
    settings = StoreSettings(checkpoint_every=3, log_origin="bank.example/anshin")
    store = open_store(db_url, log_key_file=tmp_path / "log.key", settings=settings)

    async def write() -> None:
        for i in range(1, 8):
            await store.append_verdict(_record(i))
        await store.close()

    asyncio.run(write())
    reader = open_log_reader(db_url)
    try:
        sizes = [cp.seq for cp in reader.checkpoints()]
        notes = [cp.note for cp in reader.checkpoints() if cp.note]
    finally:
        reader.close()
    # Every 3 entries (a checkpoint at 3 and 6 at least; the quiet-log one may add 7).
    assert {3, 6} <= set(sizes) and 4 not in sizes and 5 not in sizes
    assert notes and all(n.startswith("bank.example/anshin\n") for n in notes)


def test_a_quiet_log_is_checkpointed_within_the_interval(db_url: str, tmp_path: Path) -> None:
    settings = StoreSettings(checkpoint_interval_ms=200, checkpoint_every=1000)
    store = open_store(db_url, log_key_file=tmp_path / "log.key", settings=settings)

    async def write_then_wait() -> float:
        for i in range(1, 4):
            await store.append_verdict(_record(i))
        written = time.monotonic()
        deadline = written + 10
        while time.monotonic() < deadline:
            reader = open_log_reader(db_url)
            try:
                latest = reader.latest_checkpoint()
            finally:
                reader.close()
            if latest is not None and latest.seq == 3:
                return time.monotonic() - written
            await asyncio.sleep(0.05)
        raise AssertionError("the last entries were never checkpointed")

    try:
        waited = asyncio.run(write_then_wait())
    finally:
        asyncio.run(store.close())
    assert waited < 5  # a few intervals, never the old 60 s
