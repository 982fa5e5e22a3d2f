"""`anshin auth hash-token` gives the digest `new-token` recorded, whether it
reads the bare token or new-token's stderr line (the outside attack found the
comment line hashed whole into a digest matching nothing), and refuses
anything else."""

from __future__ import annotations

import io

import pytest

from server import cli
from server.cli.exit_codes import Exit


def _run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stdin: str, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    capsys.readouterr()
    code = cli.main(["auth", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_hash_token_matches_new_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, entry, stderr = _run(
        monkeypatch, capsys, "", "new-token", "--identity", "x", "--role", "ib_server"
    )
    assert code == 0
    digest = entry.split('sha256 = "')[1].split('"')[0]
    token = stderr.strip().rsplit(" ", 1)[-1]
    assert _run(monkeypatch, capsys, token + "\n", "hash-token")[1].strip() == digest
    assert _run(monkeypatch, capsys, stderr, "hash-token")[1].strip() == digest


@pytest.mark.parametrize(
    "stdin", ["", "not-a-token\n", "anshin_a anshin_b\n", "something anshin_abc\n"]
)
def test_hash_token_refuses_what_is_not_one_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stdin: str
) -> None:
    code, out, err = _run(monkeypatch, capsys, stdin, "hash-token")
    assert code == Exit.USAGE and out == "" and "hint:" in err
