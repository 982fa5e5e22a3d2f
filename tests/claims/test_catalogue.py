"""The policy files against policies.md, the seeds and docs/claims.md, and the tables against both.

* every clause id of ``shared/policies.md`` is in a policy file (and the files
  add only the documented ``KDN-D7`` and ``JPE-E3``);
* every ``text_ja`` is quoted from the policy's seed (fragments joined by "…");
* every clause (and every part of a clause) has a table row where it decides
  and one where it just misses;
* docs/claims.md documents every clause kind with all its parameters and
  every policy parameter marked ASSUMPTION in the files.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rules.engine import KINDS, Policy
from tests.claims import test_dcm, test_hnb, test_isa, test_jpe, test_kdn
from tests.claims.builders import Case, policies

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
POLICIES_MD = SHARED / "policies.md"
SEEDS = SHARED / "seeds"
DOCS = REPO / "docs" / "claims.md"

# ids the policy files add (see docs/claims.md)
INTRODUCED = {"KDN-D7", "JPE-E3", "JPE-N3", "HNB-L2"}
ALWAYS_HOLDS = {"ISA-A3"}  # affirmative clause: it never pushes DENY/REVIEW by itself


def ids_in_policies_md() -> set[str]:
    text = POLICIES_MD.read_text(encoding="utf-8")
    ids: set[str] = set()
    pattern = r"\b(HNB|DCM|KDN|JPE|ISA)-([A-Z]+)(\d*)(?:\.\.(?:\1-)?[A-Z]*(\d+))?"
    for m in re.finditer(pattern, text):
        prefix, letters, first, last = m.groups()
        if last:
            ids.update(f"{prefix}-{letters}{n}" for n in range(int(first), int(last) + 1))
        elif first or letters == "T":
            ids.add(f"{prefix}-{letters}{first}")
    return ids


def all_policies() -> list[Policy]:
    return list(policies().policies.values())


needs_shared = pytest.mark.skipif(not POLICIES_MD.exists(), reason="shared/ not available")


@needs_shared
def test_every_clause_of_policies_md_is_in_a_policy_file() -> None:
    documented = ids_in_policies_md()
    in_files = {c.id for p in all_policies() for c in p.clauses}
    assert len(documented) == 120
    assert documented - in_files == set()
    assert in_files - documented == INTRODUCED


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text)


@needs_shared
@pytest.mark.parametrize("policy_id", ["HNB", "DCM", "KDN", "JPE", "ISA"])
def test_text_ja_is_quoted_from_the_seed(policy_id: str) -> None:
    policy = policies().get(policy_id)
    seed = _norm((SEEDS / policy.source_seed).read_text(encoding="utf-8"))
    for clause in policy.clauses:
        for fragment in clause.text_ja.split("…"):
            assert _norm(fragment) in seed, f"{clause.label}: not in the seed: {fragment!r}"


def all_cases() -> list[Case]:
    """Every row of every table (a row in several concatenated tables counts once)."""
    cases: dict[int, Case] = {}
    for module in (test_hnb, test_dcm, test_kdn, test_jpe, test_isa):
        for value in vars(module).values():
            if isinstance(value, list) and value and all(isinstance(v, Case) for v in value):
                cases.update((id(v), v) for v in value)
    return list(cases.values())


def test_every_clause_has_a_row_that_decides_and_one_that_just_misses() -> None:
    cases = all_cases()
    missing = []
    for policy in all_policies():
        for clause in policy.clauses:
            rows = [c for c in cases if c.clause in (clause.label, clause.id)]
            prefix = clause.id.lower().replace("-", "_")
            if not all(c.name.startswith(prefix) for c in rows):
                missing.append(f"{clause.label}: a row is not named after the clause")
            fires = {c.fires for c in rows}
            if clause.id in ALWAYS_HOLDS:
                fires |= {True} if len(rows) >= 2 else set()
            if fires != {True, False}:
                missing.append(f"{clause.label}: rows fire={sorted(fires)}")
    assert missing == []


def test_row_names_are_unique() -> None:
    names = [c.name for c in all_cases()]
    assert len(names) == len(set(names))


def test_docs_describe_every_kind_and_parameter() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    for name, spec in KINDS.items():
        assert f"### `{name}`" in docs, name
        section = docs.split(f"### `{name}`", 1)[1].split("\n### ", 1)[0]
        for param in spec.params:
            assert f"`{param.name}`" in section, f"{name}.{param.name}"


def test_docs_list_every_assumption_parameter() -> None:
    """Every ``# ASSUMPTION`` comment of a policy file is followed by a parameter (or a
    clause part) that docs/claims.md names."""
    docs = DOCS.read_text(encoding="utf-8")
    found = 0
    for policy in all_policies():
        assert policy.path is not None
        lines = policy.path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if not line.startswith("# ASSUMPTION"):
                continue
            rest = [x for x in lines[i + 1 :] if x.strip() and not x.startswith("#")]
            if rest[0].startswith("[[clauses]]"):
                block = "\n".join(rest[1:3])
                cid = re.search(r'id = "([^"]+)"', block)
                part = re.search(r'part = "([^"]+)"', block)
                assert cid and part, f"{policy.id}: line {i + 1}"
                key = f"{cid.group(1)}.{part.group(1)}"
            else:
                key = rest[0].split("=", 1)[0].strip()
            found += 1
            assert f"`{key}`" in docs, f"{policy.id}: {key} (line {i + 1}) not in docs/claims.md"
    assert found >= 15
