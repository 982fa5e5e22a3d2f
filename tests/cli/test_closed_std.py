"""Started with stdin or stdout closed (`<&-`, `>&-`): never "internal error".

A closed stdout is a reader already gone: the quiet closed-pipe exit (141), as
with `| head`. A closed stdin reads as empty, and `claim -` says so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ANSHIN = [sys.executable, "-m", "server.cli"]


def _run(args: list[str], *, close: int) -> subprocess.CompletedProcess[str]:
    # bash does the closing exactly as a user's shell would.
    redir = "<&-" if close == 0 else ">&-"
    cmd = " ".join(f"'{a}'" for a in [*ANSHIN, *args]) + f" {redir}"
    return subprocess.run(
        ["bash", "-c", cmd], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def test_claim_from_a_closed_stdin_says_it_is_empty() -> None:
    out = _run(["claim", "-", "--local"], close=0)
    assert out.returncode == 2, out.stderr
    assert "standard input: is empty" in out.stderr and "hint:" in out.stderr
    assert "internal error" not in out.stderr and "NoneType" not in out.stderr


def test_a_closed_stdout_is_the_quiet_closed_pipe_exit() -> None:
    out = _run(["rules", "explain", "HNB-P2"], close=1)
    assert out.returncode == 141, out.stderr
    assert out.stderr == ""


def test_a_failure_with_stdout_closed_keeps_its_own_exit_and_message() -> None:
    out = _run(["health", "--server", "127.0.0.1:9", "--timeout", "2"], close=1)
    assert out.returncode == 3, out.stderr
    assert "hint:" in out.stderr and "NoneType" not in out.stderr
