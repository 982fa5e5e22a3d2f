"""The console over mutual TLS, as `serve` runs it (uvicorn in the event
loop): a client certificate is required at the handshake when a client CA
is configured, and the certificate's name is mapped to a caller by the same
auth config as gRPC; and the console's flags."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from rules.load import BUILTIN_RULES_DIR
from server.cli import main
from server.cli.exit_codes import Exit
from server.config import Config
from server.console.server import ConsoleServer
from server.security.tls import Transport
from tests.conftest import RunningServer
from tests.console.conftest import auth_config, console_for
from tests.console.stack import ROOT
from tests.security.certs import CA


def _context(ca: CA, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca.pem))
    if cert is not None and key is not None:
        ctx.load_cert_chain(str(cert), str(key))
    return ctx


@pytest.mark.sqlite_only(reason="the transport, not the store")
async def test_mutual_tls_requires_a_certificate_and_maps_it_to_its_caller(
    server: RunningServer, tmp_path: Path
) -> None:
    ca, other = CA(tmp_path, "console-ca"), CA(tmp_path, "other-ca")
    tls = ca.issue("server", common_name="localhost", server=True)
    carol = ca.issue("carol", common_name="carol.analyst.example")
    stranger = ca.issue("stranger", common_name="nobody.example")
    forged = other.issue("forged", common_name="carol.analyst.example")
    console = console_for(server, auth_config(), tls=True)
    transport = Transport(tls.cert, tls.key, ca.pem)
    running = ConsoleServer(console.app, "127.0.0.1:0", transport)  # type: ignore[arg-type]
    port = await running.start()
    url = f"https://127.0.0.1:{port}/search"
    try:
        async with httpx.AsyncClient(verify=_context(ca, carol.cert, carol.key)) as c:
            r = await c.get(url)
            assert r.status_code == 200 and 'id="caller">carol (analyst)<' in r.text
            assert r.headers["strict-transport-security"].startswith("max-age=")
            cookie = r.headers["set-cookie"]
            assert cookie.startswith("__Host-anshin_session=") and "Secure" in cookie
        async with httpx.AsyncClient(verify=_context(ca, stranger.cert, stranger.key)) as c:
            r = await c.get(url)
            assert r.status_code == 401  # a good certificate that names nobody: log in
        for ctx in (_context(ca), _context(ca, forged.cert, forged.key)):
            async with httpx.AsyncClient(verify=ctx) as c:
                with pytest.raises(
                    (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)
                ):
                    await c.get(url)  # refused at the handshake
    finally:
        await running.stop()


def test_the_console_flags_and_their_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANSHIN_CONSOLE_LISTEN", "127.0.0.1:8080")
    monkeypatch.setenv("ANSHIN_CONSOLE_REPLAY_RULES", "/srv/a:/srv/b")
    config = Config.from_env()
    assert config.console_listen == "127.0.0.1:8080"
    assert config.console_replay_rules == (Path("/srv/a"), Path("/srv/b"))
    monkeypatch.delenv("ANSHIN_CONSOLE_LISTEN")
    monkeypatch.delenv("ANSHIN_CONSOLE_REPLAY_RULES")
    assert Config.from_env().console_listen is None


def test_serve_refuses_the_console_with_several_workers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    assert main(["db", "migrate", "--create", "--db", db]) == 0
    code = main(
        # A fixed --listen port: workers sharing ``:0`` are refused for that alone.
        ["serve", "--db", db, "--listen", "127.0.0.1:50599", "--workers", "2",
         "--console-listen", "127.0.0.1:0"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code != 0 and "--console-listen" in err and "--workers 1" in err


def test_serve_refuses_a_candidate_rules_directory_that_does_not_load(tmp_path: Path) -> None:
    """B4: a missing or invalid --console-replay-rules is a usage error at start:
    the real `anshin serve` exits 2 at once (were it to start, the timeout fails)."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    assert main(["db", "migrate", "--create", "--db", db]) == 0
    invalid = tmp_path / "invalid"
    shutil.copytree(BUILTIN_RULES_DIR, invalid)
    (invalid / "posture.toml").write_text("this is = = not toml\n")
    days0 = tmp_path / "bad0"  # A22b's: HNB-X5's notice period of 0 days
    shutil.copytree(BUILTIN_RULES_DIR, days0)
    hnb = days0 / "policies" / "hnb.toml"
    text = hnb.read_text(encoding="utf-8")
    x5 = text.index('"HNB-X5"')
    assert "days = 30" in text[x5:]
    hnb.write_text(text[:x5] + text[x5:].replace("days = 30", "days = 0", 1), encoding="utf-8")
    cases = ((tmp_path / "missing", "not a directory"), (invalid, "posture"), (days0, "HNB-X5"))
    for candidate, problem in cases:
        done = subprocess.run(
            [sys.executable, "-m", "server.cli", "serve", "--db", db, "--listen", "127.0.0.1:0",
             "--console-listen", "127.0.0.1:0", "--console-replay-rules", str(candidate)],
            capture_output=True, text=True, timeout=60, cwd=ROOT,
        )  # fmt: skip
        err = done.stderr
        assert done.returncode == Exit.USAGE, err
        assert "--console-replay-rules" in err and str(candidate) in err and problem in err
