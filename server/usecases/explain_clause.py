"""``anshin rules explain CLAUSE-ID``: everything about one clause, from its id.

A newcomer (or an auditor asking "why was this denied under HNB-X5?") should
get from a clause id to its text, where the rules file states it, which
function decides it, and which tests hold it, in one step. The clause's own
data comes from the loaded rules; the rest is read from the source tree:
the implementing function of the clause's kind (``rules.engine.kinds``), the
code that cites the id in ``checks/``, ``rules/`` and ``server/``, and the
tests under ``tests/`` whose source names it (a source checkout only).
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rules.engine.kinds import KINDS
from rules.engine.policy import Clause, Policy
from rules.load import RuleSet
from server.errors import NotFound

SOURCE_ROOT = Path(__file__).resolve().parents[2]
# Where code may name a clause (lines giving an id only "e.g." are skipped).
CODE_DIRS = ("checks", "rules", "timing", "server")
CLAUSE_ID = re.compile(r"^[A-Z]{3}-[A-Z]+\d*[a-z]?$")


class UnknownClause(NotFound, LookupError):
    """No clause of the loaded rules has this id."""


@dataclass(frozen=True)
class Location:
    path: Path
    line: int
    what: str = ""

    def __str__(self) -> str:
        try:
            shown = self.path.relative_to(SOURCE_ROOT)
        except ValueError:
            shown = self.path
        return f"{shown}:{self.line}" + (f"  {self.what}" if self.what else "")


@dataclass(frozen=True)
class ClauseExplanation:
    clause_id: str
    policy: str
    parts: tuple[Clause, ...]
    rules_file: tuple[Location, ...]
    implementations: tuple[Location, ...]
    cited_by: tuple[Location, ...] = field(default_factory=tuple)
    tests: tuple[Location, ...] = field(default_factory=tuple)
    tests_available: bool = True


def _policy_of(rules: RuleSet, clause_id: str) -> Policy:
    for policy in rules.policies.policies.values():
        if any(c.id == clause_id for c in policy.clauses):
            return policy
    known = sorted({c.id for p in rules.policies.policies.values() for c in p.clauses})
    close = [k for k in known if k.split("-")[0] == clause_id.split("-")[0]]
    raise UnknownClause(
        f"no clause {clause_id!r} in the rules of {rules.directory}"
        + (f"; that policy's clauses: {', '.join(close)}" if close else "")
    )


def _rules_lines(policy: Policy, clause_id: str) -> Iterator[Location]:
    if policy.path is None:
        return
    # Any TOML spelling of the key and the string: id = "X", "id" = 'X', …
    pattern = re.compile(rf"""^\s*["']?id["']?\s*=\s*["']{re.escape(clause_id)}["']""")
    for n, line in enumerate(policy.path.read_text(encoding="utf-8").splitlines(), 1):
        if pattern.match(line):
            yield Location(policy.path, n)


def _implementation(kind: str) -> Iterator[Location]:
    spec = KINDS[kind]
    for fn in (spec.check, spec.amount, spec.scopes):
        if fn is None:
            continue
        target = inspect.unwrap(fn)
        try:
            path = Path(inspect.getsourcefile(target) or "")
            _, line = inspect.getsourcelines(target)
        except (OSError, TypeError):
            continue
        yield Location(path, line, f"{getattr(target, '__qualname__', kind)} (kind {kind})")


def _mentions(text: str, clause_id: str) -> bool:
    # HNB-X5 but not HNB-X51.
    return re.search(rf"(?<![A-Za-z0-9-]){re.escape(clause_id)}(?![0-9A-Za-z])", text) is not None


def _cited_by(clause_id: str, root: Path) -> Iterator[Location]:
    for directory in CODE_DIRS:
        base = root / directory
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if _mentions(line, clause_id) and "e.g." not in line:
                    yield Location(path, n, line.strip()[:90])


def _tests(clause_id: str, root: Path) -> Iterator[Location]:
    """Test functions whose source names the clause, or whose name does
    (``test_hnb_x5_…`` for HNB-X5), and the case tables that name it outside
    any test function (a parametrized test's rows, a builder's facts)."""
    snake = clause_id.lower().replace("-", "_")
    for path in sorted((root / "tests").rglob("test_*.py")):
        source = path.read_text(encoding="utf-8")
        if clause_id not in source and snake not in source:
            continue
        tree = ast.parse(source, str(path))
        inside: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
                "test"
            ):
                end = node.end_lineno or node.lineno
                inside.update(range(node.lineno - len(node.decorator_list), end + 1))
                segment = ast.get_source_segment(source, node) or ""
                decorators = "".join(
                    ast.get_source_segment(source, d) or "" for d in node.decorator_list
                )
                if (
                    _mentions(segment + decorators, clause_id)
                    or re.search(rf"(^|_){snake}(_|$)", node.name) is not None
                ):
                    yield Location(path, node.lineno, node.name)
        for n, line in enumerate(source.splitlines(), 1):
            if n not in inside and _mentions(line, clause_id):
                yield Location(path, n, "case table: " + line.strip()[:70])


def explain_clause(
    rules: RuleSet, clause_id: str, *, root: Path = SOURCE_ROOT
) -> ClauseExplanation:
    clause_id = clause_id.strip().upper()
    if not CLAUSE_ID.match(clause_id):
        raise UnknownClause(f"{clause_id!r} is not a clause id (e.g. HNB-X5, KDN-A1)")
    policy = _policy_of(rules, clause_id)
    parts = tuple(c for c in policy.clauses if c.id == clause_id)
    implementations: list[Location] = []
    for kind in dict.fromkeys(c.kind for c in parts):
        implementations += _implementation(kind)
    tests_available = (root / "tests").is_dir()
    return ClauseExplanation(
        clause_id=clause_id,
        policy=policy.label,
        parts=parts,
        rules_file=tuple(_rules_lines(policy, clause_id)),
        implementations=tuple(implementations),
        cited_by=tuple(
            loc
            for loc in _cited_by(clause_id, root)
            if policy.path is None or loc.path != policy.path
        ),
        tests=tuple(_tests(clause_id, root)) if tests_available else (),
        tests_available=tests_available,
    )


def render(explained: ClauseExplanation) -> str:
    out = [f"{explained.clause_id}  ({explained.policy})"]
    for clause in explained.parts:
        head = f"  part {clause.part}: " if clause.part else "  "
        out.append(f"{head}kind {clause.kind}, effect {clause.effect.value}")
        if clause.summary:
            out.append(f"    {clause.summary}")
        if clause.text_ja:
            out.append(f"    「{clause.text_ja}」")
    out.append("rules file:")
    out += [f"  {loc}" for loc in explained.rules_file] or ["  (not in a file)"]
    out.append("decided by:")
    out += [f"  {loc}" for loc in explained.implementations] or ["  (no function)"]
    if explained.cited_by:
        out.append("code citing it:")
        out += [f"  {loc}" for loc in explained.cited_by]
    out.append("tests:")
    if not explained.tests_available:
        out.append("  (tests/ is not part of this installation: see a source checkout)")
    else:
        out += [f"  {loc}" for loc in explained.tests] or ["  (none name it)"]
    return "\n".join(out)
