"""``serve --refresh-releases INTERVAL``: refresh the release feeds in the background.

Every INTERVAL (the first run a short delay after start, later ones with a
little jitter so a fleet does not hit the feeds in step) the server runs the
same refresh as ``anshin releases refresh`` (server/release_refresh.py) on
its own rules directory, in a worker thread so the event loop keeps
answering. When a product file changed, the rules are swapped in through the
hot-reload path (``RulesReloader.reload("refresh")``: load, validate,
atomic swap, then the release-data health status is recomputed), so no call
is dropped and none sees half of a change.

What an operator sees: a log line per source that was refused or failed, the
counters ``anshin_release_refresh_total{source,result}`` and the gauge
``anshin_release_refresh_last_success_timestamp_seconds{source}``, and each
source's last attempt in ``anshin ops status`` (``release_refresh``).

A rules directory the server cannot write (the built-in rules, a read-only
mount) is logged as an error **once** and the server keeps serving its data
(the health status turns NOT_SERVING when it goes stale, as without a
refresh). Under ``serve --workers N`` only worker 0 refreshes; after a change
it signals the parent, which has every worker reload (as ``ops reload`` does).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from google.protobuf.timestamp_pb2 import Timestamp

from anshin.v1 import operator_pb2
from server import metrics
from server.clock import Clock, system_clock
from server.feed_http import FeedFetcher
from server.logs import get_logger
from server.release_refresh import (
    BASE_URLS_ENV,
    RefreshError,
    RefreshReport,
    SourceOutcome,
    parse_base_urls,
    refresh_releases,
    resolve_sources,
)

__all__ = [
    "INTERVAL_ENV",
    "SOURCES_ENV",
    "RefreshSettings",
    "ReleaseRefresher",
    "parse_interval",
    "runs_in_this_process",
]

log = get_logger("anshin.release_refresh")

INTERVAL_ENV: Final = "ANSHIN_REFRESH_RELEASES"
SOURCES_ENV: Final = "ANSHIN_REFRESH_SOURCES"
#: Public feeds are polled, not hammered: a shorter interval is refused.
MIN_INTERVAL: Final = timedelta(minutes=1)
_INTERVAL: Final = re.compile(r"^\s*([0-9]+)\s*([smhd])\s*$")
_UNITS: Final = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_interval(text: str) -> timedelta | None:
    """``6h``, ``30m``, ``90s``, ``1d`` -> timedelta; ``off`` / ``0`` / empty -> None (off)."""
    if text.strip().lower() in ("", "0", "off", "no", "false"):
        return None
    match = _INTERVAL.match(text.lower())
    if match is None:
        raise ValueError(f"refresh interval {text!r}: expected e.g. 6h, 30m, 1d (or off)")
    interval = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if interval < MIN_INTERVAL:
        raise ValueError(f"refresh interval {text!r}: at least {MIN_INTERVAL}")
    return interval


@dataclass(frozen=True, slots=True)
class RefreshSettings:
    """What ``serve --refresh-releases`` was told (flags, else environment)."""

    interval: timedelta
    sources: tuple[str, ...] = ()  # empty: every source
    base_urls: Mapping[str, str] = field(default_factory=dict)
    first_delay: float = 60.0  # seconds after start: let the server settle first
    jitter: float = 0.1  # +-10% of the interval

    @classmethod
    def resolve(
        cls,
        interval: str | None = None,
        sources: Sequence[str] | None = None,
        base_urls: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> RefreshSettings | None:
        """Flags win over ``ANSHIN_REFRESH_RELEASES`` / ``ANSHIN_REFRESH_SOURCES`` /
        ``ANSHIN_FEED_BASE_URLS``; None when no interval is set (off, the default)."""
        env = os.environ if env is None else env
        raw = interval if interval is not None else env.get(INTERVAL_ENV, "")
        every = parse_interval(raw)
        if every is None:
            return None
        names = resolve_sources(list(sources) if sources else [env.get(SOURCES_ENV, "")])
        bases = parse_base_urls([env.get(BASE_URLS_ENV, ""), *(base_urls or ())])
        return cls(every, names, bases)

    def to_env(self) -> dict[str, str]:
        """The same settings for a ``serve --workers N`` child (which reads the environment)."""
        seconds = int(self.interval.total_seconds())
        return {
            INTERVAL_ENV: f"{seconds}s",
            SOURCES_ENV: ",".join(self.sources),
            BASE_URLS_ENV: ",".join(f"{k}={v}" for k, v in sorted(self.base_urls.items())),
        }


def runs_in_this_process() -> bool:
    """Under ``serve --workers N`` only worker 0 refreshes (one writer per directory)."""
    return os.environ.get("ANSHIN_WORKER") in (None, "0")


@dataclass(frozen=True, slots=True)
class SourceStatus:
    last: SourceOutcome
    last_success_at: datetime | None


Refresh = Callable[[Path], RefreshReport]


class ReleaseRefresher:
    """The background loop; ``run_once`` is one refresh (tests call it directly too)."""

    @classmethod
    def for_app(
        cls,
        settings: RefreshSettings | None,
        rules_dir: Callable[[], Path],
        reload: Callable[[str], Awaitable[Any]],
        clock: Clock,
    ) -> ReleaseRefresher | None:
        """The app's refresher: None when off, or in a worker other than worker 0."""
        if settings is None or not runs_in_this_process():
            return None
        return cls(settings, rules_dir, reload, clock=clock)

    def __init__(
        self,
        settings: RefreshSettings,
        rules_dir: Callable[[], Path],
        reload: Callable[[str], Awaitable[Any]],
        *,
        clock: Clock = system_clock,
        refresh: Refresh | None = None,
    ) -> None:
        self.settings = settings
        self._rules_dir = rules_dir
        self._reload = reload
        self._clock = clock
        self._refresh = refresh or self._default_refresh
        self._task: asyncio.Task[None] | None = None
        self._unavailable: str | None = None  # logged once until it changes or clears
        self.status: dict[str, SourceStatus] = {}
        self.runs = 0

    def _default_refresh(self, rules_dir: Path) -> RefreshReport:
        with FeedFetcher() as fetcher:
            return refresh_releases(
                rules_dir,
                sources=self.settings.sources or None,
                base_urls=self.settings.base_urls,
                fetcher=fetcher,
                now=self._clock,
            )

    # -- the loop -------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="release-refresh")
            log.info(
                "release_refresh_started",
                interval_seconds=self.settings.interval.total_seconds(),
                sources=list(self.settings.sources) or "all",
            )

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        delay = self.settings.first_delay
        while True:
            await asyncio.sleep(delay)
            try:
                await self.run_once()
            except Exception as exc:  # the loop outlives any one failure
                log.error("release_refresh_crashed", error=f"{type(exc).__name__}: {exc}")
            spread = self.settings.jitter * (2 * random.random() - 1)
            delay = self.settings.interval.total_seconds() * (1 + spread)

    async def run_once(self) -> RefreshReport | None:
        """One refresh; swaps the rules in if a file changed. None: could not run."""
        self.runs += 1
        rules_dir = Path(self._rules_dir())
        try:
            report = await asyncio.to_thread(self._refresh, rules_dir)
        except RefreshError as exc:
            self._cannot_run(str(exc))
            return None
        if self._unavailable is not None:
            log.info("release_refresh_available", directory=str(rules_dir))
            self._unavailable = None
        for outcome in report.outcomes:
            self._record(outcome)
        if report.written:
            await self._reload("refresh")
            if os.environ.get("ANSHIN_WORKER") is not None:
                # `serve --workers N`: the parent has every worker reload.
                os.kill(os.getppid(), signal.SIGHUP)
        return report

    def _cannot_run(self, why: str) -> None:
        if why != self._unavailable:
            log.error(
                "release_refresh_unavailable",
                error=why,
                hint="serving the release data in force; it goes stale without a refresh",
            )
            self._unavailable = why
        at = self._clock()
        for name in self.settings.sources or resolve_sources(None):
            self._record(SourceOutcome(name, "error", at, why), quiet=True)

    def _record(self, outcome: SourceOutcome, *, quiet: bool = False) -> None:
        metrics.RELEASE_REFRESHES.labels(outcome.source, outcome.result).inc()
        previous = self.status.get(outcome.source)
        success = outcome.at if outcome.ok else (previous.last_success_at if previous else None)
        if outcome.ok:
            metrics.RELEASE_REFRESH_LAST_SUCCESS.labels(outcome.source).set(outcome.at.timestamp())
        self.status[outcome.source] = SourceStatus(outcome, success)
        if quiet:
            return
        fields = {"source": outcome.source, "result": outcome.result, "detail": outcome.detail}
        if outcome.ok:
            log.info(
                "release_refresh",
                **fields,
                written=[p.product for p in outcome.products if p.written],
            )
        else:
            log.error("release_refresh_failed", **fields)

    # -- ops status -----------------------------------------------------------------

    def operator_status(self) -> tuple[list[operator_pb2.ReleaseRefresh], int]:
        """For ``OperatorService/GetStatus``: the last attempt per feed, the interval."""
        return self.status_messages(), int(self.settings.interval.total_seconds())

    def status_messages(self) -> list[operator_pb2.ReleaseRefresh]:
        out = []
        for name, s in sorted(self.status.items()):
            msg = operator_pb2.ReleaseRefresh(
                source=name, result=s.last.result, detail=s.last.detail, at=_ts(s.last.at)
            )
            if s.last_success_at is not None:
                msg.last_success_at.CopyFrom(_ts(s.last_success_at))
            out.append(msg)
        return out


def _ts(dt: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(dt)
    return ts
