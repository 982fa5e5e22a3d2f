"""``serve --refresh-releases``: the background refresh swaps release data under load.

An in-process server (as tests/conftest.py's ``server``) with a refresher
pointed at the local replay of the feeds (tests/feed_replay.py): while
CheckLogin calls run continuously, the refresh fetches bcd's 2026-12-06
data, writes the rules directory and swaps it in through the hot-reload
path. No call may fail; calls after the swap see the new rules digest and
the new data (Edge 157 on 2026-12-07: UNKNOWN "release data stale" before,
FAIL after, since the refreshed data shows Edge 158 out since 2026-11-19).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from anshin.v1 import operator_pb2, operator_pb2_grpc, posture_pb2_grpc
from rules.load import BUILTIN_RULES_DIR, load_rules
from server.refresh_task import RefreshSettings, parse_interval
from tests.conftest import FixedClock, key_files
from tests.feed_replay import FeedReplay, standard_routes
from tests.service.test_check_login_service import ts, valid_request

pytestmark = pytest.mark.sqlite_only(
    reason="the refresh swaps rules files; the store is a bystander"
)

NOW = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
EDGE_157 = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/157.0.0.0 Safari/537.36 Edg/157.0.0.0"
)


@dataclass
class Served:
    app: Any
    channel: grpc.aio.Channel
    feeds: FeedReplay
    rules_dir: Path


async def start(
    db_url: str, tmp_path: Path, rules_dir: Path, feeds: FeedReplay
) -> tuple[Any, grpc.aio.Channel]:
    from server.config import Config
    from server.main import build_app

    settings = RefreshSettings(
        interval=timedelta(hours=6),
        sources=("bcd",),
        base_urls=feeds.base_urls(),
        first_delay=0.3,
    )
    app = await build_app(
        Config(
            listen="127.0.0.1:0",
            db=db_url,
            release_refresh=settings,
            **key_files(db_url, tmp_path),  # type: ignore[arg-type]
        ),
        rules=load_rules(rules_dir),
        clock=FixedClock(NOW),
    )
    await app.server.start()
    return app, grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")


@pytest.fixture
async def served(db_url: str, tmp_path: Path, rules_dir: Path) -> AsyncIterator[Served]:
    with FeedReplay(standard_routes()) as feeds:
        app, channel = await start(db_url, tmp_path, rules_dir, feeds)
        try:
            yield Served(app, channel, feeds, rules_dir)
        finally:
            await channel.close()
            await app.stop(0)


async def login(channel: grpc.aio.Channel, n: int, i: int) -> Any:
    stub = posture_pb2_grpc.PostureServiceStub(channel)
    return await stub.CheckLogin(
        valid_request(
            customer_id=f"c{n}",
            device_id=f"d{i}",
            user_agent=EDGE_157,
            login_time=ts(NOW - timedelta(hours=1)),
        ),
        timeout=10,
    )


def latest_reason(reply: Any) -> str:
    return next(str(c.reason) for c in reply.checks if c.check_id == "browser.latest")


def counted(source: str, result: str) -> float:
    value = REGISTRY.get_sample_value(
        "anshin_release_refresh_total", {"source": source, "result": result}
    )
    return value or 0.0


async def test_background_refresh_swaps_data_under_load_without_dropping_a_call(
    served: Served,
) -> None:
    app, channel = served.app, served.channel
    first = await login(channel, 0, 0)
    before = first.rules.digest
    assert latest_reason(first) == "release_data_stale"
    updated_before = counted("bcd", "updated")

    stop = asyncio.Event()
    answered: list[tuple[str, str]] = []
    errors: list[BaseException] = []

    async def caller(n: int) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                reply = await login(channel, n, i)
                answered.append((reply.rules.digest, latest_reason(reply)))
            except BaseException as exc:  # any failure is a dropped call
                errors.append(exc)

    callers = [asyncio.create_task(caller(n)) for n in range(8)]
    try:
        app.refresher.start()  # first run 0.3 s from now, as `serve` starts it
        for _ in range(400):
            await asyncio.sleep(0.05)
            if app.rules.current.digest != before:
                break
        swapped = len(answered)
        await asyncio.sleep(0.3)  # keep calling after the swap
    finally:
        stop.set()
        await asyncio.gather(*callers)

    after = app.rules.current.digest
    assert after != before, "the refresh swapped new rules in"
    assert not errors, errors[:3]
    assert len(answered) > 50 and len(answered) > swapped
    assert {d for d, _ in answered} == {before, after}
    # Every call that started after the swap ran on the new data.
    assert answered[-1] == (after, "newer_release_past_grace")
    assert all(d == after for d, _ in answered[swapped + 8 :])  # 8: calls already in flight
    reply = await login(channel, 9, 0)
    assert reply.rules.digest == after and latest_reason(reply) == "newer_release_past_grace"
    assert any(r.startswith("edge=2026-12-06") for r in reply.rules.release_data) or (
        app.rules.current.release_as_of()["edge"] == datetime(2026, 12, 6, 9, tzinfo=UTC)
    )

    # Reported: metrics, ops status (per source and the reload it caused), health.
    assert counted("bcd", "updated") == updated_before + 1
    status = await operator_pb2_grpc.OperatorServiceStub(channel).GetStatus(
        operator_pb2.GetStatusRequest(), timeout=10
    )
    assert status.release_refresh_interval_seconds == 6 * 3600
    (bcd,) = status.release_refresh
    assert (bcd.source, bcd.result) == ("bcd", "updated")
    assert bcd.last_success_at.ToDatetime(tzinfo=UTC) == NOW
    assert status.last_reload.trigger == "refresh" and status.rules_digest == after
    health = health_pb2_grpc.HealthStub(channel)
    got = await health.Check(health_pb2.HealthCheckRequest(service="anshin.release_data"))
    # iOS / iPadOS data (as of 2026-08-17) is still stale: bcd does not carry it.
    assert got.status == health_pb2.HealthCheckResponse.NOT_SERVING
    assert app.stale_products() == ["ios", "ipados"]


async def test_a_second_refresh_is_not_modified_and_swaps_nothing(served: Served) -> None:
    app = served.app
    await app.refresher.run_once()
    digest = app.rules.current.digest
    reloads = app.reloader.last
    report = await app.refresher.run_once()
    assert [o.result for o in report.outcomes] == ["not_modified"]
    assert app.rules.current.digest == digest and app.reloader.last is reloads


async def test_a_refused_feed_keeps_serving_and_is_reported(served: Served) -> None:
    from tests.feed_replay import Reply

    app, channel = served.app, served.channel
    served.feeds.script("/bcd/data.json", Reply(b'{"__meta": {', etag='"cut"'))
    digest = app.rules.current.digest
    with capture_logs() as logs:
        await app.refresher.run_once()
    assert app.rules.current.digest == digest
    failed = [x for x in logs if x["event"] == "release_refresh_failed"]
    assert failed and failed[0]["source"] == "bcd" and failed[0]["result"] == "refused"
    status = await operator_pb2_grpc.OperatorServiceStub(channel).GetStatus(
        operator_pb2.GetStatusRequest(), timeout=10
    )
    assert status.release_refresh[0].result == "refused"
    assert "not valid JSON" in status.release_refresh[0].detail
    assert not status.release_refresh[0].HasField("last_success_at")
    assert latest_reason(await login(channel, 0, 0)) == "release_data_stale"


async def test_an_unwritable_rules_directory_is_logged_once_and_serving_goes_on(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import server.release_refresh as release_refresh

    with FeedReplay(standard_routes()) as feeds:
        # The built-in rules: never written by a refresh (the shipped data).
        app, channel = await start(db_url, tmp_path, BUILTIN_RULES_DIR, feeds)
        try:
            with capture_logs() as logs:
                assert await app.refresher.run_once() is None
                assert await app.refresher.run_once() is None
                # A read-only copy (root ignores file modes: refuse the probe instead).
                monkeypatch.setattr(release_refresh.tempfile, "mkstemp", read_only)
                app.refresher._rules_dir = lambda: tmp_path
                (tmp_path / "releases").mkdir(exist_ok=True)
                assert await app.refresher.run_once() is None
                assert await app.refresher.run_once() is None
            unavailable = [x for x in logs if x["event"] == "release_refresh_unavailable"]
            assert [x["log_level"] for x in unavailable] == ["error", "error"]
            assert "built-in rules" in unavailable[0]["error"]
            assert "Read-only file system" in unavailable[1]["error"]
            assert not feeds.seen, "nothing fetched for a directory that cannot be written"
            reply = await login(channel, 0, 0)
            assert reply.verdict_id and latest_reason(reply) == "release_data_stale"
            status = await operator_pb2_grpc.OperatorServiceStub(channel).GetStatus(
                operator_pb2.GetStatusRequest(), timeout=10
            )
            assert [(r.source, r.result) for r in status.release_refresh] == [("bcd", "error")]
        finally:
            await channel.close()
            await app.stop(0)


def read_only(**kwargs: object) -> tuple[int, str]:
    raise OSError(30, "Read-only file system")


def test_settings_from_flags_and_environment() -> None:
    assert parse_interval("6h") == timedelta(hours=6)
    assert parse_interval("30m") == timedelta(minutes=30)
    assert parse_interval("off") is None and parse_interval("") is None
    for bad in ("10s", "6 hours", "-1h"):
        with pytest.raises(ValueError):
            parse_interval(bad)
    assert RefreshSettings.resolve(env={}) is None, "off by default"
    env = {
        "ANSHIN_REFRESH_RELEASES": "1d",
        "ANSHIN_REFRESH_SOURCES": "eol,bcd",
        "ANSHIN_FEED_BASE_URLS": "bcd=https://mirror/bcd",
    }
    s = RefreshSettings.resolve(env=env)
    assert s is not None and s.interval == timedelta(days=1)
    assert s.sources == ("bcd", "eol") and s.base_urls == {"bcd": "https://mirror/bcd"}
    flags = RefreshSettings.resolve("30m", ["mozilla"], ["eol=https://m/eol"], env=env)
    assert flags is not None and flags.interval == timedelta(minutes=30)
    assert flags.sources == ("mozilla",)
    assert flags.base_urls == {"bcd": "https://mirror/bcd", "eol": "https://m/eol"}
    assert RefreshSettings.resolve(env=flags.to_env()) == flags


def test_under_workers_only_worker_0_refreshes(monkeypatch: pytest.MonkeyPatch) -> None:
    from server.refresh_task import ReleaseRefresher

    settings = RefreshSettings(interval=timedelta(hours=6))

    async def reload(trigger: str) -> None:
        return None

    def make() -> ReleaseRefresher | None:
        return ReleaseRefresher.for_app(settings, lambda: Path("."), reload, FixedClock(NOW))

    monkeypatch.delenv("ANSHIN_WORKER", raising=False)
    assert make() is not None
    monkeypatch.setenv("ANSHIN_WORKER", "0")
    assert make() is not None
    monkeypatch.setenv("ANSHIN_WORKER", "1")
    assert make() is None
    assert ReleaseRefresher.for_app(None, lambda: Path("."), reload, FixedClock(NOW)) is None
