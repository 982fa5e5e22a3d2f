"""Bulk ingestion survives any input (issue 18, item 4).

One malformed message, a worker error that cannot be unpickled, a worker
killed with SIGKILL: none of them may stop bulk ingestion for anyone. The
first tests drive ``BulkPool`` directly with a worker entry point of this
module (spawned workers import it by name) that misbehaves on request; the
last go through a real server on both backends and check that every event
acknowledged is in the store.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from anshin.v1 import events_pb2, events_pb2_grpc
from rules.load import RuleSet
from server.bulk import BulkPool, BulkWorkerFault, Outcome, convert_in_worker, guarded
from server.errors import InvalidArgument, WorkersUnavailable
from server.pii import contains_pan
from server.usecases.record_events import Origin
from tests.conftest import TEST_NOW, RunningServer, db_rows
from tests.service.test_events_service import header, registration

ORIGIN = ("req-1", "test (local)")
PHONE_KEY = b"k" * 32


class OddError(Exception):
    """An error whose constructor does not take its ``args`` back: pickled as
    (type, args), it cannot be rebuilt — the kind that broke the pool."""

    def __init__(self, field: str, detail: str) -> None:
        self.field = field
        super().__init__(f"{field}: {detail}")


class Unrebuildable:
    """A result that pickles in the worker but cannot be unpickled in the parent."""

    def __reduce__(self) -> tuple[object, ...]:
        return (OddError, ("only-one-argument",))


def misbehaving_worker(data: bytes, now_us: int, origin: Origin) -> Outcome:
    """convert_in_worker, unless ``data`` asks for a fault."""
    if data == b"odd-error":
        return guarded(lambda: (_ for _ in ()).throw(OddError("events", "odd")))
    if data == b"unrebuildable":
        return Unrebuildable()  # type: ignore[return-value]
    if data == b"die":
        os.kill(os.getpid(), signal.SIGKILL)
    return convert_in_worker(data, now_us, origin)


def event_id() -> str:
    """A fresh UUID the card-number guard does not mistake for a card number
    (dash-separated digit groups of a random UUID can pass Luhn)."""
    while contains_pan(eid := str(uuid.uuid4())):
        pass
    return eid


def batch(n: int = 3, customer: str = "m-1") -> bytes:
    return events_pb2.IngestEventsRequest(
        events=[
            events_pb2.EventEnvelope(
                registration=registration(header=header(eid=event_id(), customer=customer))
            )
            for _ in range(n)
        ]
    ).SerializeToString()


@pytest.fixture
async def pool(rules: RuleSet) -> AsyncIterator[BulkPool]:
    p = BulkPool(1, rules.directory, PHONE_KEY, worker_fn=misbehaving_worker)
    yield p
    await asyncio.get_running_loop().run_in_executor(None, p.close)


async def convert(pool: BulkPool, data: bytes) -> int:
    rows, rejects, _ = await pool.convert(data, TEST_NOW, ORIGIN)
    assert not rejects
    return len(rows)


async def test_a_malformed_message_is_invalid_argument_and_the_pool_keeps_working(
    pool: BulkPool,
) -> None:
    with pytest.raises(InvalidArgument) as err:
        await pool.convert(b"\xff", TEST_NOW, ORIGIN)
    assert [v.field for v in err.value.violations] == ["events"]
    assert await convert(pool, batch()) == 3
    assert pool.replacements == 0


async def test_a_worker_error_with_an_odd_constructor_crosses_as_plain_data(
    pool: BulkPool,
) -> None:
    with pytest.raises(BulkWorkerFault, match="OddError: events: odd"):
        await pool.convert(b"odd-error", TEST_NOW, ORIGIN)
    assert await convert(pool, batch()) == 3
    assert pool.replacements == 0  # nothing broke


async def test_a_result_the_server_cannot_unpickle_replaces_the_pool(pool: BulkPool) -> None:
    # It breaks the pool (the executor gives up on every worker): the pool is
    # replaced, the batch is tried once more alone, breaks its worker again
    # and is UNAVAILABLE.
    with pytest.raises(WorkersUnavailable):
        await pool.convert(b"unrebuildable", TEST_NOW, ORIGIN)
    assert pool.replacements == 1
    assert await convert(pool, batch()) == 3


async def test_a_killed_worker_is_replaced_and_batches_on_it_are_retried(
    pool: BulkPool,
) -> None:
    assert await convert(pool, batch()) == 3
    (pid,) = pool.worker_pids()
    os.kill(pid, signal.SIGKILL)
    # Submitted to the broken pool (before or after it noticed): retried once
    # on a fresh pool, converted.
    assert await convert(pool, batch()) == 3
    assert pool.replacements == 1
    assert pid not in pool.worker_pids()


async def test_a_batch_that_kills_its_worker_fails_alone(pool: BulkPool) -> None:
    assert await convert(pool, batch()) == 3
    poison = pool.convert(b"die", TEST_NOW, ORIGIN)
    others = [pool.convert(batch(), TEST_NOW, ORIGIN) for _ in range(3)]
    with pytest.raises(WorkersUnavailable):
        await poison
    for other in others:  # on the pool the poison broke, or on its replacement
        rows, rejects, _ = await other
        assert (len(rows), rejects) == (3, [])
    assert await convert(pool, batch()) == 3


# --------------------------------------------------------------------------- through a server


def ingest_stub(server: RunningServer) -> events_pb2_grpc.EventServiceStub:
    return events_pb2_grpc.EventServiceStub(server.channel)


async def raw_ingest(server: RunningServer, messages: list[bytes]) -> grpc.StatusCode:
    call = server.channel.stream_unary(
        "/anshin.v1.EventService/IngestEvents",
        request_serializer=None,
        response_deserializer=events_pb2.IngestEventsResponse.FromString,
    )
    try:
        await call(iter(messages), timeout=60)
    except grpc.aio.AioRpcError as err:
        return err.code()
    return grpc.StatusCode.OK


def stored_ids(server: RunningServer) -> set[str]:
    return {r[0] for r in db_rows(server.db_url, "SELECT client_event_id FROM events")}


async def test_malformed_messages_and_killed_workers_never_stop_another_callers_ingestion(
    server: RunningServer,
) -> None:
    pool = server.app.bulk_pool  # type: ignore[attr-defined]
    assert pool is not None, "the default server converts in worker processes"
    stub = ingest_stub(server)
    acknowledged: set[str] = set()

    async def caller_b() -> None:
        messages = [events_pb2.IngestEventsRequest.FromString(batch(50)) for _ in range(4)]
        resp = await stub.IngestEvents(iter(messages), timeout=60)
        assert (resp.accepted, resp.rejected_total, list(resp.rejected)) == (200, 0, [])
        acknowledged.update(
            e.registration.header.client_event_id for m in messages for e in m.events
        )

    # Caller A: a valid message, then bytes that are no message at all.
    code = await raw_ingest(server, [batch(5), b"\xff\xff\xff"])
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    await caller_b()
    # Caller A again, at the same time as B: bad UTF-8 inside a string field.
    bad_utf8 = bytearray(batch(1, customer="utf8-victim"))
    bad_utf8[bad_utf8.index(b"utf8-victim")] = 0xC3
    results = await asyncio.gather(
        raw_ingest(server, [bytes(bad_utf8)]), caller_b(), return_exceptions=True
    )
    assert results == [grpc.StatusCode.INVALID_ARGUMENT, None]
    # Every worker killed: the next batches find a broken pool, replace it.
    for pid in pool.worker_pids():
        os.kill(pid, signal.SIGKILL)
    await caller_b()
    await caller_b()
    assert pool.replacements >= 1
    # Nothing acknowledged is lost; nothing of a refused message was stored.
    stored = stored_ids(server)
    assert acknowledged <= stored
    customers = db_rows(server.db_url, "SELECT DISTINCT customer_id FROM events")
    assert not any("victim" in c for (c,) in customers)


def test_an_event_whose_judging_fails_unexpectedly_is_rejected_alone(rules: RuleSet) -> None:
    from server.pii import PhoneHasher
    from server.ruleset_holder import RulesHolder
    from server.usecases.record_events import EVENT_FAULT, EventJudge

    judge = EventJudge(RulesHolder(rules), PhoneHasher(PHONE_KEY))
    real = judge.converter
    message = events_pb2.IngestEventsRequest.FromString(batch(3))
    poisoned = message.events[1].registration.header.client_event_id

    def converter(kind: str) -> Any:
        inner = real(kind)

        def convert(body: Any, now: Any, hasher: Any) -> Any:
            if body.header.client_event_id == poisoned:
                raise ValueError("a bug in a converter")
            return inner(body, now, hasher)

        return convert

    judge.converter = converter  # type: ignore[method-assign]
    rows, rejects, count = judge.convert_raw(message.SerializeToString(), TEST_NOW, ORIGIN)
    assert [i for i, _ in rows] == [0, 2]
    assert rejects == [(1, poisoned, "INTERNAL", EVENT_FAULT)]
    assert count == 3
