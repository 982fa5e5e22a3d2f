"""`anshin rules explain CLAUSE-ID`: from a clause id to its text, its rules
file and line, the function that decides it, and the tests that hold it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rules.load import RuleSet
from server.usecases.explain_clause import UnknownClause, explain_clause, render

ROOT = Path(__file__).resolve().parent.parent


def test_a_clause_is_found_with_its_file_line_function_and_tests(rules: RuleSet) -> None:
    x5 = explain_clause(rules, "hnb-x5")  # ids are case-insensitive, as typed
    assert x5.clause_id == "HNB-X5" and x5.policy.startswith("HNB@")
    assert "30日以内" in x5.parts[0].text_ja
    (where,) = x5.rules_file
    assert where.path.name == "hnb.toml"
    assert where.path.read_text().splitlines()[where.line - 1].strip() == 'id = "HNB-X5"'
    (impl,) = x5.implementations
    assert impl.path.read_text().splitlines()[impl.line - 1].startswith("def ")
    assert "notice_within_days_after" in impl.what
    names = {loc.what for loc in x5.tests}
    assert "test_hnb_x5_day_30_in_day_31_out" in names  # named after it
    assert "test_the_trace_is_readable" not in names  # a test about KDN-A1 only


def test_a_clause_in_parts_lists_every_part_and_function(rules: RuleSet) -> None:
    a1 = explain_clause(rules, "KDN-A1")
    # per_incident (one loss is paid once) comes before the card's lifetime cap.
    assert [c.part for c in a1.parts] == ["percentage", "per_incident", "per_card"]
    assert len(a1.rules_file) == 3
    assert {loc.what.split()[0] for loc in a1.implementations} >= {"percentage", "cap"}
    text = render(a1)
    assert "part per_card" in text and "tests:" in text


def test_no_prefix_match_between_ids(rules: RuleSet) -> None:
    """HNB-X1 is not HNB-X10..X17."""
    x1 = explain_clause(rules, "HNB-X1")
    assert all("HNB-X1" in loc.path.read_text() for loc in x1.tests)
    assert not any(
        "HNB-X10" in line and "HNB-X1 " not in line and 'HNB-X1"' not in line
        for loc in x1.cited_by
        for line in [loc.what]
    )


@pytest.mark.parametrize("bad", ["HNB-Z9", "XYZ-X1", "drop table", ""])
def test_unknown_or_malformed_ids_are_refused(rules: RuleSet, bad: str) -> None:
    with pytest.raises(UnknownClause):
        explain_clause(rules, bad)


def test_cli_prints_it_and_exits_nonzero_for_an_unknown_id() -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "server.cli", "rules", "explain", "HNB-X5"],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "rules/data/policies/hnb.toml:" in ok.stdout and "decided by:" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "server.cli", "rules", "explain", "HNB-Z9"],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode != 0 and "HNB-X5" in bad.stderr  # lists the policy's clauses
