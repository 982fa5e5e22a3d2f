"""Loading policy files: the built-in five validate; a bad file names file, clause and key."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from rules.engine import BUILTIN_POLICIES_DIR, PolicyError, load_policies, validate_dir
from timing import at_jst

GOOD = """\
policy = "XYZ"
name = "テスト補償"
version = "1"
effective_from = 2026-01-01
source_seed = "none.txt"
incidents = ["card_fraud"]

[params]
days = 30

[[clauses]]
id = "XYZ-C1"
kind = "notice_within_days_after"
effect = "DENY"
text_ja = "テスト"
[clauses.params]
days = "@days"
counting = "from_next_day"
notice = "notified_at"

[[clauses]]
id = "XYZ-S1"
kind = "occurred_after"
effect = "gate"
text_ja = "テスト"
[clauses.params]
after = 2014-12-15T09:00:00+09:00
inclusive = true

[[clauses]]
id = "XYZ-A1"
kind = "percentage"
effect = "gate"
text_ja = "テスト"
[clauses.params]
percent = "62.5"

[[clauses]]
id = "XYZ-L1"
kind = "cap_per_customer_year"
effect = "gate"
text_ja = "テスト"
[clauses.params]
limit_yen = 1_000_000
year_anchor = "07-01 16:00"
year_of = "claimed_at"
"""


def write(tmp_path: Path, text: str, name: str = "xyz.toml") -> Path:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def errors_for(tmp_path: Path, old: str, new: str) -> list[str]:
    assert old in GOOD, old
    return validate_dir(write(tmp_path, GOOD.replace(old, new, 1)))


def test_the_builtin_policies_validate() -> None:
    assert validate_dir(BUILTIN_POLICIES_DIR) == []
    assert set(load_policies().policies) == {"HNB", "DCM", "KDN", "JPE", "ISA"}


def test_a_good_file_loads_with_typed_parameters(tmp_path: Path) -> None:
    policy = load_policies(write(tmp_path, GOOD)).get("xyz")
    assert policy.label == "XYZ@1"
    assert policy.clause("XYZ-C1").params["days"] == 30
    assert policy.clause("XYZ-S1").params["after"] == at_jst(2014, 12, 15, 9)
    assert policy.clause("XYZ-A1").params["percent"] == Fraction(125, 2)
    assert policy.clause("XYZ-C1").params["event"] == ("occurred_at",)  # default


# (what is wrong, the change, what the message must say)
BAD = [
    (
        "unknown kind",
        'kind = "occurred_after"',
        'kind = "occured_after"',
        "clause XYZ-S1: kind: unknown clause kind 'occured_after'",
    ),
    ("missing parameter", "inclusive = true\n", "", "clause XYZ-S1: params.inclusive: missing"),
    (
        "wrong type",
        'days = "@days"',
        'days = "30"',
        "clause XYZ-C1: params.days: expected a number of days",
    ),
    (
        "zero days",
        'days = "@days"',
        "days = 0",
        "clause XYZ-C1: params.days: expected a number of days (>= 1), got 0",
    ),
    (
        "float money",
        "limit_yen = 1_000_000",
        "limit_yen = 1e6",
        "clause XYZ-L1: params.limit_yen: expected whole yen (an integer), got the float",
    ),
    (
        "float percentage",
        'percent = "62.5"',
        "percent = 62.5",
        "clause XYZ-A1: params.percent: expected a percentage as an integer or a string",
    ),
    (
        "percentage over 100",
        'percent = "62.5"',
        "percent = 101",
        "clause XYZ-A1: params.percent: percentage 101 is over 100",
    ),
    (
        "bad date",
        "effective_from = 2026-01-01",
        'effective_from = "2026-02-30"',
        "xyz.toml: effective_from: bad date '2026-02-30'",
    ),
    (
        "date-time without offset",
        "after = 2014-12-15T09:00:00+09:00",
        "after = 2014-12-15T09:00:00",
        "clause XYZ-S1: params.after: 2014-12-15T09:00:00: no UTC offset",
    ),
    (
        "bad anchor",
        'year_anchor = "07-01 16:00"',
        'year_anchor = "07-32 16:00"',
        "clause XYZ-L1: params.year_anchor: bad anchor '07-32 16:00'",
    ),
    (
        "feb 29 anchor",
        'year_anchor = "07-01 16:00"',
        'year_anchor = "02-29 00:00"',
        "clause XYZ-L1: params.year_anchor: bad anchor '02-29 00:00'",
    ),
    (
        "unknown claim field",
        'notice = "notified_at"',
        'notice = "notified_on"',
        "clause XYZ-C1: params.notice: unknown claim field 'notified_on'",
    ),
    (
        "field of the wrong type",
        'notice = "notified_at"',
        'notice = "card_in_hand"',
        "clause XYZ-C1: params.notice: field 'card_in_hand' is bool, expected instant",
    ),
    (
        "unknown parameter",
        "inclusive = true",
        "inclusive = true\ninclusiv = true",
        "clause XYZ-S1: params.inclusiv: unknown parameter of kind occurred_after",
    ),
    (
        "effect not allowed for the kind",
        'kind = "percentage"\neffect = "gate"',
        'kind = "percentage"\neffect = "DENY"',
        "clause XYZ-A1: effect: DENY is not allowed for kind percentage",
    ),
    (
        "unknown effect",
        'effect = "DENY"',
        'effect = "deny"',
        "clause XYZ-C1: effect: expected DENY, REVIEW or gate, got 'deny'",
    ),
    (
        "clause of another policy",
        'id = "XYZ-S1"',
        'id = "HNB-S1"',
        "clause HNB-S1: id: clause id 'HNB-S1' does not belong to policy XYZ",
    ),
    (
        "duplicate clause id",
        'id = "XYZ-S1"',
        'id = "XYZ-C1"',
        "clause XYZ-C1: id: duplicate clause id",
    ),
    (
        "unknown policy parameter",
        'days = "@days"',
        'days = "@dayz"',
        "clause XYZ-C1: params.days: refers to unknown policy parameter @dayz",
    ),
    (
        "missing quote",
        'id = "XYZ-A1"\nkind = "percentage"\neffect = "gate"\ntext_ja = "テスト"',
        'id = "XYZ-A1"\nkind = "percentage"\neffect = "gate"',
        "clause XYZ-A1: text_ja: missing",
    ),
    (
        "unknown incident",
        'incidents = ["card_fraud"]',
        'incidents = ["card"]',
        "xyz.toml: incidents: unknown incident type 'card'",
    ),
    (
        "unknown top-level key",
        'version = "1"',
        'version = "1"\nversoin = "2"',
        "xyz.toml: versoin: unknown key",
    ),
    (
        "field the incident type lacks",
        'incidents = ["card_fraud"]',
        'incidents = ["card_fraud", "legal_cost"]',
        "clause XYZ-C1: params.notice: notified_at is not a field of legal_cost claims",
    ),
    ("bad TOML", 'version = "1"', "version = ", "xyz.toml: not valid TOML"),
]


@pytest.mark.parametrize(("what", "old", "new", "message"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_file_names_file_clause_and_key(
    tmp_path: Path, what: str, old: str, new: str, message: str
) -> None:
    errors = errors_for(tmp_path, old, new)
    assert any(message in e for e in errors), errors
    assert all(e.startswith("xyz.toml: ") for e in errors), errors
    with pytest.raises(PolicyError) as exc:
        load_policies(tmp_path)
    assert message in str(exc.value)


def test_every_problem_is_reported_not_only_the_first(tmp_path: Path) -> None:
    text = GOOD.replace('kind = "occurred_after"', 'kind = "nope"').replace(
        'notice = "notified_at"', 'notice = "nowhere"'
    )
    errors = validate_dir(write(tmp_path, text))
    assert len(errors) == 2
    assert any("clause XYZ-C1: params.notice: unknown claim field 'nowhere'" in e for e in errors)
    assert any("clause XYZ-S1: kind: unknown clause kind 'nope'" in e for e in errors)


def test_an_unused_policy_parameter_is_reported(tmp_path: Path) -> None:
    errors = validate_dir(write(tmp_path, GOOD.replace("days = 30", "days = 30\nspare = 1")))
    assert errors == ["xyz.toml: params.spare: policy parameter is never used"]


def test_one_policy_id_in_two_files_is_refused(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "a.toml")
    write(tmp_path, GOOD, "b.toml")
    assert validate_dir(tmp_path) == ["b.toml: policy: XYZ is already defined in a.toml"]


def test_an_empty_or_missing_directory_is_refused(tmp_path: Path) -> None:
    assert validate_dir(tmp_path) == [f"{tmp_path}: no policy files (*.toml)"]
    assert validate_dir(tmp_path / "nope") == [f"{tmp_path / 'nope'}: not a directory"]


def test_the_digest_changes_with_any_rule(tmp_path: Path) -> None:
    before = load_policies(write(tmp_path, GOOD)).digest
    after = load_policies(write(tmp_path, GOOD.replace("days = 30", "days = 31"))).digest
    assert before != after
