"""A real `anshin serve --console-listen` on a temporary SQLite database, its
log made through the real gRPC API (the `anshin` commands of the worked
examples in docs/claims.md), and Debian's Chromium driven by Playwright.

Shared by the end-to-end tests (test_console_e2e.py) and the screenshot
script (screenshots.py). Chromium is the system's (/usr/bin/chromium,
installed by `make browser`), never a download of Playwright's own.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rules.load import BUILTIN_RULES_DIR, digest_of
from server.security.config import token_digest
from tests.cli_examples import HNB_LOGIN, hnb_claim_file

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples" / "claims"
FIXTURES = ROOT / "tests" / "fixtures"
CHROMIUM = "/usr/bin/chromium"
# Headless, and nothing the browser would fetch on its own (updates, safe
# browsing, field trials): the console must be the only party it talks to.
CHROMIUM_ARGS = [
    "--headless=new",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
    "--no-sandbox",  # CI containers run as root
]
ROLES = {
    "alice": "analyst",
    "olga": "operator",
    "hnb-ib-1": "ib_server",
    "vendor-1": "security_vendor",
    "pay-1": "payment_app",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    """The running server, its tokens, and what the log holds."""

    root: Path
    grpc: str
    url: str  # the console's base URL
    tokens: dict[str, str]
    candidate: Path  # a replay candidate: HNB-L1's limit lowered to ¥1,000,000
    proc: subprocess.Popen[bytes]
    log_path: Path
    decisions: dict[str, str]

    @property
    def candidate_label(self) -> str:
        """How the replay page lists the candidate: its name and rules digest, no path."""
        return f"{self.candidate.name} · {digest_of(self.candidate)}"

    def cli(self, who: str, *args: str) -> str:
        """One `anshin` command against the server as ``who`` (in-process)."""
        from server.cli import main

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main([*args, "--server", self.grpc, "--auth-token", self.tokens[who]])
        if code != 0:
            raise AssertionError(f"anshin {' '.join(args)}: exit {code}\n{out.getvalue()}")
        return out.getvalue()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def _auth_config(root: Path) -> tuple[Path, dict[str, str]]:
    tokens = {who: f"anshin_e2e_{who.replace('-', '_')}_{uuid.uuid4().hex}" for who in ROLES}
    lines = []
    for who, role in ROLES.items():
        lines += [
            "[[tokens]]",
            f'identity = "{who}"',
            f'role = "{role}"',
            f'sha256 = "{token_digest(tokens[who])}"',
            "",
        ]
    path = root / "auth.toml"
    path.write_text("\n".join(lines))
    path.chmod(0o600)
    return path, tokens


def _rules(root: Path) -> tuple[Path, Path]:
    rules = root / "rules"
    shutil.copytree(BUILTIN_RULES_DIR, rules)
    shutil.copy(FIXTURES / "phishwall_releases.json", rules / "releases" / "phishwall.json")
    candidate = root / "candidate-hnb-l1-1m"
    shutil.copytree(rules, candidate)
    hnb = candidate / "policies" / "hnb.toml"
    text = hnb.read_text(encoding="utf-8")
    assert "limit_yen = 10_000_000" in text
    hnb.write_text(text.replace("limit_yen = 10_000_000", "limit_yen = 1_000_000", 1))
    return rules, candidate


def _wait(url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"anshin serve exited:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(url + "/login", timeout=1):
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.1)
    raise TimeoutError(f"no console at {url}:\n{log_path.read_text()}")


def make_log(stack: Stack) -> dict[str, str]:
    """The worked examples of docs/claims.md and docs/analysts.md, through gRPC:
    every policy's example, two HNB claims before any login posture (REVIEW),
    the login posture, the HNB claim again (APPROVE) and with HNB-X3 (DENY)."""
    for events in sorted(EXAMPLES.glob("*-events.jsonl")):
        stack.cli("vendor-1", "events", "ingest", "--quiet", str(events))
    decisions: dict[str, str] = {}

    def decide(name: str, path: Path) -> None:
        out = stack.cli("hnb-ib-1", "claim", "-o", "json", str(path))
        doc = json.loads(out)
        decisions[name] = doc["decisionId"]

    decide("review", EXAMPLES / "hnb.json")
    decide("review2", hnb_claim_file(stack.root, "hnb-2.json"))
    for policy in ("dcm", "kdn", "jpe", "isa", "jpe-before-cover"):
        decide(policy, EXAMPLES / f"{policy}.json")
    stack.cli("hnb-ib-1", *HNB_LOGIN)
    decide("approve", hnb_claim_file(stack.root, "hnb-again.json", days_later=2))
    decide("deny", hnb_claim_file(stack.root, "hnb-x3.json", **{"HNB-X3": True}))
    return decisions


def start_serve(
    root: Path,
    db: str,
    tokens: dict[str, str],
    grpc_addr: str,
    console_addr: str,
    fd_limit: int | None = None,
) -> Stack:
    """`anshin serve` with gRPC and the console on ``root``'s auth config,
    rules and candidate (made by ``prepare``), logging to ``root/server.log``,
    with at most ``fd_limit`` open files if given; returns once the console
    answers (an empty ``decisions``)."""
    log_path = root / "server.log"

    def limit_files() -> None:
        if fd_limit is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_NOFILE, (fd_limit, fd_limit))

    env = {**os.environ, "PYTHONUNBUFFERED": "1", "ANSHIN_BULK_WORKERS": "0"}
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "server.cli",
                "serve",
                "--listen",
                grpc_addr,
                "--db",
                db,
                "--rules",
                str(root / "rules"),
                "--auth-config",
                str(root / "auth.toml"),
                "--console-listen",
                console_addr,
                "--console-replay-rules",
                str(root / "candidate-hnb-l1-1m"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=env,
            preexec_fn=limit_files if fd_limit is not None else None,
        )
    stack = Stack(
        root, grpc_addr, f"http://{console_addr}", tokens, root / "candidate-hnb-l1-1m",
        proc, log_path, {},
    )  # fmt: skip
    try:
        _wait(stack.url, proc, log_path)
    except BaseException:
        stack.stop()
        raise
    return stack


def prepare(root: Path) -> tuple[str, dict[str, str]]:
    """``root``'s auth config, rules, candidate and migrated database: (its URL, the tokens)."""
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)
    _auth, tokens = _auth_config(root)
    _rules(root)
    db = f"sqlite:///{root / 'anshin.db'}"
    from server.store.url import migrate_url

    migrate_url(db, create=True)
    return db, tokens


@contextlib.contextmanager
def running_stack(root: Path) -> Iterator[Stack]:
    """`anshin serve` with gRPC and the console, and the worked examples' log."""
    db, tokens = prepare(root)
    stack = start_serve(root, db, tokens, f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}")
    try:
        stack.decisions = make_log(stack)
        yield stack
    finally:
        stack.stop()


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium, headless, with background networking off."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def log_in(page: Any, stack: Stack, who: str) -> None:
    """Log ``who`` in with the login form, as a person would (keyboard only)."""
    page.goto(stack.url + "/login")
    page.locator("#token").fill(stack.tokens[who])  # labelled in either language
    page.locator("#token").press("Enter")
    page.wait_for_load_state()
