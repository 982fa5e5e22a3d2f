"""No SQL outside server/store/: every query is a store method or a method
of its read-only log reader, so the services, CLIs and offline tools depend
on the store's ports, never on a dialect or a table layout.

Read from the source with ``ast``: every string constant (f-string parts
included) of every module under server/ outside server/store/, docstrings
excepted (prose may name a statement).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
SERVER = ROOT / "server"
STORE = SERVER / "store"
# A statement's shape in any case ("select kind from events where …" too): a
# keyword followed by what only SQL puts after it. Prose such as "update the
# rules, then select a policy" has neither.
SQL = re.compile(
    r"\b(select\b.*\bfrom|insert\s+into|update\s+\w+\s+set|delete\s+from"
    r"|create\s+(unique\s+)?(table|index|trigger|schema|view)|drop\s+(table|index|trigger|schema)"
    r"|alter\s+table|pragma\s+\w+|begin\s+(immediate|exclusive|deferred)|vacuum\b)",
    re.IGNORECASE | re.DOTALL,
)
# Beside server/ (outside the store), the pure core must not talk SQL either.
SCANNED = (SERVER, ROOT / "checks", ROOT / "rules", ROOT / "timing")


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                found.add(id(body[0].value))
    return found


def sql_literals(source: str, name: str = "<source>") -> Iterator[tuple[int, str]]:
    """(line, text) of each string constant in ``source`` that reads as SQL."""
    tree = ast.parse(source, name)
    docstrings = _docstrings(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or id(node) in docstrings:
            continue
        value = node.value
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and SQL.search(value):
            yield node.lineno, value


def test_no_sql_string_in_server_outside_the_store() -> None:
    bad = [
        f"{path.relative_to(ROOT)}:{line}: {text[:80]!r}"
        for base in SCANNED
        for path in sorted(base.rglob("*.py"))
        if not path.is_relative_to(STORE)
        for line, text in sql_literals(path.read_text(encoding="utf-8"), str(path))
    ]
    assert not bad, "SQL outside server/store/ (make it a store method):\n" + "\n".join(bad)


def test_the_check_finds_planted_sql() -> None:
    planted = '''
"""A docstring may say SELECT."""
ROWS = "SELECT kind FROM events WHERE customer_id = ?"

def f(conn, t):
    """Neither is this one: INSERT."""
    conn.execute(f"DELETE FROM {t} WHERE seq = ?", (1,))
    conn.execute("PRAGMA query_only=ON")
    return "update the rules, then select a policy"
LOWER = "select kind from events where id = ?"
RAW = b"drop table verdicts"
TXN = "BEGIN IMMEDIATE"
'''
    assert sorted(line for line, _ in sql_literals(planted)) == [3, 7, 8, 10, 11, 12]
