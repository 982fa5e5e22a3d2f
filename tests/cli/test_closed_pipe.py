"""A closed pipe (``anshin … | head -1``) is quiet and exits 141, for every
family of commands: the rich-drawn traces (claim, claim form, verdicts show,
check-login), the plain tables (verdicts, reviews) and JSON.

Each command runs in a child process whose stdout is a pipe with no reader
(closed before the command starts: the first write fails, every time, unlike
``| head -1``, which races the writer), against a fake server: the stubs answer
the sample replies of tests/cli/samples.py.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.cli import samples
from tests.e2e.conftest import ROOT

CHILD = """
import contextlib, os, sys
from unittest import mock

r, w = os.pipe()
os.close(r)  # nobody will read: the first write is EPIPE
os.dup2(w, 1)

from anshin.v1 import claims_pb2_grpc, posture_pb2_grpc, verdicts_pb2_grpc
from server import cli
from server.cli import check_login, claim, reviews, verdicts
from tests.cli import samples


class Stub:
    def __init__(self, channel):
        pass

    def EvaluateClaim(self, req, timeout=None):
        return samples.claim_reply()

    def GetClaimForm(self, req, timeout=None):
        return samples.form_reply()

    def CheckLogin(self, req, timeout=None):
        return samples.login_reply()

    def GetVerdict(self, req, timeout=None):
        return samples.shown_claim()

    def ListReviews(self, req, timeout=None):
        return iter(samples.reviews() * 50)

    def QueryVerdicts(self, req, timeout=None):
        from anshin.v1 import verdicts_pb2

        return iter([verdicts_pb2.VerdictPage(entries=samples.entries() * 50)])


channel = lambda ns: contextlib.nullcontext(None)
with contextlib.ExitStack() as patches:
    for module in (check_login, claim, reviews, verdicts):
        patches.enter_context(mock.patch.object(module, "open_channel", channel))
    patches.enter_context(mock.patch.object(claims_pb2_grpc, "ClaimServiceStub", Stub))
    patches.enter_context(mock.patch.object(posture_pb2_grpc, "PostureServiceStub", Stub))
    patches.enter_context(mock.patch.object(verdicts_pb2_grpc, "VerdictLogServiceStub", Stub))
    code = cli.main(sys.argv[1:])
sys.exit(code)
"""

CLAIM = str(ROOT / "docs" / "examples" / "claims" / "hnb.json")
COMMANDS = {
    "claim": ["claim", CLAIM],
    "claim --dry-run": ["claim", CLAIM, "--dry-run"],
    "claim form": ["claim", "form", "DCM", "qr_payment:DCM-E1"],
    "verdicts show": ["verdicts", "show", samples.CLAIM_ID],
    "check-login": ["check-login", "--ua", "x", "--customer", "c", "--device", "d",
                    "--token", "active"],
    "verdicts": ["verdicts"],
    "reviews": ["reviews"],
    "verdicts show -o json": ["verdicts", "show", samples.CLAIM_ID, "-o", "json"],
    "claim -o csv": ["claim", CLAIM, "-o", "csv"],
}  # fmt: skip


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_closed_pipe_exits_141_quietly(command: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, *COMMANDS[command]],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={"COLUMNS": "80", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert (proc.returncode, proc.stderr) == (141, ""), proc.stderr


def test_the_same_commands_print_whole_to_an_open_pipe() -> None:
    """The fake server is sound: with a reader, the trace is printed and exits 0."""
    child = CHILD.replace("os.close(r)", "pass").replace("os.dup2(w, 1)", "pass")
    proc = subprocess.run(
        [sys.executable, "-c", child, *COMMANDS["verdicts show"]],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={"COLUMNS": "80", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert samples.CLAIM_ID in proc.stdout and samples.EXPLANATION_JA[:10] in proc.stdout
