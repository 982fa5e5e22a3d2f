"""A21b G: the smaller points (an empty coverage list, NOT_APPLICABLE in
`posture`, a full output device)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from anshin.v1 import common_pb2, posture_pb2
from server.cli import events, posture
from server.cli.output import emit_rows

ROOT = Path(__file__).resolve().parents[2]


def test_no_coverage_period_is_said_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    emit_rows([], "table", events.COVERAGE, footer=events.coverage_footer("c-1", "KDN"))
    got = capsys.readouterr()
    assert got.out == "" and got.err == "no coverage periods for c-1 under KDN\n"
    assert events.coverage_footer("c-1", "KDN")(2) == "2 coverage period(s)"


def test_not_applicable_is_not_listed_as_a_check_not_passed() -> None:
    d = posture_pb2.DevicePosture(device_id="win-1")
    for check_id, status in (
        ("phishwall", common_pb2.CHECK_STATUS_NOT_APPLICABLE),
        ("browser", common_pb2.CHECK_STATUS_PASS),
        ("os", common_pb2.CHECK_STATUS_FAIL),
    ):
        d.checks.add(check_id=check_id, status=status)
    assert posture.device_row(d)[3] == "os FAIL"
    del d.checks[2]
    assert posture.device_row(d)[3] == "-"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_output_device_gives_one_line_and_a_hint() -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "server.cli", "rules", "explain", "HNB-P2"],
            stdout=full, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
    assert done.returncode == 5
    assert done.stderr.splitlines() == [
        "anshin: No space left on device",
        "hint: check where the output goes, or write elsewhere",
    ]
