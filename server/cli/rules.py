"""``anshin rules validate DIR`` and ``anshin rules explain CLAUSE-ID``.

``validate`` loads a rules directory as the server would and lists every
problem (file, clause, key); ``explain`` shows one clause's text, where the
rules file states it, which function decides it and which tests hold it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from server.cli.exit_codes import Exit
from server.cli.output import View, add_output_arg, emit_doc, emit_rows
from server.cli.table import Column


def explain(ns: argparse.Namespace) -> int:
    from rules.load import load_rules
    from server.usecases.explain_clause import UnknownClause, explain_clause, render

    try:
        explained = explain_clause(load_rules(ns.rules), ns.clause_id)
    except UnknownClause as exc:
        print(f"anshin rules explain: {exc}", file=sys.stderr)
        return int(Exit.USAGE)
    doc = explanation_doc(explained)
    emit_doc(
        doc,
        ns.output,
        text=lambda: _print_wrapped(render(explained)),
        rows=(LOCATIONS, doc["locations"]),
    )
    return 0


def explanation_doc(explained: Any) -> dict[str, Any]:
    """``rules explain`` as a document (camelCase, like the other documents):
    the clause's parts, and every place that states, decides, cites or tests it."""
    from server.usecases.explain_clause import SOURCE_ROOT

    def shown(path: Path) -> str:
        try:
            return str(path.relative_to(SOURCE_ROOT))
        except ValueError:
            return str(path)

    roles = (
        ("rules_file", explained.rules_file),
        ("decided_by", explained.implementations),
        ("cited_by", explained.cited_by),
        ("test", explained.tests),
    )
    return {
        "clauseId": explained.clause_id,
        "policy": explained.policy,
        "parts": [
            {
                "part": c.part,
                "kind": c.kind,
                "effect": c.effect.value,
                "summary": c.summary,
                "textJa": c.text_ja,
            }
            for c in explained.parts
        ],
        "locations": [
            {"role": role, "path": shown(loc.path), "line": loc.line, "what": loc.what}
            for role, locs in roles
            for loc in locs
        ],
        "testsAvailable": explained.tests_available,
    }


LOCATIONS = View(
    columns=(Column("role"), Column("path"), Column("line"), Column("what")),
    row=lambda d: [d["role"], d["path"], str(d["line"]), d["what"]],
)


def _print_wrapped(text: str) -> None:
    """Lines of text at the terminal's width, continuation lines under their
    first (the Japanese clause text wraps; a path:line stays whole)."""
    from server.cli.output import width
    from server.cli.table import wrap

    for line in text.split("\n"):
        body = line.lstrip(" ")
        indent = len(line) - len(body)
        for part in wrap(body, max(width() - indent, 20)):
            print(" " * indent + part)


def validate(ns: argparse.Namespace) -> int:
    """Every problem of a rules directory (file, clause, key); exit 5 when there is any."""
    from rules.engine import validate_dir
    from rules.load import RulesError, load_rules

    root = Path(ns.dir)
    if not root.is_dir():
        print(f"anshin: {root}: not a directory", file=sys.stderr)
        return int(Exit.USAGE)
    problems: list[str] = []
    policies_dir = root / "policies"
    raw = validate_dir(policies_dir) if policies_dir.is_dir() else []
    for problem in raw:
        file = problem.split(":", 1)[0]
        # "hnb.toml: clause HNB-X5: kind: …" → the file's path, as the operator typed it
        problems.append(f"{policies_dir}/{problem}" if (policies_dir / file).is_file() else problem)
    if not policies_dir.is_dir():
        problems.append(f"{policies_dir}: missing (the policy files)")
    rules = None
    try:
        rules = load_rules(root)
    except RulesError as exc:
        if str(exc) != "; ".join(raw):  # policy problems are listed above, one per line
            problems.insert(0, str(exc))
    if problems or rules is None:
        emit_validation(
            {"dir": str(root), "valid": False, "problems": problems, "policies": []}, ns.output
        )
        return int(Exit.FAILED)
    policies = rules.policies.policies
    doc = {
        "dir": str(root),
        "valid": True,
        "problems": [],
        "rulesDigest": rules.digest,
        "policies": [
            {
                "policy": p.label,
                "file": p.path.name if p.path else "",
                "clauses": len(p.clause_ids),
                "entries": len(p.clauses),
                "name": p.name,
            }
            for p in (policies[pid] for pid in sorted(policies))
        ],
    }
    emit_validation(doc, ns.output)
    return 0


POLICIES = View(
    columns=(
        Column("policy", keep=True),
        Column("file", keep=True),
        Column("clauses", keep=True, right=True),
        Column("entries", keep=True, right=True),
        Column("name"),
    ),
    row=lambda p: [p["policy"], p["file"], str(p["clauses"]), str(p["entries"]), p["name"]],
)
PROBLEMS = View(columns=(Column("problem"),), row=lambda problem: [problem])


def emit_validation(doc: dict[str, Any], fmt: str) -> None:
    """``rules validate``: the policies of a valid directory, else its
    problems, one per row; the table ends with the verdict line (json, yaml
    and csv are the data alone)."""
    items = doc["policies"] if doc["valid"] else doc["problems"]
    view = POLICIES if doc["valid"] else PROBLEMS

    def text() -> None:
        if doc["valid"]:
            emit_rows(items, "table", view)
            policies = doc["policies"]
            print(
                f"{doc['dir']}: valid — {len(policies)} policies, "
                f"{sum(p['clauses'] for p in policies)} clauses "
                f"({sum(p['entries'] for p in policies)} entries), "
                f"rules digest {doc['rulesDigest']}"
            )
        else:
            for problem in items:  # whole, one per line: each names its file
                print(problem)
            print(
                f"{doc['dir']}: {len(items)} problem(s); the server would refuse to load "
                "these rules"
            )

    emit_doc(doc, fmt, text=text, rows=(view, items))


def add_parser(sub: Any) -> None:
    r = sub.add_parser("rules", help="rules directories: validate one, explain a clause")
    rsub = r.add_subparsers(dest="rules_command", required=True)
    v = rsub.add_parser("validate", help="load DIR as the server would; list every problem")
    v.add_argument("dir", metavar="DIR", help="a rules directory (e.g. rules/data)")
    add_output_arg(v)
    v.set_defaults(func=validate)
    x = rsub.add_parser(
        "explain", help="a clause's text, rules file:line, deciding function and tests"
    )
    x.add_argument("clause_id", metavar="CLAUSE-ID")
    x.add_argument("--rules", type=Path, help="rules directory (default built-in)")
    add_output_arg(x)
    x.set_defaults(func=explain)
