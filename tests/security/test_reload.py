"""Hot reload of rules, matrix and release data: good, broken, under load, SIGHUP."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from prometheus_client import REGISTRY

from anshin.v1 import operator_pb2, operator_pb2_grpc, posture_pb2_grpc
from tests.conftest import RunningServer
from tests.service.test_check_login_service import valid_request


def operator(server: RunningServer) -> Any:
    return operator_pb2_grpc.OperatorServiceStub(server.channel)


async def digest_in_reply(server: RunningServer, **overrides: Any) -> str:
    stub = posture_pb2_grpc.PostureServiceStub(server.channel)
    resp = await stub.CheckLogin(valid_request(**overrides), timeout=10)
    return str(resp.rules.digest)


def rules_dir_of(server: RunningServer) -> Path:
    return Path(server.app.rules.current.directory)  # type: ignore[attr-defined]


def touch_rules(directory: Path, note: str) -> None:
    """A harmless change: a comment in the settings changes the digest."""
    path = directory / "posture.toml"
    path.write_text(path.read_text(encoding="utf-8") + f"\n# {note}\n", encoding="utf-8")


def failures() -> float:
    return REGISTRY.get_sample_value("anshin_rules_reload_failures_total") or 0.0


async def test_good_reload_changes_the_digest_in_replies(server: RunningServer) -> None:
    before = await digest_in_reply(server)
    touch_rules(rules_dir_of(server), "reload test")
    resp = await operator(server).ReloadRules(operator_pb2.ReloadRulesRequest(), timeout=30)
    assert resp.changed and resp.previous_digest == before and resp.digest != before
    assert any(r.startswith("chrome=") for r in resp.release_data)
    assert await digest_in_reply(server) == resp.digest
    status = await operator(server).GetStatus(operator_pb2.GetStatusRequest(), timeout=10)
    assert status.rules_digest == resp.digest
    assert status.last_reload.ok and status.last_reload.trigger == "rpc"
    # Reloading the same files again changes nothing.
    again = await operator(server).ReloadRules(operator_pb2.ReloadRulesRequest(), timeout=30)
    assert not again.changed and again.digest == resp.digest


async def test_validate_only_does_not_swap(server: RunningServer) -> None:
    before = await digest_in_reply(server)
    touch_rules(rules_dir_of(server), "validate only")
    resp = await operator(server).ReloadRules(
        operator_pb2.ReloadRulesRequest(validate_only=True), timeout=30
    )
    assert resp.digest != before and not resp.changed
    assert await digest_in_reply(server) == before


@pytest.mark.parametrize(
    "breakage",
    [
        ("matrix/hnb.toml", "this is [not toml"),
        ("posture.toml", None),  # missing
        ("releases/chrome.json", "{"),
        ("policies/hnb.toml", 'id = "HNB"\n'),
    ],
    ids=["matrix-syntax", "settings-missing", "release-json", "policy-invalid"],
)
async def test_broken_rules_are_refused_and_the_old_keep_answering(
    server: RunningServer, breakage: tuple[str, str | None]
) -> None:
    before = await digest_in_reply(server)
    failed_before = failures()
    name, content = breakage
    path = rules_dir_of(server) / name
    if content is None:
        path.unlink()
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await operator(server).ReloadRules(operator_pb2.ReloadRulesRequest(), timeout=30)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert before in (err.value.details() or "")
    status = rpc_status.from_call(err.value)
    assert status is not None
    failure = error_details_pb2.PreconditionFailure()
    assert status.details[0].Unpack(failure)
    assert failure.violations[0].type == "RULES_INVALID" and failure.violations[0].description
    # The old rules keep answering, and the refusal is reported.
    assert await digest_in_reply(server) == before
    st = await operator(server).GetStatus(operator_pb2.GetStatusRequest(), timeout=10)
    assert st.rules_digest == before
    assert not st.last_reload.ok and st.last_reload.error and st.reload_failures >= 1
    assert failures() == failed_before + 1


async def test_reload_under_load_drops_no_request(server: RunningServer) -> None:
    directory = rules_dir_of(server)
    digests = {await digest_in_reply(server)}
    stop = asyncio.Event()
    answered: list[str] = []
    errors: list[BaseException] = []

    async def caller(n: int) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                answered.append(
                    await digest_in_reply(server, customer_id=f"c{n}", device_id=f"d{i}")
                )
            except BaseException as exc:  # any failure is a dropped request
                errors.append(exc)

    callers = [asyncio.create_task(caller(n)) for n in range(8)]
    try:
        for k in range(6):
            await asyncio.sleep(0.05)
            touch_rules(directory, f"load {k}")
            resp = await operator(server).ReloadRules(operator_pb2.ReloadRulesRequest(), timeout=30)
            assert resp.changed
            digests.add(resp.digest)
        # A broken version in the middle of the load is refused, nothing drops.
        (directory / "matrix" / "hnb.toml").write_text("broken = [", encoding="utf-8")
        with pytest.raises(grpc.aio.AioRpcError):
            await operator(server).ReloadRules(operator_pb2.ReloadRulesRequest(), timeout=30)
        await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*callers)
    assert not errors, errors[:3]
    assert len(answered) > 50
    assert set(answered) <= digests
    assert len(set(answered)) > 1, "replies saw more than one rules version"


async def test_reload_metrics(server: RunningServer) -> None:
    touch_rules(rules_dir_of(server), "metrics")
    resp = await operator(server).ReloadRules(operator_pb2.ReloadRulesRequest(), timeout=30)
    assert REGISTRY.get_sample_value("anshin_rules_info", {"digest": resp.digest}) == 1.0
    age = REGISTRY.get_sample_value("anshin_release_data_age_seconds", {"product": "chrome"})
    as_of = server.app.rules.current.release_as_of()["chrome"]  # type: ignore[attr-defined]
    assert age == (server.clock.now - as_of).total_seconds()  # the server's clock
