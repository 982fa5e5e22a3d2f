"""Who may read the access log (issue 21 item 8), through the real server
with an auth config: the ``auditor`` role lists ``analyst_access`` entries
and opens one by id — who read what, when — and its own reads are recorded
like every other read; an analyst or an operator, whose reads the access
log records, is refused with PERMISSION_DENIED naming why, and a refused
read records nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import orjson
import pytest

from anshin.v1 import posture_pb2_grpc, verdicts_pb2, verdicts_pb2_grpc
from server.security.roles import kind_refusal
from tests.security.conftest import ThreadServer, auth_toml, bearer, make_rules_dir
from tests.service.test_check_login_table import WIN_CHROME, Case, chrome_hints, request_for
from tests.service.test_claims_service import FRAUD

VK = verdicts_pb2
ACCESS = VK.VERDICT_KIND_ANALYST_ACCESS


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, tokens: dict[str, str]
) -> Iterator[ThreadServer]:
    """Plaintext on loopback with an auth config: tokens name each caller's role."""
    from server.config import Config

    d = tmp_path_factory.mktemp("access-log")
    auth = d / "auth.toml"
    auth.write_text(auth_toml(tokens))
    config = Config(
        listen="127.0.0.1:0", db=f"sqlite:///{d}/anshin.db", bulk_workers=0, auth_config=auth
    )
    srv = ThreadServer(config, make_rules_dir(Path(d) / "rules"))
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def channel(served: ThreadServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(served.address) as ch:
        yield ch


@pytest.fixture(scope="module")
def posture_id(channel: grpc.Channel, tokens: dict[str, str]) -> str:
    """One login verdict, recorded by the bank's IB server."""
    case = Case(
        "dev-a",
        WIN_CHROME.format(v=135),
        "",
        {},
        hints=chrome_hints("135.0.7049.85", "Windows", "19.0.0"),
        at=FRAUD,
    )
    req = request_for(case)
    req.customer_id = "c-watched"
    stub = posture_pb2_grpc.PostureServiceStub(channel)
    return str(stub.CheckLogin(req, metadata=bearer(tokens["ib_server"]), timeout=30).verdict_id)


def query(channel: grpc.Channel, token: str, **kw: Any) -> list[verdicts_pb2.VerdictEntry]:
    stub = verdicts_pb2_grpc.VerdictLogServiceStub(channel)
    req = VK.QueryVerdictsRequest(oldest_first=True, **kw)
    return [
        e for page in stub.QueryVerdicts(req, metadata=bearer(token), timeout=30)
        for e in page.entries
    ]  # fmt: skip


def get(channel: grpc.Channel, token: str, verdict_id: str) -> verdicts_pb2.VerdictEntry:
    stub = verdicts_pb2_grpc.VerdictLogServiceStub(channel)
    return stub.GetVerdict(VK.GetVerdictRequest(id=verdict_id), metadata=bearer(token), timeout=30)


def access_log(channel: grpc.Channel, tokens: dict[str, str]) -> list[verdicts_pb2.VerdictEntry]:
    """The access log as the auditor lists it, without the auditor's own listings."""
    return [
        e
        for e in query(channel, tokens["auditor"], kind=ACCESS)
        if not e.caller.identity.startswith("auditor-1")
    ]


def test_the_auditor_sees_who_read_what_and_when(
    channel: grpc.Channel, tokens: dict[str, str], posture_id: str
) -> None:
    query(channel, tokens["analyst"], customer_id="c-watched")
    assert get(channel, tokens["analyst"], posture_id).customer_id == "c-watched"
    reads = [e for e in access_log(channel, tokens) if e.caller.identity == "analyst-1 (analyst)"]
    assert [orjson.loads(e.result_json)["rpc"] for e in reads][-2:] == [
        "QueryVerdicts",
        "GetVerdict",
    ]
    listed, opened = reads[-2:]
    assert orjson.loads(listed.inputs_json) == {"customerId": "c-watched", "oldestFirst": True}
    assert opened.refers_to == posture_id and opened.customer_id == "c-watched"
    assert opened.recorded_at.seconds > 0 and opened.outcome == "RECORDED"
    # Opening one access entry by id is the auditor's too.
    assert get(channel, tokens["auditor"], opened.id).refers_to == posture_id
    # Ordinary listings still leave the access log out, for the auditor as well.
    assert {e.kind for e in query(channel, tokens["auditor"])} == {"login_posture"}


def test_the_auditors_own_reads_are_recorded(channel: grpc.Channel, tokens: dict[str, str]) -> None:
    before = query(channel, tokens["auditor"], kind=ACCESS)
    after = query(channel, tokens["auditor"], kind=ACCESS)
    # The first listing's own record is there by the time the second one reads.
    assert len(after) >= len(before) + 1
    mine = [e for e in after if e.caller.identity == "auditor-1 (auditor)"]
    assert mine and orjson.loads(mine[-1].result_json) == {"rpc": "QueryVerdicts"}
    assert orjson.loads(mine[-1].inputs_json) == {"kind": "VERDICT_KIND_ANALYST_ACCESS",
                                                  "oldestFirst": True}  # fmt: skip


@pytest.mark.parametrize("role", ["analyst", "operator"])
def test_the_readers_it_records_may_not_list_it(
    channel: grpc.Channel, tokens: dict[str, str], role: str
) -> None:
    before = len(access_log(channel, tokens))
    with pytest.raises(grpc.RpcError) as refused:
        query(channel, tokens[role], kind=ACCESS)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    message = refused.value.details()
    assert f"{role}-1 ({role}) may not read analyst_access entries" in message
    assert "access log" in message and "auditor" in message
    # A refused read reads nothing, and so records nothing.
    assert len(access_log(channel, tokens)) == before
    # The same role may still read the rest of the log.
    assert query(channel, tokens[role], customer_id="c-watched")


@pytest.mark.parametrize("role", ["analyst", "operator"])
def test_nor_open_an_access_entry_by_id(
    channel: grpc.Channel, tokens: dict[str, str], posture_id: str, role: str
) -> None:
    get(channel, tokens["analyst"], posture_id)
    entry = access_log(channel, tokens)[-1]
    before = len(access_log(channel, tokens))
    with pytest.raises(grpc.RpcError) as refused:
        get(channel, tokens[role], entry.id)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "may not read analyst_access entries" in refused.value.details()
    assert len(access_log(channel, tokens)) == before
    assert get(channel, tokens[role], posture_id).id == posture_id  # other entries: yes


def test_the_cli_lists_the_access_log_for_the_auditor(
    served: ThreadServer,
    tokens: dict[str, str],
    posture_id: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from server import cli
    from server.cli.exit_codes import Exit

    base = ["verdicts", "--kind", "analyst_access", "--server", served.address]
    assert cli.main([*base, "--auth-token", tokens["auditor"], "-o", "csv"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].startswith("seq,id,kind,")
    assert any(",analyst_access," in r and "analyst-1 (analyst)" in r for r in rows[1:])
    assert cli.main([*base, "--auth-token", tokens["auditor"]]) == 0
    table = capsys.readouterr().out
    assert "analyst-1 (analyst)" in table and "GetVerdict" in table
    assert cli.main([*base, "--auth-token", tokens["analyst"]]) == Exit.RPC
    assert "may not read analyst_access entries" in capsys.readouterr().err


def test_the_rule_in_one_place() -> None:
    assert kind_refusal("auditor", "analyst_access") is None
    assert kind_refusal("local", "analyst_access") is None  # development mode: every role
    for role in ("analyst", "operator", "ib_server", ""):
        assert kind_refusal(role, "analyst_access")
    for kind in ("claim", "login_posture", "review_resolution", None):
        assert kind_refusal("analyst", kind) is None
