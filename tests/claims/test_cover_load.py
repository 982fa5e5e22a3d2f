"""The ``[cover]`` table of a policy file: read into ``checks.cover.Cover``, refused when bad.

Each refusal names the file and the key, as for clauses (docs/claims.md,
"Where cover comes from").
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from checks.event_model import SecurityApp
from rules.engine import BUILTIN_POLICIES_DIR, load_policies, validate_dir
from rules.load import BUILTIN_RULES_DIR, RulesError, load_rules
from timing import at_jst

GOOD = """\
policy = "XYZ"
name = "テスト補償"
version = "1"
effective_from = 2026-01-01
source_seed = "none.txt"
incidents = ["card_fraud"]

[params]
delay = 1
start = 2026-01-01T00:00:00+09:00

[cover]
in_force_from = "@start"
in_force_clause = "XYZ-S1"
begins_months_after_start = "@delay"
begins_clause = "XYZ-P1"

[cover.enrolment]
clauses = ["XYZ-P1", "XYZ-S1"]
basis = "XYZ membership"
plans = ["Gold"]

[[clauses]]
id = "XYZ-P1"
kind = "covered_at"
effect = "gate"
text_ja = "テスト"
[clauses.params]
coverage = "XYZ"
bound = "both"
begins_months_after_start = "@delay"

[[clauses]]
id = "XYZ-S1"
kind = "occurred_after"
effect = "gate"
text_ja = "テスト"
[clauses.params]
after = "@start"
inclusive = true
"""

ACTIVATION = """
[cover.activation]
clauses = ["XYZ-P1"]
apps = ["J_SAFE", "J_SAFE_3"]
all_apps = false
basis = "listed product active"
started_ja = "テスト"
"""


def errors_for(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "xyz.toml").write_text(text, encoding="utf-8")
    return validate_dir(tmp_path)


def test_a_good_cover_loads(tmp_path: Path) -> None:
    assert errors_for(tmp_path, GOOD) == []
    cover = load_policies(tmp_path).get("XYZ").cover
    assert cover is not None and cover.enrolment is not None and cover.activation is None
    assert cover.enrolment.clause_ids == ("XYZ-P1", "XYZ-S1")
    assert cover.enrolment.acked_by == "XYZ-P1"  # default: the first clause
    assert cover.enrolment.plans == frozenset({"gold"})
    assert cover.in_force_from == at_jst(2026, 1, 1)
    assert cover.begins_months_after_start == 1
    assert cover.reads == (("enrolment", "XYZ"),)
    assert cover.service().begins_months_after_start == 0


def test_the_builtin_covers() -> None:
    covers = {p.id: p.cover for p in load_policies().policies.values()}
    assert {pid for pid, c in covers.items() if c and c.activation} == {"KDN", "ISA"}
    assert {pid for pid, c in covers.items() if c and c.enrolment} == {"HNB", "DCM", "JPE", "ISA"}
    kdn = covers["KDN"]
    assert kdn is not None and kdn.activation is not None and kdn.activation.all_apps
    assert kdn.activation.carrier_shop_required_for == frozenset({SecurityApp.NORTON_360})
    jpe = covers["JPE"]
    assert jpe is not None and jpe.begins_months_after_start == 2


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'plans = ["Gold"]',
            'plans = ["Gold"]\nacked_by = "XYZ-Q1"',
            "xyz.toml: cover.enrolment.acked_by: 'XYZ-Q1' is not a clause of this file",
        ),
        (
            'basis = "XYZ membership"\n',
            "",
            "xyz.toml: cover.enrolment.basis: missing",
        ),
        (
            'plans = ["Gold"]',
            'plans = ["Gold"]\nperson = "XYZ-P1"',
            "xyz.toml: cover.enrolment.person: unknown key (expected: acked_by, basis, clauses, "
            "one_insured_person, plans)",
        ),
        (
            'begins_months_after_start = "@delay"\nbegins_clause',
            "begins_months_after_start = -1\nbegins_clause",
            "xyz.toml: cover.begins_months_after_start: expected a whole number of months "
            "(>= 0), got -1",
        ),
        (
            'in_force_from = "@start"',
            'in_force_from = "@begin"',
            "xyz.toml: cover.in_force_from: refers to unknown policy parameter @begin",
        ),
        (
            'in_force_clause = "XYZ-S1"\n',
            "",
            "xyz.toml: cover.in_force_clause: in_force_from and in_force_clause go together",
        ),
        (
            'coverage = "XYZ"',
            'coverage = "ABC"',
            "xyz.toml: clause XYZ-P1: params.coverage: 'ABC' is not this policy's cover; "
            "a claim reads only its own ('XYZ')",
        ),
        (
            'bound = "both"\nbegins_months_after_start = "@delay"',
            'bound = "both"\nbegins_months_after_start = 2',
            "xyz.toml: clause XYZ-P1: params.begins_months_after_start: 2 differs from "
            "cover.begins_months_after_start (1); share one policy parameter",
        ),
    ],
)
def test_a_bad_cover_names_file_and_key(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in GOOD, old
    assert expected in errors_for(tmp_path, GOOD.replace(old, new, 1))


def test_no_cover_table_while_a_clause_reads_cover(tmp_path: Path) -> None:
    start = GOOD.index("[cover]")
    text = GOOD[:start] + GOOD[GOOD.index("[[clauses]]") :]
    text = text.replace("[params]\ndelay = 1\n", "[params]\ndelay = 0\n")
    assert errors_for(tmp_path, text) == [
        "xyz.toml: clause XYZ-P1: params.coverage: the file has no [cover] table saying "
        "where XYZ cover comes from (docs/claims.md)"
    ]


def test_activation_cover_is_read_and_checked(tmp_path: Path) -> None:
    no_delay = GOOD.replace("delay = 1", "delay = 0").replace(
        'begins_months_after_start = "@delay"\nbegins_clause = "XYZ-P1"\n', ""
    )
    assert errors_for(tmp_path, no_delay + ACTIVATION) == []
    cover = load_policies(tmp_path).get("XYZ").cover
    assert cover is not None and cover.activation is not None
    assert cover.activation.apps == frozenset({SecurityApp.J_SAFE, SecurityApp.J_SAFE_3})
    assert (cover.activation.ended_by, cover.activation.other_apps) == ("XYZ-P1", "skip")
    assert cover.reads == (("activation", None), ("enrolment", "XYZ"))
    assert (
        "xyz.toml: cover.activation.apps: unknown app 'J_SAFE_4' (known: "
        in errors_for(tmp_path, no_delay + ACTIVATION.replace('"J_SAFE_3"', '"J_SAFE_4"'))[0]
    )
    assert errors_for(tmp_path, GOOD + ACTIVATION) == [
        "xyz.toml: cover.begins_months_after_start: a start delay applies to enrolment "
        "periods only; this cover follows activations"
    ]
    shop = ACTIVATION + 'carrier_shop_required_for = ["J_SAFE"]\n'
    assert errors_for(tmp_path, no_delay + shop) == [
        "xyz.toml: cover.activation.carrier_shop_channel: missing (carrier_shop_required_for "
        "names apps)"
    ]


def test_a_coverage_table_left_in_events_toml_is_refused(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(BUILTIN_RULES_DIR, rules)
    with (rules / "events.toml").open("a", encoding="utf-8") as f:
        f.write('\n[coverage]\nkdn_carrier_shop_channel = "carrier_shop"\n')
    with pytest.raises(RulesError, match=r"\[coverage\] is no longer read here"):
        load_rules(rules)


def test_the_rules_carry_the_covers_to_the_event_judgements() -> None:
    rules = load_rules()
    policies = load_policies(BUILTIN_POLICIES_DIR)
    assert dict(rules.events.covers) == {
        p.id: p.cover for p in policies.policies.values() if p.cover is not None
    }
