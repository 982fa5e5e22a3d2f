"""Bulk ingestion's CPU work in worker processes.

Decoding, validating and judging a stream message is pure and CPU-bound,
and one Python process runs Python on one core at a time. The serving
process receives (undecoded) and writes; workers — spawned, never forked,
since gRPC must not be forked — convert messages with the same code
(``usecases.record_events.EventJudge``), the same rules directory and the
same phone-hash key, so their rows are exactly the rows the server would
have built itself. Built by the composition root (server/main.py); the use
case sees it as a ``BatchConverter``.

No input may stop bulk ingestion for anyone (issue 18):

* Only plain data crosses the process boundary: a worker answers with an
  ``Outcome`` tuple of str/int/bytes, never an exception object. A result the
  serving process cannot unpickle breaks the whole pool (the executor's
  result thread gives up on every worker), and an exception whose constructor
  does not match its ``args`` is exactly such a result.
* A broken pool (a worker killed by SIGKILL or the OOM killer, a crash in
  native code, a result it cannot send back) is replaced by a fresh one at
  once; each batch that was on it is converted again, once, alone on a
  worker of its own, so that a batch which kills its worker fails by itself
  and the others sharing the pool are converted. A batch that breaks its
  worker twice is answered UNAVAILABLE (``WorkersUnavailable``): nothing of
  it was stored, and the caller's retry is idempotent.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from rules.load import load_rules
from server.clock import from_us, to_us
from server.errors import InvalidArgument, Violation, WorkersUnavailable
from server.logs import get_logger
from server.parent_watch import watch_parent
from server.pii import PhoneHasher
from server.ruleset_holder import RulesHolder
from server.store.records import EventRow
from server.usecases.record_events import BatchResult, EventJudge, Origin

log = get_logger("anshin.bulk")

# The worker process's judge (set by its initializer).
_JUDGE: EventJudge | None = None

# Rows as plain tuples: they pickle faster than dataclass instances.
PlainRows = list[tuple[int, tuple[Any, ...]]]
Converted = tuple[PlainRows, list[tuple[int, str, str, str]], int]
# What a worker sends back, plain data only:
#   ("ok", converted)               the message's rows, rejects and event count
#   ("invalid", [(field, text)..])  the message itself is invalid (InvalidArgument)
#   ("fault", traceback text)       a bug: the serving process logs it, answers INTERNAL
Outcome = (
    tuple[Literal["ok"], Converted]
    | tuple[Literal["invalid"], list[tuple[str, str]]]
    | tuple[Literal["fault"], str]
)
# A worker's entry point: (message bytes, now in µs, origin) → Outcome. A
# module-level function, so that a spawned worker can import it by name.
WorkerFn = Callable[[bytes, int, Origin], Outcome]


def _init(rules_dir: str, phone_key: bytes, parent_pid: int) -> None:
    global _JUDGE
    # The serving process died without shutting the pool down: nobody will
    # ever send work or read a result, so leave at once.
    watch_parent(lambda: os._exit(0), parent_pid)

    # Workers never touch the store: they judge and build rows.
    _JUDGE = EventJudge(RulesHolder(load_rules(rules_dir)), PhoneHasher(phone_key))


def plain(rows_rejects_count: BatchResult) -> Converted:
    rows, rejects, count = rows_rejects_count
    plain_rows = [
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
    return plain_rows, [(o, str(e), str(c), str(m)) for o, e, c, m in rejects], count


def guarded(convert: Callable[[], BatchResult]) -> Outcome:
    """``convert()`` as an Outcome: whatever it raises becomes plain data."""
    try:
        result = convert()
    except InvalidArgument as exc:
        return ("invalid", [(str(v.field), str(v.description)) for v in exc.violations])
    except Exception:
        return ("fault", traceback.format_exc())
    return ("ok", plain(result))


def convert_in_worker(data: bytes, now_us: int, origin: Origin) -> Outcome:
    judge = _JUDGE
    assert judge is not None, "a worker process of BulkPool"
    return guarded(lambda: judge.convert_raw(data, from_us(now_us), origin))


def unpack(outcome: Outcome) -> BatchResult:
    """The batch a worker converted, or the error it reported, raised here."""
    if outcome[0] == "ok":
        rows, rejects, count = outcome[1]
        return [(i, EventRow(*t)) for i, t in rows], rejects, count
    if outcome[0] == "invalid":
        raise InvalidArgument(Violation(f, d) for f, d in outcome[1])
    raise BulkWorkerFault(outcome[1])


class BulkWorkerFault(Exception):
    """A worker failed on a batch in a way nobody expected (a bug): not a family
    of ``server.errors``, so the caller is answered INTERNAL and the worker's
    traceback (the message) is logged by the edge."""


class BulkPool:
    def __init__(
        self,
        workers: int,
        rules_dir: Path,
        phone_key: bytes,
        worker_fn: WorkerFn = convert_in_worker,
    ) -> None:
        self._workers = workers
        self._phone_key = phone_key
        self._rules_dir = rules_dir
        self._worker_fn = worker_fn
        self._executor = self._start()
        # Bumped whenever the executor is swapped: of the batches a broken
        # pool fails at once, only the first replaces it.
        self._generation = 0
        self.replacements = 0  # broken pools replaced since start (for tests and logs)
        # Batches of a broken pool are retried one at a time, on one worker
        # started at the first break and kept (see _run).
        self._retry_lock = asyncio.Lock()
        self._retry_executor: ProcessPoolExecutor | None = None

    def _start(self, workers: int | None = None) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=workers or self._workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init,
            initargs=(str(self._rules_dir), self._phone_key, os.getpid()),
        )

    def _swap(self) -> None:
        old, self._executor = self._executor, self._start()
        self._generation += 1
        old.shutdown(wait=False, cancel_futures=True)

    def reload(self, rules_dir: Path) -> None:
        """Rules were reloaded: later batches go to fresh workers that load them.

        Batches already submitted finish on the old workers, which then exit.
        """
        self._rules_dir = rules_dir
        old, self._executor = self._executor, self._start()
        self._generation += 1
        old.shutdown(wait=False)
        retry, self._retry_executor = self._retry_executor, None
        if retry is not None:
            retry.shutdown(wait=False)

    def _replace_broken(self, generation: int) -> None:
        if generation != self._generation:
            return  # another batch of the same broken pool replaced it already
        self._swap()
        self.replacements += 1
        log.warning(
            "bulk_pool_replaced",
            workers=self._workers,
            replacements=self.replacements,
            hint="a bulk worker process died (killed, out of memory, crashed); "
            "its batches are converted again on a fresh pool",
        )

    async def _run(self, raw: bytes, now_us: int, origin: Origin) -> BatchResult:
        loop = asyncio.get_running_loop()
        generation = self._generation
        try:
            outcome = await loop.run_in_executor(
                self._executor, self._worker_fn, raw, now_us, origin
            )
        except BrokenProcessPool:
            self._replace_broken(generation)
        else:
            return unpack(outcome)
        # Retried alone on a worker of its own: if this batch is what killed
        # the pool, it kills only that worker again and fails by itself, while
        # the batches that merely shared the broken pool are converted.
        async with self._retry_lock:
            retry = self._retry_executor
            if retry is None:
                retry = self._retry_executor = self._start(1)
            try:
                outcome = await loop.run_in_executor(retry, self._worker_fn, raw, now_us, origin)
            except BrokenProcessPool:
                self._retry_executor = None
                retry.shutdown(wait=False, cancel_futures=True)
                log.warning("bulk_batch_refused", hint="a batch broke its worker twice")
                raise WorkersUnavailable(
                    "bulk ingestion workers failed twice on this batch"
                ) from None
        return unpack(outcome)

    def convert(self, raw: bytes, now: datetime, origin: Origin) -> asyncio.Future[BatchResult]:
        return asyncio.ensure_future(self._run(raw, to_us(now), origin))

    def worker_pids(self) -> list[int]:
        """The live worker processes of the current pool (for operators and tests)."""
        processes = getattr(self._executor, "_processes", None) or {}
        return sorted(processes)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        if self._retry_executor is not None:
            self._retry_executor.shutdown(wait=True, cancel_futures=True)
