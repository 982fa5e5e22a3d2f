"""Group commit for PostgreSQL: one transaction in flight, the rest batched."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

I = TypeVar("I")  # noqa: E741


class GroupCommit(Generic[I]):
    """One transaction in flight at a time: items submitted meanwhile wait and
    are written together by the next one (``run(items) -> [(ok, value or
    error)]``, on a worker thread). A lightly loaded store writes each item
    at once.

    One, not several: every transaction costs a commit and a round of
    locking on the unique indexes whatever its size, so concurrent small
    transactions did less than one growing with the database's latency
    (events: 1.5x the events/s against four in flight, bench/events_pg.py)."""

    def __init__(
        self,
        run: Callable[[list[I]], list[tuple[bool, Any]]],
        executor: ThreadPoolExecutor,
        max_batch: int,
        size: Callable[[I], int] = lambda _: 1,
    ) -> None:
        self._run = run
        self._executor = executor
        self._max_batch = max_batch
        self._size = size
        self._pending: list[tuple[I, asyncio.Future[Any]]] = []
        self._writing = False
        self._scheduled = False

    async def submit(self, item: I) -> Any:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._pending.append((item, fut))
        if not self._scheduled and not self._writing:
            # After this loop iteration: what it submits joins this batch.
            self._scheduled = True
            loop.call_soon(self._start)
        return await fut

    def _start(self) -> None:
        self._scheduled = False
        if not self._pending or self._writing:
            return
        n, total = 0, 0
        while n < len(self._pending) and (n == 0 or total < self._max_batch):
            total += self._size(self._pending[n][0])
            n += 1
        batch, self._pending = self._pending[:n], self._pending[n:]
        self._writing = True
        asyncio.get_running_loop().create_task(self._write(batch))

    async def _write(self, batch: list[tuple[I, asyncio.Future[Any]]]) -> None:
        loop = asyncio.get_running_loop()
        items = [item for item, _ in batch]
        try:
            outcomes = await loop.run_in_executor(self._executor, self._run, items)
        except BaseException as exc:  # the batch failed as a whole
            outcomes = [(False, exc)] * len(batch)
        finally:
            self._writing = False
        for (_, fut), (ok, value) in zip(batch, outcomes, strict=True):
            if fut.done():  # the caller was cancelled; the write happened anyway
                continue
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)
        if self._pending and not self._scheduled:
            self._start()

    async def drain(self) -> None:
        """Until everything submitted was written and its callers answered."""
        while self._pending or self._writing or self._scheduled:
            await asyncio.sleep(0.005)
