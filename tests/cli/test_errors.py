"""Every error path the outside attack of issue 21 found (A21 breaks 4, 5, 6):
each exits with its documented status (server/cli/exit_codes.py) and prints
one ``anshin: …`` line and a ``hint:`` line — no Python exception name, no
traceback, no gRPC C++ log line. Argparse's usage errors (exit 2) name the
flag instead of a hint. Both sides of each boundary are checked: the value
just inside is accepted."""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server import cli
from server.cli.args import instant_or_date, listen_problem, seconds
from server.cli.exit_codes import Exit
from server.cli.failures import explain
from tests.conftest import create_database
from tests.e2e.conftest import ROOT

# A class name (FileNotFoundError, DatabaseError, RulesError…), a traceback,
# or a line of gRPC's C core (E1207 11:47:33.801109 4511 add_port.cc:83] …).
INTERNAL = re.compile(
    r"\b\w*(?:Error|Exception)\b|Traceback|^[EWID]\d{4} [\d:.]+ +\d+ \S+\.cc:", re.M
)


def assert_explained(err: str) -> None:
    """One ``anshin…:`` line and a ``hint:`` line, and nothing internal."""
    assert not INTERNAL.search(err), err
    lines = err.strip().splitlines()
    assert lines[-1].startswith("hint: ") and len(lines[-1]) > len("hint: "), err
    assert any(line.startswith(("anshin", "python -m")) for line in lines[:-1]), err


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``anshin ARGS`` in this process: (exit status, stderr); argparse's exits too."""
    capsys.readouterr()
    try:
        code = cli.main(list(args))
    except SystemExit as done:
        code = int(done.code or 0)
    return code, capsys.readouterr().err


def run_process(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``anshin ARGS`` as its own process: gRPC's C core starts there afresh."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GRPC_", "ANSHIN_"))}
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=120, env={**clean, **(env or {})},
    )  # fmt: skip


def write_key(path: Path) -> Path:
    """An Ed25519 log-signing key, PEM, as `anshin init` writes one."""
    path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return path


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A database whose log is bound to the key beside it."""
    write_key(tmp_path / "log-signing.key")
    url = f"sqlite:///{tmp_path}/anshin.db"
    create_database(url)
    return url


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


# --------------------------------------------------------------------------- serve's addresses


def test_listen_addresses_are_checked() -> None:
    for good in ("127.0.0.1:50051", "127.0.0.1:0", "0.0.0.0:65535", "[::1]:1", "localhost:9464"):
        assert listen_problem(good) is None, good
    for bad, why in (
        ("127.0.0.1:65536", "0 to 65535"),
        ("127.0.0.1:99999", "0 to 65535"),
        ("127.0.0.1:-1", "0 to 65535"),
        ("127.0.0.1:http", "0 to 65535"),
        ("nonsense", "HOST:PORT"),
        (":50051", "no host"),
        ("::1:50051", "brackets"),
    ):
        problem = listen_problem(bad)
        assert problem is not None and why in problem, bad


@pytest.mark.parametrize("flag", ["--listen", "--metrics-listen", "--console-listen"])
def test_a_bad_address_flag_is_a_usage_error_naming_it(
    capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    code, err = run(capsys, "serve", flag, "127.0.0.1:99999")
    assert code == Exit.USAGE
    assert f"argument {flag}: '127.0.0.1:99999': the port must be a number from 0 to 65535" in err
    code, err = run(capsys, "serve", flag, "nonsense")
    assert code == Exit.USAGE and f"argument {flag}: 'nonsense': expected HOST:PORT" in err


def test_a_bad_address_variable_is_a_usage_error_naming_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ANSHIN_METRICS_LISTEN", "127.0.0.1:70000")
    code, err = run(capsys, "serve", "--db", f"sqlite:///{tmp_path}/none.db")
    assert code == Exit.USAGE
    assert err.startswith("anshin: serve: ANSHIN_METRICS_LISTEN (or --metrics-listen):")
    assert_explained(err)


def test_workers_need_a_fixed_port(capsys: pytest.CaptureFixture[str], db: str) -> None:
    code, err = run(capsys, "serve", "--db", db, "--listen", "127.0.0.1:0", "--workers", "2")
    assert code == Exit.USAGE and "--workers 2 share one port" in err
    assert_explained(err)


def test_the_metrics_port_in_use_names_the_address(db: str, taken_port: int) -> None:
    address = f"127.0.0.1:{taken_port}"
    done = run_process(
        "serve", "--db", db, "--listen", "127.0.0.1:0", "--bulk-workers", "0",
        "--metrics-listen", address,
    )  # fmt: skip
    assert done.returncode == Exit.FAILED, done.stderr
    err = "\n".join(line for line in done.stderr.splitlines() if not line.startswith("{"))
    assert f"anshin: cannot serve metrics on {address}: address already in use" in err
    assert "hint: stop what uses it, or choose another port with --metrics-listen" in err
    assert not INTERNAL.search(done.stderr), done.stderr


def test_a_metrics_listen_error_is_explained() -> None:
    from server.metrics import serve_metrics

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError) as raised:
            serve_metrics(f"127.0.0.1:{port}")
    failure = explain(raised.value)
    assert failure.code == Exit.FAILED
    assert failure.message == f"cannot serve metrics on 127.0.0.1:{port}: address already in use"


def test_a_rules_directory_that_is_not_one(tmp_path: Path, db: str) -> None:
    empty = tmp_path / "not-rules"
    empty.mkdir()
    done = run_process(
        "serve", "--db", db, "--listen", "127.0.0.1:0", "--bulk-workers", "0",
        "--rules", str(empty),
    )  # fmt: skip
    assert done.returncode == Exit.USAGE, done.stderr
    err = "\n".join(line for line in done.stderr.splitlines() if not line.startswith("{"))
    assert_explained(err)
    assert "`anshin rules validate DIR`" in err


# --------------------------------------------------------------------------- the log


def test_log_verify_on_a_file_that_is_no_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_text("garbage\n" * 100)
    garbage.chmod(0o600)
    key = write_key(tmp_path / "log-signing.key")
    url = f"sqlite:///{garbage}"
    code, err = run(capsys, "log", "verify", "--db", url, "--key", str(key))
    assert code == Exit.USAGE
    assert err.startswith(f"anshin: {url}: not an Anshin database")
    assert_explained(err)


def test_log_verify_input_files(
    capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path
) -> None:
    code, err = run(capsys, "log", "verify", "--db", db, "--checkpoints", str(tmp_path / "nope"))
    assert code == Exit.USAGE and f"{tmp_path / 'nope'}: no such file or directory" in err
    assert_explained(err)
    not_json = tmp_path / "checkpoints.jsonl"
    not_json.write_text('{"x": 1}\n')
    code, err = run(capsys, "log", "verify", "--db", db, "--checkpoints", str(not_json))
    assert code == Exit.USAGE and "not the JSON lines of `anshin log checkpoints`" in err
    assert_explained(err)
    not_pem = tmp_path / "key.pem"
    not_pem.write_text("[tokens]\n")
    code, err = run(capsys, "log", "verify", "--db", db, "--public-key", str(not_pem))
    assert code == Exit.USAGE
    assert err.startswith(f"anshin: {not_pem} (--public-key): not an Ed25519 public key in PEM")
    assert "cryptography.io" not in err
    assert_explained(err)
    # The other side: the real public key and an empty export verify.
    public = tmp_path / "public.pem"
    public.write_bytes(
        serialization.load_pem_private_key(
            (tmp_path / "log-signing.key").read_bytes(), password=None
        )
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    (tmp_path / "empty.jsonl").write_text("")
    code, _ = run(
        capsys, "log", "verify", "--db", db, "--public-key", str(public),
        "--checkpoints", str(tmp_path / "empty.jsonl"),
    )  # fmt: skip
    assert code == Exit.OK


def test_log_verify_without_its_key(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, err = run(
        capsys, "log", "verify", "--db", f"sqlite:///{tmp_path}/x.db", "--key",
        str(tmp_path / "none.key"),
    )  # fmt: skip
    assert code == Exit.USAGE and "--public-key" in err
    assert_explained(err)


def test_release_rebuild_without_the_feeds(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from server.release_import import main

    capsys.readouterr()
    code = main(["rebuild", str(tmp_path / "shared"), str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == Exit.USAGE
    assert err.startswith(f"python -m server.release_import: {tmp_path / 'shared'}: ")
    assert_explained(err)


# --------------------------------------------------------------------------- inputs


def test_a_claim_file_that_is_not_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{bad")
    code, err = run(capsys, "claim", str(bad), "--local")
    assert code == Exit.USAGE
    assert err.startswith(f"anshin: {bad}: not an EvaluateClaimRequest")
    assert "INVALID_ARGUMENT" not in err  # read here: no gRPC status was involved
    assert_explained(err)


def test_a_claim_form_of_no_policy(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(capsys, "claim", "form", "NOPE", "x", "--local")
    assert code == Exit.USAGE and "policy_id: unknown policy" in err
    assert "INVALID_ARGUMENT" not in err
    assert_explained(err)


def test_check_login_with_an_empty_customer(capsys: pytest.CaptureFixture[str]) -> None:
    for server in ("--local", "--server=127.0.0.1:1"):
        code, err = run(
            capsys, "check-login", "--customer", "", "--device", "d", "--token", "active",
            "--ua", "x", server,
        )  # fmt: skip
        assert code == Exit.USAGE and "--customer must not be empty" in err, err
        assert_explained(err)


def test_releases_import_of_a_missing_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for fmt in ("chrome", "mozilla"):
        code, err = run(
            capsys, "releases", "import", "--format", fmt, "--rules", str(tmp_path),
            str(tmp_path / "missing.json"),
        )  # fmt: skip
        assert code == Exit.USAGE, err
        assert "missing.json" in err or "firefox_versions.json" in err, err
        assert_explained(err)


# --------------------------------------------------------------------------- the connection


def test_timeout_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ("-1", "0", "nan", "soon"):
        code, err = run(capsys, "health", "--server", "127.0.0.1:1", "--timeout", bad)
        assert code == Exit.USAGE and "argument --timeout" in err, bad
    assert seconds("0.5") == 0.5
    with pytest.raises(argparse.ArgumentTypeError):
        seconds("inf")


def test_cert_without_key(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, err = run(capsys, "health", "--cert", str(tmp_path / "c.pem"), "--server", "x:1")
    assert code == Exit.USAGE and err.startswith("anshin: --cert without --key")
    assert "hint: give --key too" in err
    assert_explained(err)
    code, err = run(capsys, "health", "--key", str(tmp_path / "k.pem"), "--server", "x:1")
    assert code == Exit.USAGE and err.startswith("anshin: --key without --cert")


@pytest.mark.parametrize("flag", ["--ca", "--cert", "--key"])
def test_a_tls_file_that_is_not_pem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, flag: str
) -> None:
    not_pem = tmp_path / "auth.toml"
    not_pem.write_text('[tokens]\n"x" = "operator"\n')
    args = [flag, str(not_pem)]
    if flag != "--ca":  # mutual TLS: both halves
        other = "--key" if flag == "--cert" else "--cert"
        args += [other, str(not_pem)]
    code, err = run(capsys, "health", "--server", "127.0.0.1:1", "--timeout", "2", *args)
    assert code == Exit.USAGE, err
    assert err.startswith(f"anshin: {not_pem} (") and "in PEM" in err
    assert "anshin serve` running" not in err  # not a connection problem
    assert_explained(err)


def test_the_user_keeps_grpc_verbosity(tmp_path: Path) -> None:
    probe = (
        "import os, server.cli; print(os.environ['GRPC_VERBOSITY'], repr(os.environ['GRPC_TRACE']))"
    )
    quiet = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("GRPC_")},
    )  # fmt: skip
    assert quiet.stdout.split() == ["NONE", "''"]
    told = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60,
        env={**os.environ, "GRPC_VERBOSITY": "ERROR", "GRPC_TRACE": "http"},
    )  # fmt: skip
    assert told.stdout.split() == ["ERROR", "'http'"]


def test_profile_errors_have_a_hint(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    broken = tmp_path / "profile.toml"
    broken.write_text("[default\n")
    code, err = run(capsys, "health", "--profile-file", str(broken))
    assert code == Exit.USAGE and err.startswith(f"anshin: profile file {broken}:")
    assert_explained(err)
    broken.write_text('[default]\nsevrer = "x:1"\n')
    code, err = run(capsys, "health", "--profile-file", str(broken))
    assert code == Exit.USAGE and "unknown sevrer" in err
    assert_explained(err)
    code, err = run(capsys, "health", "--profile-file", str(broken), "--profile", "prod")
    assert code == Exit.USAGE and "no [prod] table" in err
    assert_explained(err)


# --------------------------------------------------------------------------- plain dates


def _options(
    parser: argparse.ArgumentParser, path: str = "anshin"
) -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, f"{path} {name}")
        else:
            for flag in action.option_strings:
                yield f"{path} {flag}", action


def test_every_as_of_and_before_takes_a_plain_date() -> None:
    """README: "--as-of and --before also take a plain date, meaning midnight
    JST" — every one of them, in every command."""
    found = [
        (where, action)
        for where, action in _options(cli.build_parser())
        if where.endswith((" --as-of", " --before"))
    ]
    assert any(w == "anshin releases import --as-of" for w, _ in found)
    assert len(found) >= 5
    for where, action in found:
        assert action.type is instant_or_date, where


def test_releases_import_as_of_a_plain_date(capsys: pytest.CaptureFixture[str]) -> None:
    """Past the parser: a plain date is JST midnight, the rest of the command runs
    (and refuses the missing feed, not the date)."""
    code, err = run(
        capsys, "releases", "import", "--format", "chrome", "--as-of", "2025-03-18", "/nope.json"
    )
    assert code == Exit.USAGE and "argument --as-of" not in err and "nope.json" in err
    assert instant_or_date("2025-03-18").isoformat() == "2025-03-17T15:00:00+00:00"


def test_serve_without_a_database(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, err = run(
        capsys, "serve", "--listen", "127.0.0.1:0", "--db", f"sqlite:///{tmp_path}/x.db"
    )
    assert code == Exit.USAGE and "no Anshin database" in err
    assert_explained(err)
    assert not (tmp_path / "x.db").exists()
