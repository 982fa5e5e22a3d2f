"""Every RPC x every role, unauthenticated and with a bad token, over TLS.

The RPCs are enumerated from the proto descriptors, so a new RPC without a
row in server/security/roles.py fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from server.security.roles import ADMITTED, OPEN, Role
from tests.security.conftest import (
    PKI,
    ROLES,
    ThreadServer,
    auth_toml,
    bearer,
    make_rules_dir,
    tls_channel,
)
from tests.security.rpcs import ALL_RPCS, Rpc, invoke

DENIED = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)
NOT_SERVED = (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)
CALLERS = [*ROLES, "unauthenticated", "bad_token"]


def test_every_rpc_has_a_row_in_the_roles_table() -> None:
    paths = {r.path for r in ALL_RPCS}
    missing = sorted(paths - set(ADMITTED))
    assert not missing, f"RPCs without a row in server/security/roles.py: {missing}"
    stale = sorted(set(ADMITTED) - paths)
    assert not stale, f"rows for RPCs that do not exist: {stale}"


def test_every_row_admits_someone() -> None:
    for path, rule in ADMITTED.items():
        assert rule is OPEN or rule, path


@pytest.fixture(scope="module")
def matrix_server(
    tmp_path_factory: pytest.TempPathFactory, pki: PKI, tokens: dict[str, str]
) -> Iterator[ThreadServer]:
    from server.config import Config

    d = tmp_path_factory.mktemp("matrix")
    auth = d / "auth.toml"
    auth.write_text(auth_toml(tokens))
    config = Config(
        listen="127.0.0.1:0",
        db=f"sqlite:///{d}/anshin.db",
        bulk_workers=0,
        tls_cert=pki.server.cert,
        tls_key=pki.server.key,
        auth_config=auth,
    )
    srv = ThreadServer(config, make_rules_dir(Path(d) / "rules"))
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def channel(matrix_server: ThreadServer, pki: PKI) -> Iterator[grpc.Channel]:
    srv = matrix_server
    with tls_channel(srv.address, pki.ca.pem) as ch:
        yield ch


@pytest.fixture(scope="module")
def served(channel: grpc.Channel, tokens: dict[str, str]) -> set[str]:
    """Services this build registers (the others answer UNIMPLEMENTED to everyone)."""
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    replies = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10
    )
    reply = next(replies)
    replies.cancel()
    return {s.name for s in reply.list_services_response.service}


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("rpc", ALL_RPCS, ids=lambda r: r.id)
def test_rpc_by_caller(
    rpc: Rpc,
    caller: str,
    channel: grpc.Channel,
    served: set[str],
    tokens: dict[str, str],
) -> None:
    if rpc.service not in served:
        pytest.skip(f"{rpc.service} is not registered by this build")
    rule = ADMITTED[rpc.path]
    if caller == "unauthenticated":
        metadata: tuple[tuple[str, str], ...] = ()
    elif caller == "bad_token":
        metadata = bearer("anshin_not-a-token-anyone-was-given")
    else:
        metadata = bearer(tokens[caller])
    code = invoke(channel, rpc, metadata)
    if rule is OPEN:
        assert code not in (*DENIED, grpc.StatusCode.INTERNAL), f"{rpc.path} {caller}: {code}"
    elif caller in ("unauthenticated", "bad_token"):
        assert code == grpc.StatusCode.UNAUTHENTICATED, f"{rpc.path} {caller}: {code}"
    elif Role(caller) in rule:  # type: ignore[operator]
        # Past the gate: an empty request may well be INVALID_ARGUMENT.
        assert code not in (*DENIED, *NOT_SERVED), f"{rpc.path} {caller}: {code}"
    else:
        assert code == grpc.StatusCode.PERMISSION_DENIED, f"{rpc.path} {caller}: {code}"


def test_docs_state_the_same_table() -> None:
    """docs/security.md lists each anshin RPC with exactly the roles it admits."""
    import re

    doc = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text("utf-8")
    rows = dict(
        re.findall(r"^\| `(anshin\.v1\.[A-Za-z]+/[A-Za-z]+)` \| ([a-z_, ]+) \|$", doc, re.M)
    )
    for path, rule in ADMITTED.items():
        if rule is OPEN:
            continue
        name = path.lstrip("/")
        assert name in rows, f"docs/security.md has no row for {name}"
        assert set(rows[name].split(", ")) == {r.value for r in rule}, name  # type: ignore[union-attr]
