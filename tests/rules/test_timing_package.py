"""The timing core stays importable by any service: standard library only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import rules.timing

PACKAGE_DIR = Path(rules.timing.__file__).parent


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_only_standard_library_and_itself_are_imported() -> None:
    allowed = set(sys.stdlib_module_names) | {"__future__", "rules"}
    for path in sorted(PACKAGE_DIR.glob("*.py")):
        assert _imported_roots(path) <= allowed, path.name
        # "rules" imports must stay inside rules.timing.
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rules"):
                assert node.module.startswith("rules.timing"), (path.name, node.module)


def test_public_api_is_exported() -> None:
    for name in rules.timing.__all__:
        assert hasattr(rules.timing, name), name
