"""An empty CheckLogin handler that first makes one durable append: a floor.

The login check must store its verdict durably before it replies (issue 2),
so no implementation of it can be faster than "append one record, wait for
its commit, reply". This server does only that, with no validation, no
evaluation and no access log, so ``bench/checklogin_floor.py`` can show how
much of the empty handler's throughput the durable write alone leaves:

* ``--log minimal``: the least any durable log costs. One SQLite table with
  an integer key, WAL, ``synchronous=FULL``, one writer thread committing
  whatever queued while it was busy (group commit), the record's bytes as
  one blob. No index, no hash chain, no signed head.
* ``--log anshin``: Anshin's own ``SqliteStore.append_verdict`` (hash
  chain, signed head, the query indexes of issue 5), with a record of the
  size and shape CheckLogin writes (the one CheckLogin itself produces, at
  start-up, for a load-generator request).

    python bench/durable_floor_server.py HOST:PORT DB_PATH --log {minimal,anshin} --rules DIR
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import queue
import sqlite3
import sys
import threading
from pathlib import Path
from typing import Any

import grpc
import uuid_utils

from anshin.v1 import posture_pb2, posture_pb2_grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import make_requests


class MinimalLog:
    """Group commit in its simplest form: take everything queued, commit it."""

    def __init__(self, path: str) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, body BLOB)")
        self._queue: queue.SimpleQueue[tuple[bytes, asyncio.AbstractEventLoop, Any]] = (
            queue.SimpleQueue()
        )
        threading.Thread(target=self._write_loop, daemon=True).start()

    def _write_loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany("INSERT INTO log (body) VALUES (?)", [(b,) for b, _, _ in batch])
            self._conn.execute("COMMIT")
            loop = batch[0][1]
            futures = [f for _, _, f in batch]
            loop.call_soon_threadsafe(_resolve, futures)

    async def append(self, body: bytes) -> None:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._queue.put((body, loop, fut))
        await fut


def _resolve(futures: list[Any]) -> None:
    for fut in futures:
        if not fut.done():
            fut.set_result(None)


class _Capture:
    """A store that keeps the one verdict it is given."""

    record: Any = None

    async def append_verdict(self, record: Any) -> None:
        self.record = record


async def sample_record(rules_dir: Path) -> Any:
    """The VerdictRecord CheckLogin itself writes for a load-generator request."""
    from rules.load import load_rules
    from server.api.posture import PostureService
    from server.clock import system_clock
    from server.ruleset_holder import RulesHolder
    from server.usecases.check_login import CheckLogin

    store = _Capture()
    service = PostureService(CheckLogin(store, RulesHolder(load_rules(rules_dir))), system_clock)  # type: ignore[arg-type]
    await service.CheckLogin(make_requests(1)[0], None)
    return store.record


class FloorPosture(posture_pb2_grpc.PostureServiceServicer):
    def __init__(self, append: Any) -> None:
        self._append = append

    async def CheckLogin(self, request: Any, context: Any) -> posture_pb2.CheckLoginResponse:
        verdict_id = str(uuid_utils.uuid7())
        await self._append(verdict_id)
        return posture_pb2.CheckLoginResponse(verdict_id=verdict_id)


async def serve(ns: argparse.Namespace) -> None:
    if ns.log == "minimal":
        log = MinimalLog(ns.db)
        record = await sample_record(Path(ns.rules))
        body = record.inputs + record.result  # the bytes a verdict carries

        async def append(verdict_id: str) -> None:
            await log.append(verdict_id.encode() + body)

    else:
        from server.store.sqlite import SqliteStore

        store = SqliteStore(Path(ns.db))
        record = await sample_record(Path(ns.rules))

        async def append(verdict_id: str) -> None:
            await store.append_verdict(dataclasses.replace(record, id=verdict_id))

    server = grpc.aio.server()
    posture_pb2_grpc.add_PostureServiceServicer_to_server(FloorPosture(append), server)
    server.add_insecure_port(ns.listen)
    await server.start()
    print("ready", flush=True)
    await server.wait_for_termination()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("listen")
    p.add_argument("db")
    p.add_argument("--log", choices=("minimal", "anshin"), required=True)
    p.add_argument("--rules", required=True)
    asyncio.run(serve(p.parse_args()))


if __name__ == "__main__":
    main()
