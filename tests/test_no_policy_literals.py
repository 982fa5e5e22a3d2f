"""No policy id in code: what differs between policies is in their policy files.

Read with ``ast``, so that comments and docstrings (bare string statements)
may mention a policy, but a string literal used in logic — ``policy == "KDN"``,
a table keyed by ``"ISA"`` — is reported with its file and line. The policy
files (``rules/data``) and the tests are data, and exempt.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from rules.engine import load_policies

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("server", "checks", "rules", "timing")
EXEMPT = (ROOT / "rules" / "data",)
POLICY_IDS = frozenset(load_policies().policies)


def _documentation(tree: ast.AST) -> set[int]:
    """The ids of the string constants that are documentation: bare string statements."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    }


def policy_literals(source: str, ids: frozenset[str] = POLICY_IDS) -> Iterator[tuple[int, str]]:
    """(line, literal) of every string literal in ``source`` that is a policy id."""
    tree = ast.parse(source)
    docs = _documentation(tree)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docs
            and node.value.strip().upper() in ids
        ):
            yield node.lineno, node.value


def scanned_files() -> Iterator[Path]:
    for package in SCANNED:
        for path in sorted((ROOT / package).rglob("*.py")):
            if not any(path.is_relative_to(e) for e in EXEMPT):
                yield path


def test_the_five_policies_are_what_is_looked_for() -> None:
    assert {"HNB", "DCM", "KDN", "JPE", "ISA"} <= POLICY_IDS


def test_no_policy_id_literal_in_code() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {literal!r}"
        for path in scanned_files()
        for line, literal in policy_literals(path.read_text(encoding="utf-8"))
    ]
    assert not found, "policy ids in code (say it in the policy file instead):\n" + "\n".join(
        found
    )


def test_the_scan_sees_a_planted_literal_and_ignores_documentation() -> None:
    planted = '''
"""Module docs may say KDN."""
def cover(policy: str) -> str:
    """So may a function's: "ISA"."""
    # and a comment: "HNB"
    "a bare string statement: DCM"
    if policy == "KDN":
        return 'ISA'
    return {"JPE": "x"}.get(policy, f"{policy}-P1")
'''
    assert [line for line, _ in policy_literals(planted)] == [7, 8, 9]
