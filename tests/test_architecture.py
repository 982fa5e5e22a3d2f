"""The layout's rule, checked: dependencies point one way (docs/architecture.md).

    cli ──► usecases ◄── api          main (composition root) may import anything
              │
              ▼
    wire, store ports, rules, checks, timing
    store backends ──► store.sql ──► store ports

Read from the source with ``ast`` (every import, also those inside functions
and under ``TYPE_CHECKING``: a cycle hidden from the interpreter is still a
cycle for the reader), so the check needs no import of the code and cannot be
fooled by import order.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("server", "checks", "rules", "timing")
# Third-party modules that only the edges may touch.
IO_MODULES = ("grpc", "grpc_health", "grpc_reflection", "grpc_status", "sqlite3", "psycopg",
              "psycopg_pool")  # fmt: skip


@dataclass(frozen=True)
class Import:
    source: str  # importing module
    target: str  # imported module (resolved to a module of ours when it is one)
    names: tuple[str, ...]
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def our_modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        base = ROOT / package
        if base.is_dir():
            for path in base.rglob("*.py"):
                found[module_name(path)] = path
    return found


def _resolve(current: str, is_package: bool, level: int, module: str | None) -> str:
    if level == 0:
        return module or ""
    parts = current.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_package = path.name == "__init__.py"
    aliases: dict[str, str] = {}  # local name -> module of ours it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _dynamic_import(node) is not None:
            # importlib.import_module("x"), __import__("x"): an import all the same.
            yield Import(name, str(_dynamic_import(node)), (), node.lineno)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, alias.name, (), node.lineno)
                if alias.asname and alias.name in modules:
                    aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(name, is_package, node.level, node.module)
            names = tuple(a.name for a in node.names)
            # `from pkg import module` imports a module of ours.
            plain = []
            for a in node.names:
                if f"{target}.{a.name}" in modules:
                    yield Import(name, f"{target}.{a.name}", (), node.lineno)
                    aliases[a.asname or a.name] = f"{target}.{a.name}"
                else:
                    plain.append(a.name)
            # `from pkg import submodule` needs the submodule, not the package's names.
            if plain or not names:
                yield Import(name, target, tuple(plain), node.lineno)
    # `module._private` through a module bound above: a private name all the same.
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            yield Import(name, aliases[node.value.id], (node.attr,), node.lineno)


def _dynamic_import(node: ast.Call) -> str | None:
    """The module a literal ``importlib.import_module("x")`` / ``__import__("x")`` names."""
    func = node.func
    called = (
        func.attr
        if isinstance(func, ast.Attribute)
        else func.id
        if isinstance(func, ast.Name)
        else ""
    )
    if called not in ("import_module", "__import__") or not node.args:
        return None
    arg = node.args[0]
    return arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None


def graph() -> dict[str, list[Import]]:
    modules = our_modules()
    return {name: list(imports_of(name, path, modules)) for name, path in modules.items()}


def ours(target: str, modules: dict[str, Path]) -> str | None:
    """The module of ours an import names (a package's name is its __init__)."""
    while target:
        if target in modules:
            return target
        target = target.rpartition(".")[0]
    return None


def in_room(module: str, room: str) -> bool:
    return module == room or module.startswith(room + ".")


# -- the rules ------------------------------------------------------------------------


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def module_edges(modules: dict[str, Path] | None = None) -> dict[str, set[str]]:
    modules = our_modules() if modules is None else modules
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        for imp in imports_of(name, path, modules):
            target = ours(imp.target, modules)
            # A package's __init__ importing its own submodules counts too: a
            # submodule that imports the package back closes a real cycle.
            if target and target != name:
                edges.setdefault(name, set()).add(target)
    return edges


def test_no_import_cycles() -> None:
    found = cycles(module_edges())
    assert not found, "import cycles:\n" + "\n".join(" ↔ ".join(c) for c in found)


def test_no_cycles_between_top_level_packages() -> None:
    edges: dict[str, set[str]] = {}
    for source, targets in module_edges().items():
        for target in targets:
            a, b = source.split(".")[0], target.split(".")[0]
            if a != b:
                edges.setdefault(a, set()).add(b)
    assert not cycles(edges), f"package cycle: {cycles(edges)}"


LOWER_ROOMS = ("server.usecases", "server.wire", "server.store", "checks", "rules", "timing")
EDGE_ROOMS = ("server.api", "server.cli", "server.console")


def violations_of(rule: str) -> list[str]:
    modules = our_modules()
    bad = []
    for name, imports in graph().items():
        for imp in imports:
            where = f"{modules[name].relative_to(ROOT)}:{imp.line}"
            target = ours(imp.target, modules)
            if rule == "io_in_usecases" and any(
                in_room(name, r) for r in ("server.usecases", "server.wire")
            ):
                if imp.target.split(".")[0] in IO_MODULES:
                    bad.append(f"{where} imports {imp.target}")
            elif rule == "api_only_from_main" and target and in_room(target, "server.api"):
                if not in_room(name, "server.api") and name != "server.main":
                    bad.append(f"{where} imports {target}")
            elif rule == "edges_apart" and target and name != "server.main":
                # Each edge (gRPC servicers, command line, console) reaches the core
                # on its own; one edge importing another would tie their inputs.
                edge_of = next((r for r in EDGE_ROOMS if in_room(name, r)), None)
                other = next((r for r in EDGE_ROOMS if in_room(target, r)), None)
                if edge_of and other and other != edge_of:
                    bad.append(f"{where} imports {target}")
            elif rule == "layers_point_down" and target:
                # wire is below the use cases; store.sql is the backends'; ports and
                # records know no backend.
                if in_room(name, "server.wire") and in_room(target, "server.usecases"):
                    bad.append(f"{where} imports {target}")
                if in_room(target, "server.store.sql") and not in_room(name, "server.store"):
                    bad.append(f"{where} imports {target}")
                if name in ("server.store.ports", "server.store.records") and any(
                    in_room(target, f"server.store.{b}") for b in ("sqlite", "postgres", "sql")
                ):
                    bad.append(f"{where} imports {target}")
            elif rule == "edge_from_below" and any(in_room(name, r) for r in LOWER_ROOMS):
                if target and any(in_room(target, r) for r in EDGE_ROOMS):
                    bad.append(f"{where} imports {target}")
            elif rule == "private_names" and target and target != name:
                private = [n for n in imp.names if n.startswith("_") and not n.startswith("__")]
                if private:
                    bad.append(f"{where} imports {', '.join(private)} from {target}")
            elif (
                rule == "backend_only_in_main"
                and target
                and any(in_room(target, f"server.store.{b}") for b in ("sqlite", "postgres"))
                and not in_room(name, "server.store")
                and name != "server.main"
            ):
                bad.append(f"{where} imports the backend {target}")
    return bad


@pytest.mark.parametrize(
    "rule",
    [
        "io_in_usecases",
        "edge_from_below",
        "edges_apart",
        "private_names",
        "backend_only_in_main",
        "api_only_from_main",
        "layers_point_down",
    ],
)
def test_dependency_rule(rule: str) -> None:
    bad = violations_of(rule)
    assert not bad, f"{rule}:\n" + "\n".join(bad)


# -- the checker itself: each rule fails on a planted violation -------------------------


def test_cycle_detection_sees_a_planted_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_relative_imports_resolve() -> None:
    assert _resolve("server.store.sqlite", False, 1, "chain") == "server.store.chain"
    assert _resolve("server.store", True, 1, "chain") == "server.store.chain"
    assert _resolve("server.store.sqlite.events", False, 2, "sql") == "server.store.sql"


def test_dynamic_imports_and_private_attributes_are_imports(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text(
        "import importlib\n"
        "import server.wire.claims as wc\n"
        "def f():\n"
        "    importlib.import_module('grpc')\n"
        "    __import__('sqlite3')\n"
        "    return wc._EFFECT\n"
    )
    modules = {"server.wire.claims": source, "server.usecases.mod": source}
    found = list(imports_of("server.usecases.mod", source, modules))
    targets = {i.target for i in found}
    assert {"grpc", "sqlite3", "server.wire.claims"} <= targets
    assert any(i.names == ("_EFFECT",) for i in found)


def test_a_cycle_through_a_package_init_is_a_cycle(tmp_path: Path) -> None:
    init = tmp_path / "__init__.py"
    init.write_text("from server.wire.claims import claim_request\n")
    claims = tmp_path / "claims.py"
    claims.write_text("from server.errors import Violations\n")
    errors = tmp_path / "errors.py"
    errors.write_text("import server.wire\n")
    modules = {"server.wire": init, "server.wire.claims": claims, "server.errors": errors}
    assert cycles(module_edges(modules)) == [["server.errors", "server.wire", "server.wire.claims"]]
