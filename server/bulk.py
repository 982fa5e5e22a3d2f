"""Bulk ingestion's CPU work in worker processes.

Decoding, validating and judging a stream message is pure and CPU-bound,
and one Python process runs Python on one core at a time. The serving
process receives (undecoded) and writes; workers — spawned, never forked,
since gRPC must not be forked — convert messages with the same code
(``usecases.record_events.EventJudge``), the same rules directory and the
same phone-hash key, so their rows are exactly the rows the server would
have built itself. Built by the composition root (server/main.py); the use
case sees it as a ``BatchConverter``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from rules.load import load_rules
from server.clock import from_us, to_us
from server.parent_watch import watch_parent
from server.pii import PhoneHasher
from server.ruleset_holder import RulesHolder
from server.store.records import EventRow
from server.usecases.record_events import BatchResult, EventJudge, Origin

# The worker process's judge (set by its initializer).
_JUDGE: EventJudge | None = None

# Rows as plain tuples: they pickle faster than dataclass instances.
PlainRows = list[tuple[int, tuple[Any, ...]]]
Converted = tuple[PlainRows, list[tuple[int, str, str, str]], int]


def _init(rules_dir: str, phone_key: bytes, parent_pid: int) -> None:
    global _JUDGE
    # The serving process died without shutting the pool down: nobody will
    # ever send work or read a result, so leave at once.
    watch_parent(lambda: os._exit(0), parent_pid)

    # Workers never touch the store: they judge and build rows.
    _JUDGE = EventJudge(RulesHolder(load_rules(rules_dir)), PhoneHasher(phone_key))


def _convert(data: bytes, now_us: int, origin: Origin) -> Converted:
    assert _JUDGE is not None, "a worker process of BulkPool"
    rows, rejects, count = _JUDGE.convert_raw(data, from_us(now_us), origin)
    plain = [
        (
            i,
            (
                r.client_event_id,
                r.kind,
                r.customer_id,
                r.subject,
                r.event_us,
                r.recorded_us,
                r.fingerprint,
                r.payload,
                r.reply_head,
                r.judgements,
                r.request_id,
                r.caller,
            ),
        )
        for i, r in rows
    ]
    return plain, rejects, count


async def _rows(inner: asyncio.Future[Converted]) -> BatchResult:
    rows, rejects, count = await inner
    return [(i, EventRow(*t)) for i, t in rows], rejects, count


class BulkPool:
    def __init__(self, workers: int, rules_dir: Path, phone_key: bytes) -> None:
        self._workers = workers
        self._phone_key = phone_key
        self._executor = self._start(rules_dir)

    def _start(self, rules_dir: Path) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init,
            initargs=(str(rules_dir), self._phone_key, os.getpid()),
        )

    def reload(self, rules_dir: Path) -> None:
        """Rules were reloaded: later batches go to fresh workers that load them.

        Batches already submitted finish on the old workers, which then exit.
        """
        old, self._executor = self._executor, self._start(rules_dir)
        old.shutdown(wait=False)

    def convert(self, raw: bytes, now: datetime, origin: Origin) -> asyncio.Future[BatchResult]:
        loop = asyncio.get_running_loop()
        inner = loop.run_in_executor(self._executor, _convert, raw, to_us(now), origin)
        return asyncio.ensure_future(_rows(inner))

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
