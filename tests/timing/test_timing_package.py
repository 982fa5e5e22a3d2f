"""The timing core stays importable by any service: standard library only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import timing

PACKAGE_DIR = Path(timing.__file__).parent


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_only_standard_library_and_itself_are_imported() -> None:
    # Nothing of Anshin's but itself: checks and rules both build on it, so an
    # import back into either would be a cycle between the packages.
    allowed = set(sys.stdlib_module_names) | {"__future__", "timing"}
    for path in sorted(PACKAGE_DIR.glob("*.py")):
        assert _imported_roots(path) <= allowed, path.name


def test_public_api_is_exported() -> None:
    for name in timing.__all__:
        assert hasattr(timing, name), name
