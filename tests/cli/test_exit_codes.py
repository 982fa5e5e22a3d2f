"""Each exit status of ``anshin`` (server/cli/exit_codes.py) and each error
message path: what the user reads names the problem and a fix, never a
Python exception."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from server import cli
from server.cli.exit_codes import Exit, decision_exit, fail_on_type
from server.cli.failures import explain, rpc_failure
from server.store.errors import LogIntegrityError
from tests.conftest import create_database
from tests.e2e.conftest import ROOT
from tests.security.certs import CA

UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/135.0.0.0 Safari/537.36"
)
PYTHON_NAMES = ("Error:", "Exception", "Traceback", "FileNotFoundError", "ValueError")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(list(args))
    out = capsys.readouterr()
    for name in PYTHON_NAMES:
        assert name not in out.err, out.err
    return code, out.out, out.err


@pytest.fixture(scope="module")
def health_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A plaintext and a TLS server answering grpc.health.v1 (one NOT_SERVING service)."""
    d = tmp_path_factory.mktemp("tls")
    ca = CA(d, "exit-codes-ca")
    issued = ca.issue("server", common_name="localhost", server=True)
    servicer = health.HealthServicer()
    servicer.set("down", health_pb2.HealthCheckResponse.NOT_SERVING)
    plain = grpc.server(futures.ThreadPoolExecutor(2))
    tls = grpc.server(futures.ThreadPoolExecutor(2))
    for srv in (plain, tls):
        health_pb2_grpc.add_HealthServicer_to_server(servicer, srv)
    plain_port = plain.add_insecure_port("127.0.0.1:0")
    creds = grpc.ssl_server_credentials([(issued.key.read_bytes(), issued.cert.read_bytes())])
    tls_port = tls.add_secure_port("127.0.0.1:0", creds)
    plain.start()
    tls.start()
    yield {
        "plain": f"127.0.0.1:{plain_port}",
        "tls": f"localhost:{tls_port}",
        "ca": str(ca.pem),
    }
    plain.stop(0)
    tls.stop(0)


# --------------------------------------------------------------------------- 0 and 1


def test_health_serving_is_0_not_serving_is_1(
    health_server: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "health", "--server", health_server["plain"])
    assert (code, out.strip()) == (Exit.OK, "SERVING")
    code, out, _ = _run(capsys, "health", "--server", health_server["plain"], "--service", "down")
    assert (code, out.strip()) == (Exit.NEGATIVE, "NOT_SERVING")


def test_check_login_is_negative_only_with_fail_on(capsys: pytest.CaptureFixture[str]) -> None:
    base = ("check-login", "--local", "--ua", UA, "--at", "2025-04-10T10:00:00+09:00")
    code, out, _ = _run(capsys, *base, "-o", "json")
    assert code == Exit.OK and '"POSTURE_VERDICT_UNKNOWN"' in out  # no antivirus facts
    code, _, _ = _run(capsys, *base, "-o", "json", "--fail-on", "NON_COMPLIANT,UNKNOWN")
    assert code == Exit.NEGATIVE
    code, _, _ = _run(capsys, *base, "-o", "json", "--fail-on", "NON_COMPLIANT")
    assert code == Exit.OK  # UNKNOWN is not named


def test_claim_is_negative_only_with_fail_on(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A claim decided REVIEW exits 0, 1 only when --fail-on names REVIEW; it is
    read from a positional FILE or standard input alike."""
    example = ROOT / "docs" / "examples" / "claims" / "hnb.json"
    code, out, _ = _run(capsys, "claim", str(example), "--local", "-o", "json")
    outcome = json.loads(out)["outcome"]
    assert code == Exit.OK and outcome in ("OUTCOME_DENY", "OUTCOME_REVIEW")  # empty history
    named = outcome.removeprefix("OUTCOME_")
    other = "APPROVE"
    code, _, _ = _run(capsys, "claim", str(example), "--local", "-o", "json", "--fail-on", named)
    assert code == Exit.NEGATIVE
    code, _, _ = _run(capsys, "claim", str(example), "--local", "-o", "json", "--fail-on", other)
    assert code == Exit.OK
    # The same claim from standard input decides the same.
    proc = subprocess.run(
        [sys.executable, "-m", "server.cli", "claim", "-", "--local", "-o", "json"],
        input=example.read_text(encoding="utf-8"),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == Exit.OK, proc.stderr
    assert json.loads(proc.stdout)["outcome"] == outcome


def test_claim_usage_and_unreachable(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(capsys, "claim", "--local")
    assert code == Exit.USAGE and "hint:" in err
    code, _, err = _run(capsys, "claim", str(tmp_path / "missing.json"), "--local")
    assert code == Exit.USAGE and "missing.json" in err
    bad = tmp_path / "bad.json"
    bad.write_text('{"claimId": 5, "nonsense": true}', encoding="utf-8")
    code, _, err = _run(capsys, "claim", str(bad), "--local")
    assert code == Exit.USAGE and "bad.json" in err
    example = ROOT / "docs" / "examples" / "claims" / "hnb.json"
    port = _free_port()
    code, _, err = _run(
        capsys, "claim", str(example), "--server", f"127.0.0.1:{port}", "--timeout", "2"
    )
    assert code == Exit.RPC and "hint:" in err


def test_fail_on_parsing() -> None:
    parse = fail_on_type(("DENY", "REVIEW", "APPROVE"))
    assert parse("deny, REVIEW") == frozenset({"DENY", "REVIEW"})  # type: ignore[operator]
    for bad in ("", "DENY,MAYBE", ","):
        with pytest.raises(Exception, match="name outcomes"):
            parse(bad)  # type: ignore[operator]
    assert decision_exit("deny", frozenset({"DENY"})) == Exit.NEGATIVE
    assert decision_exit("APPROVE", frozenset({"DENY"})) == Exit.OK


# --------------------------------------------------------------------------- 2: usage


def test_usage_errors_are_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["verdicts", "--since", "yesterday"])
    assert done.value.code == Exit.USAGE
    assert "not an ISO 8601 instant" in capsys.readouterr().err
    with pytest.raises(SystemExit) as done:
        cli.main(["check-login", "--local", "--ua", UA, "--fail-on", "MAYBE"])
    assert done.value.code == Exit.USAGE


def test_check_login_to_a_server_needs_the_facts_it_records(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = _run(capsys, "check-login", "--ua", UA, "--server", "127.0.0.1:1")
    assert code == Exit.USAGE
    assert "--customer, --device, --token" in err and "hint: or evaluate" in err
    code, _, err = _run(
        capsys, "check-login", "--ua", UA, "--customer", "c", "--device", "d", "--server",
        "127.0.0.1:1",
    )  # fmt: skip
    assert code == Exit.USAGE and "give --token" in err


def test_missing_file_is_usage_without_exception_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such.jsonl"
    code, _, err = _run(capsys, "events", "ingest", "--quiet", str(missing))
    assert code == Exit.USAGE
    assert err.splitlines()[0] == f"anshin: {missing}: no such file or directory"


def test_a_bad_hint_header_is_usage(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "check-login", "--local", "--ua", UA, "--hint", "X-Foo: 1")
    assert code == Exit.USAGE and "not a Sec-CH-UA header" in err and "hint: one of" in err


def test_cert_without_key_is_usage(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(capsys, "health", "--cert", str(tmp_path / "c.pem"), "--server", "x:1")
    assert code == Exit.USAGE and "--cert without --key: mutual TLS needs both" in err


# --------------------------------------------------------------------------- 3: the server


def test_unreachable_server_is_3_with_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    address = f"127.0.0.1:{_free_port()}"
    code, _, err = _run(capsys, "health", "--server", address, "--timeout", "2")
    assert code == Exit.RPC
    assert err.startswith(f"{address}: UNAVAILABLE")
    assert "hint: is `anshin serve` running there?" in err


def test_plaintext_client_against_tls_hints_at_ca(
    health_server: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "health", "--server", health_server["tls"], "--timeout", "3")
    assert code == Exit.RPC
    assert "UNAVAILABLE" in err and "hint: the server may require TLS: give --ca" in err
    code, out, _ = _run(
        capsys, "health", "--server", health_server["tls"], "--ca", health_server["ca"]
    )
    assert (code, out.strip()) == (Exit.OK, "SERVING")


def test_tls_client_against_plaintext_hints_at_tls(
    health_server: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(
        capsys, "health", "--server", health_server["plain"], "--ca", health_server["ca"],
        "--server-name", "localhost", "--timeout", "3",
    )  # fmt: skip
    assert code == Exit.RPC and "UNAVAILABLE" in err and "hint:" in err


def test_rpc_hints_name_what_to_do() -> None:
    assert "--timeout" in rpc_failure("DEADLINE_EXCEEDED", "", "s:1", tls=False).hint
    assert "--auth-token-file" in rpc_failure("UNAUTHENTICATED", "no token", "s:1", tls=False).hint
    assert "roles" in rpc_failure("PERMISSION_DENIED", "", "s:1", tls=False).hint
    assert rpc_failure("NOT_FOUND", "x", "s:1", tls=False).code == Exit.RPC


# --------------------------------------------------------------------------- 4, 5, pipes


def test_integrity_failure_is_4() -> None:
    failure = explain(LogIntegrityError(7, None, "hash mismatch"))
    assert failure.code == Exit.INTEGRITY and "log verify" in failure.hint


def test_a_used_port_is_5_with_a_hint() -> None:
    failure = explain(RuntimeError("Failed to bind to address 127.0.0.1:50051; set GRPC_VERBOSITY"))
    assert failure.code == Exit.FAILED
    assert failure.message == "cannot listen on 127.0.0.1:50051: the port is in use or not allowed"
    assert "--listen" in failure.hint


def test_serve_on_a_used_port_says_so(tmp_path: Path) -> None:
    create_database(f"sqlite:///{tmp_path}/a.db")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "server.cli", "serve", "--listen", f"127.0.0.1:{port}",
             "--db", f"sqlite:///{tmp_path}/a.db", "--bulk-workers", "0"],
            capture_output=True, text=True, cwd=ROOT, timeout=120,
        )  # fmt: skip
    assert proc.returncode == Exit.FAILED, proc.stderr
    assert f"anshin: cannot listen on 127.0.0.1:{port}: the port is in use" in proc.stderr
    assert "RuntimeError" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert "add_port.cc" not in proc.stderr, proc.stderr  # gRPC's C core stays quiet


def test_a_wrong_ca_fails_the_handshake_quietly(
    health_server: dict[str, str], tmp_path: Path
) -> None:
    """A CA that did not sign the server's certificate: exit 3 and the TLS hint,
    without the C core's ssl_transport_security.cc lines (a fresh process)."""
    other = CA(tmp_path, "not-the-servers-ca")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRPC_", "ANSHIN_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "server.cli", "health", "--server", health_server["tls"],
         "--ca", str(other.pem), "--timeout", "3"],
        capture_output=True, text=True, cwd=ROOT, timeout=120, env=env,
    )  # fmt: skip
    assert proc.returncode == Exit.RPC, proc.stderr
    assert ".cc:" not in proc.stderr, proc.stderr
    assert "hint: TLS failed: check --ca" in proc.stderr, proc.stderr
    # The other side: the server's own CA connects.
    proc = subprocess.run(
        [sys.executable, "-m", "server.cli", "health", "--server", health_server["tls"],
         "--ca", health_server["ca"], "--timeout", "3"],
        capture_output=True, text=True, cwd=ROOT, timeout=120, env=env,
    )  # fmt: skip
    assert (proc.returncode, proc.stdout.strip()) == (Exit.OK, "SERVING"), proc.stderr


def test_plaintext_sets_the_profiles_tls_aside(
    health_server: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A profile naming a CA makes every command TLS; --plaintext (or
    ANSHIN_PLAINTEXT=1) reaches a plaintext server all the same."""
    profile = tmp_path / "profile.toml"
    profile.write_text(f'[default]\nca = "{health_server["ca"]}"\n')
    monkeypatch.setenv("ANSHIN_PROFILE_FILE", str(profile))
    monkeypatch.delenv("ANSHIN_PLAINTEXT", raising=False)
    plain = ("health", "--server", health_server["plain"], "--timeout", "3")
    code, _, err = _run(capsys, *plain)
    assert code == Exit.RPC and "hint: TLS failed" in err  # the profile's CA applies
    code, out, _ = _run(capsys, *plain, "--plaintext")
    assert (code, out.strip()) == (Exit.OK, "SERVING")
    monkeypatch.setenv("ANSHIN_PLAINTEXT", "1")
    code, out, _ = _run(capsys, *plain)
    assert (code, out.strip()) == (Exit.OK, "SERVING")
    monkeypatch.delenv("ANSHIN_PLAINTEXT")
    # The TLS server is still reached through the profile's CA.
    code, out, _ = _run(capsys, "health", "--server", health_server["tls"])
    assert (code, out.strip()) == (Exit.OK, "SERVING")
    code, _, err = _run(capsys, *plain, "--plaintext", "--ca", health_server["ca"])
    assert code == Exit.USAGE and "--plaintext with --ca" in err and "hint:" in err


def test_unexpected_errors_name_no_exception_type() -> None:
    failure = explain(KeyError("x"))
    assert failure.code == Exit.FAILED and "KeyError" not in failure.message
    assert "ANSHIN_DEBUG=1" in failure.hint


def test_closed_pipe_is_quiet() -> None:
    proc = subprocess.run(
        f"{sys.executable} -m server.cli completion bash | head -c 10",
        shell=True, capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert proc.stderr == "" and len(proc.stdout) == 10


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from server.version import version

    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"anshin {version()}"
