"""End to end: `anshin replay` on the log of a real server process.

The worked examples of docs/claims.md are decided by a real server (as in
test_claim_cli.py), plus one HNB claim notified 20 days after the fraud.
Replayed under the same rules nothing changes; with HNB-X5's 30 days made
14, only that claim changes (APPROVE → DENY). The `--json` document's shape
is what docs/analysts.md shows.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.claims.test_replay import x5_days
from tests.e2e.conftest import ANSHIN, ServerProcess
from tests.e2e.test_claim_cli import EXAMPLES, EXPECTED, HNB_LOGIN, cli, run

pytestmark = pytest.mark.slow


def record(served: ServerProcess, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> str:
    """The examples' decisions, and the decision id of a late-notified HNB claim."""
    for events in sorted(EXAMPLES.glob("*-events.jsonl")):
        code, out, err = cli(
            capsys, "events", "ingest", "--quiet", "--server", served.address, str(events)
        )
        assert code == 0, (out, err)
    code, out, err = cli(capsys, *HNB_LOGIN, "--server", served.address)
    assert code == 0, (out, err)
    for name in EXPECTED:
        code, out, err = cli(
            capsys, "claim", "--server", served.address, "--json", str(EXAMPLES / name)
        )
        assert code == 0, (name, out, err)
    late = json.loads((EXAMPLES / "hnb.json").read_text(encoding="utf-8"))
    late["claimId"] = str(uuid.uuid4())
    # Another incident: hnb.json's own loss is already paid (HNB-L2 pays it once), and
    # two days after it (another paid incident of the customer on its JST day or the
    # day either side is REVIEW: HNB-L2's near_days).
    late["ibTransfer"]["fraudAt"] = "2025-04-14T10:00:00+09:00"
    late["ibTransfer"]["policeConsultedAt"] = "2025-04-15T10:00:00+09:00"
    late["ibTransfer"]["notifiedBankAt"] = "2025-05-04T09:00:00+09:00"  # day 20
    late["claimedAt"] = "2025-05-05T10:00:00+09:00"
    path = tmp_path / "hnb-late.json"
    path.write_text(json.dumps(late), encoding="utf-8")
    code, out, err = cli(
        capsys, "claim", "--server", served.address, "--json", str(path), "--json-output"
    )
    assert code == 0, err
    reply = json.loads(out)
    assert reply["outcome"] == "OUTCOME_APPROVE"
    return str(reply["decisionId"])


def verdicts(served: ServerProcess) -> int:
    ((count,),) = served.rows("SELECT COUNT(*) FROM verdicts")
    return int(count)


def test_replay_cli(
    served: ServerProcess,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    rules_dir: Path,
) -> None:
    late_id = record(served, capsys, tmp_path)
    count = verdicts(served)
    claims = len(EXPECTED) + 1

    # A real `anshin` process, the unchanged rules: nothing changes.
    proc = run(*ANSHIN, "replay", "--db", served.db_url, "--rules", str(rules_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert (doc["replayed"], doc["unchanged"], doc["changed"]) == (claims, claims, 0)
    assert doc["not_replayable"] == {"total": 0, "reasons": []}
    assert doc["changes"] == [] and doc["cascade"] is False
    assert set(doc["by_policy"]) == {"HNB", "DCM", "KDN", "JPE", "ISA"}

    # HNB-X5 at 14 days: only the claim notified on day 20 changes.
    candidate = x5_days(rules_dir, tmp_path / "x5-14", 14)
    code, out, _ = cli(capsys, "replay", "--db", served.db_url, "--rules", str(candidate))
    assert code == 0
    lines = {" ".join(line.split()) for line in out.splitlines()}
    assert any(line.startswith(f"replayed {claims} ") for line in lines), out
    assert "changed 1 outcome 1, amount 1, fired clauses only 0" in lines
    assert "APPROVE → DENY 1" in lines
    assert "payable amount: 1 claim(s) changed, -¥1,200,000 in total" in lines
    assert "HNB 2 1 1 1 -¥1,200,000" in lines and "DCM 1 0 0 0 ¥0" in lines
    assert "HNB-X5 1 0" in lines
    assert f"{late_id}" in out and "APPROVE ¥1,200,000 → DENY ¥0  +HNB-X5" in out
    assert "no cascade" in out

    code, out, _ = cli(capsys, "replay", "--db", served.db_url, "--rules", str(candidate), "--json")
    doc = json.loads(out)
    assert set(doc) >= {
        "db",
        "rules",
        "window",
        "policy",
        "replayed",
        "unchanged",
        "changed",
        "not_replayable",
        "outcome_changes",
        "amount",
        "by_policy",
        "by_clause",
        "ledger_reads",
        "changes",
        "cascade",
        "elapsed_s",
        "claims_per_s",
        "notes",
    }
    assert doc["outcome_changes"] == [{"from": "APPROVE", "to": "DENY", "count": 1}]
    assert doc["amount"] == {"changed": 1, "delta_yen": -1_200_000}
    assert doc["by_clause"] == {"HNB-X5": {"newly_fired": 1, "no_longer_fired": 0}}
    assert doc["by_policy"]["HNB"]["changed"] == 1 and doc["by_policy"]["DCM"]["changed"] == 0
    (change,) = doc["changes"]
    assert change["decision_id"] == late_id and change["newly_fired"] == ["HNB-X5"]
    assert change["payable_yen"] == {"old": 1_200_000, "new": 0, "delta": -1_200_000}
    assert change["recorded_at"].endswith("Z")

    # Filters: a window with nothing in it, and one policy.
    code, out, _ = cli(
        capsys, "replay", "--db", served.db_url, "--rules", str(candidate), "--json",
        "--until", "2000-01-01T00:00:00+09:00",
    )  # fmt: skip
    assert json.loads(out)["replayed"] == 0
    code, out, _ = cli(
        capsys, "replay", "--db", served.db_url, "--rules", str(candidate), "--json",
        "--policy", "DCM",
    )  # fmt: skip
    assert json.loads(out)["replayed"] == 1

    assert verdicts(served) == count  # nothing was written


def test_replay_refuses_a_missing_database(
    tmp_path: Path, rules_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(
        capsys, "replay", "--db", f"sqlite:///{tmp_path}/none.db", "--rules", str(rules_dir)
    )
    assert code == 2 and "no such database" in err  # a --db that cannot be used: usage
    assert not (tmp_path / "none.db").exists()
