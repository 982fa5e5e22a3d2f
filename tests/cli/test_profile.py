"""The client profile: flag > environment > profile > default, per setting."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from server import cli
from server.cli.profile import DEFAULT_SERVER, apply, read_profile, resolve

PROFILE = """
[default]
server = "anshin.bank.example:50051"
ca = "ca.pem"
token_file = "~/tokens/analyst"

[staging]
server = "staging.example:50051"
"""


def _ns(**flags: object) -> argparse.Namespace:
    base = dict.fromkeys(("server", "ca", "cert", "key", "server_name", "auth_token_file"))
    return argparse.Namespace(**{**base, **flags})


def test_precedence_flag_env_profile_default() -> None:
    profile = {"server": "p:1", "ca": Path("/p/ca.pem")}
    env = {"ANSHIN_SERVER": "e:1"}
    assert resolve({"server": "f:1"}, env, profile)["server"] == "f:1"
    assert resolve({}, env, profile)["server"] == "e:1"
    assert resolve({}, {}, profile)["server"] == "p:1"
    assert resolve({}, {}, {})["server"] == DEFAULT_SERVER
    assert resolve({}, {"ANSHIN_CA": "/e/ca.pem"}, profile)["ca"] == Path("/e/ca.pem")
    assert resolve({}, {}, profile)["ca"] == Path("/p/ca.pem")
    assert resolve({}, {}, {})["ca"] is None  # plaintext unless someone asks for TLS


def test_profile_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "profile.toml"
    path.write_text(PROFILE)
    got = read_profile(path, "default", required=False)
    assert got["server"] == "anshin.bank.example:50051"
    assert got["ca"] == tmp_path / "ca.pem"
    assert got["auth_token_file"] == Path("~/tokens/analyst").expanduser()
    assert read_profile(path, "staging", required=True)["server"] == "staging.example:50051"
    assert read_profile(tmp_path / "absent.toml", "default", required=False) == {}


def test_a_named_profile_or_file_must_exist(tmp_path: Path) -> None:
    path = tmp_path / "profile.toml"
    path.write_text(PROFILE)
    with pytest.raises(ValueError, match=r"no \[prod\] table"):
        read_profile(path, "prod", required=True)
    with pytest.raises(ValueError, match="no such file"):
        read_profile(tmp_path / "absent.toml", "default", required=True)


def test_a_typo_in_the_profile_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "profile.toml"
    path.write_text('[default]\nsevrer = "x:1"\n')
    with pytest.raises(ValueError, match="unknown sevrer"):
        read_profile(path, "default", required=False)


def test_apply_reads_the_default_location(tmp_path: Path) -> None:
    (tmp_path / "anshin").mkdir()
    (tmp_path / "anshin" / "profile.toml").write_text(PROFILE)
    ns = _ns()
    apply(ns, {"XDG_CONFIG_HOME": str(tmp_path)})
    assert ns.server == "anshin.bank.example:50051"
    ns = _ns(profile="staging")
    apply(ns, {"XDG_CONFIG_HOME": str(tmp_path)})
    assert ns.server == "staging.example:50051" and ns.ca is None
    ns = _ns(server="flag:1")
    apply(ns, {"XDG_CONFIG_HOME": str(tmp_path), "ANSHIN_SERVER": "env:1"})
    assert ns.server == "flag:1"


def test_a_profile_error_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.toml"
    path.write_text("[default\n")
    code = cli.main(["health", "--profile-file", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"anshin: profile file {path}:")


def test_an_empty_token_file_is_a_usage_error_before_any_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A21b G: it went out as ``Bearer `` and came back UNAUTHENTICATED (rc 3)."""
    token = tmp_path / "empty.token"
    token.write_text("\n")
    code = cli.main(["health", "--server", "127.0.0.1:9", "--auth-token-file", str(token)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"anshin: empty token file {token}\n"), err
    assert "hint:" in err


def test_a_missing_token_file_of_a_profile_names_the_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.toml"
    path.write_text('[ops]\nserver = "127.0.0.1:9"\ntoken_file = "gone.token"\n')
    code = cli.main(["health", "--profile-file", str(path), "--profile", "ops"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith(f"anshin: profile file {path} [ops]: token_file {tmp_path}/gone.token")
    # Named by the flag instead, the file alone is the explanation (as before).
    code = cli.main(["health", "--server", "127.0.0.1:9", "--auth-token-file", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code == 2 and "[ops]" not in err and str(tmp_path / "x") in err
