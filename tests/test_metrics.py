"""The metrics core (server/metrics.py): store availability from what the
store's calls end with, the log gauges the sampler publishes, the gRPC labels
a method name gives, and the rules digest in force."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY

from server.errors import Unavailable
from server.metrics import LogSampler, MethodMetrics, metered_store, set_rules_digest
from server.store.errors import LogIntegrityError, StoreError
from server.store.records import Checkpoint, LogProblem


def value(name: str, labels: dict[str, str] | None = None) -> float | None:
    return REGISTRY.get_sample_value(name, labels or {})


class FakeStore:
    """What the metered store wraps: each call answers or fails as told."""

    def __init__(self, problem: LogProblem | None = None) -> None:
        self.problem = problem
        self.fail: dict[str, Exception] = {}
        self.checkpoint: Checkpoint | None = None
        self.seq = 0

    def log_problem(self) -> LogProblem | None:
        return self.problem

    async def append_verdict(self, record: Any) -> int:
        if "append_verdict" in self.fail:
            raise self.fail["append_verdict"]
        self.seq += 1
        return self.seq

    async def get_verdict(self, verdict_id: str) -> None:
        if "get_verdict" in self.fail:
            raise self.fail["get_verdict"]

    async def latest_checkpoint(self) -> Checkpoint | None:
        return self.checkpoint


class Record:
    kind = "login_posture"
    outcome = "COMPLIANT"


def available() -> float | None:
    return value("anshin_store_available")


async def test_a_failed_read_makes_the_store_unavailable_until_a_read_succeeds() -> None:
    fake = FakeStore()
    store: Any = metered_store(fake)  # type: ignore[arg-type]
    assert available() == 1
    fake.fail["get_verdict"] = StoreError("database is locked")
    with pytest.raises(StoreError):
        await store.get_verdict("x")
    assert available() == 0
    del fake.fail["get_verdict"]
    await store.get_verdict("x")
    assert available() == 1


async def test_a_failed_write_is_cleared_by_a_write_not_by_a_read() -> None:
    fake = FakeStore()
    store: Any = metered_store(fake)  # type: ignore[arg-type]
    fake.fail["append_verdict"] = Unavailable("store unavailable")
    with pytest.raises(Unavailable):
        await store.append_verdict(Record())
    assert available() == 0
    del fake.fail["append_verdict"]
    await store.get_verdict("x")  # SQLite: reads go on while writes wait for a lock
    assert available() == 0
    await store.append_verdict(Record())
    assert available() == 1


async def test_an_error_that_is_not_the_store_failing_leaves_it_available() -> None:
    fake = FakeStore()
    store: Any = metered_store(fake)  # type: ignore[arg-type]
    fake.fail["get_verdict"] = ValueError("a bad argument")
    with pytest.raises(ValueError):
        await store.get_verdict("x")
    assert available() == 1


async def test_a_read_only_log_is_unavailable_whatever_succeeds() -> None:
    fake = FakeStore(LogProblem(seq=2, entry_id="v-2", reason="no signature"))
    store: Any = metered_store(fake)  # type: ignore[arg-type]
    assert available() == 0
    assert value("anshin_log_read_only") == 1
    await store.get_verdict("x")
    fake.fail["append_verdict"] = LogIntegrityError(2, "v-2", "no signature")
    with pytest.raises(LogIntegrityError):
        await store.append_verdict(Record())
    assert available() == 0
    metered_store(FakeStore())  # type: ignore[arg-type]  # a writable log: back to 1 and 0
    assert available() == 1
    assert value("anshin_log_read_only") == 0


async def test_the_sampler_publishes_head_checkpoint_and_its_age() -> None:
    fake = FakeStore()
    store: Any = metered_store(fake)  # type: ignore[arg-type]
    wall = 1_800_000_000.0
    sampler = LogSampler(store, wall=lambda: wall)
    for _ in range(3):
        await store.append_verdict(Record())
    await sampler.sample()  # no checkpoint yet: the head is what this process appended
    assert value("anshin_log_head_seq") == 3
    assert value("anshin_log_checkpoint_seq") == 0
    assert value("anshin_log_checkpoint_age_seconds") == 0
    fake.checkpoint = Checkpoint(seq=2, entry_hash="h", created_us=int((wall - 42.5) * 1e6),
                                 key_id="k", signature="")  # fmt: skip
    await sampler.sample()
    assert value("anshin_log_head_seq") == 3  # appended beyond the checkpoint
    assert value("anshin_log_checkpoint_seq") == 2
    assert value("anshin_log_checkpoint_age_seconds") == 42.5
    # Another process appended and a checkpoint covers it: the checkpoint is the head.
    fake.checkpoint = Checkpoint(seq=9, entry_hash="h", created_us=int(wall * 1e6),
                                 key_id="k", signature="")  # fmt: skip
    await sampler.sample()
    assert value("anshin_log_head_seq") == 9
    assert value("anshin_log_checkpoint_age_seconds") == 0


def test_a_method_name_gives_the_standard_labels() -> None:
    m = MethodMetrics("server_stream", "/anshin.v1.VerdictLogService/QueryVerdicts")
    labels = {
        "grpc_type": "server_stream",
        "grpc_service": "anshin.v1.VerdictLogService",
        "grpc_method": "QueryVerdicts",
    }
    before = value("grpc_server_handled_total", {**labels, "grpc_code": "CANCELLED"}) or 0
    m.handled("CANCELLED", 0.003)
    assert value("grpc_server_handled_total", {**labels, "grpc_code": "CANCELLED"}) == before + 1
    assert value("grpc_server_handling_seconds_bucket", {**labels, "le": "0.0025"}) is not None


def test_only_the_digest_in_force_is_reported() -> None:
    set_rules_digest("aaaa1111")
    assert value("anshin_rules_info", {"digest": "aaaa1111"}) == 1
    set_rules_digest("bbbb2222")
    assert value("anshin_rules_info", {"digest": "bbbb2222"}) == 1
    assert value("anshin_rules_info", {"digest": "aaaa1111"}) is None
