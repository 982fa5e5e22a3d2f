"""End to end: the worked examples of docs/claims.md through `anshin claim`
against a real server process, and `anshin rules validate`.

Each example is reproduced as the page tells a reader to: ingest the
example's events, record the HNB login posture with `anshin check-login`,
then `anshin claim --json FILE`. Most commands run `server.cli.main`
in-process (the server is a real process either way) to keep this fast; one
claim and the validations run as real `anshin` subprocesses.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from rules.load import BUILTIN_RULES_DIR
from server.cli import main
from tests.cli_examples import HNB_LOGIN
from tests.e2e.conftest import ANSHIN, ROOT, ServerProcess

pytestmark = pytest.mark.slow

EXAMPLES = ROOT / "docs" / "examples" / "claims"

# file → (outcome, payable) as shown in docs/claims.md
EXPECTED = {
    "hnb.json": ("APPROVE", "¥1,200,000"),
    "dcm.json": ("APPROVE", "¥240,000"),
    "kdn.json": ("APPROVE", "¥450,000"),
    "jpe.json": ("APPROVE", "¥100,000"),
    "jpe-before-cover.json": ("DENY", "¥0"),
    "isa.json": ("APPROVE", "¥140,000"),
}


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_every_example_file_has_an_expected_outcome() -> None:
    files = {p.name for p in EXAMPLES.glob("*.json")}
    assert files == set(EXPECTED)
    policies = {json.loads((EXAMPLES / f).read_text())["policyId"] for f in files}
    assert policies == {"HNB", "DCM", "KDN", "JPE", "ISA"}


def test_worked_examples_decide_as_documented(
    served: ServerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    for events in sorted(EXAMPLES.glob("*-events.jsonl")):
        code, out, err = cli(
            capsys, "events", "ingest", "--quiet", "--server", served.address, str(events)
        )
        assert code == 0 and "0 rejected" in out, (events.name, out, err)
    code, out, err = cli(capsys, *HNB_LOGIN, "--server", served.address)
    assert code == 0 and "verdict COMPLIANT" in out, (out, err)

    wrong = []
    for name, (outcome, payable) in EXPECTED.items():
        code, out, err = cli(capsys, "claim", "--server", served.address, str(EXAMPLES / name))
        head = out.splitlines()[0] if out else err
        if code != 0 or f"outcome {outcome}   payable {payable}" not in head:
            wrong.append((name, outcome, payable, head))
        # recorded, not a dry run (at 80 columns the decision id has a line of its own)
        assert "decision " in " ".join(out.splitlines()[:2])
        for clause_row in ("computation", "clauses ("):
            assert clause_row in out, name
    assert not wrong, wrong

    # A real `anshin` process: the same claim again is the stored decision (idempotent).
    proc = run(
        *ANSHIN,
        "claim",
        "--server",
        served.address,
        "--json",
        str(EXAMPLES / "hnb.json"),
        "--json-output",
    )
    assert proc.returncode == 0, proc.stderr
    reply = json.loads(proc.stdout)
    assert reply["outcome"] == "OUTCOME_APPROVE" and reply["payableYen"] == "1200000"
    assert reply["replayed"] is True
    assert [c["clauseId"] for c in reply["clauses"]][:3] == ["HNB-P1", "HNB-P2", "HNB-P3"]


def test_claim_verbose_prints_the_japanese_clause_text(
    served: ServerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(
        capsys,
        "claim",
        "--server",
        served.address,
        "--dry-run",
        "--verbose",
        str(EXAMPLES / "jpe-before-cover.json"),
    )
    assert code == 0
    assert "outcome DENY" in out and "dry run: not recorded" in out
    assert "JPE-P1" in out and "約款:" in out and "2か月" in out


def test_bad_claim_is_invalid_argument_naming_the_field(
    served: ServerProcess, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = json.loads((EXAMPLES / "isa.json").read_text())
    bad["amounts"]["lossYen"] = "-5"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    code, out, err = cli(capsys, "claim", "--server", served.address, "--json", str(path))
    assert code == 3 and out == ""  # Exit.RPC: the server refused it
    assert "INVALID_ARGUMENT" in err and "amounts.loss_yen: must not be negative" in err


def test_claim_local_uses_an_empty_history(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "claim", "--local", str(EXAMPLES / "hnb.json"))
    assert code == 0
    assert "outcome REVIEW" in out  # no posture verdict on record → HNB-R1
    assert "local, empty history: not recorded" in out


def test_rules_validate_builtin_rules() -> None:
    proc = run(*ANSHIN, "rules", "validate", str(BUILTIN_RULES_DIR))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert "valid — 5 policies" in last and "rules digest" in last
    for label in ("HNB@", "DCM@", "KDN@", "JPE@", "ISA@"):
        assert label in proc.stdout


def test_rules_validate_refuses_an_unknown_clause_kind(tmp_path: Path) -> None:
    broken = tmp_path / "rules"
    shutil.copytree(BUILTIN_RULES_DIR, broken)
    hnb = broken / "policies" / "hnb.toml"
    text = hnb.read_text(encoding="utf-8")
    assert 'kind = "notice_within_days_after"' in text
    hnb.write_text(
        text.replace('kind = "notice_within_days_after"', 'kind = "notice_within_dayz_after"', 1),
        encoding="utf-8",
    )
    proc = run(*ANSHIN, "rules", "validate", str(broken))
    assert proc.returncode == 5, proc.stdout  # ran and found problems (exit_codes)
    line = next(x for x in proc.stdout.splitlines() if "notice_within_dayz_after" in x)
    assert line.startswith(f"{broken / 'policies' / 'hnb.toml'}: clause HNB-X5: kind: ")
    assert "unknown clause kind" in line
    assert "1 problem(s)" in proc.stdout


def test_jpe_a1_a_refused_incident_restated_in_another_series_is_review(
    served: ServerProcess, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A19c break B2 through a real server: the DENY of a series' incident is recorded
    with the series it was stated in (claim_marks, written whatever the outcome), so
    the incident restated in a fresh series is REVIEW, not ¥100,000 more."""
    events = EXAMPLES / "jpe-events.jsonl"
    code, out, err = cli(
        capsys, "events", "ingest", "--quiet", "--server", served.address, str(events)
    )
    assert code == 0 and "0 rejected" in out, (out, err)
    base = json.loads((EXAMPLES / "jpe.json").read_text())

    def claim(n: int, series: str, fraud_at: str) -> tuple[str, str]:
        body = {**base, "claimId": str(uuid.uuid4()), "seriesId": series}
        body["skimmingPhishing"] = {**base["skimmingPhishing"], "fraudAt": fraud_at}
        path = tmp_path / f"claim-{n}.json"
        path.write_text(json.dumps(body))
        code, out, err = cli(capsys, "claim", "--server", served.address, "-o", "json", str(path))
        assert code == 0, err
        reply = json.loads(out)
        return reply["outcome"], reply.get("payableYen", "0")

    assert claim(1, "S", "2025-04-01T10:00:00+09:00") == ("OUTCOME_APPROVE", "100000")
    assert claim(2, "S", "2025-04-03T10:00:00+09:00") == ("OUTCOME_DENY", "0")
    assert claim(3, "S-fresh", "2025-04-03T10:00:00+09:00") == ("OUTCOME_REVIEW", "0")
