"""End to end: an analyst finds, reads and resolves decisions with
`anshin verdicts` / `anshin reviews` against a real server process.

The log is made much as docs/analysts.md makes it: the HNB worked example's
events, its claim before any login posture is on record (REVIEW), the login
posture, then a claim of another incident of the customer two days later
(APPROVE) and the example's claim again under a new id with an exclusion
declared (DENY). One incident's loss is paid once (HNB-L2), so the paid claim
is not the REVIEW's incident: the analyst below can still approve that one.
Most commands run `server.cli.main` in-process; the export runs as a real
`anshin` subprocess.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from pathlib import Path

import pytest

from server.cli import main
from tests.cli_examples import hnb_claim_file
from tests.e2e.conftest import ANSHIN, ServerProcess
from tests.e2e.test_claim_cli import EXAMPLES, HNB_LOGIN, cli, run
from tests.service.test_claims_service import PAID_IN_YEAR

pytestmark = pytest.mark.slow

CUSTOMER = "hnb-contract-0001"


def _decide(capsys: pytest.CaptureFixture[str], served: ServerProcess, path: Path) -> str:
    code, out, err = cli(capsys, "claim", "--server", served.address, str(path))
    assert code == 0, err
    head = " ".join(out.splitlines()[:2])  # at 80 columns the id may have a line of its own
    return head.split("decision ")[1].split()[0]


@pytest.fixture
def history(
    served: ServerProcess, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> dict[str, str]:
    code, out, err = cli(
        capsys,
        "events",
        "ingest",
        "--quiet",
        "--server",
        served.address,
        str(EXAMPLES / "hnb-events.jsonl"),
    )
    assert code == 0, err
    review = _decide(capsys, served, EXAMPLES / "hnb.json")
    code, out, err = cli(capsys, *HNB_LOGIN, "--server", served.address)
    assert code == 0 and "verdict COMPLIANT" in out, err
    approve = _decide(capsys, served, hnb_claim_file(tmp_path, "again.json", days_later=2))
    deny = _decide(capsys, served, hnb_claim_file(tmp_path, "x3.json", **{"HNB-X3": True}))
    return {"review": review, "approve": approve, "deny": deny}


def test_find_with_filters_as_a_table(
    served: ServerProcess,
    history: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one line per entry (at 80: one block per entry)
    s = ("--server", served.address)
    code, out, err = cli(capsys, "verdicts", *s)
    assert code == 0
    assert "4 entries" in err  # the count on stderr: stdout is the table alone
    for verdict_id in history.values():
        assert verdict_id in out
    assert "posture" in out and "COMPLIANT" in out and "¥1,200,000" in out
    lines = [line for line in out.splitlines() if CUSTOMER in line]
    # Newest first; seq 1 is the ``events`` entry binding the ingested history (not listed).
    assert [line.split()[0] for line in lines] == ["5", "4", "3", "2"]
    code, out, err = cli(capsys, "verdicts", *s, "--oldest-first", "--kind", "claim")
    lines = [line for line in out.splitlines() if CUSTOMER in line]
    assert [line.split()[0] for line in lines] == ["2", "4", "5"]
    code, out, err = cli(capsys, "verdicts", *s, "--clause", "HNB-X3")
    assert history["deny"] in out and "1 entry" in err
    code, out, err = cli(capsys, "verdicts", *s, "--outcome", "REVIEW", "--policy", "HNB")
    assert history["review"] in out and "1 entry" in err
    code, out, err = cli(
        capsys, "verdicts", *s, "--customer", CUSTOMER, "--since", "2025-04-12T00:00+09:00",
        "--until", "2025-04-13T00:00+09:00",
    )  # fmt: skip
    # The REVIEW and the DENY (incident 2025-04-12 10:00 JST), not the login nor the
    # APPROVE (another incident, two days later).
    assert "2 entries" in err
    code, out, err = cli(capsys, "verdicts", *s, "--since", "2025-04-10T10:00:00+09:00")
    assert "4 entries" in err
    code, out, err = cli(capsys, "verdicts", *s, "--recorded-until", "2000-01-01T00:00Z")
    assert "0 entries" in err
    code, out, err = cli(capsys, "verdicts", *s, "--limit", "2")
    assert "2 entries (--limit reached" in err


def test_bad_filter_names_the_field(
    served: ServerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "verdicts", "--server", served.address, "--clause", "X5%")
    assert code == 3  # a failed call (exit_codes)
    assert "INVALID_ARGUMENT" in err and "clause_id" in err


def test_export_json_and_csv_from_a_real_process(
    served: ServerProcess, history: dict[str, str]
) -> None:
    proc = run(*ANSHIN, "verdicts", "--server", served.address, "--limit", "0", "--csv")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [r["seq"] for r in rows] == ["5", "4", "3", "2"]  # seq 1: the events entry
    by_id = {r["id"]: r for r in rows}
    assert by_id[history["approve"]]["payable_yen"] == "1200000"
    # The X3 claim is of the example's incident, which its HNB-R1 REVIEW held back:
    # HNB-L2 sends it to a human too (HNB-X3's DENY decides).
    assert by_id[history["deny"]]["clause_ids"] == "HNB-X3 HNB-L2"
    assert by_id[history["review"]]["subject_time"] == "2025-04-12T10:00:00+09:00"
    proc = run(*ANSHIN, "verdicts", "--server", served.address, "-o", "json", "--kind", "claim")
    assert proc.returncode == 0, proc.stderr
    entries = json.loads(proc.stdout)  # one array, in the protobuf JSON mapping
    assert [e["id"] for e in entries] == [history["deny"], history["approve"], history["review"]]
    review = entries[-1]
    assert review["outcome"] == "REVIEW" and "HNB-R1" in review["clauseIds"]
    assert json.loads(review["inputsJson"])["request"]["customerId"] == CUSTOMER
    assert json.loads(review["resultJson"])["summaryJa"].startswith("要審査")
    assert entries[1]["payableYen"] == "1200000"  # int64: a string, as the mapping says


def test_show_explains_the_decision(
    served: ServerProcess, history: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(
        capsys, "verdicts", "show", history["review"], "--server", served.address, "--inputs"
    )
    assert code == 0
    assert out.startswith("claim REVIEW")
    assert "review open: in the review queue" in out
    assert "HNB-R1" in out and "要審査" in out and "clauses (" in out
    assert "inputs (as stored)" in out and "hash " in out
    code, out, _ = cli(
        capsys, "verdicts", "show", history["approve"], "--server", served.address, "--json"
    )
    assert json.loads(out)["payableYen"] == "1200000"
    code, _, err = cli(capsys, "verdicts", "show", str(uuid.uuid4()), "--server", served.address)
    assert code == 3 and "NOT_FOUND" in err


def test_work_the_review_queue(
    served: ServerProcess, history: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    s = ("--server", served.address)
    code, out, err = cli(capsys, "reviews", *s)
    assert code == 0 and history["review"] in out and "1 open review(s)" in err
    assert "missing facts" in out and "HNB-R1" in out  # what a human must decide on
    assert "¥1,500,000" in out and "¥1,200,000" in out
    # Over what the policy computes: refused, nothing recorded.
    code, _, err = cli(
        capsys, "reviews", "resolve", history["review"], *s, "--approve", "1,500,000",
        "--analyst", "suzuki.k",
    )  # fmt: skip
    assert code == 3 and "FAILED_PRECONDITION" in err
    code, out, err = cli(
        capsys, "reviews", "resolve", history["review"], *s, "--approve", "1,200,000",
        "--note", "代替的な対策の説明を確認（受付 R-0412）", "--analyst", "suzuki.k",
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith("review_resolution APPROVE   payable ¥1,200,000")
    assert f"resolves {history['review']}" in out and "analyst suzuki.k" in out, out
    assert "ledger reservations" in out and "HNB-L1" in out
    # HNB-L1's year: the two approvals (each also reserves in its incident's HNB-L2 scopes).
    assert served.rows(PAID_IN_YEAR) == [(2_400_000,)]
    # Once only.
    code, _, err = cli(
        capsys, "reviews", "resolve", history["review"], *s, "--deny", "--clause", "HNB-R1",
        "--analyst", "tanaka",
    )  # fmt: skip
    assert code == 3 and "ALREADY_EXISTS" in err
    code, out, err = cli(capsys, "reviews", *s)
    assert err == "no open reviews\n" and out == ""  # the same at any width
    code, out, _ = cli(capsys, "verdicts", "show", history["review"], *s)
    assert "review resolved: APPROVE ¥1,200,000 by entry" in out
    code, out, err = cli(capsys, "verdicts", *s, "--kind", "review_resolution")
    assert "resolved" in out and "1 entry" in err


def test_resolve_needs_an_analyst(
    served: ServerProcess, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ANSHIN_ANALYST", raising=False)
    code = main(["reviews", "resolve", str(uuid.uuid4()), "--deny", "--server", served.address])
    assert code == 2 and "--analyst" in capsys.readouterr().err


def test_read_commands_against_a_real_process(
    served: ServerProcess, history: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """posture, events coverage/alerts, health --list, ops status: each in
    the formats a script reads, from the history the analyst made above."""
    s = ("--server", served.address)
    code, out, err = cli(capsys, "posture", CUSTOMER, "--as-of", "2025-04-11", *s, "-o", "json")
    assert code == 0, err
    (device,) = json.loads(out)
    assert device["deviceId"] == "mac-1" and device["verdict"] == "POSTURE_VERDICT_COMPLIANT"
    code, out, err = cli(capsys, "posture", CUSTOMER, "--as-of", "2025-04-01", *s, "-o", "csv")
    assert code == 0 and out.splitlines()[1:] == [], out  # before the login: none
    code, out, err = cli(
        capsys, "events", "coverage", "--customer", CUSTOMER, "--policy", "HNB",
        "--as-of", "2025-04-12", *s, "-o", "yaml",
    )  # fmt: skip
    assert code == 0, err
    assert "periods:" in out
    code, out, err = cli(
        capsys, "events", "alerts", "--customer", CUSTOMER, "--card", "none", *s, "-o", "json"
    )
    assert code == 0 and json.loads(out)["alertsDeliveredAt"] == [], (out, err)
    code, out, err = cli(capsys, "health", "--list", *s)
    assert "anshin.v1.PostureService" in out and "(server)" in out, err
    assert code == (1 if "NOT_SERVING" in out else 0), out  # 1: some service is not SERVING
    code, out, err = cli(capsys, "ops", "status", *s, "-o", "json")
    assert code == 0 and json.loads(out)["serverVersion"], err
