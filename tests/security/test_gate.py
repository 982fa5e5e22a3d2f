"""The gate and the interceptor in isolation: denials are logged, deadlines stop work."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from structlog.testing import capture_logs

from server.api.interceptors import RequestInterceptor
from server.request_context import current_request
from server.security.auth import Denied, Gate
from server.security.config import RateLimit, auth_config_from_dict, token_digest
from server.security.identity import format_caller, parse_caller
from server.security.ratelimit import RateLimiter

SSL_CN = {"transport_security_type": [b"ssl"], "x509_common_name": [b"ib.bank.test"]}


def gate() -> Gate:
    return Gate(
        auth_config_from_dict(
            {
                "tokens": [{"identity": "ana", "role": "analyst", "sha256": token_digest("t-a")}],
                "certificates": [
                    {"identity": "ib-1", "role": "ib_server", "common_name": "ib.bank.test"}
                ],
            }
        )
    )


def test_unauthenticated_and_permission_denied_are_logged() -> None:
    g = gate()
    with capture_logs() as logs, pytest.raises(Denied) as err:
        g.admit("/anshin.v1.PostureService/CheckLogin", (), {}, "ipv4:10.0.0.9:1234")
    assert err.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert logs[-1]["event"] == "rpc_denied" and logs[-1]["peer"] == "ipv4:10.0.0.9:1234"
    with capture_logs() as logs, pytest.raises(Denied) as err:
        g.admit(
            "/anshin.v1.PostureService/CheckLogin",
            (("authorization", "Bearer t-a"),),
            {},
            "ipv4:10.0.0.9:1234",
        )
    assert err.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert logs[-1]["caller"] == "ana (analyst)" and logs[-1]["code"] == "PERMISSION_DENIED"


def test_certificate_identity_and_unknown_methods() -> None:
    g = gate()
    caller = g.admit("/anshin.v1.PostureService/CheckLogin", (), SSL_CN, "p")
    assert str(caller) == "ib-1 (ib_server)"
    # A method not in the table admits nobody (fail closed) ...
    with pytest.raises(Denied) as err:
        g.admit("/anshin.v1.PostureService/Brand New", (), SSL_CN, "p")
    assert err.value.code == grpc.StatusCode.PERMISSION_DENIED
    # ... and health checks need no credentials at all.
    assert g.admit("/grpc.health.v1.Health/Check", (), {}, "p").role == "none"
    # Certificate names only count over TLS.
    insecure = {**SSL_CN, "transport_security_type": [b"insecure"]}
    with pytest.raises(Denied):
        g.admit("/anshin.v1.PostureService/CheckLogin", (), insecure, "p")


def test_caller_round_trips() -> None:
    assert parse_caller(format_caller("ib-1", "ib_server")) == parse_caller("ib-1 (ib_server)")
    assert parse_caller("ib-1 (ib_server)").identity == "ib-1"
    assert parse_caller("legacy").role == ""


def test_token_bucket() -> None:
    now = [0.0]
    limiter = RateLimiter(lambda role: RateLimit(2.0, 2.0), clock=lambda: now[0])
    assert limiter.take("a", "analyst") is None
    assert limiter.take("a", "analyst") is None
    assert limiter.take("a", "analyst") == pytest.approx(0.5)
    assert limiter.take("b", "analyst") is None  # per identity
    now[0] += 0.5
    assert limiter.take("a", "analyst") is None


class _Aborted(Exception):
    pass


class FakeContext:
    def __init__(self, remaining: float | None) -> None:
        self.remaining = remaining
        self.aborted: tuple[Any, str] | None = None

    def invocation_metadata(self) -> tuple[()]:
        return ()

    def set_trailing_metadata(self, md: Any) -> None:
        pass

    def time_remaining(self) -> float | None:
        return self.remaining

    def auth_context(self) -> dict[str, Any]:
        return {}

    def peer(self) -> str:
        return "ipv4:127.0.0.1:1"

    async def abort(self, code: Any, details: str = "", trailing_metadata: Any = ()) -> None:
        self.aborted = (code, details)
        raise _Aborted(details)


async def _wrapped(interceptor: RequestInterceptor, calls: list[str]) -> Any:
    async def handler(request: Any, context: Any) -> str:
        calls.append(current_request().caller)
        return "done"

    async def continuation(details: Any) -> grpc.RpcMethodHandler:
        return grpc.unary_unary_rpc_method_handler(handler)

    class Details:
        method = "/anshin.v1.PostureService/CheckLogin"
        invocation_metadata = ()

    return (await interceptor.intercept_service(continuation, Details())).unary_unary


async def test_a_call_past_its_deadline_does_no_work() -> None:
    calls: list[str] = []
    unary = await _wrapped(RequestInterceptor(), calls)
    ctx = FakeContext(remaining=0.0)
    with pytest.raises(_Aborted):
        await unary(object(), ctx)
    assert ctx.aborted is not None and ctx.aborted[0] == grpc.StatusCode.DEADLINE_EXCEEDED
    assert calls == []
    assert await unary(object(), FakeContext(remaining=5.0)) == "done"
    assert await unary(object(), FakeContext(remaining=None)) == "done"
    assert calls == ["anonymous (local)", "anonymous (local)"]


async def test_a_denied_call_does_no_work() -> None:
    calls: list[str] = []
    unary = await _wrapped(RequestInterceptor(gate()), calls)
    ctx = FakeContext(remaining=5.0)
    with pytest.raises(_Aborted):
        await unary(object(), ctx)
    assert ctx.aborted is not None and ctx.aborted[0] == grpc.StatusCode.UNAUTHENTICATED
    assert calls == []
