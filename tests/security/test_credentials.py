"""Client certificates (mutual TLS), bearer tokens, rate limits, the listen policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from anshin.v1 import operator_pb2, operator_pb2_grpc
from server.security.config import AuthConfigError, auth_config_from_dict, token_digest
from server.security.tls import Transport, TransportConfigError, exposure_warnings, is_loopback
from tests.security.conftest import PKI, ROLES, auth_toml, bearer, tls_channel


def status_of(channel: grpc.Channel, metadata: Any = ()) -> operator_pb2.GetStatusResponse:
    stub = operator_pb2_grpc.OperatorServiceStub(channel)
    return stub.GetStatus(operator_pb2.GetStatusRequest(), metadata=metadata, timeout=10)


def code_of(fn: Any) -> grpc.StatusCode:
    try:
        fn()
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


@pytest.fixture
def mtls(serve_thread: Any, pki: PKI, tokens: dict[str, str], tmp_path: Path) -> Any:
    auth = tmp_path / "auth.toml"
    auth.write_text(auth_toml(tokens))
    return serve_thread(
        tls_cert=pki.server.cert, tls_key=pki.server.key, client_ca=pki.ca.pem, auth_config=auth
    )


@pytest.mark.parametrize("role", ROLES)
def test_client_certificate_identifies_the_caller(mtls: Any, pki: PKI, role: str) -> None:
    with tls_channel(mtls.address, pki.ca.pem, pki.clients[role]) as ch:
        health = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        if role == "operator":
            caller = status_of(ch).caller
            assert (caller.identity, caller.role) == ("operator-1", "operator")
        else:
            assert code_of(lambda: status_of(ch)) == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize("which", ["expired", "wrong_ca", "none"])
def test_bad_client_certificates_fail_the_handshake(mtls: Any, pki: PKI, which: str) -> None:
    client = {"expired": pki.expired, "wrong_ca": pki.wrong_ca, "none": None}[which]
    with tls_channel(mtls.address, pki.ca.pem, client) as ch:
        code = code_of(
            lambda: health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
        )
    assert code == grpc.StatusCode.UNAVAILABLE


def test_a_server_from_another_ca_is_not_trusted(mtls: Any, pki: PKI) -> None:
    with tls_channel(mtls.address, pki.other_ca.pem, pki.clients["operator"]) as ch:
        assert code_of(lambda: status_of(ch)) == grpc.StatusCode.UNAVAILABLE


def test_unmapped_certificate_with_a_token_is_the_token_s_caller(
    mtls: Any, pki: PKI, tokens: dict[str, str]
) -> None:
    with tls_channel(mtls.address, pki.ca.pem, pki.unmapped) as ch:
        assert code_of(lambda: status_of(ch)) == grpc.StatusCode.UNAUTHENTICATED
        caller = status_of(ch, bearer(tokens["operator"])).caller
        assert (caller.identity, caller.role) == ("operator-1", "operator")


def test_certificate_and_token_naming_different_callers_are_refused(
    mtls: Any, pki: PKI, tokens: dict[str, str]
) -> None:
    with tls_channel(mtls.address, pki.ca.pem, pki.clients["operator"]) as ch:
        assert code_of(lambda: status_of(ch, bearer(tokens["analyst"]))) == (
            grpc.StatusCode.UNAUTHENTICATED
        )
        # A bad token next to a good certificate is refused too.
        assert code_of(lambda: status_of(ch, bearer("anshin_wrong"))) == (
            grpc.StatusCode.UNAUTHENTICATED
        )
        assert status_of(ch, bearer(tokens["operator"])).caller.identity == "operator-1"


@pytest.fixture
def tls_tokens(serve_thread: Any, pki: PKI, tokens: dict[str, str], tmp_path: Path) -> Any:
    auth = tmp_path / "auth.toml"
    auth.write_text(auth_toml(tokens, "\n[rate_limits.analyst]\nper_second = 0.5\nburst = 3\n"))
    return serve_thread(tls_cert=pki.server.cert, tls_key=pki.server.key, auth_config=auth)


@pytest.mark.parametrize(
    "metadata",
    [
        (("authorization", "Bearer"),),
        (("authorization", "Basic b3A6b3A="),),
        (("authorization", "Bearer anshin_unknown"),),
        (("authorization", "bearer  "),),
    ],
    ids=["empty", "basic", "unknown", "blank"],
)
def test_bad_tokens_are_unauthenticated(
    tls_tokens: Any, pki: PKI, metadata: tuple[tuple[str, str], ...]
) -> None:
    with tls_channel(tls_tokens.address, pki.ca.pem) as ch:
        assert code_of(lambda: status_of(ch, metadata)) == grpc.StatusCode.UNAUTHENTICATED


def test_two_authorization_headers_are_unauthenticated(
    tls_tokens: Any, pki: PKI, tokens: dict[str, str]
) -> None:
    with tls_channel(tls_tokens.address, pki.ca.pem) as ch:
        twice = (*bearer(tokens["operator"]), *bearer(tokens["analyst"]))
        assert code_of(lambda: status_of(ch, twice)) == grpc.StatusCode.UNAUTHENTICATED


def test_rate_limit_answers_resource_exhausted_with_retry_info(
    tls_tokens: Any, pki: PKI, tokens: dict[str, str]
) -> None:
    from anshin.v1 import verdicts_pb2, verdicts_pb2_grpc

    with tls_channel(tls_tokens.address, pki.ca.pem) as ch:
        stub = verdicts_pb2_grpc.VerdictLogServiceStub(ch)

        def get() -> Any:
            return stub.GetVerdict(
                verdicts_pb2.GetVerdictRequest(id="x"),
                metadata=bearer(tokens["analyst"]),
                timeout=10,
            )

        codes = [code_of(get) for _ in range(3)]
        assert grpc.StatusCode.RESOURCE_EXHAUSTED not in codes
        with pytest.raises(grpc.RpcError) as err:
            get()
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        status = rpc_status.from_call(err.value)
        assert status is not None
        info = error_details_pb2.RetryInfo()
        assert any(d.Unpack(info) for d in status.details)
        delay = info.retry_delay.seconds + info.retry_delay.nanos / 1e9
        assert 0 < delay <= 2.0
        # Other callers have their own buckets; unlimited roles are not limited.
        for _ in range(5):
            assert status_of(ch, bearer(tokens["operator"])).caller.identity == "operator-1"


def test_token_over_plaintext_loopback(serve_thread: Any, tokens: dict[str, str], tmp_path: Path):  # type: ignore[no-untyped-def]
    auth = tmp_path / "auth.toml"
    auth.write_text(auth_toml(tokens))
    srv = serve_thread(auth_config=auth)
    assert any("PLAINTEXT" in w for w in srv.app.warnings)
    with grpc.insecure_channel(srv.address) as ch:
        assert code_of(lambda: status_of(ch)) == grpc.StatusCode.UNAUTHENTICATED
        assert status_of(ch, bearer(tokens["operator"])).caller.role == "operator"


def test_no_auth_config_admits_local_callers_with_every_role(serve_thread: Any) -> None:
    srv = serve_thread()
    assert any("NO AUTHENTICATION" in w for w in srv.app.warnings)
    with grpc.insecure_channel(srv.address) as ch:
        caller = status_of(ch).caller
    assert (caller.identity, caller.role) == ("anonymous", "local")


# -- the listen policy and the config file ------------------------------------


def test_loopback_addresses() -> None:
    assert is_loopback("127.0.0.1:50051")
    assert is_loopback("localhost:1")
    assert is_loopback("[::1]:50051")
    assert not is_loopback("0.0.0.0:50051")
    assert not is_loopback("[::]:50051")
    assert not is_loopback("anshin.internal:50051")


def test_non_loopback_needs_tls_and_auth_or_insecure(pki: PKI) -> None:
    tls = Transport(pki.server.cert, pki.server.key)
    with pytest.raises(TransportConfigError, match="without TLS and an auth config"):
        exposure_warnings("0.0.0.0:50051", Transport(), False, False)
    with pytest.raises(TransportConfigError, match="without an auth config"):
        exposure_warnings("0.0.0.0:50051", tls, False, False)
    with pytest.raises(TransportConfigError, match="without TLS"):
        exposure_warnings("0.0.0.0:50051", Transport(), True, False)
    assert exposure_warnings("0.0.0.0:50051", tls, True, False) == []
    loud = exposure_warnings("0.0.0.0:50051", Transport(), False, True)
    assert any("--insecure" in w for w in loud) and any("EVERY role" in w for w in loud)


async def test_build_app_refuses_an_exposed_plaintext_server(tmp_path: Path) -> None:
    from server.config import Config
    from server.main import build_app

    with pytest.raises(TransportConfigError):
        await build_app(Config(listen="0.0.0.0:0", db=f"sqlite:///{tmp_path}/a.db"))
    assert not (tmp_path / "a.db").exists(), "nothing is opened before the refusal"


def test_client_ca_needs_a_server_certificate(pki: PKI) -> None:
    with pytest.raises(TransportConfigError):
        Transport(client_ca=pki.ca.pem).credentials()
    with pytest.raises(TransportConfigError):
        Transport(tls_cert=pki.server.cert).credentials()


def test_auth_config_lists_every_problem() -> None:
    with pytest.raises(AuthConfigError) as err:
        auth_config_from_dict(
            {
                "tokens": [
                    {"identity": "a", "role": "king", "sha256": token_digest("x")},
                    {"identity": "has space", "role": "analyst", "sha256": "abc"},
                ],
                "certificates": [
                    {"identity": "c", "role": "operator"},
                    {"identity": "d", "role": "operator", "common_name": "x", "san_uri": "y"},
                ],
                "rate_limits": {"wizard": {"per_second": 1}, "analyst": {"per_second": 0}},
                "extra": 1,
            }
        )
    text = str(err.value)
    for fragment in (
        "tokens[0].role",
        "tokens[1].identity",
        "tokens[1].sha256",
        "certificates[0]: exactly one",
        "certificates[1]: exactly one",
        "rate_limits.wizard",
        "rate_limits.analyst.per_second",
        "unknown keys: extra",
    ):
        assert fragment in text, fragment


def test_the_same_token_twice_is_refused() -> None:
    digest = token_digest("t")
    with pytest.raises(AuthConfigError, match="listed twice"):
        auth_config_from_dict(
            {
                "tokens": [
                    {"identity": "a", "role": "analyst", "sha256": digest},
                    {"identity": "b", "role": "operator", "sha256": digest},
                ]
            }
        )
